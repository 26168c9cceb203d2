"""Three siblings in one discussion, through Slack payloads only (tests/test_siblings.py walks the same
through the neutral engine). Convened from the modal with three case references; a reply that starts
"LL-3001: " is about that child only; the chair decides each child with the `children` checkboxes, one
after another from the answer modal; sign-off sends each participant one record per child, each
acknowledged on its own. Every request is v0-signed; assertions are on what the stand-in Slack
recorded and what the database holds."""

import json
from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from bot.slack.blocks import NEUTRAL_PREVIEW, unstamp
from bot.timesource import TimeSource
from dialogs import directory
from storage.models import (
    Child,
    Circulation,
    Contribution,
    ContributionChild,
    Discussion,
    DueItem,
    RecordVersion,
)
from tests.slack.conftest import SlackHarness, button, buttons, check_standin, make_harness
from tests.slack.standin import BOT_USER, TEAM, Channel
from tests.slack.test_scenario import ANSWERS

REFS = ("LL-3001", "LL-3002", "LL-3003")
TOGETHER = ", ".join(REFS)
CONCERN = "The eldest said at school that the stepfather hit all three."  # never in a notification
ELDEST_ONLY = "Disclosure at school by the eldest about the stepfather."
YOUNGEST_ONLY = "Health visitor: youngest is thriving, no marks seen."
ALL_THREE = "All three children were seen by the GP last month."
PEOPLE = {  # slug: (Slack id, name, agency, role)
    "chair": ("U0CHAIR", "Dana Duty", "social_care", "duty_manager"),
    "police": ("U0POLICE", "Pat Police", "police", "police_officer"),
    "police_manager": ("U0PM", "Morgan Manager", "police", "police_manager"),  # quorum: possible injury
    "health": ("U0HEALTH", "Harper Health", "health", "health_professional"),
}
INVITED = ("U0POLICE", "U0PM", "U0HEALTH")
TUESDAY_10AM = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)  # office hours in London
CONVENE = ANSWERS | {"case_ref": TOGETHER, "concern": CONCERN}
DECISIONS = (  # one child each time, chosen in the `children` checkboxes
    ("LL-3001", {"outcome": "s47_joint", "reasons": "Disclosure of physical harm."}),
    ("LL-3002", {"outcome": "single_assessment", "reasons": "Neglect.", "reconvene_on": "2026-12-15"}),
    ("LL-3003", {"outcome": "no_s47", "reasons": "No harm indicated.", "alternative": "Continue the CFA."}),
)


@pytest.fixture
async def council(db, standin):
    slack = await make_harness(db, standin, time=TimeSource(TUESDAY_10AM - datetime.now(UTC)))
    ids: dict[str, int] = {}
    async with db.session() as s:
        for slug, (user, name, agency, role) in PEOPLE.items():
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
    standin.add_channel("C0DUTY", name="duty-team", members=[BOT_USER, "U0CHAIR"])
    yield slack, ids
    await slack.settle()
    await slack.client.close()
    check_standin(standin)


class Walk:
    """The discussion's private channel and its pinned post, whose buttons the people press."""

    def __init__(self, slack: SlackHarness, channel: Channel) -> None:
        self.slack, self.channel = slack, channel
        [self.ts] = channel.pins

    @property
    def post(self) -> dict:
        return self.channel.messages[self.ts]

    def children(self) -> str:
        """The post's list of children, each with their own status."""
        return self.post["blocks"][1]["text"]["text"]

    async def press(self, user: str, label: str) -> None:
        await self.slack.click(
            user, button(self.post["blocks"], label), channel=self.channel.id, message_ts=self.ts
        )

    async def form(self, label: str) -> dict:
        await self.press("U0CHAIR", label)
        return self.slack.last_view("views.open")

    async def reply(self, user: str, text: str, event_id: str) -> None:
        await self.slack.reply(user, self.channel.id, self.ts, text, event_id)


def checkboxes(view: dict, block_id: str) -> tuple[list[str], list[str]]:
    """An input's option labels, and those ticked when the modal opened."""
    element = next(b for b in view["blocks"] if b.get("block_id") == block_id)["element"]
    assert element["type"] == "checkboxes"
    labels = [o["text"]["text"] for o in element["options"]]
    return labels, [o["text"]["text"] for o in element.get("initial_options") or []]


def depth(view: dict) -> int:
    return json.loads(view["private_metadata"])["n"]


async def submit(slack: SlackHarness, view: dict, values: dict) -> dict:
    """Submit a modal; the answer that replaced it (Slack keeps the view's id)."""
    answer = (await slack.submit("U0CHAIR", view, values)).json()
    assert answer.get("response_action") == "update", answer
    return {**answer["view"], "id": view["id"]}


async def convene(slack: SlackHarness, ids: dict[str, int]) -> Walk:
    """Convened from the modal; police, their manager and health invited, accepted; started."""
    await slack.command("U0CHAIR", "convene", channel="C0DUTY")
    answer = await submit(slack, slack.last_view("views.open"), CONVENE)
    assert f"Convened {TOGETHER}" in json.dumps(answer)
    [created] = slack.standin.called("conversations.create")
    assert created == {"name": "sd-ll-3001-ll-3002-ll-3003-2026-11-24", "is_private": True}
    walk = Walk(slack, next(c for c in slack.standin.channels.values() if c.name == created["name"]))
    assert walk.post["text"] == f"Strategy discussion {TOGETHER}"
    assert CONCERN in json.dumps(slack.standin.messages(walk.channel.id, thread=walk.ts)[0]["blocks"])
    invite = await walk.form("Invite")
    people = [str(ids[k]) for k in ("police", "police_manager", "health")]
    await slack.submit("U0CHAIR", invite, {invite["blocks"][-1]["block_id"]: people})
    for user in INVITED:
        dm = slack.standin.messages(f"D{user}")[-1]
        assert dm["text"] == f"Strategy discussion {TOGETHER} at 14:00 24 Nov"
        await slack.click(user, button(dm["blocks"], "Accept"), channel=f"D{user}", message_ts=dm["ts"])
    await walk.press("U0CHAIR", "Start")
    return walk


async def decide(walk: Walk, kids: dict[str, Child]) -> dict:
    """Each child decided in turn, the next from the answer's "Decide for the others": a stack of
    three modals. Returns the last answer."""
    slack = walk.slack
    form = await walk.form("Decide")
    for n, (ref, answers) in enumerate(DECISIONS):
        assert checkboxes(form, "children") == (list(REFS), list(REFS[n:]))  # those still undecided
        assert depth(form) == n + 1  # where it sits in Slack's stack (at most three modals)
        values = answers | {"children": [str(kids[ref].id)], "risks": "Stepfather's access."}
        answer = await submit(slack, form, values)
        assert f"Decision recorded for {ref}." in json.dumps(answer)
        if n < len(DECISIONS) - 1:
            await slack.click("U0CHAIR", button(answer["blocks"], "Decide for the others"), view=answer)
            form = slack.last_view("views.push")
    return answer


async def test_three_siblings_each_with_their_own_record_through_slack(council):
    slack, ids = council
    standin, db = slack.standin, slack.services.db
    walk = await convene(slack, ids)
    async with db.session() as s:
        did = (await s.execute(select(Discussion.id))).scalar_one()
        kids = {c.case_ref: c for c in (await s.execute(select(Child).order_by(Child.position))).scalars()}
    assert list(kids) == list(REFS)
    one_, two, three = (kids[r].id for r in REFS)

    # The thread: a reply that starts with a case reference and a colon is about that child only.
    await walk.reply("U0POLICE", f"LL-3001: {ELDEST_ONLY}", "Ev1")
    await walk.reply("U0HEALTH", ALL_THREE, "Ev2")
    await walk.reply("U0HEALTH", f"LL-3003: {YOUNGEST_ONLY}", "Ev3")
    async with db.session() as s:
        about = {
            (c.text, x.child_id)
            for c, x in (
                await s.execute(select(Contribution, ContributionChild).join(ContributionChild))
            ).all()
        }
        for_all = [
            c.text for c in (await s.execute(select(Contribution).where(Contribution.for_all))).scalars()
        ]
    assert {(ELDEST_ONLY in t, YOUNGEST_ONLY in t, c) for t, c in about} == {
        (True, False, one_),
        (False, True, three),
    }
    assert for_all == [ALL_THREE]

    answer = await decide(walk, kids)
    lines = walk.children()
    assert "LL-3001: S47 enquiry (joint" in lines and "plan to complete" in lines
    assert "LL-3002: Single Assessment first, then reconvene" in lines
    assert "LL-3003: No S47 enquiry" in lines

    # The plan buttons name the child, "<discussion>/<child>", on the post and in the answer.
    on_post = button(walk.post["blocks"], "Plan S47: LL-3001")
    assert unstamp(on_post["value"])[0] == f"{did}/{one_}"
    offered = button(answer["blocks"], "Plan the S47 enquiry: LL-3001")
    assert unstamp(offered["value"])[0] == f"{did}/{one_}"
    await slack.click("U0CHAIR", offered, view=answer)
    plan = slack.last_view("views.update")  # Slack's stack holds three modals: the top one is replaced
    assert plan["id"] == answer["id"] and depth(plan) == 3 and len(standin.called("views.push")) == 2
    assert json.loads(plan["private_metadata"])["c"].startswith(f"{did}/{one_}")
    items = {
        b["block_id"]: f"Agreed: {b['block_id']}."
        for b in plan["blocks"]
        if b.get("block_id", "").startswith("item_")
    }
    told = {"tell_parents": "yes", "tell_parents_how": "Social worker visits.", "icpc_on": "2026-12-10"}
    assert "The S47 plan for LL-3001 is complete" in json.dumps(await submit(slack, plan, items | told))
    assert "plan complete" in walk.children()

    review = await walk.form("Review record")
    assert all(f"Record of strategy discussion: {ref}" in json.dumps(review["blocks"]) for ref in REFS)
    signed = await submit(
        slack, review, {"monitoring": "Team manager, weekly.", "notify_others": "By phone."}
    )
    assert "Signed off 3 records, one per child" in json.dumps(signed)

    # One record per child, with only that child's decision, plan, contributions and deadlines.
    async with db.session() as s:
        records = {r.child_id: r for r in (await s.execute(select(RecordVersion))).scalars()}
        items = list((await s.execute(select(DueItem).where(DueItem.discussion_id == did))).scalars())
    assert set(records) == {one_, two, three}
    body = {ref: records[c.id].body for ref, c in kids.items()}
    assert all(f"Record of strategy discussion: {r}" in b and ALL_THREE in b for r, b in body.items())
    assert "S47 enquiry (joint" in body["LL-3001"] and "Agreed: item_" in body["LL-3001"]
    assert "Reconvene on: 15 Dec 2026" in body["LL-3002"] and "S47 plan" not in body["LL-3002"]
    assert "Continue the CFA." in body["LL-3003"] and "Agreed: item_" not in body["LL-3003"]
    assert ELDEST_ONLY in body["LL-3001"] and ELDEST_ONLY not in body["LL-3002"] + body["LL-3003"]
    assert YOUNGEST_ONLY in body["LL-3003"] and YOUNGEST_ONLY not in body["LL-3001"] + body["LL-3002"]
    own = {(i.kind, i.child_id) for i in items if i.child_id is not None and i.kind != "acknowledgement"}
    assert own == {
        *((k, c) for k in ("record_circulation", "outcome_notification") for c in (one_, two, three)),
        ("icpc", one_),
        ("further_discussion", one_),
        ("final_discussion", one_),
        ("reconvene", two),
    }

    # Each participant has three record DMs, one per child, titled by its case reference.
    for user in INVITED:
        sent = [m for m in standin.messages(f"D{user}") if m["text"].endswith("record to acknowledge")]
        assert sorted(m["text"] for m in sent) == [f"{r}: record to acknowledge" for r in REFS]
        titles = sorted(m["blocks"][0]["text"]["text"] for m in sent)
        assert titles == [f"Record of strategy discussion: {r}" for r in REFS]
        assert all(
            len([b for b in buttons(m["blocks"]) if b["action_id"].endswith(":ack")]) == 1 for m in sent
        )

    # Acknowledging LL-3002's record acknowledges that record's circulation only.
    dm = next(m for m in standin.messages("DU0POLICE") if m["text"] == "LL-3002: record to acknowledge")
    await slack.click(
        "U0POLICE", button(dm["blocks"], "Acknowledge receipt"), channel="DU0POLICE", message_ts=dm["ts"]
    )
    assert "Acknowledged: LL-3002. Thank you." in json.dumps(standin.webhooks[-1])
    async with db.session() as s:
        acked = [c for c in (await s.execute(select(Circulation))).scalars() if c.acknowledged_at]
    assert [(c.person_id, c.record_id) for c in acked] == [(ids["police"], records[two].id)]

    # The discussion's post, updated in place, lists the children with their own status.
    last = [c.params for c in standin.calls if c.method == "chat.update" and c.params["ts"] == walk.ts][-1]
    assert last["blocks"] == walk.post["blocks"] and len(walk.channel.pins) == 1
    lines = walk.children()
    joint = "S47 enquiry (joint with police, within a Single Assessment)"
    assert f"LL-3001: {joint}; plan complete; record v1 signed off, 0 of 3 acknowledged" in lines
    assert (
        "LL-3002: Single Assessment first, then reconvene; record v1 signed off, 1 of 3 acknowledged" in lines
    )
    assert "LL-3003: No S47 enquiry; record v1 signed off, 0 of 3 acknowledged" in lines

    # What Slack could show on a lock screen names case references only, never a case detail.
    notifications = [c.params.get("text") or "" for c in standin.calls if c.method.startswith("chat.")]
    assert all(t == NEUTRAL_PREVIEW or "LL-300" in t for t in notifications), notifications
    for detail in (CONCERN, ELDEST_ONLY, YOUNGEST_ONLY, ALL_THREE, "Disclosure of physical harm"):
        assert not any(detail in t for t in notifications), detail
