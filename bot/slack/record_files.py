"""The signed-off records uploaded to the chair's direct message: the Slack side of a files card
(dialogs.record_to_chair; what is shared with Teams is bot.records.to_chair).

Each child's record is one upload of its DOCX and PDF with Slack's current file API, through
slack_sdk's `files_upload_v2`: `files.getUploadURLExternal` per file, the bytes POSTed to the URL it
returns, then one `files.completeUploadExternal` sharing both in the chair's DM (`channel_id`) with a
short comment naming the case reference and the discussion's number only. A file Slack was given but
that no `files.completeUploadExternal` shared stays private to the app and is not shown to anyone, so
an upload refused at any step is simply made again when the outbox tries the card again; each child's
files, once shared, are kept as sent (bot.records.to_chair) and never uploaded twice.
"""

import logging

from slack_sdk.errors import SlackApiError, SlackRequestError

from bot.records.to_chair import ChairRecords, sent_key
from bot.slack.client import SlackDeliveryError, as_delivery_error
from bot.slack.direct import open_dm
from bot.slack.people import People
from bot.slack.stored import PLATFORM
from dialogs.model import Card
from dialogs.record_export import Signed

log = logging.getLogger(__name__)

WHERE = "slack-dm"  # the audit entries' destination


def comment(record: Signed, formats: str) -> str:
    """The message the files come with: the case reference and the discussion's number only."""
    r = record.record
    return f"{r.case_ref}, strategy discussion {r.discussion_number}: the signed-off record ({formats})."


async def send(records: ChairRecords, people: People, card: Card, version_ids: tuple[int, ...]) -> None:
    person_id = card.target.person_id
    if person_id is None:
        raise SlackDeliveryError("files.completeUploadExternal", "no_recipient", retryable=False)
    found = await people.slack_user(person_id)
    if found is None:
        raise SlackDeliveryError("users.lookupByEmail", "users_not_found", retryable=False)
    client, _me, user = found
    channel: str | None = None
    for version_id in version_ids:
        key = sent_key(card.key or "", version_id, person_id)
        if await records.sent(PLATFORM, key):
            continue  # shared by an earlier try of this card
        record = await records.load(version_id)
        if record is None:
            log.warning("slack: record version %s is not signed off; no files sent for it", version_id)
            continue
        rendered = await records.render(record)
        channel = channel or await open_dm(client, user)
        names = " and ".join(f.fmt.value.upper() for f in rendered)
        try:
            shared = await client.files_upload_v2(
                file_uploads=[{"filename": f.name, "content": f.data, "title": f.name} for f in rendered],
                channel=channel,
                initial_comment=comment(record, names),
            )
        except SlackApiError as exc:
            raise as_delivery_error(failed_method(exc), exc) from None
        except SlackRequestError:  # the bytes were refused at the upload URL: try again later
            raise SlackDeliveryError("files.upload", "upload_failed", retryable=True) from None
        except Exception as exc:  # network trouble: mapped, or re-raised when it is not about Slack
            raise as_delivery_error("files.upload", exc) from None
        file_ids = [f.get("id") for f in (shared.get("files") or [])]
        await records.mark_sent(
            PLATFORM,
            key,
            {"channel": channel, "files": file_ids},
            [(record, f.fmt) for f in rendered],
            where=WHERE,
            person_id=person_id,
        )


def problem(card: Card, exc: Exception) -> str:
    """What the chair is told when the files could not be sent for good (names case references only)."""
    what = card.title.removeprefix("Signed-off record files: ")
    if isinstance(exc, SlackDeliveryError) and exc.code in ("not_in_channel", "channel_not_found"):
        why = "Slack would not let me share files in our direct messages."
    elif isinstance(exc, SlackDeliveryError):
        why = exc.explanation
    else:
        why = "An error on our side stopped them; it has been logged."
    return (
        f"I could not send you the signed-off record files of {what}. {why} They are signed off and "
        "stored: your administrator can export them (python -m bot record export)."
    )


def failed_method(exc: SlackApiError) -> str:
    """Which of the upload's Web API methods refused (for logs and the chair: never the content)."""
    url = str(getattr(exc.response, "api_url", "") or "")
    return url.rsplit("/", 1)[-1] or "files.upload"
