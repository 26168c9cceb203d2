"""The strategy discussion as a conversation: `Dialogs.handle(turn)` returns a `Result`.

Every turn runs in one database transaction: the change, its audit entry, the due items it implies,
every card it sends (queued in the outbox, see `queue_cards`) and the duplicate-delivery record
commit together or not at all. The flows live in dialogs/flows/; each registers its handlers with
the lifecycle act they perform (dialogs/lifecycle.py), which says who may perform it and in which
states.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col
from tenacity import AsyncRetrying, retry_if_exception, stop_after_attempt, wait_random_exponential

from dialogs import deadlines
from dialogs.cards_json import card_to_dict
from dialogs.lifecycle import State, Who
from dialogs.model import Actor, Card, Ref, Result, Target, TargetKind, Turn, TurnKind
from dialogs.procedure import Procedure
from dialogs.validate import DialogError, Stale
from storage import audit, outbox
from storage.db import Database, is_transient
from storage.models import Child, Decision, Discussion, InboundEvent, Participant, Person, Series
from storage.refs import first_delivery

if TYPE_CHECKING:
    from dialogs.flows.registry import Handler

log = logging.getLogger(__name__)

CONTENTION_ATTEMPTS = 4  # tries of a turn that lost a lock to another writer
ALREADY_DONE = "That was already done."  # the answer to a retried or double-clicked delivery


class Dialogs:
    def __init__(
        self,
        db: Database,
        procedure: Procedure,
        *,
        nation: str = "england-and-wales",
        tz: str = "Europe/London",
        council: str = "",
        now: Callable[[], datetime],
        export_records: bool = False,
    ) -> None:
        self.db = db
        self.procedure = procedure
        self.nation = nation
        self.tz = tz
        self.zone = ZoneInfo(tz)
        self.council = council
        self.now = now
        # RECORD_EXPORT_DIR is set: each signed-off version is queued for the export folder too
        # (dialogs.record_export.export_cards); unset, nothing is queued that nothing would take.
        self.export_records = export_records

    async def handle(self, turn: Turn) -> Result:
        from dialogs.flows import registry  # the flows import this module's Ctx

        handler = registry.find(turn)
        if handler is None:
            return Result((notice(turn.actor, "Sorry, I did not understand that. Try *help*."),))
        try:
            # Two writers locking rows in opposite orders (a turn closing another discussion of its
            # series while that one is acted on), or SQLite's busy timeout running out: the database
            # rolled the turn back whole, so running it again is safe and the person need not know.
            async for attempt in AsyncRetrying(
                stop=stop_after_attempt(CONTENTION_ATTEMPTS),
                wait=wait_random_exponential(multiplier=0.05, max=1.0),
                retry=retry_if_exception(is_transient),
                reraise=True,
            ):
                with attempt:
                    return await self._run(handler, turn)
        except Stale as exc:  # rolled back: nothing of the stale submission was stored
            return Result((exc.answer(turn.actor.person_id),))
        except DialogError as exc:
            return Result((notice(turn.actor, str(exc)),))
        raise AssertionError("unreachable: the retries return or raise")

    async def _run(self, handler: Handler, turn: Turn) -> Result:
        """The turn in one transaction."""
        async with self.db.session() as session:
            if turn.event_id and not await first_delivery(session, turn.channel, turn.event_id):
                # A retried or double-clicked delivery: already handled once.
                again = () if turn.kind == TurnKind.REPLY else (notice(turn.actor, ALREADY_DONE),)
                return Result(again, duplicate=True)
            ctx = Ctx(self, session, turn, self.now())
            await ctx.load_discussion()
            await handler.check(ctx)
            cards = await handler.fn(ctx)
            queued = await queue_cards(session, cards, turn, ctx.discussion)
            if not ctx.did_change and turn.event_id:
                # Nothing changed: the same button or form may be used again.
                await session.execute(
                    delete(InboundEvent).where(
                        col(InboundEvent.platform) == turn.channel,
                        col(InboundEvent.event_id) == turn.event_id,
                    )
                )
            return Result(tuple(cards), changed=ctx.did_change, queued=tuple(queued))


def lane(card: Card) -> str:
    """The outbox's unit of order for a card: everything about one discussion goes in the order the
    turns made it (its post before the prompts in its thread, an invitation after the post it points
    to); otherwise per person or place."""
    t = card.target
    if t.discussion_id is not None:
        return f"discussion:{t.discussion_id}"
    if t.kind == TargetKind.CHANNEL:
        return f"place:{t.place}"
    return f"person:{t.person_id}"


async def queue_cards(
    session: AsyncSession, cards: list[Card], turn: Turn, discussion: Discussion | None
) -> list[int]:
    """Queue every card but the answers to the person acting, in the turn's transaction."""
    others = [c for c in cards if c.target.kind != TargetKind.EPHEMERAL]
    messages = [
        outbox.Message(
            card=card_to_dict(c),
            recipient_key=lane(c),
            kind="turn",
            card_key=c.key or None,
            origin=turn.origin,
            discussion_id=c.target.discussion_id,
        )
        for c in others
    ]
    # The turn holds its discussion's row lock, and every turn queueing to that discussion's lane
    # takes it: ids follow commit order there without the outbox's global lock.
    mine = discussion is not None and all(c.target.discussion_id == discussion.id for c in others)
    await session.flush()  # the turn's row locks first: nothing may be flushed after the outbox's lock
    return await outbox.add(session, messages, ordered=mine)


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
    ref: Ref = field(default_factory=Ref)
    did_change: bool = False
    _participants: list[Participant] | None = field(default=None, repr=False)
    _children: list[Child] | None = field(default=None, repr=False)

    @property
    def actor(self) -> Actor:
        return self.turn.actor

    @property
    def procedure(self) -> Procedure:
        return self.dialogs.procedure

    @property
    def subject(self) -> str:
        return self.ref.subject

    @property
    def local_now(self) -> datetime:
        return self.now.astimezone(self.dialogs.zone)

    @property
    def today(self) -> date:
        return self.local_now.date()

    def local(self, when: datetime) -> datetime:
        return when.astimezone(self.dialogs.zone)

    async def load_discussion(self) -> None:
        """The discussion comes from the thread (replies) or from the button's value / form's context."""
        if self.turn.kind in (TurnKind.BUTTON, TurnKind.FORM):
            self.ref = Ref.parse(self.turn.value)
        did = self.turn.discussion_id if self.turn.discussion_id is not None else self.ref.discussion_id
        if did is not None:
            # Locked for the turn: two people acting on one discussion at once take turns.
            self.discussion = await self.session.get(Discussion, did, with_for_update=True)
            if self.discussion is None:
                raise DialogError("I cannot find that discussion. It may have been removed.")

    def switch(self, discussion: Discussion | None) -> None:
        """Work on another discussion (a further one just made, another post to redraw): nothing
        loaded for the one before, nor the child its button named, carries over."""
        self.discussion, self._participants, self._children = discussion, None, None
        self.ref = Ref(discussion.id if discussion else None)

    @property
    def d(self) -> Discussion:
        if self.discussion is None:
            raise DialogError("Which discussion? Please use the buttons on the discussion's post.")
        return self.discussion

    @property
    def did(self) -> int:
        """The discussion's id (always set once it is stored)."""
        assert self.d.id is not None
        return self.d.id

    @property
    def state(self) -> State:
        return State(self.d.state)

    async def series(self, child: Child) -> Series:
        """The child's series."""
        series = await self.session.get(Series, child.series_id)
        assert series is not None  # a foreign key
        return series

    async def children(self, *, fresh: bool = False) -> list[Child]:
        """The children the discussion is about (not those removed), in the chair's order."""
        if self._children is None or fresh:
            query = (
                select(Child)
                .where(col(Child.discussion_id) == self.did, col(Child.removed_at).is_(None))
                .order_by(col(Child.position), col(Child.id))
            )
            self._children = list((await self.session.execute(query)).scalars())
        return self._children

    async def child(self) -> Child:
        """The child the turn is about: the one the button or form names, or the only one."""
        children = await self.children()
        if self.ref.child_id is not None:
            found = next((c for c in children if c.id == self.ref.child_id), None)
            if found is None:
                raise DialogError(f"That child is no longer part of the discussion about {self.d.case_ref}.")
            return found
        if len(children) == 1:
            return children[0]
        raise DialogError(
            f"Which child? Please use the buttons for each case reference of {self.d.case_ref}."
        )

    @property
    def child_named(self) -> bool:
        """Whether the button or form names one child (otherwise: all of them, or the only one)."""
        return self.ref.child_id is not None

    async def participants(self, *, fresh: bool = False) -> list[Participant]:
        if self._participants is None or fresh:
            query = (
                select(Participant)
                .where(col(Participant.discussion_id) == self.did)
                .order_by(col(Participant.id))
            )
            self._participants = list((await self.session.execute(query)).scalars())
        return self._participants

    async def participant(self, person_id: int) -> Participant | None:
        return next((p for p in await self.participants() if p.person_id == person_id), None)

    async def people(self) -> dict[int, Person]:
        """The discussion's people (participants and chair) by id: not the whole directory."""
        ids = {p.person_id for p in await self.participants()} | {self.d.chair_id}
        rows = await self.session.execute(select(Person).where(col(Person.id).in_(ids)))
        return {p.id: p for p in rows.scalars() if p.id is not None}

    async def decision(self, child: Child) -> Decision | None:
        """The child's decision, if the chair has recorded one."""
        query = select(Decision).where(col(Decision.child_id) == child.id)
        return (await self.session.execute(query)).scalar()

    async def decisions(self) -> dict[int, Decision]:
        """The decisions recorded so far, by child id (removed children's left out)."""
        ids = [c.id for c in await self.children()]
        query = select(Decision).where(col(Decision.child_id).in_(ids))
        return {x.child_id: x for x in (await self.session.execute(query)).scalars()}

    @property
    def is_chair(self) -> bool:
        return self.discussion is not None and self.discussion.chair_id == self.actor.person_id

    async def relations(self, *, reviewer: bool = False) -> frozenset[Who]:
        """How the actor stands to the discussion, in the lifecycle table's terms; whether they review
        the chair's overrides only when `reviewer` (it costs a query, and few acts need it)."""
        mine = {Who.ANYONE}
        convener = self.actor.role in self.procedure.convener_roles()
        if convener:
            mine.add(Who.CONVENER)
        if self.discussion is None:
            return frozenset(mine)
        if self.is_chair:
            mine |= {Who.CHAIR, Who.PARTICIPANT, Who.MEMBER}
        elif await self.participant(self.actor.person_id) is not None:
            mine |= {Who.PARTICIPANT, Who.MEMBER}
        elif convener:
            mine.add(Who.MEMBER)
        if reviewer and await self.is_reviewer():
            mine |= {Who.REVIEWER, Who.MEMBER}
        return frozenset(mine)

    async def is_reviewer(self) -> bool:
        """The chair's team manager; without one, another manager who may chair."""
        if self.is_chair:
            return False
        chair = await self.session.get(Person, self.d.chair_id)
        if chair is not None and chair.manager_id is not None:
            return chair.manager_id == self.actor.person_id
        return self.actor.role in self.procedure.chair_roles()

    async def audit(self, action: str, **detail: Any) -> None:
        await audit.append(
            self.session,
            actor=f"person:{self.actor.person_id}",
            channel=self.turn.channel,
            action=action,
            discussion_id=self.discussion.id if self.discussion else None,
            detail=detail,
        )

    async def changed(self, *, due: bool = True) -> list[Card]:
        """After any change: bring the series' due items up to date, close what has ended, ask the
        chair why anything was done late, and redraw the discussion's post (and any other post of
        the series whose state moved). `due=False`: the change cannot alter what is due (a
        contribution), so the due items are left as they are."""
        from dialogs.views import late_reason_card, main_card

        self.did_change = True
        self.d.updated_at = self.now
        self._participants = None  # (a change of children reloads them itself: flows/children.py)
        await self.session.flush()
        if not due:
            return [await main_card(self)]
        outcome = await deadlines.refresh_series(
            self.session,
            self.procedure,
            self.d,
            nation=self.dialogs.nation,
            tz=self.dialogs.tz,
            now=self.now,
        )
        for closed in outcome.closed:
            await audit.append(
                self.session,
                actor="system",
                channel=self.turn.channel,
                action="discussion.closed",
                discussion_id=closed.id,
                detail={"state": closed.state, "automatic": True},
            )
        cards = [await main_card(self)]
        current = self.discussion
        ref = self.ref
        for other in outcome.closed:
            if other.id != self.did:
                self.switch(other)
                cards.append(await main_card(self))
        self.switch(current)
        self.ref = ref
        for item in outcome.late:
            cards.append(await late_reason_card(self, item))
        return cards

    def reply(self, text: str, title: str = "", **card: Any) -> Card:
        return Card(
            target=Target(TargetKind.EPHEMERAL, person_id=self.actor.person_id),
            title=title,
            text=text,
            **card,
        )

    def thread(self, text: str, title: str = "", **card: Any) -> Card:
        return Card(target=Target(TargetKind.THREAD, discussion_id=self.did), title=title, text=text, **card)

    def direct(self, person_id: int, text: str, title: str = "", **card: Any) -> Card:
        return Card(
            target=Target(TargetKind.DIRECT, person_id=person_id, discussion_id=self.did),
            title=title,
            text=text,
            **card,
        )

    def value(self, subject: object = "", version: object = "", *, child: Child | None = None) -> str:
        """A button value or form context for this discussion, or for one of its children (model.Ref)."""
        return str(Ref(self.did, str(subject), str(version), child.id if child is not None else None))

    def stale(self, current: object) -> bool:
        """Whether the form was shown before what it edits last changed (a second tab, a stale phone):
        `current` is the version it has now. The caller raises validate.Stale with the current form."""
        return self.ref.version != str(current)
