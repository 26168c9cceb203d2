"""The playground's HTTP side: pages (GET) and actions (POST, then a redirect back to a GET).

Each POST is checked twice before anything happens: the session's CSRF token, and the one-time
token of the button or form that was pressed (signed for exactly that action). A second submission
of the same control is answered "already done" and never reaches the engine; the token's nonce is
also the Turn's event_id, so the engine's own de-duplication applies too.
"""

import logging
import re
from pathlib import Path
from zoneinfo import ZoneInfo

from aiohttp import web
from sqlalchemy import select

from bot.playground import page
from bot.playground.actions import PLATFORM, SESSION_COOKIE, WHO_COOKIE, Actions
from bot.playground.downloads import Downloads, offers, section
from bot.playground.figures import ROUTE, Figures
from bot.playground.local import loopback_only
from bot.playground.render import Ctx
from bot.playground.store import MessageStore, PlaygroundSurface
from bot.playground.tokens import Tokens
from bot.reports.to_person import ReportFiles
from dialogs import directory
from dialogs.model import Actor
from storage.models import Person, PersonIdentity

log = logging.getLogger(__name__)

STATIC = Path(__file__).with_name("static")
_HEADERS = {
    # Everything is served from here: no inline script, no third party, no framing.
    "Content-Security-Policy": (
        "default-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


class Playground(Actions, Downloads, Figures):
    def __init__(self, services) -> None:
        self.services = services
        self.store = MessageStore(now=services.time.now)
        self.reports = ReportFiles(services.db, services.dialogs)  # the figures a manager asks for
        self.surface = PlaygroundSurface(self.store, self.reports)
        self.tokens = Tokens()
        self.zone = ZoneInfo(services.settings.timezone)
        self.seeded = False
        # A refused reply's text, kept in the reply box so nothing typed is lost: (person, discussion) -> text
        self.drafts: dict[tuple[int, int], str] = {}
        self.scheduler = None  # made on the first clock move (bot.scheduler.Scheduler)

    def routes(self, app: web.Application) -> None:
        local = loopback_only
        app.router.add_get("/", local(self.home))
        app.router.add_get("/who", local(self.who))
        app.router.add_get(r"/discussions/{id:\d{1,12}}", local(self.discussion))
        app.router.add_get("/version", local(self.version))
        records = r"/discussions/{id:\d{1,12}}/records/{child:\d{1,12}}/{fmt:docx|pdf|json}"
        app.router.add_get(records, local(self.download))
        app.router.add_get(ROUTE, local(self.figures))
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
        if request.path == "/" or request.path.startswith(
            ("/who", "/discussions", "/figures", "/act", "/static")
        ):
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
        may_report = actor.role in self.services.procedure.reports.roles  # the menu's "Figures"
        return page.Me(
            actor.person_id, actor.name, self._agency(actor.agency), self._role(actor.role), may_report
        )

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
            records=section(await offers(self.services, me, discussion_id)),
        )
        return self._html(body, sid, new)

    async def version(self, _request: web.Request) -> web.Response:
        return web.json_response({"version": self.store.version})
