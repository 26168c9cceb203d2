"""The playground's actions: each POST checked (session, CSRF, one-time token), turned into a Turn,
handled by the engine, its answers filed and its cards sent, then back to the page
(POST-redirect-GET); when the database is away, a 503 page that keeps what was typed."""

import logging
from dataclasses import replace

from aiohttp import web

from bot.background import transient
from bot.playground import page
from bot.playground.forms import BACK, clock_step, form_fields, keep_typed, not_saved_page, notice, plain_text
from bot.playground.store import Reply
from dialogs import directory
from dialogs.model import Actor, Card, Result, TargetKind, Turn, TurnKind

log = logging.getLogger(__name__)

PLATFORM = "playground"
ORIGIN = {"surface": PLATFORM}  # the turn's cards are shown here, whatever else is configured
SESSION_COOKIE = "pg_session"
WHO_COOKIE = "pg_who"
COMMANDS = {name for name, _ in (*page.COMMANDS, page.REPORT)}  # the engine refuses whoever may not
MAX_COMMAND = 200
OUT_OF_DATE = "This page was out of date, so nothing was done. Please try again."
ALREADY_DONE = "That was already done: a button or form only acts once."
FAILED = "Something went wrong, so nothing was saved. Please try again."


class Actions:
    """The Playground's POST handlers (a part of Playground: it uses its store, tokens, services and
    pages)."""

    async def _checked(self, request: web.Request):
        """The posted data, session and actor, or a redirect when the post cannot be trusted."""
        data = await request.post()
        sid = request.cookies.get(SESSION_COOKIE, "")
        back = str(data.get("back", "/"))
        back = back if BACK.match(back) else "/"
        me = await self._me(request)
        if me is None:
            raise web.HTTPSeeOther("/who")
        if not self.tokens.csrf_ok(sid, str(data.get("csrf", ""))):
            self._tell(me, OUT_OF_DATE)
            raise web.HTTPSeeOther(back + "#notices")
        return data, sid, me, back

    def _saved_or_503(self, handler):
        """A POST is answered with a redirect (which says "done") only when what it asked was stored: with
        the database unreachable the answer is 503, a page saying that nothing was saved, holding what
        the person typed so that it is not lost."""

        async def handler_or_503(request: web.Request) -> web.StreamResponse:
            try:
                return await handler(request)
            except web.HTTPException:
                raise
            except Exception as exc:
                if not transient(exc):
                    raise
                log.error(
                    "playground: %s not saved, the database is unreachable (%s)",
                    request.path,
                    type(exc).__name__,
                )
                data = await request.post()
                return web.Response(text=not_saved_page(data), content_type="text/html", status=503)

        return handler_or_503

    def _tell(self, me: Actor, text: str) -> None:
        self.store.start_turn(me.person_id)
        self.store.put(notice(text), actor=me)

    def _once(self, data, sid: str, me: Actor, back: str, kind: str, name: str, value: str) -> str:
        """The nonce of a genuine first submission; otherwise tell the person and go back."""
        nonce = self.tokens.check(sid, str(data.get("token", "")), kind, name, value)
        if nonce is None:
            self._tell(me, OUT_OF_DATE)
            if kind == "form":  # the form comes back with what was typed in it, to send again
                self._give_back(me, name, value, form_fields(data), OUT_OF_DATE)
            raise web.HTTPSeeOther(back + "#notices")
        if not self.tokens.use(nonce):
            self._tell(me, ALREADY_DONE)
            raise web.HTTPSeeOther(back + "#notices")
        return nonce

    def _give_back(self, me: Actor, form_id: str, context: str, fields: dict, error: str) -> None:
        """Show an open form again holding what the person typed, with `error` at its top."""
        card = self.store.open_form(me.person_id, form_id, context)
        if card is not None:
            self.store.put(keep_typed(card, fields, error), actor=me)

    async def _run(self, me: Actor, turn: Turn, back: str) -> list[Card]:
        """Hand the turn to the engine, file the cards it returns, and go back to the page."""
        form_id = turn.name if turn.kind == TurnKind.FORM else None
        submitted = self.store.open_form(me.person_id, turn.name, turn.value) if form_id else None
        self.store.start_turn(me.person_id, form_id, turn.value)
        turn = replace(turn, origin=ORIGIN)
        try:
            result = await self.services.dialogs.handle(turn)
        except Exception as exc:  # never show or log case details: the kind of failure only
            if transient(exc):  # the database away: 503, and the same button or form can be sent again
                if turn.event_id:
                    self.tokens.forget(turn.event_id)
                raise
            log.error("playground: %s turn %r failed (%s)", turn.kind, turn.name, type(exc).__name__)
            result = Result((notice(FAILED),))
            if submitted is not None:
                result = Result((*result.cards, keep_typed(submitted, turn.fields, FAILED)))
        for card in result.answers:
            self.store.put(card, actor=me)
        try:  # committed: what cannot be sent now, the scheduler sends
            await self.services.sender.send_now(result.queued)
        except Exception as exc:
            log.error("playground: sending a turn's cards failed (%s); they stay queued", type(exc).__name__)
        return list(result.cards)

    def _back(self, back: str, me: Actor) -> web.HTTPSeeOther:
        fragment = "#notices" if self.store.notices.get(me.person_id) else ""
        return web.HTTPSeeOther(back + fragment)

    async def act_identity(self, request: web.Request) -> web.Response:
        data = await request.post()
        sid, new = self._session(request)
        if new or not self.tokens.csrf_ok(sid, str(data.get("csrf", ""))):
            return await self._picker(request, sid, new, OUT_OF_DATE)
        slug = str(data.get("who", ""))[:200]
        async with self.services.db.session() as session:
            actor = await directory.resolve(session, PLATFORM, slug)
        if actor is None:
            return await self._picker(request, sid, new, "That person is not in the directory.")
        response = web.HTTPSeeOther("/")
        self._cookie(response, WHO_COOKIE, slug)
        raise response

    async def act_command(self, request: web.Request) -> web.Response:
        data, sid, me, back = await self._checked(request)
        name = str(data.get("name", ""))
        value = str(data.get("value", "")).strip()
        nonce = self._once(data, sid, me, back, "command", "", "")
        if name not in COMMANDS:
            self._tell(me, "Please choose one of the commands in the menu.")
            raise web.HTTPSeeOther(back + "#notices")
        if len(value) > MAX_COMMAND:
            self._tell(me, f"That is too long for a command (at most {MAX_COMMAND} characters).")
            raise web.HTTPSeeOther(back + "#notices")
        turn = Turn(actor=me, kind=TurnKind.COMMAND, name=name, value=value, channel=PLATFORM, event_id=nonce)
        await self._run(me, turn, back)
        raise self._back(back, me)

    async def act_button(self, request: web.Request) -> web.Response:
        data, sid, me, back = await self._checked(request)
        action, value = str(data.get("action", "")), str(data.get("value", ""))
        nonce = self._once(data, sid, me, back, "button", action, value)
        turn = Turn(
            actor=me, kind=TurnKind.BUTTON, name=action, value=value, channel=PLATFORM, event_id=nonce
        )
        await self._run(me, turn, back)
        raise self._back(back, me)

    async def act_form(self, request: web.Request) -> web.Response:
        data, sid, me, back = await self._checked(request)
        form_id, context = str(data.get("form_id", "")), str(data.get("context", ""))
        nonce = self._once(data, sid, me, back, "form", form_id, context)
        turn = Turn(
            actor=me,
            kind=TurnKind.FORM,
            name=form_id,
            value=context,
            fields=form_fields(data),
            channel=PLATFORM,
            event_id=nonce,
        )
        await self._run(me, turn, back)
        raise self._back(back, me)

    async def act_reply(self, request: web.Request) -> web.Response:
        data, sid, me, back = await self._checked(request)
        raw_id = str(data.get("discussion_id", ""))
        nonce = self._once(data, sid, me, back, "reply", raw_id, "")
        discussion_id = int(raw_id)  # the token vouches for it: we rendered it
        text = plain_text(data.get("text", ""))
        if not text.strip():
            self._tell(me, "Your reply was empty, so nothing was sent. Type a message first.")
            raise web.HTTPSeeOther(back + "#notices")
        turn = Turn(
            actor=me,
            kind=TurnKind.REPLY,
            text=text,
            discussion_id=discussion_id,
            channel=PLATFORM,
            event_id=nonce,
        )
        cards = await self._run(me, turn, back)
        # The engine answers privately only when it did not keep the message: then the thread does not
        # show it, and the reply box keeps the text so nothing typed is lost.
        if any(c.target.kind == TargetKind.EPHEMERAL for c in cards):
            self.drafts[(me.person_id, discussion_id)] = text
        else:
            self.drafts.pop((me.person_id, discussion_id), None)
            self.store.add_reply(discussion_id, Reply(me.person_id, me.name, self._agency(me.agency), text))
        raise self._back(back, me)

    async def act_clock(self, request: web.Request) -> web.Response:
        data, sid, me, back = await self._checked(request)
        self._once(data, sid, me, back, "clock", "", "")
        now = self.services.time.now()
        try:
            delta = clock_step(
                str(data.get("step", "")), str(data.get("to", "")), now, self.services.settings.timezone
            )
        except ValueError as exc:
            self._tell(me, str(exc))
            raise web.HTTPSeeOther(back + "#notices") from None
        self.services.time.advance(delta)
        self.store.start_turn(me.person_id)
        log.info("playground: clock moved forward by %s", delta)
        await self._after_clock_move()
        raise self._back(back, me)

    async def _after_clock_move(self) -> None:
        """Sweep the reminders now, so what the move made due shows at once rather than at the next
        interval. Claims in the database keep this from sending anything the regular sweep sends."""
        if not self.services.settings.scheduler_enabled:
            return
        from bot.scheduler import Scheduler

        if self.scheduler is None:
            self.scheduler = Scheduler.from_services(self.services)
        try:
            await self.scheduler.tick()
        except Exception as exc:  # the regular sweep tries again; the clock has moved all the same
            log.warning("playground: reminders sweep after the clock move failed (%s)", type(exc).__name__)

    async def act_dismiss(self, request: web.Request) -> web.Response:
        data, _sid, me, back = await self._checked(request)
        notice = str(data.get("notice", ""))
        if notice.isdigit():
            self.store.dismiss(me.person_id, int(notice))
        raise self._back(back, me)
