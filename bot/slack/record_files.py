"""The signed-off records uploaded to the chair's direct message: the Slack side of a files card
(dialogs.record_to_chair; what is shared with Teams is bot.records.to_chair).

Each child's record is one upload of its DOCX and PDF (bot.slack.uploads), shared in the chair's DM
with a short comment naming the case reference and the discussion's number only. An upload refused at
any step shared nothing, so it is simply made again when the outbox tries the card again; each
child's files, once shared, are kept as sent (bot.records.to_chair) and never uploaded twice.
"""

import logging

from bot.records.to_chair import ChairRecords, sent_key
from bot.slack.client import SlackDeliveryError
from bot.slack.direct import open_dm
from bot.slack.people import People
from bot.slack.stored import PLATFORM
from bot.slack.uploads import upload, why_not_sent
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
        key = sent_key(card.key or "", person_id, version_id)
        if await records.sent(PLATFORM, key):
            continue  # shared by an earlier try of this card
        record = await records.load(version_id)
        if record is None:
            log.warning("slack: record version %s is not signed off; no files sent for it", version_id)
            continue
        rendered = await records.render(record)
        channel = channel or await open_dm(client, user)
        names = " and ".join(f.fmt.value.upper() for f in rendered)
        file_ids = await upload(client, [(f.name, f.data) for f in rendered], channel, comment(record, names))
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
    return (
        f"I could not send you the signed-off record files of {what}. {why_not_sent(exc, 'them')} They "
        "are signed off and stored: your administrator can export them (python -m bot record export)."
    )
