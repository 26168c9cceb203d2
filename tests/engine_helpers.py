"""A small driver for the dialogs in tests: people in the directory, turns, and the cards back."""

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from dialogs.engine import Dialogs
from dialogs.model import Actor, Card, Result, TargetKind, Turn, TurnKind
from dialogs.procedure import load_procedure
from storage.models import Person

CAST = {
    "chair": ("Dana Duty", "social_care", "duty_manager"),
    "police": ("Pat Police", "police", "police_officer"),
    "police_manager": ("Morgan Manager", "police", "police_manager"),
    "health": ("Harper Health", "health", "health_professional"),
    "paediatrician": ("Pia Paediatrician", "health", "paediatrician"),
    "referrer": ("Rory Referrer", "education", "referrer"),
    "outsider": ("Olly Outsider", "social_care", "social_worker"),
}


@dataclass
class Clock:
    at: datetime

    def now(self) -> datetime:
        return self.at

    def advance(self, **kw) -> None:
        self.at += timedelta(**kw)


@dataclass
class Driver:
    dialogs: Dialogs
    clock: Clock
    actors: dict[str, Actor] = field(default_factory=dict)
    result: Result = field(default_factory=Result)  # the last turn's whole result

    async def turn(self, who: str, kind: TurnKind, name: str = "", value: str = "", **kw) -> list[Card]:
        self.result = await self.dialogs.handle(
            Turn(actor=self.actors[who], kind=kind, name=name, value=value, **kw)
        )
        return list(self.result.cards)

    async def command(self, who, name, value=""):
        return await self.turn(who, TurnKind.COMMAND, name, value)

    async def press(self, who, action, value):
        return await self.turn(who, TurnKind.BUTTON, action, str(value))

    async def submit(self, who, form, context, **fields):
        return await self.turn(who, TurnKind.FORM, form, str(context), fields=fields)

    async def fill(self, who, action, value, **fields):
        """Press the button that opens a form, then send the form as shown (its context and version)."""
        form = form_of(await self.press(who, action, value))
        return await self.submit(who, form.id, form.context, **fields)

    async def reply(self, who, discussion_id, text, event_id=None):
        return await self.turn(who, TurnKind.REPLY, discussion_id=discussion_id, text=text, event_id=event_id)


# Tuesday 24 November 2026, 10:00 in London (GMT): office hours.
TUESDAY_10AM = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)


async def make_driver(db, at: datetime = TUESDAY_10AM, procedure=None) -> Driver:
    clock = Clock(at)
    driver = Driver(Dialogs(db, procedure or load_procedure(), now=clock.now), clock)
    async with db.session() as s:
        for key, (name, agency, role) in CAST.items():
            person = Person(display_name=name, email=f"{key}@example.org", agency=agency, role=role)
            s.add(person)
            await s.flush()
            driver.actors[key] = Actor(person.id, name, agency, role)
    return driver


def one(cards: list[Card], kind: TargetKind) -> Card:
    found = [c for c in cards if c.target.kind == kind]
    assert len(found) == 1, [(c.target.kind, c.title, c.text[:80]) for c in cards]
    return found[0]


def form_of(cards: list[Card]) -> "object":
    forms = [c.form for c in cards if c.form is not None]
    assert forms, [(c.target.kind, c.title, c.text[:120]) for c in cards]
    return forms[0]


def errors(cards: list[Card]) -> dict[str, str]:
    return {i.id: i.error for i in form_of(cards).inputs if i.error}
