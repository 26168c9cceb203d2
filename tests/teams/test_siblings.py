"""Three siblings in one strategy discussion, through Teams activities only (the walk of
tests/test_siblings.py, on the real bot app and the stand-in Bot Connector): convened with three case
references, the decision per child from the Adaptive Card's multi-select, the S47 plan for one child,
and one record per child, each circulated and acknowledged on its own."""

from sqlalchemy import select

from dialogs.procedure import load_procedure
from storage.models import Child, Circulation, DueItem, RecordVersion
from tests.teams.conftest import CHANNEL, TEAM, action, actions, add_people, personal_chat, user
from tests.teams.test_scenario import _submit_action, card_with
from tests.test_engine import CONVENE, answers

REFS = ("LL-3001", "LL-3002", "LL-3003")
CAST = ("chair", "police", "health")
CONCERN = "Bruising to the eldest's upper arm seen at school."
ELDEST_ONLY = "Disclosure at school by the eldest about the stepfather."
YOUNGEST_ONLY = "Health visitor: youngest is thriving, no marks seen."
ALL_THREE = "All three children were seen by the GP last month."
JOINT = "S47 enquiry (joint with police, within a Single Assessment)"


def post_of(connector, root) -> dict:
    """The discussion's post in the channel, as it stands now (updated in place)."""
    return connector.messages[(CHANNEL, root.activity_id)]["attachments"][0]["content"]


def children_of(post: dict) -> list[str]:
    """The post's list of the children, each with how their part stands."""
    text = post["body"][1]["text"]
    assert text.startswith("**Children**")
    return [line for line in text.split("\n") if line.startswith("- LL-")][:3]


def choice_set(card: dict, input_id: str) -> dict:
    return next(i for i in card["body"] if i.get("id") == input_id)


async def test_three_siblings_each_with_their_own_record_in_teams(teams_bot, db, monkeypatch):
    bot, connector = teams_bot, teams_bot.connector
    people = await add_people(db, CAST)
    users = {k: user(k) for k in CAST}
    bot.users = users
    connector.rosters[TEAM] = connector.rosters[CHANNEL] = [users[k].member() for k in CAST]
    connector.installed_for = {u.id for u in users.values()}
    chair, police, health = users["chair"], users["police"], users["health"]
    chat = personal_chat(chair)
    turns = []  # every Turn the Teams surface hands the engine
    handle = bot.services.dialogs.handle

    async def spy(turn):
        turns.append(turn)
        return await handle(turn)

    monkeypatch.setattr(bot.services.dialogs, "handle", spy)
    await bot.send(bot.install())

    # Convene: three case references in the one field of the Adaptive Card form.
    await bot.send(bot.message(chair, "convene"))
    form = card_with(connector, chat, "Case reference")
    inputs = CONVENE | {"case_ref": ", ".join(REFS), "concern": CONCERN, "c_possible_injury": "no"}
    status, _ = await bot.send(bot.execute(chair, chat, action(form, "Convene"), inputs))
    assert status == 200
    root = [p for p in connector.sent("SendToConversation", CHANNEL) if "Strategy discussion" in p.card_text][
        -1
    ]
    thread = f"{CHANNEL};messageid={root.activity_id}"
    assert ", ".join(REFS) in root.card_text
    async with db.read() as s:
        kids = {c.case_ref: c for c in (await s.execute(select(Child))).scalars()}
    assert list(kids) == list(REFS)
    ids = {ref: str(c.id) for ref, c in kids.items()}

    # Police and health invited; each accepts from their private chat (Submit, then Execute).
    await bot.send(
        bot.submit(chair, chat, action(card_with(connector, chat, "Invite people"), "Invite people"))
    )
    invite = card_with(connector, chat, "Send invitations")
    invited = f"{people['police']},{people['health']}"
    await bot.send(bot.execute(chair, chat, action(invite, "Send invitations"), {"people": invited}))
    await bot.send(
        bot.submit(
            police,
            personal_chat(police),
            action(card_with(connector, personal_chat(police), "invitation"), "Accept"),
        )
    )
    dm = card_with(connector, personal_chat(health), "invitation")
    await bot.send(bot.execute(health, personal_chat(health), action(dm, "Accept")))
    assert (await bot.send(bot.execute(chair, thread, action(post_of(connector, root), "Start"))))[0] == 200

    # Replies in the thread: one about the eldest, one about the youngest, one about all three.
    for who, text in (
        (police, f"LL-3001: {ELDEST_ONLY}"),
        (health, ALL_THREE),
        (health, f"LL-3003: {YOUNGEST_ONLY}"),
    ):
        assert (await bot.send(bot.message(who, text, thread=thread, mention=False)))[0] == 202

    # The decision, child by child, from the form's multi-select (Input.ChoiceSet isMultiSelect).
    decisions = (
        (
            "LL-3001",
            {
                "outcome": "s47_joint",
                "reasons": "Disclosure of physical harm.",
                "risks": "Stepfather's access.",
            },
        ),
        (
            "LL-3002",
            {
                "outcome": "single_assessment",
                "reasons": "Concern about neglect needs assessing first.",
                "risks": "Home conditions.",
                "reconvene_on": "2026-12-15",
            },
        ),
        (
            "LL-3003",
            {
                "outcome": "no_s47",
                "reasons": "No indication of harm to the youngest.",
                "risks": "None identified.",
                "alternative": "Continue the Child and Family Assessment.",
            },
        ),
    )
    for n, (ref, fields) in enumerate(decisions):
        if n == 0:  # the post's button; then the one on what the chair was told: decide for the others
            await bot.send(bot.execute(chair, thread, action(post_of(connector, root), "Decide")))
        else:
            told = card_with(connector, chat, "Decide for the others")
            assert f"Still to decide: {', '.join(r for r, _ in decisions[n:])}" in str(told)
            await bot.send(bot.submit(chair, chat, action(told, "Decide for the others")))
        decide = card_with(connector, chat, "Reasons for the decision")
        children = choice_set(decide, "children")
        assert children["type"] == "Input.ChoiceSet" and children["isMultiSelect"] is True
        assert [c["title"] for c in children["choices"]] == list(REFS)
        assert children["value"] == ",".join(ids[r] for r, _ in decisions[n:])  # those still undecided
        if n == 1:  # Teams sends a multi-select's value as one string: "id,id" reaches the engine as a list
            both = f"{ids['LL-3002']},{ids['LL-3003']}"
            await bot.send(bot.execute(chair, chat, _submit_action(decide), {"children": both}))
            assert turns[-1].fields["children"] == [ids["LL-3002"], ids["LL-3003"]]
            decide = card_with(connector, chat, "Reasons for the decision")  # refilled: reasons missing
            assert "Please check the fields marked below." in str(decide)
            assert choice_set(decide, "children")["value"] == both
        await bot.send(bot.execute(chair, chat, _submit_action(decide), {"children": ids[ref]} | fields))
        assert turns[-1].fields["children"] == [ids[ref]]

    # The discussion's post lists the children, each with their own status, and a plan button per child.
    post = post_of(connector, root)
    eldest, middle, youngest = children_of(post)
    assert eldest.startswith(f"- LL-3001: {JOINT}; plan to complete;")
    assert middle.startswith("- LL-3002: Single Assessment first, then reconvene;")
    assert youngest.startswith("- LL-3003: No S47 enquiry;")
    assert [a["title"] for a in actions(post) if a["title"].startswith("Plan")] == ["Plan S47: LL-3001"]
    plan_button = action(post, "Plan S47: LL-3001")
    assert plan_button["_sd_value"] == f"{kids['LL-3001'].discussion_id}/{ids['LL-3001']}"
    await bot.send(bot.submit(chair, thread, plan_button))
    assert turns[-1].value == plan_button["_sd_value"]
    plan = card_with(connector, chat, "tell_parents")
    assert "LL-3001" in str(plan)
    plan_fields = {
        "tell_parents": "yes",
        "tell_parents_how": "Social worker visits today.",
        "icpc_on": "2026-12-10",
        **answers(load_procedure()),
    }
    await bot.send(bot.execute(chair, chat, _submit_action(plan), plan_fields))
    assert card_with(connector, chat, "The S47 plan for LL-3001 is complete")

    # Sign-off: one record per child, each to each participant in their private chat.
    await bot.send(bot.execute(chair, thread, action(post_of(connector, root), "Review record")))
    signoff = card_with(connector, chat, "Who monitors progress")
    fields = {"monitoring": "Team manager, weekly.", "notify_others": "By phone today."}
    await bot.send(bot.execute(chair, chat, _submit_action(signoff), fields))
    assert card_with(connector, chat, "Signed off 3 records, one per child")

    records = {}
    for who in (police, health):
        sent = [
            c
            for c in connector.sent("SendToConversation", personal_chat(who))
            if "Record of strategy discussion" in c.card_text
        ]
        titles = [c.card["body"][0]["text"] for c in sent]
        assert sorted(titles) == [f"Record of strategy discussion: {r}" for r in REFS]
        assert sorted(c.body["summary"] for c in sent) == [f"{r}: record to acknowledge" for r in REFS]
        records[who.key] = {t.rsplit(" ", 1)[1]: c.card for t, c in zip(titles, sent, strict=True)}

    async with db.read() as s:
        versions = {r.child_id: r for r in (await s.execute(select(RecordVersion))).scalars()}
        items = list((await s.execute(select(DueItem))).scalars())
    body = {ref: versions[c.id].body for ref, c in kids.items()}
    assert len(versions) == 3
    # Each record holds its own child's decision and plan, and no contribution about a sibling.
    others = {ref: "".join(b for r, b in body.items() if r != ref) for ref in REFS}
    assert f"Outcome: {JOINT}" in body["LL-3001"] and JOINT not in others["LL-3001"]
    for only_eldest in ("*S47 plan*", "ICPC target date: 15 Dec 2026", "Next strategy discussion by"):
        assert only_eldest in body["LL-3001"] and only_eldest not in others["LL-3001"]
    assert "Reconvene on: 15 Dec 2026" in body["LL-3002"] and "Reconvene on" not in others["LL-3002"]
    assert "Continue the Child and Family Assessment." in body["LL-3003"]
    assert "Continue the Child" not in others["LL-3003"]
    assert all(ALL_THREE in b for b in body.values())
    assert ELDEST_ONLY in body["LL-3001"] and ELDEST_ONLY not in others["LL-3001"]
    assert YOUNGEST_ONLY in body["LL-3003"] and YOUNGEST_ONLY not in others["LL-3003"]
    assert ELDEST_ONLY in str(records["police"]["LL-3001"]) and ELDEST_ONLY not in str(
        records["police"]["LL-3002"]
    )
    # The deadlines are each child's own.
    one_, two, three = (kids[r].id for r in REFS)
    own = {(i.kind, i.child_id) for i in items if i.child_id is not None and i.kind != "acknowledgement"}
    assert ("icpc", one_) in own and ("reconvene", two) in own
    assert not {k for k, c in own if c in (two, three)} & {"icpc", "further_discussion"}
    assert {k for k, c in own if c == three} == {"record_circulation", "outcome_notification"}

    # Acknowledging LL-3002 (Action.Submit, from a phone) acknowledges only that record's circulation.
    ack = action(records["police"]["LL-3002"], "Acknowledge receipt")
    assert ack["_sd_value"].startswith(f"{kids['LL-3002'].discussion_id}/{ids['LL-3002']}:")
    await bot.send(bot.submit(police, personal_chat(police), ack))
    assert "Acknowledged: LL-3002" in str(
        connector.sent("SendToConversation", personal_chat(police))[-1].body
    )
    async with db.read() as s:
        acked = [c for c in (await s.execute(select(Circulation))).scalars() if c.acknowledged_at is not None]
    assert [(c.person_id, c.record_id) for c in acked] == [(people["police"], versions[two].id)]
    eldest, middle, youngest = children_of(post_of(connector, root))
    signed = "record v1 signed off"
    assert eldest.startswith(f"- LL-3001: {JOINT}; plan complete; {signed}, 0 of 2 acknowledged")
    assert middle.startswith(f"- LL-3002: Single Assessment first, then reconvene; {signed}, 1 of 2 ackn")
    assert youngest.startswith(f"- LL-3003: No S47 enquiry; {signed}, 0 of 2 acknowledged")

    # Nothing but case references (and when) in a notification preview or a message's text.
    secret = (CONCERN, ELDEST_ONLY, YOUNGEST_ONLY, ALL_THREE, "Disclosure", "Stepfather")
    for call in connector.posts():
        summary, text = call.body.get("summary") or "", call.body.get("text") or ""
        assert summary in ("", "Strategy discussion") or summary.startswith(
            ("LL-300", "Strategy discussion LL-")
        )
        assert not any(s in summary + text for s in secret), (summary, text)
