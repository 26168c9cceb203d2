"""The strategy discussion as a conversation: `Dialogs.handle(turn)` returns the cards to send.

Every turn runs in one database transaction: the change, its audit entry, the due items it implies
and the duplicate-delivery record commit together or not at all. The flows live in dialogs/flows/;
each registers its handlers with the role it needs (see dialogs/flows/registry.py).
"""

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from dialogs import deadlines
from dialogs.model import Actor, Card, Target, TargetKind, Turn, TurnKind
from dialogs.procedure import Procedure
from dialogs.validate import DialogError
from storage import audit
from storage.db import Database
from storage.models import Decision, Discussion, Participant, Person
from storage.refs import first_delivery

log = logging.getLogger(__name__)

ALREADY_DONE = "That was already done."  # the answer to a retried or double-clicked delivery


class Dialogs:
    def __init__(
        self,
        db: Database,
        procedure: Procedure,
        *,
        nation: str = "england-and-wales",
        tz: str = "Europe/London",
        now: Callable[[], datetime],
    ) -> None:
        self.db = db
        self.procedure = procedure
        self.nation = nation
        self.tz = tz
        self.zone = ZoneInfo(tz)
        self.now = now

    async def handle(self, turn: Turn) -> list[Card]:
        from dialogs.flows import registry  # the flows import this module's Ctx

        handler = registry.find(turn)
        if handler is None:
            return [notice(turn.actor, "Sorry, I did not understand that. Try *help*.")]
        try:
            async with self.db.session() as session:
                await audit.lock(session)  # the first lock every writer takes (see storage.audit.lock)
                if turn.event_id and not await first_delivery(session, turn.channel, turn.event_id):
                    # A retried or double-clicked delivery: already handled once.
                    return [] if turn.kind == TurnKind.REPLY else [notice(turn.actor, ALREADY_DONE)]
                ctx = Ctx(self, session, turn, self.now())
                await ctx.load_discussion()
                await handler.check(ctx)
                return await handler.fn(ctx)
        except DialogError as exc:
            return [notice(turn.actor, str(exc))]


def notice(actor: Actor, text: str, title: str = "") -> Card:
    return Card(target=Target(TargetKind.EPHEMERAL, person_id=actor.person_id), title=title, text=text)


@dataclass
class Ctx:
    """What a handler works with: the turn, its actor, the discussion it is about, and helpers."""

    dialogs: Dialogs
    session: AsyncSession
    turn: Turn
    now: datetime  # aware UTC
    discussion: Discussion | None = None
    subject: str = ""  # the part of the button value / form context after the discussion id
    _participants: list[Participant] | None = field(default=None, repr=False)

    @property
    def actor(self) -> Actor:
        return self.turn.actor

    @property
    def procedure(self) -> Procedure:
        return self.dialogs.procedure

    @property
    def local_now(self) -> datetime:
        return self.now.astimezone(self.dialogs.zone)

    @property
    def today(self) -> date:
        return self.local_now.date()

    def local(self, when: datetime) -> datetime:
        return when.astimezone(self.dialogs.zone)

    async def load_discussion(self) -> None:
        """The discussion comes from the thread (replies) or from "<id>[:<subject>]" values."""
        did = self.turn.discussion_id
        if did is None and self.turn.kind in (TurnKind.BUTTON, TurnKind.FORM):
            head, _, self.subject = self.turn.value.partition(":")
            did = int(head) if head.isdigit() else None
        if did is not None:
            # Locked for the turn: two people acting on one discussion at once take turns.
            self.discussion = await self.session.get(Discussion, did, with_for_update=True)
            if self.discussion is None:
                raise DialogError("I cannot find that discussion. It may have been removed.")

    @property
    def d(self) -> Discussion:
        if self.discussion is None:
            raise DialogError("Which discussion? Please use the buttons on the discussion's post.")
        return self.discussion

    async def participants(self, *, fresh: bool = False) -> list[Participant]:
        if self._participants is None or fresh:
            query = select(Participant).where(Participant.discussion_id == self.d.id).order_by(Participant.id)
            self._participants = list((await self.session.execute(query)).scalars())
        return self._participants

    async def participant(self, person_id: int) -> Participant | None:
        return next((p for p in await self.participants() if p.person_id == person_id), None)

    async def people(self) -> dict[int, Person]:
        """The discussion's people (participants and chair) by id: not the whole directory."""
        ids = {p.person_id for p in await self.participants()} | {self.d.chair_id}
        rows = await self.session.execute(select(Person).where(Person.id.in_(ids)))
        return {p.id: p for p in rows.scalars()}

    async def decision(self) -> Decision | None:
        """The discussion's decision, if the chair has recorded one."""
        query = select(Decision).where(Decision.discussion_id == self.d.id)
        return (await self.session.execute(query)).scalar()

    @property
    def is_chair(self) -> bool:
        return self.discussion is not None and self.discussion.chair_id == self.actor.person_id

    async def audit(self, action: str, **detail) -> None:
        await audit.append(
            self.session,
            actor=f"person:{self.actor.person_id}",
            channel=self.turn.channel,
            action=action,
            discussion_id=self.discussion.id if self.discussion else None,
            detail=detail,
        )

    async def changed(self) -> list[Card]:
        """After any change: bring the due items up to date and redraw the discussion's post."""
        from dialogs.views import main_card

        self.d.updated_at = self.now
        self._participants = None
        await self.session.flush()
        await deadlines.refresh_due_items(
            self.session,
            self.procedure,
            self.d,
            nation=self.dialogs.nation,
            tz=self.dialogs.tz,
            now=self.now,
        )
        return [await main_card(self)]

    def reply(self, text: str, title: str = "", **card) -> Card:
        return Card(
            target=Target(TargetKind.EPHEMERAL, person_id=self.actor.person_id),
            title=title,
            text=text,
            **card,
        )

    def thread(self, text: str, title: str = "", **card) -> Card:
        return Card(target=Target(TargetKind.THREAD, discussion_id=self.d.id), title=title, text=text, **card)

    def direct(self, person_id: int, text: str, title: str = "", **card) -> Card:
        return Card(
            target=Target(TargetKind.DIRECT, person_id=person_id, discussion_id=self.d.id),
            title=title,
            text=text,
            **card,
        )
