"""Putting the engine's cards into Teams: every card from the outbox (the Surface protocol), and the
answers to the person acting in an inbound turn. Where each target goes is bot.teams.batch; which
conversation a proactive turn opens in is bot.teams.routing.

A card queued by a Teams turn carries the turn's origin, so it is placed as an answer in that turn
would have been (a new discussion's post in the channel it was convened from). Once Teams has had its
answer, the turn's queued cards are sent (bot.outbound) and then the answers, in the background.
"""

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from microsoft_agents.hosting.aiohttp import CloudAdapter
from microsoft_agents.hosting.core import ClaimsIdentity, TurnContext
from microsoft_agents.hosting.core.authorization import AuthenticationConstants
from microsoft_agents.hosting.core.connector import ConnectorClientBase

from bot.background import Tasks
from bot.delivery import DeliveryError
from bot.services import Services
from bot.teams import routing
from bot.teams.batch import Batch
from bot.teams.conversations import Origin, Place
from bot.teams.personal import Redirected
from bot.teams.record_links import RecordLinks
from bot.teams.report_links import ReportLinks
from bot.teams.sending import Sender, text_activity, translate
from dialogs.model import Card, Result, TargetKind
from storage.db import Database

log = logging.getLogger(__name__)


class TeamsSurface:
    name = "teams"

    def __init__(
        self,
        services: Services,
        adapter: CloudAdapter,
        *,
        app_id: str,
        anonymous: bool,
        links: RecordLinks | None = None,
        reports: ReportLinks | None = None,
    ) -> None:
        self.services = services
        self.links = links  # the signed-off records' links (bot.teams.record_links)
        self.reports = reports  # the figures files' links (bot.teams.report_links)
        self.adapter = adapter
        self.app_id = app_id
        self.anonymous = anonymous
        self.tasks = Tasks("teams")  # inbound turns' cards being sent

    @property
    def db(self) -> Database:
        return self.services.db

    # --- the Surface protocol: proactive sends (reminders, the scheduler) --------------------------

    async def can_reach(self, card: Card, origin: dict[str, Any] | None = None) -> bool:
        # A card from a Teams turn goes where an answer in that turn would have gone.
        return origin is not None or await routing.route(self.db, self.services.settings, card) is not None

    async def deliver(self, card: Card, origin: dict[str, Any] | None = None) -> None:
        if origin is not None:
            await self._deliver_from_turn(card, Origin.from_dict(origin))
            return
        place = await routing.route(self.db, self.services.settings, card)
        if place is None:
            raise DeliveryError(
                f"no Teams conversation is known for this {card.target.kind}", retryable=False
            )
        failure: list[BaseException] = []

        async def send(context: TurnContext) -> None:
            batch = self._batch(self.sender(context, place, attempts=1), None)
            try:
                await batch.send(card)
            except Exception as exc:  # noqa: BLE001 - reported to the caller below, translated
                failure.append(exc)
                error = translate(exc, "Teams")
                t = card.target
                if not error.retryable and t.person_id is not None and t.discussion_id is not None:
                    batch.redirected.append(
                        Redirected(
                            t.person_id, t.discussion_id, str(error), mentioned=False, about=card.preview
                        )
                    )
            await batch.tell_about_redirects()  # the chair learns who could not be reached privately

        await self._in_turn(place, send)
        if failure:
            raise translate(failure[0], "Teams") from None

    async def _deliver_from_turn(self, card: Card, origin: Origin) -> None:
        """A turn's queued card, in a proactive turn in the place the person acted; what cannot be
        delivered for good is told to them (never the card's content)."""
        failure: list[DeliveryError] = []

        async def send(context: TurnContext) -> None:
            batch = self._batch(self.sender(context, origin.place, attempts=1), origin)
            try:
                await batch.send(card)
            except Exception as exc:  # noqa: BLE001 - reported to the caller below, translated
                error = translate(exc, "Teams")
                failure.append(error)
                if not error.retryable:
                    await batch.report(card, error, mine=_mine(card, origin))
            await batch.tell_about_redirects(to=origin.person_id)

        await self._in_turn(origin.place, send)
        if failure:
            raise failure[0]

    async def _in_turn(self, place: Place, work: Callable[[TurnContext], Awaitable[None]]) -> None:
        """Run `work(context)` in a proactive turn in the place: its own connector client and token."""
        await self.adapter.continue_conversation_with_claims(
            self.claims(), place.continuation(), work, AuthenticationConstants.AGENTS_SDK_SCOPE
        )

    def claims(self) -> ClaimsIdentity:
        """Who the bot is when it starts a turn itself (anonymous in local development)."""
        return ClaimsIdentity() if self.anonymous else self.adapter.create_claims_identity(self.app_id)

    def sender(self, context: TurnContext, place: Place, *, attempts: int = 3) -> Sender:
        return Sender(
            client=context.services.get(ConnectorClientBase),
            service_url=place.service_url,
            tenant_id=place.tenant_id,
            bot_id=place.bot_id,
            attempts=attempts,
        )

    def _batch(self, sender: Sender, origin: Origin | None) -> Batch:
        return Batch(
            self.db,
            self.services.settings,
            self.app_id,
            sender,
            origin,
            links=self.links,
            reports=self.reports,
        )

    # --- answering an inbound turn ------------------------------------------------------------------

    def answer(self, result: Result, origin: Origin, *, toast: bool, pointer: bool) -> str:
        """Start sending a turn's queued cards and its answers (in the background); returns the short
        text for an Action.Execute response (`toast`) at once.

        `pointer`: a command in a channel whose answer went to the person's private chat gets a short
        reply saying so, so they know where to look.
        """
        notes: list[str] = []
        answers: list[Card] = []
        for card in result.answers:
            if (
                toast
                and _mine(card, origin)
                and not origin.place.is_personal
                and not card.form
                and not card.buttons
            ):
                notes.append(" ".join(p for p in (card.title, card.text) if p))  # shown to the clicker only
            else:
                answers.append(card)
        privately = not origin.place.is_personal and any(
            _to_actor_privately(c, origin) for c in [*answers, *result.others]
        )
        if answers or result.queued:
            self.tasks.spawn(self._send_answer(result.queued, answers, origin, pointer=pointer and privately))
        if notes:
            return " ".join(notes)[:500]
        return "Done: see your private chat with me." if privately else "Done."

    async def _send_answer(
        self, queued: tuple[int, ...], cards: list[Card], origin: Origin, *, pointer: bool
    ) -> None:
        # What fails for good is told by _deliver_from_turn; what cannot be sent now, the scheduler sends.
        try:
            await self.services.sender.send_now(queued)
        except Exception as exc:  # noqa: BLE001 - the answers below still go
            log.error("Teams: sending a turn's cards failed (%s); they stay queued", type(exc).__name__)
        if not cards and not pointer:
            return

        async def send(context: TurnContext) -> None:
            sender = self.sender(context, origin.place)
            batch = self._batch(sender, origin)
            for card in cards:
                try:
                    await batch.send(card)
                except DeliveryError as err:
                    log.warning("Teams delivery of a %s card failed: %s", card.target.kind, err)
                    await batch.report(card, err, mine=_mine(card, origin))
            await batch.tell_about_redirects(to=origin.person_id)
            if pointer:
                try:
                    await sender.post(
                        origin.place.conversation_id,
                        text_activity("I have answered you in your private chat with me."),
                        where="this conversation",
                    )
                except DeliveryError as err:
                    log.warning("Teams pointer reply failed: %s", err)

        await self._in_turn(origin.place, send)


def _mine(card: Card, origin: Origin) -> bool:
    """An answer for the person acting only."""
    return card.target.kind == TargetKind.EPHEMERAL and card.target.person_id in (None, origin.person_id)


def _to_actor_privately(card: Card, origin: Origin) -> bool:
    """Whether the card goes to the actor's private chat (as Batch._personal sends it)."""
    t = card.target
    person = t.person_id if t.person_id is not None else origin.person_id
    return t.kind in (TargetKind.DIRECT, TargetKind.EPHEMERAL) and person == origin.person_id
