"""The whole discussion driven through the neutral dialogs, on SQLite and PostgreSQL."""

from datetime import date

from sqlalchemy import select

from dialogs.model import TargetKind, TurnKind
from dialogs.procedure import load_procedure
from storage.models import AuditEvent, Contribution, Discussion, Participant, RecordVersion
from tests.engine_helpers import errors, form_of, make_driver, one

CONVENE = dict(
    case_ref="LL-204511",
    category="physical",
    concern="Bruising to the upper arm seen at school.",
    immediate_risk="no",
    c_possible_injury="yes",
    c_medical_implications="no",
    c_hospital_involvement="no",
    c_inpatient="no",
    c_complex="no",
    referring_agency="education",
    format="meeting",
    proposed_date="2026-11-24",
    proposed_time="14:00",
)


async def convene(drv, **overrides):
    cards = await drv.submit("chair", "convene", "", **{**CONVENE, **overrides})
    post = one(cards, TargetKind.MAIN_POST)
    return post.target.discussion_id, cards


def button_value(cards, action, person_id=None):
    for c in cards:
        if person_id is not None and c.target.person_id != person_id:
            continue
        for b in c.buttons:
            if b.action == action:
                return b.value
    raise AssertionError(f"no {action} button")


def answers(procedure):
    fields = {f"item_{c.id}": f"Agreed answer for {c.id}." for c in procedure.s47_checklist}
    fields["item_observe_home"] = "N/A: physical injury, no neglect concern"
    return fields


async def test_whole_discussion(db):
    drv = await make_driver(db)
    a = drv.actors
    form = form_of(await drv.command("chair", "convene"))
    assert form.id == "convene" and {i.id for i in form.inputs} >= {"case_ref", "concern", "proposed_time"}

    did, cards = await convene(drv)
    post = one(cards, TargetKind.MAIN_POST)
    assert "Quorum" in dict(post.facts) and dict(post.facts)["Quorum"] == "not met"
    assert "Police safeguarding manager" in post.text  # possible injury calls for one
    assert dict(post.facts)["Meeting due by"] == "Wed 25 Nov 10:00"

    invite = form_of(await drv.press("chair", "invite", did))
    people = [str(a[k].person_id) for k in ("police", "police_manager", "health", "referrer")]
    assert {o.value for o in invite.inputs[0].options} >= set(people)
    cards = await drv.submit("chair", "invite", did, people=people)
    dms = [c for c in cards if c.target.kind == TargetKind.DIRECT]
    assert {c.target.person_id for c in dms} == {int(p) for p in people}
    assert all("LL-204511" in c.preview and "Bruising" not in c.preview for c in dms)

    await drv.press("police", "accept", button_value(dms, "accept", a["police"].person_id))
    await drv.press("health", "accept", button_value(dms, "accept", a["health"].person_id))
    pm_value = button_value(dms, "decline", a["police_manager"].person_id)
    assert "directions" in {
        i.id for i in form_of(await drv.press("police_manager", "decline", pm_value)).inputs
    }
    bad = await drv.fill("police_manager", "decline", pm_value, reason="In court all day")
    assert "directions" in errors(bad)
    assert form_of(bad).inputs[0].value == "In court all day"  # nothing typed is lost
    cards = await drv.fill(
        "police_manager",
        "decline",
        pm_value,
        reason="In court all day",
        directions="Officer to arrange a joint visit and ABE interview.",
    )
    post = one(cards, TargetKind.MAIN_POST)
    assert dict(post.facts)["Quorum"] == "met"
    assert "[x] A police safeguarding manager" in post.text

    cards = await drv.press("chair", "start", did)
    assert one(cards, TargetKind.THREAD).title.startswith("Stage 2 of 6")
    await drv.reply("police", did, "Known to police: a previous domestic incident in 2025.", event_id="ev-1")
    assert (
        await drv.reply(
            "police", did, "Known to police: a previous domestic incident in 2025.", event_id="ev-1"
        )
        == []
    )
    refused = await drv.reply("outsider", did, "I heard about this too")
    assert one(refused, TargetKind.EPHEMERAL).text.startswith(
        "Your message in the LL-204511 thread was not recorded"
    )
    await drv.reply("health", did, "Seen by the GP last month; no concerns noted.")

    assert "Only the chair" in one(await drv.press("police", "decide", did), TargetKind.EPHEMERAL).text
    bad = await drv.fill("chair", "decide", did, outcome="s47_joint", reasons="", risks="Injury pattern")
    assert set(errors(bad)) == {"reasons"}
    await drv.fill(
        "chair",
        "decide",
        did,
        outcome="s47_joint",
        reasons="Unexplained bruising; threshold met.",
        risks="Non-accidental injury; previous domestic incident.",
    )

    procedure = load_procedure()
    fields = answers(procedure)
    partial = {k: v for k, v in list(fields.items())[:5]}
    cards = await drv.fill("chair", "plan", did, **partial)
    assert "Still to answer" in one(cards, TargetKind.EPHEMERAL).text
    late = await drv.fill(
        "chair",
        "plan",
        did,
        tell_parents="yes",
        tell_parents_how="Social worker, today, visit.",
        icpc_on="2027-01-29",
        **fields,
    )
    assert "icpc_late_reason" in errors(late)
    cards = await drv.fill(
        "chair",
        "plan",
        did,
        tell_parents="yes",
        tell_parents_how="Social worker, today, visit.",
        icpc_on="2026-12-14",
        **fields,
    )
    assert "The S47 plan is complete" in one(cards, TargetKind.EPHEMERAL).text
    assert dict(one(cards, TargetKind.MAIN_POST).facts)["State"] == "decided"

    bad = await drv.submit(
        "chair",
        "add_action",
        did,
        description="Joint visit",
        owner=str(a["police"].person_id),
        due_on="2026-11-01",
    )
    assert "due_on" in errors(bad)
    cards = await drv.submit(
        "chair",
        "add_action",
        did,
        description="Joint visit",
        owner=str(a["police"].person_id),
        due_on="2026-11-26",
    )
    assert one(cards, TargetKind.DIRECT).target.person_id == a["police"].person_id

    review = await drv.press("chair", "review", did)
    draft = one(review, TargetKind.EPHEMERAL)
    assert "Known to police" in draft.text and "not applicable: physical injury" in draft.text
    cards = await drv.submit(
        "chair", "signoff", form_of(review).context, monitoring="Team manager reviews weekly in supervision."
    )
    dms = {c.target.person_id: c for c in cards if (c.key or "").startswith("circulation:")}
    assert set(dms) == {a["police"].person_id, a["health"].person_id, a["referrer"].person_id}
    files = [c for c in cards if c.target.kind == TargetKind.DIRECT and c.target.person_id not in dms]
    assert [(c.target.person_id, c.title) for c in files] == [
        (a["chair"].person_id, "Signed-off record files: LL-204511")
    ]  # the chair's DOCX and PDF (dialogs.record_to_chair)
    assert dms[a["referrer"].person_id].title.startswith(
        "Outcome"
    )  # invited, did not attend: the outcome only
    assert "Known to police" not in dms[a["referrer"].person_id].text

    cards = await drv.press("police", "ack", button_value([dms[a["police"].person_id]], "ack"))
    post = one(cards, TargetKind.MAIN_POST)
    assert "Pat Police (record): sent" in post.text and "acknowledged" in post.text
    assert "Harper Health (record): sent 24 Nov 10:00, not yet acknowledged" in post.text

    async with db.session() as s:
        d = await s.get(Discussion, did)
        record = (
            await s.execute(select(RecordVersion).where(RecordVersion.discussion_id == did))
        ).scalar_one()
    assert d.state == "signed_off" and d.held_on == date(2026, 11, 24)
    for expected in (
        "Record of strategy discussion: LL-204511",
        "Quorum: met",
        "Directions given: Officer",
        "Outcome: ",
        "ICPC target date: 15 Dec 2026",
        "Joint visit",
        "Team manager reviews weekly",
    ):
        assert expected in record.body, expected


async def test_only_managers_convene_and_bad_input_is_kept(db):
    drv = await make_driver(db)
    assert "Only a duty manager" in one(await drv.command("police", "convene"), TargetKind.EPHEMERAL).text
    cards = await drv.submit(
        "chair",
        "convene",
        "",
        **{**CONVENE, "concern": "x" * 3001, "case_ref": "", "proposed_date": "2026-11-23"},
    )
    errs = errors(cards)
    assert set(errs) >= {"concern", "case_ref", "proposed_date"}
    assert {i.id: i.value for i in form_of(cards).inputs}["referring_agency"] == "education"


async def test_meeting_required_and_late_time_needs_reason(db):
    drv = await make_driver(db)
    cards = await drv.submit("chair", "convene", "", **{**CONVENE, "category": "neglect", "format": "call"})
    assert "format" in errors(cards)
    cards = await drv.submit("chair", "convene", "", **{**CONVENE, "proposed_date": "2026-11-26"})
    assert "late_reason" in errors(cards)
    did, _ = await convene(drv, proposed_date="2026-11-26", late_reason="Paediatrician only free Thursday")
    async with db.session() as s:
        assert (await s.get(Discussion, did)).late_reason.startswith("Paediatrician")


async def test_phone_contribution_and_correction_are_attributed_and_audited(db):
    drv = await make_driver(db)
    did, _ = await convene(drv)
    await drv.submit("chair", "invite", did, people=[str(drv.actors["health"].person_id)])
    await drv.press("chair", "start", did)
    health = f"{drv.actors['health'].person_id}.1"
    fields = dict(person=health, stage="information", text="Health visitor: missed two appointments.")
    # Attendance is frozen once started: a change needs the reason, and nothing typed is lost.
    cards = await drv.fill("chair", "phone", did, **fields)
    assert "why" in errors(cards) and form_of(cards).inputs[2].value == fields["text"]
    cards = await drv.fill("chair", "phone", did, **fields, why="Joined by phone after the start")
    assert "by phone, entered by the chair" in one(cards, TargetKind.THREAD).text
    async with db.session() as s:
        c = (await s.execute(select(Contribution))).scalar_one()
        part = (
            await s.execute(
                select(Participant).where(Participant.person_id == drv.actors["health"].person_id)
            )
        ).scalar_one()
    assert c.via == "phone_entered_by_chair" and c.entered_by_id == drv.actors["chair"].person_id
    assert part.status == "by_phone"
    await drv.fill(
        "chair",
        "correct",
        did,
        contribution=f"{c.id}.{c.version}",
        stage="immediate_protection",
        text="",
        why="Belongs to immediate protection",
    )
    async with db.session() as s:
        c = await s.get(Contribution, c.id)
        from storage import audit

        assert (await audit.verify(s)).ok
        corrected = (
            await s.execute(select(AuditEvent.detail).where(AuditEvent.action == "attendance.corrected"))
        ).scalar_one()
    assert c.stage == "immediate_protection" and c.text.startswith("Health visitor")
    assert corrected == {
        "person_id": drv.actors["health"].person_id,
        "before": "invited",
        "after": "by_phone",
        "why": "Joined by phone after the start",
    }


async def test_double_click_acts_once(db):
    drv = await make_driver(db)
    did, _ = await convene(drv)
    from dialogs.model import Turn, TurnKind

    turn = Turn(
        actor=drv.actors["chair"], kind=TurnKind.BUTTON, name="start", value=str(did), event_id="tok-1"
    )
    first = await drv.dialogs.handle(turn)
    second = await drv.dialogs.handle(turn)
    assert one(list(first.cards), TargetKind.THREAD) and first.changed and not first.duplicate
    assert one(list(second.cards), TargetKind.EPHEMERAL).text == "That was already done."
    assert second.duplicate and not second.changed


async def test_a_press_that_changed_nothing_can_be_pressed_again(db):
    """The engine, not the channel, keeps a button usable when pressing it changed nothing."""
    drv = await make_driver(db)
    did, _ = await convene(drv)
    from dialogs.model import Turn, TurnKind

    opens_a_form = Turn(
        actor=drv.actors["chair"], kind=TurnKind.BUTTON, name="invite", value=str(did), event_id="tok-2"
    )
    for _ in range(2):
        result = await drv.dialogs.handle(opens_a_form)
        assert not result.changed and not result.duplicate and result.answers[0].form is not None
    bad_form = Turn(
        actor=drv.actors["chair"], kind=TurnKind.FORM, name="invite", value=str(did), event_id="tok-3"
    )
    for _ in range(2):  # sent back with its errors, twice: the same submission may be corrected and sent
        result = await drv.dialogs.handle(bad_form)
        assert not result.changed and not result.duplicate and "people" in errors(list(result.cards))


async def test_single_assessment_needs_reconvene_date_and_reconvenes(db):
    drv = await make_driver(db)
    did, _ = await convene(drv)
    await drv.submit("chair", "invite", did, people=[str(drv.actors["police"].person_id)])
    await drv.press("chair", "start", did)
    decision = dict(outcome="single_assessment", reasons="r", risks="k", override_reason="Health unavailable")
    cards = await drv.fill("chair", "decide", did, **decision)
    assert "reconvene_on" in errors(cards)
    await drv.fill("chair", "decide", did, **decision, reconvene_on="2026-12-10")
    form = form_of(await drv.press("chair", "review", did))
    assert {i.id for i in form.inputs} == {"monitoring", "notify_others"}
    assert "Education and early years, Health." in next(
        i.label for i in form.inputs if i.id == "notify_others"
    )
    cards = await drv.submit(
        "chair", "signoff", form.context, monitoring="Chair", notify_others="Chair phones them today"
    )
    assert dict(one(cards, TargetKind.MAIN_POST).facts)["State"] == "record signed off and circulated"
    # A further discussion is held on the date the chair sets: ten days on needs no late reason.
    cards = await drv.fill(
        "chair",
        "reconvene",
        did,
        format="meeting",
        proposed_date="2026-12-04",
        proposed_time="15:00",
        is_final="no",
    )
    post = one(cards, TargetKind.MAIN_POST)
    assert "(second)" in post.title
    assert one(cards, TargetKind.DIRECT).target.person_id == drv.actors["police"].person_id


async def test_status_and_due(db):
    drv = await make_driver(db)
    did, _ = await convene(drv)
    card = one(await drv.command("chair", "status", "LL-204511"), TargetKind.EPHEMERAL)
    assert card.title.startswith("Strategy discussion LL-204511")
    assert (
        "no open discussion"
        in one(await drv.command("police", "status", "LL-204511"), TargetKind.EPHEMERAL).text
    )
    assert one(await drv.command("police", "help"), TargetKind.EPHEMERAL).title == "Help"


async def test_due_lists_what_waits_on_each_person(db):
    drv = await make_driver(db)
    did, _ = await convene(drv)
    await drv.submit("chair", "invite", did, people=[str(drv.actors["police"].person_id)])
    chair_due = one(await drv.command("chair", "due"), TargetKind.EPHEMERAL).text
    police_due = one(await drv.command("police", "due"), TargetKind.EPHEMERAL).text
    assert "LL-204511" in chair_due and "Bruising" not in chair_due
    assert "LL-204511" in police_due  # the unanswered invitation
    assert one(await drv.command("health", "due"), TargetKind.EPHEMERAL).text == "Nothing is due for you."


async def test_ids_from_another_discussion_or_person_are_refused(db):
    """Button values carry ids; changing them must not let anyone act on someone else's behalf."""
    drv = await make_driver(db)
    a = drv.actors
    first, _ = await convene(drv)
    second, _ = await convene(drv, case_ref="LL-999")
    people = [str(a["police"].person_id), str(a["health"].person_id)]
    dms = [
        c
        for c in await drv.submit("chair", "invite", first, people=people)
        if c.target.kind == TargetKind.DIRECT
    ]
    police_invite = button_value(dms, "accept", a["police"].person_id)
    participant_id = police_invite.split(":")[1]
    # Health presses Accept with the police officer's invitation: refused, nothing changes.
    assert "not yours" in one(await drv.press("health", "accept", police_invite), TargetKind.EPHEMERAL).text
    # The police officer's own invitation, replayed against another discussion: refused.
    assert one(await drv.press("police", "accept", f"{second}:{participant_id}"), TargetKind.EPHEMERAL)
    async with db.session() as s:
        part = await s.get(Participant, int(participant_id))
    assert part.status == "invited"
    # Someone not in the discussion cannot see it or act on it.
    assert "not taking part" in one(await drv.press("outsider", "status", first), TargetKind.EPHEMERAL).text
    assert "Only the chair" in one(await drv.press("police", "invite", first), TargetKind.EPHEMERAL).text


async def test_views_are_audited(db):
    from storage.models import AuditEvent

    drv = await make_driver(db)
    did, _ = await convene(drv)
    await drv.press("chair", "status", did)
    async with db.session() as s:
        actions = (await s.execute(select(AuditEvent.action))).scalars().all()
    assert "discussion.viewed" in actions


async def test_close_stops_the_discussion_and_needs_a_reason(db):
    from storage.models import DueItem

    drv = await make_driver(db)
    did, _ = await convene(drv)
    form = form_of(await drv.press("chair", "close", did))
    meeting = next(i for i in form.inputs if i.id.startswith("reason_"))
    assert meeting.label.startswith("Still open: Strategy discussion to be held") and meeting.required
    assert set(errors(await drv.submit("chair", "close", form.context, reason=""))) == {"reason", meeting.id}
    cards = await drv.submit(
        "chair", "close", form.context, reason="Convened in error", **{meeting.id: "Not needed: in error"}
    )
    assert dict(one(cards, TargetKind.MAIN_POST).facts)["State"] == "closed with reason"
    refused = one(await drv.press("chair", "close", did), TargetKind.EPHEMERAL).text
    assert refused.startswith("You cannot close the discussion now: the discussion about LL-204511 is closed")
    async with db.session() as s:
        items = (await s.execute(select(DueItem).where(DueItem.discussion_id == did))).scalars().all()
    assert {(i.kind, i.state, i.reason) for i in items} == {
        ("meeting", "closed", "Not needed: in error"),
        ("quorum", "missed", None),
    }


async def test_missed_deadline_reason_is_the_chairs_and_joins_a_signed_record(db):
    from storage.models import DueItem

    drv = await make_driver(db)
    did, _ = await convene(drv)
    await drv.submit("chair", "invite", did, people=[str(drv.actors["police"].person_id)])
    await drv.press("chair", "start", did)
    await drv.fill(
        "chair", "decide", did, outcome="no_s47", reasons="r", risks="k", alternative="A", override_reason="o"
    )
    review = form_of(await drv.press("chair", "review", did))
    await drv.submit("chair", "signoff", review.context, monitoring="Chair", notify_others="n")
    async with db.session() as s:
        # Health and the school are still to be told the outcome: a deadline for the chair.
        item = (
            await s.execute(
                select(DueItem).where(DueItem.discussion_id == did, DueItem.kind == "outcome_notification")
            )
        ).scalar_one()
    assert item.state == "open"
    value = f"{did}:{item.id}"
    refused = await drv.turn("police", TurnKind.FORM, "due.missed_reason", value, fields={"reason": "x"})
    assert "Only the chair" in one(refused, TargetKind.EPHEMERAL).text
    await drv.fill("chair", "due.missed_reason", value, will="still", reason="The police minutes came late")
    async with db.session() as s:
        versions = (
            (
                await s.execute(
                    select(RecordVersion)
                    .where(RecordVersion.discussion_id == did)
                    .order_by(RecordVersion.version)
                )
            )
            .scalars()
            .all()
        )
    assert [v.version for v in versions] == [1, 2]
    assert (
        versions[1].body.startswith(versions[0].body) and "The police minutes came late" in versions[1].body
    )


async def test_a_turns_cards_are_queued_with_the_change_and_a_refused_turn_queues_nothing(db):
    from dialogs.cards_json import card_from_dict
    from storage.models import Outbox

    drv = await make_driver(db)
    did, cards = await convene(drv)
    async with db.session() as s:
        rows = (await s.execute(select(Outbox).order_by(Outbox.id))).scalars().all()
    others = [c for c in cards if c.target.kind != TargetKind.EPHEMERAL]
    assert others and [card_from_dict(r.card) for r in rows] == others  # in the order the turn made them
    assert list(drv.result.queued) == [r.id for r in rows]
    assert {(r.kind, r.recipient_key, r.status) for r in rows} == {("turn", f"discussion:{did}", "pending")}
    # A reply from someone not in the discussion changes nothing, and so sends nothing to anyone.
    await drv.reply("police", did, "Not yet invited.")
    async with db.session() as s:
        assert len((await s.execute(select(Outbox))).scalars().all()) == len(rows)
    assert drv.result.queued == ()
