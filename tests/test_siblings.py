"""One discussion about three siblings, through the neutral dialogs, on SQLite and PostgreSQL.

Attendance, the meeting and the concern are shared; each child's decision, plan, actions, deadlines
and record are their own, and a contribution about one child never reaches a sibling's record.
"""

from sqlalchemy import select

from dialogs.model import Card, Ref, TargetKind
from dialogs.procedure import load_procedure
from storage.models import (
    AuditEvent,
    Child,
    Circulation,
    Contribution,
    ContributionChild,
    DueItem,
    RecordVersion,
    Series,
)
from tests.engine_helpers import errors, form_of, make_driver, one
from tests.test_engine import CONVENE, answers, button_value

REFS = ("LL-3001", "LL-3002", "LL-3003")
ELDEST_ONLY = "Disclosure at school by the eldest about the stepfather."
YOUNGEST_ONLY = "Health visitor: youngest is thriving, no marks seen."
ALL_THREE = "All three children were seen by the GP last month."


async def convene_siblings(drv) -> tuple[int, dict[str, Child]]:
    """Convened about the three, police and health invited and accepted, the discussion started."""
    cards = await drv.submit("chair", "convene", "", **{**CONVENE, "case_ref": ", ".join(REFS)})
    post = one(cards, TargetKind.MAIN_POST)
    did = post.target.discussion_id
    assert post.title.startswith(f"Strategy discussion {', '.join(REFS)}")
    a = drv.actors
    people = [str(a[k].person_id) for k in ("police", "police_manager", "health")]
    dms = [
        c
        for c in await drv.submit("chair", "invite", did, people=people)
        if c.target.kind == TargetKind.DIRECT
    ]
    await drv.press("police", "accept", button_value(dms, "accept", a["police"].person_id))
    await drv.press("police_manager", "accept", button_value(dms, "accept", a["police_manager"].person_id))
    await drv.press("health", "accept", button_value(dms, "accept", a["health"].person_id))
    await drv.press("chair", "start", did)
    async with drv.dialogs.db.read() as s:
        found = (await s.execute(select(Child).where(Child.discussion_id == did))).scalars()
        children = {c.case_ref: c for c in found}
    return did, children


async def decide_each(drv, did: int, kids: dict[str, Child]) -> None:
    """One S47 (joint), one Single Assessment with a reconvene date, one no S47."""
    first = form_of(await drv.press("chair", "decide", did))
    chosen = next(i for i in first.inputs if i.id == "children")
    assert sorted(chosen.value) == sorted(str(c.id) for c in kids.values())  # all three undecided
    cards = await drv.submit(
        "chair",
        "decide",
        first.context,
        children=[str(kids["LL-3001"].id)],
        outcome="s47_joint",
        reasons="Disclosure of physical harm.",
        risks="Stepfather's access.",
    )
    assert "Still to decide: LL-3002, LL-3003" in one(cards, TargetKind.EPHEMERAL).text
    second = form_of(await drv.press("chair", "decide", did))
    assert next(i for i in second.inputs if i.id == "children").value == [
        str(kids["LL-3002"].id),
        str(kids["LL-3003"].id),
    ]
    await drv.submit(
        "chair",
        "decide",
        second.context,
        children=[str(kids["LL-3002"].id)],
        outcome="single_assessment",
        reasons="Concern about neglect needs assessing first.",
        risks="Home conditions.",
        reconvene_on="2026-12-15",
    )
    cards = await drv.fill(
        "chair",
        "decide",
        did,
        children=[str(kids["LL-3003"].id)],
        outcome="no_s47",
        reasons="No indication of harm to the youngest.",
        risks="None identified.",
        alternative="Continue the Child and Family Assessment.",
        parents_told="Mother told by the social worker, by phone, today.",
    )
    reply = one(cards, TargetKind.EPHEMERAL)
    assert "Next: plan the S47 enquiry" in reply.text
    assert [b.label for b in reply.buttons] == ["Plan the S47 enquiry: LL-3001"]


async def plan_and_sign(drv, did: int, kids: dict[str, Child]) -> list[Card]:
    fields = answers(load_procedure())
    eldest = str(Ref(did, child_id=kids["LL-3001"].id))
    cards = await drv.fill(
        "chair",
        "plan",
        eldest,
        tell_parents="yes",
        tell_parents_how="Social worker visits today.",
        icpc_on="2026-12-10",
        **fields,
    )
    assert "The S47 plan for LL-3001 is complete" in one(cards, TargetKind.EPHEMERAL).text
    action = form_of(await drv.press("chair", "add_action", did))
    assert next(i for i in action.inputs if i.id == "children").value == [str(c.id) for c in kids.values()]
    await drv.submit(
        "chair",
        "add_action",
        action.context,
        description="Joint visit with police to the eldest.",
        owner=str(drv.actors["police"].person_id),
        due_on="2026-11-26",
        children=[str(kids["LL-3001"].id)],
    )
    review = one(await drv.press("chair", "review", did), TargetKind.EPHEMERAL)
    assert all(f"*Record of strategy discussion: {ref}*" in review.text for ref in REFS)
    return await drv.submit(
        "chair",
        "signoff",
        review.form.context,
        monitoring="Team manager, weekly.",
        notify_others="By phone today.",
    )


async def test_three_siblings_part_ways_each_with_their_own_record(db):
    drv = await make_driver(db)
    did, kids = await convene_siblings(drv)
    assert [c.position for c in kids.values()] == [1, 2, 3]
    await drv.reply("police", did, f"LL-3001: {ELDEST_ONLY}")
    await drv.reply("health", did, ALL_THREE)
    await drv.reply("health", did, f"LL-3003: {YOUNGEST_ONLY}")
    await decide_each(drv, did, kids)

    post = one(await drv.press("chair", "status", did), TargetKind.EPHEMERAL)
    assert "- LL-3001: S47 enquiry (joint" in post.text and "plan to complete" in post.text
    assert "- LL-3002: Single Assessment first, then reconvene" in post.text
    assert "- LL-3003: No S47 enquiry" in post.text
    assert "Plan S47: LL-3001" in [b.label for b in post.buttons]

    # Each child's decision is changed on its own: one form for all would overwrite the siblings'.
    assert [b.label for b in post.buttons if b.action == "decide"] == [f"Change decision: {r}" for r in REFS]
    signed = await plan_and_sign(drv, did, kids)
    assert "Signed off 3 records, one per child" in one(signed, TargetKind.EPHEMERAL).text
    sent = [c for c in signed if c.target.kind == TargetKind.DIRECT and c.title.startswith("Record of")]
    # Each of the three who took part gets each child's record, to acknowledge on its own.
    assert sorted(c.title.rsplit(" ", 1)[1] for c in sent) == sorted(REFS * 3)
    assert all(c.preview.split(":")[0] in REFS for c in sent)

    async with db.read() as s:
        records = {r.child_id: r for r in (await s.execute(select(RecordVersion))).scalars()}
        items = list((await s.execute(select(DueItem).where(DueItem.discussion_id == did))).scalars())
        circulations = list((await s.execute(select(Circulation))).scalars())
    body = {ref: records[c.id].body for ref, c in kids.items()}
    assert set(records) == {c.id for c in kids.values()} and len(circulations) == 9
    # Each record holds its child's decision, and only the contributions about that child or all.
    assert "S47 enquiry (joint" in body["LL-3001"] and "then reconvene" not in body["LL-3001"]
    assert "Reconvene on: 15 Dec 2026" in body["LL-3002"] and "S47 plan" not in body["LL-3002"]
    assert "Continue the Child and Family Assessment." in body["LL-3003"]
    assert all(ALL_THREE in b for b in body.values())
    assert ELDEST_ONLY in body["LL-3001"] and YOUNGEST_ONLY in body["LL-3003"]
    assert ELDEST_ONLY not in body["LL-3002"] + body["LL-3003"]
    assert YOUNGEST_ONLY not in body["LL-3001"] + body["LL-3002"]
    assert "Joint visit with police" in body["LL-3001"]
    assert "Joint visit" not in body["LL-3002"] + body["LL-3003"]
    assert "Held together with the discussion about: LL-3002, LL-3003" in body["LL-3001"]

    # The deadlines are each child's own: the conference and a further discussion for the S47 child,
    # the reconvene for the Single Assessment, the record and the outcome for each.
    own = {(i.kind, i.child_id) for i in items if i.child_id is not None and i.kind != "acknowledgement"}
    acks = [i for i in items if i.kind == "acknowledgement"]
    assert sorted(i.child_id for i in acks) == sorted([kids[r].id for r in REFS] * 3)  # each record's own
    one_, two, three = (kids[r].id for r in REFS)
    assert own == {
        *((k, c) for k in ("record_circulation", "outcome_notification") for c in (one_, two, three)),
        ("icpc", one_),
        ("further_discussion", one_),
        ("final_discussion", one_),
        ("reconvene", two),
    }
    assert all(i.state == "met" for i in items if i.kind == "record_circulation")

    # Acknowledging one child's record leaves the siblings' records to acknowledge.
    police = drv.actors["police"].person_id
    mine = [c for c in sent if c.target.person_id == police]
    ack = next(c for c in mine if c.title.endswith("LL-3002"))
    cards = await drv.press("police", "ack", ack.buttons[0].value)
    assert one(cards, TargetKind.EPHEMERAL).text == "Acknowledged: LL-3002. Thank you."
    async with db.read() as s:
        acked = {
            c.record_id
            for c in (await s.execute(select(Circulation).where(Circulation.person_id == police))).scalars()
            if c.acknowledged_at is not None
        }
    assert acked == {records[two].id}

    # The eldest's enquiry goes on without the siblings: a further discussion for LL-3001 only.
    further = form_of(await drv.press("chair", "reconvene", did))
    assert [o.label for o in next(i for i in further.inputs if i.id == "children").options] == list(REFS)
    cards = await drv.submit(
        "chair",
        "reconvene",
        further.context,
        children=[str(one_)],
        format="meeting",
        proposed_date="2026-11-25",
        proposed_time="10:00",
        is_final="no",
    )
    post = one(cards, TargetKind.MAIN_POST)
    second = post.target.discussion_id
    assert post.title == "Strategy discussion LL-3001 (second)"
    drv.clock.advance(days=1)
    await drv.press("chair", "start", second)
    async with db.read() as s:
        now = {(i.kind, i.child_id): i for i in (await s.execute(select(DueItem))).scalars()}
        series = {x.case_ref: x for x in (await s.execute(select(Series))).scalars()}
    assert now["further_discussion", one_].state == "met"
    assert now["reconvene", two].state == "open"  # the sibling's own series is untouched
    assert all(x.closed_at is None for ref, x in series.items() if ref in ("LL-3001", "LL-3002"))


async def test_a_contribution_about_one_child_is_never_on_a_siblings_record(db):
    """Tagged by the reply's prefix or moved by the chair's correction, it reaches only its child."""
    drv = await make_driver(db)
    did, kids = await convene_siblings(drv)
    await drv.reply("police", did, "LL-3002 and LL-3003: Both younger children named in a 999 call.")
    await drv.reply("health", did, "Time: 10:30 at the clinic.")  # a colon, but not a case reference
    await drv.reply("health", did, "Seen in A&E on Sunday.")
    correct = form_of(await drv.press("chair", "correct", did))
    about = next(i for i in correct.inputs if i.id == "children")
    assert [o.label for o in about.options] == list(REFS)
    last = correct.inputs[0].options[-1].value
    await drv.submit(
        "chair",
        "correct",
        correct.context,
        contribution=last,
        why="About the eldest",
        children=[str(kids[REFS[0]].id)],
    )
    for ref in REFS:
        await drv.fill(
            "chair",
            "decide",
            str(Ref(did, child_id=kids[ref].id)),
            children=[str(kids[ref].id)],
            outcome="no_s47",
            reasons="Below the threshold.",
            risks="None.",
            alternative="Early help.",
        )
    review = one(await drv.press("chair", "review", did), TargetKind.EPHEMERAL)
    await drv.submit(
        "chair", "signoff", review.form.context, monitoring="Team manager.", notify_others="By phone today."
    )
    async with db.read() as s:
        by_child = {r.child_id: r.body for r in (await s.execute(select(RecordVersion))).scalars()}
        audit = [
            e for e in (await s.execute(select(AuditEvent))).scalars() if e.action == "contribution.corrected"
        ]
    body = {ref: by_child[kids[ref].id] for ref in REFS}
    assert "999 call" not in body["LL-3001"] and all("999 call" in body[r] for r in REFS[1:])
    assert "Time: 10:30 at the clinic." in body["LL-3001"]  # about all three
    assert "Seen in A&E" in body["LL-3001"] and all("Seen in A&E" not in body[r] for r in REFS[1:])
    assert audit[0].detail["before"]["children"] == [str(kids[r].id) for r in REFS]


async def test_a_sibling_is_added_before_the_decision_and_removed_with_a_reason(db):
    drv = await make_driver(db)
    cards = await drv.submit("chair", "convene", "", **{**CONVENE, "case_ref": "LL-4001"})
    did = one(cards, TargetKind.MAIN_POST).target.discussion_id
    bad = await drv.fill("chair", "children", did, add="LL-4002")
    assert set(errors(bad)) == {"why"} and form_of(bad).inputs[0].value == "LL-4002"  # nothing lost
    cards = await drv.fill(
        "chair", "children", did, add="LL-4002, LL-4003", why="Siblings named in the referral."
    )
    assert one(cards, TargetKind.MAIN_POST).title.startswith("Strategy discussion LL-4001, LL-4002, LL-4003")
    async with db.read() as s:
        kids = {
            c.case_ref: c
            for c in (await s.execute(select(Child).where(Child.discussion_id == did))).scalars()
        }
    cards = await drv.fill("chair", "children", did, remove=str(kids["LL-4003"].id), why="Convened in error.")
    assert one(cards, TargetKind.MAIN_POST).title.startswith("Strategy discussion LL-4001, LL-4002 (")
    async with db.read() as s:
        removed = await s.get(Child, kids["LL-4003"].id)
        series = await s.get(Series, removed.series_id)
        actions = [e.action for e in (await s.execute(select(AuditEvent))).scalars()]
    assert (removed.removed_reason, removed.removed_by_id) == (
        "Convened in error.",
        drv.actors["chair"].person_id,
    )
    assert series.closed_at is not None  # the case can be convened again
    assert actions.count("child.added") == 2 and actions.count("child.removed") == 1
    again = await drv.submit(
        "chair", "convene", "", **{**CONVENE, "case_ref": "LL-4003", "proposed_time": "15:00"}
    )
    assert one(again, TargetKind.MAIN_POST).title.startswith("Strategy discussion LL-4003")
    # Once a decision is recorded, no child can be added: a new discussion is convened instead.
    await drv.press("chair", "start", did)
    decided = await drv.fill(
        "chair",
        "decide",
        did,
        children=[str(kids["LL-4001"].id), str(kids["LL-4002"].id)],
        outcome="no_s47",
        reasons="Below the threshold.",
        risks="None.",
        alternative="Early help.",
        override_reason="Police and health gave their views by email.",
    )
    assert "Decision recorded for LL-4001, LL-4002" in one(decided, TargetKind.EPHEMERAL).text
    late = await drv.fill("chair", "children", did, add="LL-4009", why="Another sibling.")
    assert "decision has been recorded" in errors(late)["add"]


def test_case_references_are_split_on_commas_never_on_spaces():
    from dialogs.children import parse_refs

    assert parse_refs("LL-1, ll-1; LL-2\nLL-3").refs == ("LL-1", "LL-2", "LL-3")  # once each, in order
    assert parse_refs("LL-1, LL-2").problem is None
    assert parse_refs("Jane Smith").problem  # a name is refused, not taken as two references
    assert parse_refs("Smith, Jane").problem  # nor as two references made of letters only
    assert parse_refs(" , ").problem == "Please give the case reference of each child."


async def test_a_reply_naming_a_reference_the_discussion_lacks_is_not_guessed_at(db):
    drv = await make_driver(db)
    did, kids = await convene_siblings(drv)
    for slip in ("LL3001: the eldest disclosed.", "Re LL-3002: the middle one.", "LL-3001, LL-3009: both."):
        answer = one(await drv.reply("police", did, slip), TargetKind.EPHEMERAL)
        assert answer.text.startswith("Your message was not recorded.") and answer.text.endswith(slip)
    await drv.reply("police", did, "At 10:30 the school rang: all three were late.")  # not a tag
    await drv.reply("police", did, "LL-3001 and LL-3003: both were seen.")
    async with db.read() as s:
        stored = list((await s.execute(select(Contribution))).scalars())
        tagged = list((await s.execute(select(ContributionChild))).scalars())
    assert [c.text for c in stored] == ["At 10:30 the school rang: all three were late.", "both were seen."]
    assert [c.for_all for c in stored] == [True, False]
    assert {t.child_id for t in tagged} == {kids["LL-3001"].id, kids["LL-3003"].id}


async def test_a_sibling_added_later_gets_neither_earlier_contributions_nor_loses_deadlines_when_readded(db):
    drv = await make_driver(db)
    cards = await drv.submit("chair", "convene", "", **{**CONVENE, "case_ref": "LL-5001, LL-5002"})
    did = one(cards, TargetKind.MAIN_POST).target.discussion_id
    a = drv.actors
    dms = await drv.submit("chair", "invite", did, people=[str(a["police"].person_id)])
    await drv.press("police", "accept", button_value(dms, "accept", a["police"].person_id))
    await drv.press("chair", "start", did)
    await drv.reply("police", did, "Said before the half-sibling was added.")
    await drv.fill("chair", "children", did, add="LL-5003", why="A half-sibling in the household.")
    async with db.read() as s:
        kids = {
            c.case_ref: c
            for c in (await s.execute(select(Child).where(Child.discussion_id == did))).scalars()
        }
        said = (await s.execute(select(Contribution))).scalars().one()
        about = {t.child_id for t in (await s.execute(select(ContributionChild))).scalars()}
    assert not said.for_all and about == {kids["LL-5001"].id, kids["LL-5002"].id}
    # Removed by mistake and added again: the child's own deadlines open again.
    await drv.fill("chair", "children", did, remove=str(kids["LL-5002"].id), why="Wrong child.")
    await drv.fill("chair", "children", did, add="LL-5002", why="It was the right child after all.")
    async with db.read() as s:
        own = [i for i in (await s.execute(select(DueItem))).scalars() if i.child_id == kids["LL-5002"].id]
    assert {(i.kind, i.state) for i in own} == {
        ("record_circulation", "open"),
        ("outcome_notification", "open"),
    }
