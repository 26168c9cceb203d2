"""Issue 14 in Slack: `/strategy report` gives a team manager this month's headline figures (only
they see them) and the figures as one HTML file in their direct message, uploaded with the current
file API through the outbox, once, and audited. Anyone else is told politely that the figures are for
managers, and gets no file.

The month is November 2026 up to Tuesday 24th (the bot's clock); the discussion counted is the three
siblings' of tests/slack/test_siblings.py, walked through Slack payloads only."""

import logging
from datetime import UTC, date, datetime
from html.parser import HTMLParser

import pytest
import yaml
from sqlalchemy import select, update

from bot.timesource import TimeSource
from dialogs import directory
from dialogs.procedure import DEFAULT_PROCEDURE_FILE
from storage.models import AuditEvent, Child, Outbox, Person
from tests.chair_files import send_again
from tests.slack.conftest import check_standin, make_harness
from tests.slack.standin import BOT_USER, TEAM
from tests.slack.test_siblings import PEOPLE, REFS, TUESDAY_10AM, convene, decide

MANAGER_DM = "DU0TM"
MONTH = (date(2026, 11, 1), date(2026, 11, 24))
PERIOD = "1 to 24 Nov 2026"
FILE_NAME = "strategy-discussion-figures-2026-11-01-to-2026-11-24.html"
REFUSAL = "The figures are for team managers and district managers. Please ask your manager if you need them."
CAST = PEOPLE | {  # slug: (Slack id, name, agency, role)
    "manager": ("U0TM", "Tam Team", "social_care", "team_manager"),
    "worker": ("U0SW", "Sol Social", "social_care", "social_worker"),
}


@pytest.fixture
async def council(db, standin, tmp_path, request):
    """The siblings' council with a team manager and a social worker; `suppress_below` (indirect
    parameter) replaces the procedure's small-number rule, with counts exact (`round_to` 0), else the
    shipped rule (6, rounded to 5) applies."""
    extra = {}
    below = getattr(request, "param", None)
    if below is not None:
        procedure = yaml.safe_load(DEFAULT_PROCEDURE_FILE.read_text(encoding="utf-8"))
        procedure["reports"]["suppress_below"] = below
        procedure["reports"]["round_to"] = 0
        path = tmp_path / "procedure.yaml"
        path.write_text(yaml.safe_dump(procedure, allow_unicode=True), encoding="utf-8")
        extra["procedure_file"] = path
    slack = await make_harness(db, standin, time=TimeSource(TUESDAY_10AM - datetime.now(UTC)), **extra)
    ids: dict[str, int] = {}
    async with db.session() as s:
        for slug, (user, name, agency, role) in CAST.items():
            email = f"{slug}@council.example.org"
            person = await directory.add_person(
                s,
                slack.services.procedure,
                name=name,
                email=email,
                agency=agency,
                role=role,
                identities=[("slack", user, TEAM)],
            )
            ids[slug] = person.id
            standin.add_user(user, name=name, email=email)
    standin.add_channel("C0DUTY", name="duty-team", members=[BOT_USER, "U0CHAIR", "U0TM", "U0SW"])
    yield slack, ids
    await slack.settle()
    await slack.client.close()
    check_standin(standin)


class Page(HTMLParser):
    """The file's title and its text, as a browser would read them."""

    def __init__(self, html: str) -> None:
        super().__init__(convert_charrefs=True)
        self.title, self.words, self._in_title = "", [], False
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        self._in_title = tag == "title"

    def handle_endtag(self, tag):
        self._in_title = False

    def handle_data(self, data):
        if self._in_title:
            self.title += data
        self.words.append(data)

    @property
    def text(self) -> str:
        return " ".join(" ".join(self.words).split())


def answer_text(webhook: dict) -> str:
    """What the person read in an ephemeral answer: every text of its blocks."""
    texts = []
    for block in webhook.get("blocks") or []:
        for part in [block.get("text"), *(block.get("fields") or []), *(block.get("elements") or [])]:
            if isinstance(part, dict) and "text" in part:
                texts.append(part["text"])
    return "\n".join(texts)


async def report_row(db) -> Outbox:
    async with db.read() as s:
        [row] = (await s.execute(select(Outbox).where(Outbox.card_key.like("report_file:%")))).scalars()
    return row


async def sent_entries(db) -> list[AuditEvent]:
    async with db.read() as s:
        query = select(AuditEvent).where(AuditEvent.action == "report.sent").order_by(AuditEvent.id)
        return list((await s.execute(query)).scalars())


@pytest.mark.parametrize("council", [0], indirect=True)  # every count shown as it is
async def test_a_team_manager_gets_the_headline_and_one_figures_file_in_their_dm(council):
    slack, ids = council
    standin, db = slack.standin, slack.services.db
    walk = await convene(slack, ids)  # held (started) today: one discussion, three children
    async with db.read() as s:
        kids = {c.case_ref: c for c in (await s.execute(select(Child))).scalars()}
    await decide(walk, kids)  # one child each: S47 joint, Single Assessment, no S47
    ephemeral_before = len(standin.webhooks)

    await slack.command("U0TM", "report", channel="C0DUTY")

    # The headline, only for the manager (the slash command's response_url, ephemeral).
    [answer] = standin.webhooks[ephemeral_before:]
    assert answer["response_type"] == "ephemeral"
    text = answer_text(answer)
    assert f"Strategy discussions, {PERIOD}" in text
    assert "Discussions held: 1 (out of hours: 0%), about 3 children" in text
    outcomes = {o.id: o.label for o in slack.services.procedure.outcomes}
    decided = ", ".join(f"{outcomes[o]}: 1" for o in ("s47_joint", "single_assessment", "no_s47"))
    assert decided.count(": 1") == 3 and f"Decisions per child: {decided}" in text
    assert "Decisions without the quorum: 0" in text
    assert "fewer than" not in text  # no rule: nothing hidden

    # Exactly one file, in the manager's DM, named by the period only, with a comment naming it.
    [upload] = standin.files_in(MANAGER_DM)
    assert len(standin.uploads) == 1
    assert (upload.filename, upload.title) == (FILE_NAME, FILE_NAME)
    assert upload.comment == f"Strategy discussion figures, {PERIOD}."
    [completed] = standin.called("files.completeUploadExternal")
    assert completed["channel_id"] == MANAGER_DM
    # The file is the figures page for the month: it names the period, and no child.
    page = Page(upload.data.decode("utf-8"))
    assert PERIOD in page.title and PERIOD in page.text
    assert not any(ref in page.text for ref in REFS)
    assert "Discussions held" in page.text

    # Audited once, as sent to the manager's DM: the period and where, no figure.
    [entry] = await sent_entries(db)
    assert (entry.actor, entry.channel, entry.discussion_id) == (f"person:{ids['manager']}", "slack", None)
    assert entry.detail == {"start": "2026-11-01", "end": "2026-11-24", "where": "slack-dm"}

    # Through the outbox, in the manager's own lane; sent again (another process took the row after
    # its lease ran out), nothing more is uploaded or audited.
    row = await report_row(db)
    assert (row.recipient_key, row.status, row.surface) == (f"person:{ids['manager']}", "sent", "slack")
    await send_again(slack.services, row)
    assert len(standin.uploads) == 1 and len(standin.called("files.completeUploadExternal")) == 1
    assert len(await sent_entries(db)) == 1


async def test_the_shipped_rule_hides_small_counts_in_chat(council):
    slack, ids = council
    await convene(slack, ids)
    await slack.command("U0TM", "report", channel="C0DUTY")
    text = answer_text(slack.standin.webhooks[-1])
    assert "Discussions held: fewer than 6 (out of hours: not shown), about fewer than 6 children" in text
    assert (
        'Counts from 1 to 5 show as "fewer than 6"; other counts are rounded to the nearest 5, so figures '
        "may not add up. The file follows."
    ) in text
    [upload] = slack.standin.files_in(MANAGER_DM)
    assert PERIOD in Page(upload.data.decode("utf-8")).title


@pytest.mark.parametrize("user", ["U0SW", "U0POLICE"])  # a social worker, a police officer
async def test_anyone_else_is_told_politely_and_gets_no_file(council, user):
    slack, _ids = council
    standin = slack.standin
    await slack.command(user, "report", channel="C0DUTY")
    [answer] = standin.webhooks
    assert answer["response_type"] == "ephemeral"
    assert REFUSAL in answer_text(answer)
    assert standin.uploads == {} and standin.called("files.getUploadURLExternal") == []
    async with slack.services.db.read() as s:
        assert (await s.execute(select(Outbox).where(Outbox.card_key.like("report_file:%")))).first() is None
    assert await sent_entries(slack.services.db) == []


@pytest.mark.parametrize(
    "refusal",
    [
        ("files.completeUploadExternal", 429, "slack files.completeUploadExternal: ratelimited"),
        ("upload", 500, "slack files.upload: upload_failed"),  # the bytes refused at the upload URL
    ],
)
async def test_a_refused_upload_is_made_again_by_the_outbox_once(council, refusal):
    """Slack refuses the upload once: the card waits in the outbox, nothing is shared; tried again,
    one file reaches the DM (the first, never shared, is shown nowhere, as on Slack)."""
    slack, ids = council
    standin, db = slack.standin, slack.services.db
    method, status, error = refusal
    standin.fail(method, status=status, retry_after="30")
    await slack.command("U0TM", "report", channel="C0DUTY")
    assert "Discussions held" in answer_text(standin.webhooks[-1])  # the headline is not held up
    assert standin.files_in(MANAGER_DM) == []
    row = await report_row(db)
    assert (row.status, row.attempts, row.last_error) == ("pending", 1, error)
    assert await sent_entries(db) == []

    await send_again(slack.services, row)
    [upload] = standin.files_in(MANAGER_DM)
    assert upload.filename == FILE_NAME and PERIOD in Page(upload.data.decode("utf-8")).title
    assert [u.channel for u in standin.uploads.values()] == [None, MANAGER_DM]
    assert len(await sent_entries(db)) == 1
    assert (await report_row(db)).status == "sent"
    await send_again(slack.services, await report_row(db))  # and once more: still one file
    assert len(standin.files_in(MANAGER_DM)) == 1 and len(standin.uploads) == 2


async def test_no_file_for_someone_who_is_no_longer_a_manager(council, caplog):
    """The file is made when it is sent: a manager who asked, then moved to another role before the
    outbox tried again, is sent nothing; the log names the person's id only."""
    slack, ids = council
    standin, db = slack.standin, slack.services.db
    standin.fail("files.completeUploadExternal", retry_after="30")
    await slack.command("U0TM", "report", channel="C0DUTY")
    async with db.session() as s:
        await s.execute(update(Person).where(Person.id == ids["manager"]).values(role="social_worker"))
    uploads = len(standin.uploads)
    with caplog.at_level(logging.WARNING, logger="bot.slack.report_file"):
        await send_again(slack.services, await report_row(db))
    assert standin.files_in(MANAGER_DM) == [] and len(standin.uploads) == uploads
    assert await sent_entries(db) == []
    [warning] = [r.getMessage() for r in caplog.records if r.name == "bot.slack.report_file"]
    assert warning == f"slack: person {ids['manager']} may no longer have the figures; no file sent"
