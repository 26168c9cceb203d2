"""The figures file uploaded to a manager's direct message: the Slack side of a report card
(dialogs.report_card; what is shared with Teams and the playground is bot.reports.to_person).

One HTML file, uploaded as the chair's records are (bot.slack.uploads), with a short comment naming
the period only. An upload refused at any step was shared nowhere, so the outbox simply makes it
again; once shared, the file is kept as sent (ReportFiles.mark_sent) and never uploaded twice. The
person's role is checked again when the file is made: someone who is no longer a manager is sent
nothing.
"""

import logging
from datetime import date

from bot.records.to_chair import sent_key
from bot.reports.to_person import ReportFiles
from bot.slack.client import SlackDeliveryError
from bot.slack.direct import open_dm
from bot.slack.people import People
from bot.slack.stored import PLATFORM
from bot.slack.uploads import upload, why_not_sent
from dialogs.model import Card
from dialogs.report_card import span

log = logging.getLogger(__name__)

WHERE = "slack-dm"  # the audit entry's destination


def comment(start: date, end: date) -> str:
    """The message the file comes with: the period only, never a figure."""
    return f"Strategy discussion figures, {span(start, end)}."


async def send(reports: ReportFiles, people: People, card: Card, start: date, end: date) -> None:
    person_id = card.target.person_id
    if person_id is None:
        raise SlackDeliveryError("files.completeUploadExternal", "no_recipient", retryable=False)
    key = sent_key(card.key or "", person_id)
    if await reports.sent(PLATFORM, key):
        return  # shared by an earlier try of this card
    made = await reports.make(person_id, start, end)
    if made is None:
        log.warning("slack: person %s may no longer have the figures; no file sent", person_id)
        return
    found = await people.slack_user(person_id)
    if found is None:
        raise SlackDeliveryError("users.lookupByEmail", "users_not_found", retryable=False)
    client, _me, user = found
    channel = await open_dm(client, user)
    file_ids = await upload(client, [(made.name, made.data)], channel, comment(start, end))
    await reports.mark_sent(
        PLATFORM,
        key,
        {"channel": channel, "files": file_ids},
        start=start,
        end=end,
        where=WHERE,
        person_id=person_id,
    )


def problem(card: Card, exc: Exception) -> str:
    """What the manager is told when the file could not be sent for good (the period only)."""
    what = card.title.removeprefix("Strategy discussion figures, ")
    return (
        f"I could not send you the figures file for {what}. {why_not_sent(exc, 'it')} "
        "Your administrator can make it with python -m bot report."
    )
