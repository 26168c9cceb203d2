"""The playground's HTTP side: pages (GET) and actions (POST, then a redirect back to a GET).

Each POST is checked twice before anything happens: the session's CSRF token, and the one-time
token of the button or form that was pressed (signed for exactly that action). A second submission
of the same control is answered "already done" and never reaches the engine; the token's nonce is
also the Turn's event_id, so the engine's own de-duplication applies too.
"""

import html
import ipaddress
import logging
import re
from dataclasses import replace
from datetime import datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from aiohttp import web
from sqlalchemy import select

from bot.background import transient
from bot.playground import page
from bot.playground.render import LIST_PREFIX, SCALAR_PREFIX, Ctx
from bot.playground.store import MessageStore, PlaygroundSurface, Reply
from bot.playground.tokens import Tokens
from dialogs import clock, directory
from dialogs.model import Actor, Card, Result, Target, TargetKind, Turn, TurnKind
from storage.models import Person, PersonIdentity

log = logging.getLogger(__name__)

PLATFORM = "playground"
ORIGIN = {"surface": PLATFORM}  # the turn's cards are shown here, whatever else is configured
SESSION_COOKIE = "pg_session"
WHO_COOKIE = "pg_who"
STATIC = Path(__file__).with_name("static")
COMMANDS = {name for name, _ in page.COMMANDS}
MAX_COMMAND = 200
_BACK = re.compile(r"^/(discussions/\d{1,12})?$")
_HEADERS = {
    # Everything is served from here: no inline script, no third party, no framing.
    "Content-Security-Policy": (
        "default-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}

OUT_OF_DATE = "This page was out of date, so nothing was done. Please try again."
ALREADY_DONE = "That was already done: a button or form only acts once."
FAILED = "Something went wrong, so nothing was saved. Please try again."
NOT_SAVED = (
    "Sorry: the playground cannot reach its database just now, so what you sent was NOT saved. "
    "Please wait a moment and send it again."
)
_NOT_TYPED = {
    "csrf",
    "token",
    "back",
    "form_id",
    "context",
    "discussion_id",
    "action",
    "value",
    "name",
    "who",
}


# The names a browser on this machine uses for it. Another Host is a page elsewhere whose name was
# pointed at 127.0.0.1 (DNS rebinding): its scripts would otherwise reach us as a loopback caller.
_LOCAL_HOST = re.compile(r"(127\.0\.0\.1|localhost|\[::1\])(:\d{1,5})?", re.IGNORECASE)
_PROXY_HEADERS = ("Forwarded", "X-Forwarded-For", "X-Real-IP")


def _loopback_only(handler):
    """Anyone can be anyone in the playground, so it answers this machine only, however it is served:
    a loopback caller, asking for a loopback name, with no proxy in between (behind a local reverse
    proxy everyone would look like a loopback caller)."""

    async def guarded(request: web.Request) -> web.StreamResponse:
        try:
            local = ipaddress.ip_address(request.remote or "").is_loopback
        except ValueError:
            local = False
        local = local and bool(_LOCAL_HOST.fullmatch(request.headers.get("Host", "")))
        if not local or any(h in request.headers for h in _PROXY_HEADERS):
            raise web.HTTPForbidden(
                text="The playground answers only on this machine: open http://127.0.0.1 or http://localhost."
            )
        return await handler(request)

    return guarded


def _notice(text: str, title: str = "") -> Card:
    return Card(target=Target(TargetKind.EPHEMERAL), title=title, text=text)


class Playground:
    def __init__(self, services) -> None:
        self.services = services
        self.store = MessageStore(now=services.time.now)
        self.surface = PlaygroundSurface(self.store)
        self.tokens = Tokens()
        self.zone = ZoneInfo(services.settings.timezone)
        self.seeded = False
        # A refused reply's text, kept in the reply box so nothing typed is lost: (person, discussion) -> text
        self.drafts: dict[tuple[int, int], str] = {}
        self.scheduler = None  # made on the first clock move (bot.scheduler.Scheduler)

    def routes(self, app: web.Application) -> None:
        local = _loopback_only
        app.router.add_get("/", local(self.home))
        app.router.add_get("/who", local(self.who))
        app.router.add_get(r"/discussions/{id:\d{1,12}}", local(self.discussion))
        app.router.add_get("/version", local(self.version))
        app.router.add_post("/act/identity", local(self._saved_or_503(self.act_identity)))
        app.router.add_post("/act/command", local(self._saved_or_503(self.act_command)))
        app.router.add_post("/act/button", local(self._saved_or_503(self.act_button)))
        app.router.add_post("/act/form", local(self._saved_or_503(self.act_form)))
        app.router.add_post("/act/reply", local(self._saved_or_503(self.act_reply)))
        app.router.add_post("/act/clock", local(self._saved_or_503(self.act_clock)))
        app.router.add_post("/act/dismiss", local(self._saved_or_503(self.act_dismiss)))
        app.router.add_static("/static/", STATIC)
        app.on_startup.append(self.on_startup)
        app.on_response_prepare.append(self._secure_headers)

    # --- start-up and the cast --------------------------------------------------------------------

    async def on_startup(self, _app: web.Application) -> None:
        await self.seed()

    async def seed(self) -> None:
        """Give a fresh database the playground's cast. A database that is not ready yet (not migrated,
        unreachable) is tried again on the next page view rather than stopping the start."""
        if self.seeded:
            return
        try:
            async with self.services.db.session() as session:
                added = await directory.seed_demo(session, self.services.procedure)
        except Exception as exc:  # the readiness probe reports the database; here we only wait for it
            log.warning("playground: directory not seeded yet (%s)", type(exc).__name__)
            return
        self.seeded = True
        if added:
            log.info("playground: added %d fictional people to the directory", added)

    async def _secure_headers(self, request: web.Request, response: web.StreamResponse) -> None:
        if request.path == "/" or request.path.startswith(("/who", "/discussions", "/act", "/static")):
            for name, value in _HEADERS.items():
                response.headers.setdefault(name, value)

    # --- who is asking ----------------------------------------------------------------------------

    def _session(self, request: web.Request) -> tuple[str, bool]:
        sid = request.cookies.get(SESSION_COOKIE, "")
        if re.fullmatch(r"[A-Za-z0-9_-]{16,64}", sid):
            return sid, False
        return self.tokens.new_session(), True

    @staticmethod
    def _cookie(response: web.StreamResponse, name: str, value: str) -> None:
        response.set_cookie(name, value, httponly=True, samesite="Strict", path="/")

    async def _me(self, request: web.Request) -> Actor | None:
        slug = request.cookies.get(WHO_COOKIE, "")
        if not slug or len(slug) > 200:
            return None
        await self.seed()
        async with self.services.db.session() as session:
            return await directory.resolve(session, PLATFORM, slug)

    def _me_view(self, actor: Actor) -> page.Me:
        return page.Me(actor.person_id, actor.name, self._agency(actor.agency), self._role(actor.role))

    def _agency(self, agency: str) -> str:
        try:
            return self.services.procedure.agency(agency).label
        except (KeyError, ValueError):
            return agency

    def _role(self, role: str) -> str:
        try:
            return self.services.procedure.role(role).label
        except (KeyError, ValueError):
            return role

    def _clock(self) -> page.Clock:
        now = self.services.time.now().astimezone(self.zone)
        settings = self.services.settings
        ooh = self.services.procedure.out_of_hours_at(now, tz=settings.timezone, nation=settings.nation)
        return page.Clock(now=now, zone=self.services.settings.timezone, out_of_hours=ooh)

    def _ctx(self, sid: str, back: str) -> Ctx:
        return Ctx(csrf=self.tokens.csrf(sid), back=back, mint=lambda k, n, v: self.tokens.mint(sid, k, n, v))

    @staticmethod
    def _html(body: str, sid: str, new: bool, status: int = 200) -> web.Response:
        response = web.Response(text=body, content_type="text/html", status=status)
        if new:
            Playground._cookie(response, SESSION_COOKIE, sid)
        return response

    # --- pages ------------------------------------------------------------------------------------

    async def home(self, request: web.Request) -> web.Response:
        sid, new = self._session(request)
        me = await self._me(request)
        if me is None:
            return await self._picker(request, sid, new)
        body = page.home(
            me=self._me_view(me),
            clock=self._clock(),
            ctx=self._ctx(sid, "/"),
            store=self.store,
            zone=self.zone,
            thread_size=lambda d: len(self.store.thread(d)),
        )
        return self._html(body, sid, new)

    async def who(self, request: web.Request) -> web.Response:
        sid, new = self._session(request)
        return await self._picker(request, sid, new)

    async def _picker(self, request: web.Request, sid: str, new: bool, message: str = "") -> web.Response:
        await self.seed()
        people: list[page.Person] = []
        try:
            async with self.services.db.session() as session:
                query = (
                    select(Person, PersonIdentity.external_id)
                    .join(PersonIdentity, PersonIdentity.person_id == Person.id)
                    .where(PersonIdentity.platform == PLATFORM)
                    .order_by(Person.agency, Person.id)
                )
                for person, slug in (await session.execute(query)).all():
                    people.append(
                        page.Person(
                            slug, person.display_name, self._agency(person.agency), self._role(person.role)
                        )
                    )
        except Exception as exc:
            log.warning("playground: cannot read the directory (%s)", type(exc).__name__)
            message = "The database is not ready yet. Please reload in a moment."
        body = page.picker(people, self._ctx(sid, "/"), request.cookies.get(WHO_COOKIE), message)
        return self._html(body, sid, new)

    async def discussion(self, request: web.Request) -> web.Response:
        sid, new = self._session(request)
        me = await self._me(request)
        if me is None:
            return await self._picker(request, sid, new)
        discussion_id = int(request.match_info["id"])
        body = page.discussion(
            discussion_id=discussion_id,
            me=self._me_view(me),
            clock=self._clock(),
            ctx=self._ctx(sid, f"/discussions/{discussion_id}"),
            store=self.store,
            zone=self.zone,
            reply_text=self.drafts.get((me.person_id, discussion_id), ""),
        )
        return self._html(body, sid, new)

    async def version(self, _request: web.Request) -> web.Response:
        return web.json_response({"version": self.store.version})

    # --- actions ----------------------------------------------------------------------------------

    async def _checked(self, request: web.Request):
        """The posted data, session and actor, or a redirect when the post cannot be trusted."""
        data = await request.post()
        sid = request.cookies.get(SESSION_COOKIE, "")
        back = str(data.get("back", "/"))
        back = back if _BACK.match(back) else "/"
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
                return web.Response(text=_not_saved_page(data), content_type="text/html", status=503)

        return handler_or_503

    def _tell(self, me: Actor, text: str) -> None:
        self.store.start_turn(me.person_id)
        self.store.put(_notice(text), actor=me)

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
            result = Result((_notice(FAILED),))
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
        text = _text(data.get("text", ""))
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


def _not_saved_page(data) -> str:
    """The 503 page: plain words, what was typed (escaped) to copy, and the way back."""
    typed = [
        (str(k), str(v)) for k, v in data.items() if k not in _NOT_TYPED and isinstance(v, str) and v.strip()
    ]
    back = str(data.get("back", "/"))
    back = back if _BACK.match(back) else "/"
    kept = "".join(
        f"<dt>{html.escape(k)}</dt><dd><textarea readonly rows=4 cols=60>{html.escape(v)}</textarea></dd>"
        for k, v in typed
    )
    return (
        "<!doctype html><html lang=en><head><meta charset=utf-8><title>Not saved</title>"
        '<link rel=stylesheet href="/static/playground.css"></head><body><main>'
        f"<h1>Not saved</h1><p>{html.escape(NOT_SAVED)}</p>"
        + (f"<p>What you typed, to copy and send again:</p><dl>{kept}</dl>" if kept else "")
        + f'<p><a href="{html.escape(back)}">Back to the page</a></p></main></body></html>'
    )


def keep_typed(card: Card, fields: dict, error: str) -> Card:
    """The card's form holding the submitted values (typed text is never lost), with `error` on top."""
    form = card.form
    inputs = tuple(replace(i, value=fields.get(i.id, i.value), error=None) for i in form.inputs)
    return replace(card, form=replace(form, inputs=inputs, error=error))


def _text(value) -> str:
    """Browsers send line breaks in a textarea as CRLF; the engine and the record use LF."""
    return str(value).replace("\r\n", "\n").replace("\r", "\n")


def form_fields(data) -> dict:
    """Submitted inputs by id: "in.<id>" as one string, "list.<id>" as a list of every value sent."""
    fields: dict = {}
    for key in data.keys():
        if key.startswith(SCALAR_PREFIX):
            fields[key.removeprefix(SCALAR_PREFIX)] = _text(data.get(key, ""))
        elif key.startswith(LIST_PREFIX):
            fields[key.removeprefix(LIST_PREFIX)] = [str(v) for v in data.getall(key)]
    return fields


def clock_step(step: str, to: str, now: datetime, tz: str) -> timedelta:
    """How far to move the clock forward; ValueError (shown to the person) for a time not ahead."""
    zone = ZoneInfo(tz)
    if step == "hour":
        return timedelta(hours=1)
    if step == "day":
        return timedelta(days=1)
    if step == "morning":
        local = now.astimezone(zone)
        day = local.date() if local.time() < time(9) else local.date() + timedelta(days=1)
        return clock.localize(datetime.combine(day, time(9)), tz) - now
    if step == "custom":
        try:
            target = clock.localize(datetime.strptime(to.strip(), "%Y-%m-%dT%H:%M"), tz)
        except ValueError as exc:
            if "does not exist" in str(exc):
                raise ValueError(
                    f"{to.replace('T', ' ')} does not exist in {tz}: the clocks go forward then."
                ) from None
            raise ValueError("Please give a date and time, e.g. 2026-03-14 09:00.") from None
        if target <= now:
            local = now.astimezone(zone)
            raise ValueError(f"The clock only moves forward: choose a time after {local:%a %d %b %Y, %H:%M}.")
        return target - now
    raise ValueError("Please choose how far to move the clock.")
