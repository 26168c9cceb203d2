"""Issue 13, delivery: at sign-off the chair gets each child's record as DOCX and PDF in their Slack
direct message, uploaded with the current file API (files.getUploadURLExternal, the bytes to the URL
it returns, files.completeUploadExternal), through the outbox, once, each file audited.

The discussion is the three siblings' of tests/slack/test_siblings.py, walked through Slack payloads
only. The files are DOCX and PDF when the renderers are there (bot/records/docx.py and pdf.py), JSON
before that (then they validate against docs/record.schema.json)."""

import json

from sqlalchemy import select

from bot.records.formats import Format
from storage.models import AuditEvent, Child, Outbox, RecordVersion
from tests.chair_files import FORMATS, check_file, file_names, send_again
from tests.slack.conftest import button
from tests.slack.test_siblings import REFS, convene, council, decide, submit  # noqa: F401 - a fixture

CHAIR_DM = "DU0CHAIR"


async def signed_off(slack, ids) -> dict[str, RecordVersion]:
    """The siblings' discussion convened, decided, planned and signed off in Slack; their records."""
    walk = await convene(slack, ids)
    async with slack.services.db.read() as s:
        kids = {c.case_ref: c for c in (await s.execute(select(Child))).scalars()}
    answer = await decide(walk, kids)
    await slack.click("U0CHAIR", button(answer["blocks"], "Plan the S47 enquiry: LL-3001"), view=answer)
    plan = slack.last_view("views.update")
    items = {
        b["block_id"]: f"Agreed: {b['block_id']}."
        for b in plan["blocks"]
        if b.get("block_id", "").startswith("item_")
    }
    told = {"tell_parents": "yes", "tell_parents_how": "Social worker visits.", "icpc_on": "2026-12-10"}
    await submit(slack, plan, items | told)
    review = await walk.form("Review record")
    done = await submit(slack, review, {"monitoring": "Team manager, weekly.", "notify_others": "By phone."})
    assert "Signed off 3 records, one per child" in json.dumps(done)
    async with slack.services.db.read() as s:
        rows = (await s.execute(select(RecordVersion))).scalars().all()
    return {ref: next(r for r in rows if r.child_id == kids[ref].id) for ref in REFS}


async def files_row(db) -> Outbox:
    async with db.read() as s:
        query = select(Outbox).where(Outbox.card_key.like("record_files:%"))
        [row] = (await s.execute(query)).scalars()
    return row


async def exported(db) -> list[dict]:
    async with db.read() as s:
        rows = (await s.execute(select(AuditEvent).where(AuditEvent.action == "record.exported"))).scalars()
        return [r.detail | {"actor": r.actor, "channel": r.channel} for r in rows]


async def test_the_chair_gets_each_childs_record_as_files_in_their_dm(council, monkeypatch):  # noqa: F811
    slack, ids = council
    standin, db = slack.standin, slack.services.db
    records = await signed_off(slack, ids)

    # One message per child in the chair's DM, carrying that child's files, named by the case
    # reference, the discussion's number and the version: never a name.
    shared = standin.files_in(CHAIR_DM)
    assert [u.filename for u in shared] == file_names(REFS)
    assert all(u.title == u.filename for u in shared)
    messages = [m for m in standin.messages(CHAIR_DM) if m.get("files")]
    kinds = " and ".join(f.value.upper() for f in FORMATS)
    assert [m["text"] for m in messages] == [
        f"{ref}, strategy discussion 1: the signed-off record ({kinds})." for ref in REFS
    ]
    for upload in shared:
        ref = upload.filename.removeprefix("strategy-discussion-").split("-d1-")[0]
        check_file(Format(upload.filename.rsplit(".", 1)[1]), upload.data, ref)
    # Nothing else was uploaded, nor shared anywhere else.
    assert len(standin.uploads) == len(shared) == 3 * len(FORMATS)
    # The wire: an upload URL per file (its name and length), one completion per child into the DM.
    announced = standin.called("files.getUploadURLExternal")
    assert [(c["filename"], int(c["length"])) for c in announced] == [
        (u.filename, len(u.data)) for u in shared
    ]
    completed = standin.called("files.completeUploadExternal")
    assert [c["channel_id"] for c in completed] == [CHAIR_DM] * 3
    n = len(FORMATS)
    assert [[f["id"] for f in json.loads(c["files"])] for c in completed] == [
        [u.id for u in shared[i : i + n]] for i in range(0, len(shared), n)
    ]

    # Every file is an audit entry: which record version, which format, where, for whom; no case text.
    entries = await exported(db)
    assert sorted((e["record_version_id"], e["format"]) for e in entries) == sorted(
        (records[ref].id, fmt.value) for ref in REFS for fmt in FORMATS
    )
    assert {(e["destination"], e["actor"], e["channel"]) for e in entries} == {
        ("slack-dm", f"person:{ids['chair']}", "slack")
    }
    keys = {"record_version_id", "version", "format", "destination", "actor", "channel"}
    assert all(set(e) == keys for e in entries)

    # The card went through the outbox, in the chair's own lane (never the discussion's thread).
    row = await files_row(db)
    assert (row.recipient_key, row.status, row.surface) == (f"person:{ids['chair']}", "sent", "slack")
    assert row.card["target"] == {
        "kind": "direct",
        "discussion_id": None,
        "person_id": ids["chair"],
        "place": None,
    }
    assert dict(row.card["facts"]) == {"record version": str(records[REFS[-1]].id)}  # one per record
    assert [v for _, v in row.card["facts"]] == [str(records[ref].id) for ref in REFS]

    # Sent again (a process killed after Slack took the files and before the row was marked sent, so
    # another takes the row after its lease): nothing is uploaded or audited twice.
    await send_again(slack.services, row)
    assert len(standin.uploads) == 3 * n and len(standin.called("files.completeUploadExternal")) == 3
    assert len(await exported(db)) == 3 * n


async def test_an_upload_refused_part_way_is_finished_later_once(council, monkeypatch):  # noqa: F811
    """Slack rate-limits the second child's completion: the card waits in the outbox; tried again, it
    shares the second and third children's files, and the first child's are not uploaded again."""
    slack, ids = council
    standin, db = slack.standin, slack.services.db
    complete = standin._files_completeUploadExternal

    def then_refuse_the_next(p):
        if len(standin.called("files.completeUploadExternal")) == 1:
            standin.fail("files.completeUploadExternal", retry_after="30")  # the next call gets a 429
        return complete(p)

    monkeypatch.setattr(standin, "_files_completeUploadExternal", then_refuse_the_next)
    await signed_off(slack, ids)
    n = len(FORMATS)
    assert [u.filename for u in standin.files_in(CHAIR_DM)] == file_names(["LL-3001"])
    row = await files_row(db)
    assert (row.status, row.attempts) == ("pending", 1)
    assert row.last_error == "slack files.completeUploadExternal: ratelimited"
    assert len(await exported(db)) == n  # the first child's files, as shared

    await send_again(slack.services, row)
    assert [u.filename for u in standin.files_in(CHAIR_DM)] == file_names(REFS)
    # The second child's first upload was never shared, so Slack shows it nowhere; it went again.
    unshared = [u.filename for u in standin.uploads.values() if u.channel is None]
    assert unshared == file_names(["LL-3002"])
    assert len(standin.uploads) == 4 * n
    assert len(await exported(db)) == 3 * n
    assert (await files_row(db)).status == "sent"


async def test_a_chair_slack_cannot_give_the_files_to_is_told(council, monkeypatch):  # noqa: F811
    """A refusal that waiting will not fix (the app is not in the DM) fails the card at once, and the
    chair is told which message did not arrive and why, by case reference only; no file is shared."""
    slack, ids = council
    standin = slack.standin
    standin.fail("files.completeUploadExternal", status=200, error="not_in_channel", times=1)
    await signed_off(slack, ids)
    assert standin.files_in(CHAIR_DM) == []
    row = await files_row(slack.services.db)
    assert (row.status, row.last_error) == ("failed", "slack files.completeUploadExternal: not_in_channel")
    [told] = [
        c["blocks"][0]["text"]["text"]
        for c in standin.called("chat.postEphemeral")
        if "record files" in json.dumps(c["blocks"])
    ]
    assert told.startswith(f"I could not send you the signed-off record files of {', '.join(REFS)}.")
    assert "Slack would not let me share files in our direct messages." in told
    assert await exported(slack.services.db) == []
