"""Short walks through a discussion's life on the engine, for the lifecycle tests.

Each step works as a person would: a button opens the form, the form is sent as shown (with its
context and version). Tuesday 24 November 2026, 10:00 in London; the referring agency is health, so
nobody outside the meeting has to be told the outcome unless a test says otherwise.
"""

from sqlalchemy import select

from dialogs.model import Card, TargetKind
from dialogs.procedure import load_procedure
from storage.models import DueItem, Person
from tests.engine_helpers import Driver, form_of, one
from tests.reminder_fixtures import subject_of

PROCEDURE = load_procedure()
CASE = "LL-300001"
NOT_KNOWN = {f"c_{c.id}": "no" for c in PROCEDURE.circumstances}
CONVENE = dict(
    case_ref=CASE,
    category="physical",
    concern="Bruising to the upper arm seen at school.",
    immediate_risk="no",
    referring_agency="health",
    format="meeting",
    proposed_date="2026-11-24",
    proposed_time="14:00",
    **NOT_KNOWN,
)
PLAN = {f"item_{c.id}": f"Agreed: {c.id}." for c in PROCEDURE.s47_checklist} | {
    "tell_parents": "yes",
    "tell_parents_how": "The social worker, today, on a home visit.",
    "icpc_on": "2026-12-10",
}


async def convene(drv: Driver, **overrides: str) -> int:
    cards = await drv.submit("chair", "convene", "", **(CONVENE | overrides))
    did = one(cards, TargetKind.MAIN_POST).target.discussion_id
    assert did is not None
    return did


async def further(drv: Driver, did: int, day: str, at: str, **extra: str) -> tuple[int, list[Card]]:
    """The chair convenes the next discussion of the series (a meeting unless said otherwise)."""
    fields = {"format": "meeting", "proposed_date": day, "proposed_time": at} | extra
    cards = await drv.fill("chair", "reconvene", did, **fields)
    new = one(cards, TargetKind.MAIN_POST).target.discussion_id
    assert new is not None
    return new, cards


async def close_with(drv: Driver, did: int, reason: str) -> list[Card]:
    """The chair closes the discussion, giving `reason` for it and for every deadline still open."""
    form = form_of(await drv.press("chair", "close", did))
    return await drv.submit("chair", "close", form.context, **{i.id: reason for i in form.inputs})


async def invite_and_accept(drv: Driver, did: int, *who: str) -> None:
    people = [str(drv.actors[w].person_id) for w in who]
    cards = await drv.fill("chair", "invite", did, people=people, why="Joined after the start")
    for w in who:
        value = next(
            b.value
            for c in cards
            if c.target.person_id == drv.actors[w].person_id
            for b in c.buttons
            if b.action == "accept"
        )
        await drv.press(w, "accept", value)


async def started(drv: Driver, **overrides: str) -> int:
    did = await convene(drv, **overrides)
    await invite_and_accept(drv, did, "police", "health")
    await drv.press("chair", "start", did)
    return did


async def decided(drv: Driver, did: int, outcome: str = "s47_joint", **extra: str) -> list[Card]:
    fields = {"outcome": outcome, "reasons": "The threshold is met.", "risks": "Injury."} | extra
    if outcome == "single_assessment":
        fields.setdefault("reconvene_on", "2026-12-10")
    if outcome == "no_s47":
        fields.setdefault("alternative", "Continue the Child and Family Assessment.")
    return await drv.fill("chair", "decide", did, **fields)


async def signed_off(drv: Driver, did: int, *, plan: bool = True, **plan_fields: str) -> list[Card]:
    if plan:
        await drv.fill("chair", "plan", did, **(PLAN | plan_fields))
    review = form_of(await drv.press("chair", "review", did))
    fields = {"monitoring": "The team manager, weekly."}
    if any(i.id == "notify_others" for i in review.inputs):
        fields["notify_others"] = "The chair phones them this afternoon."
    return await drv.submit("chair", "signoff", review.context, **fields)


async def accept_all(drv: Driver, cards: list[Card]) -> None:
    """Everyone invited by `cards` accepts from their invitation."""
    for card in cards:
        for b in card.buttons:
            if b.action == "accept" and card.target.kind == TargetKind.DIRECT:
                who = next(k for k, a in drv.actors.items() if a.person_id == card.target.person_id)
                await drv.press(who, "accept", b.value)


async def items(drv: Driver, did: int) -> dict[tuple[str, str], DueItem]:
    async with drv.dialogs.db.session() as s:
        rows = await s.execute(select(DueItem).where(DueItem.discussion_id == did))
        return {(i.kind, subject_of(i)): i for i in rows.scalars()}


async def give_the_chair_a_manager(drv: Driver) -> int:
    """The chair's team manager, who reviews overrides; returns their person id."""
    async with drv.dialogs.db.session() as s:
        manager = Person(display_name="Terry Team-Manager", agency="social_care", role="team_manager")
        s.add(manager)
        await s.flush()
        chair = await s.get(Person, drv.actors["chair"].person_id)
        assert chair is not None and manager.id is not None
        chair.manager_id = manager.id
        from dialogs.model import Actor

        drv.actors["manager"] = Actor(manager.id, manager.display_name, "social_care", "team_manager")
        return manager.id
