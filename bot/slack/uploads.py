"""Files shared in a Slack conversation, and why one could not be: what the chair's records
(bot.slack.record_files) and a manager's figures (bot.slack.report_file) have in common.

One upload is slack_sdk's `files_upload_v2`: `files.getUploadURLExternal` per file, the bytes POSTed
to the URL it returns, then one `files.completeUploadExternal` sharing them all in `channel` with a
comment. A file Slack was given but that no `files.completeUploadExternal` shared stays private to the
app and is shown to no one, so an upload refused at any step can simply be made again.
"""

from slack_sdk.errors import SlackApiError, SlackRequestError
from slack_sdk.web.async_client import AsyncWebClient

from bot.slack.client import SlackDeliveryError, as_delivery_error

NOT_SHARED = ("not_in_channel", "channel_not_found")  # codes that mean the DM refuses files


async def upload(
    client: AsyncWebClient, files: list[tuple[str, bytes]], channel: str, comment: str
) -> list[str]:
    """Share `files` (name, bytes) in `channel` with `comment`; the ids Slack gave them. Raises
    SlackDeliveryError (retryable or not) when Slack refused, or the error itself when it is not
    about Slack."""
    try:
        shared = await client.files_upload_v2(
            file_uploads=[{"filename": name, "content": data, "title": name} for name, data in files],
            channel=channel,
            initial_comment=comment,
        )
    except SlackApiError as exc:
        raise as_delivery_error(failed_method(exc), exc) from None
    except SlackRequestError:  # the bytes were refused at the upload URL: try again later
        raise SlackDeliveryError("files.upload", "upload_failed", retryable=True) from None
    except Exception as exc:  # network trouble: mapped, or re-raised when it is not about Slack
        raise as_delivery_error("files.upload", exc) from None
    return [f.get("id") for f in (shared.get("files") or [])]


def failed_method(exc: SlackApiError) -> str:
    """Which of the upload's Web API methods refused (for logs and people: never the content)."""
    url = str(getattr(exc.response, "api_url", "") or "")
    return url.rsplit("/", 1)[-1] or "files.upload"


def why_not_sent(exc: Exception, pronoun: str) -> str:
    """One sentence on why an upload failed for good, for the person it was for (`pronoun`: what was
    not sent, "it" or "them")."""
    if isinstance(exc, SlackDeliveryError) and exc.code in NOT_SHARED:
        return "Slack would not let me share files in our direct messages."
    if isinstance(exc, SlackDeliveryError):
        return exc.explanation
    return f"An error on our side stopped {pronoun}; it has been logged."
