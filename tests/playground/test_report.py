"""Issue 14 in the playground: the "Figures" menu item, for team and district managers only, runs the
`report` command; its answer shows this month's headline, and the figures file is a download link in
the manager's direct messages, served only to someone whose role may have it, each download audited.

The month is November 2026 up to Tuesday 24th (the stopped clock); the discussion counted is the one
tests/playground/test_flows.py starts."""

from datetime import date
from html.parser import HTMLParser

from sqlalchemy import select, update

from bot.playground import PLAYGROUND
from bot.playground.figures import NOT_YOURS
from dialogs.report_card import report_card
from storage.models import AuditEvent, Person
from tests.playground.conftest import TUESDAY_10AM
from tests.playground.test_flows import CASE, CONCERN, started
from tests.playground.webpage import form_data

PERIOD = "1 to 24 Nov 2026"
HREF = "/figures/2026-11-01/2026-11-24"
FILE_NAME = "strategy-discussion-figures-2026-11-01-to-2026-11-24.html"
REFUSAL = "The figures are for team managers and district managers. Please ask your manager if you need them."


class Text(HTMLParser):
    """A page's title and its text, as a browser would read them."""

    def __init__(self, html: str) -> None:
        super().__init__(convert_charrefs=True)
        self.title, self.words, self._in_title = "", [], False
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        self._in_title = tag == "title"

    def handle_endtag(self, tag):
        self._in_title = False

    def handle_data(self, data):
        self.title += data if self._in_title else ""
        self.words.append(data)

    @property
    def text(self) -> str:
        return " ".join(" ".join(self.words).split())


def menu(page) -> dict[str, str]:
    """The menu's commands: value -> label."""
    nav = page.root.first("nav", class_="menu")
    return {b.attrs["value"]: b.text for b in nav.all("button", name="name")}


async def downloads(db) -> list[AuditEvent]:
    async with db.read() as s:
        query = select(AuditEvent).where(AuditEvent.action == "report.sent").order_by(AuditEvent.id)
        return list((await s.execute(query)).scalars())


async def person_id(db, name_starts: str) -> int:
    async with db.read() as s:
        people = (await s.execute(select(Person))).scalars()
        [found] = [p.id for p in people if p.display_name.startswith(name_starts)]
    return found


async def test_a_manager_runs_the_figures_and_downloads_the_file(playground, sqlite_db):
    pg = playground
    await started(pg)  # one discussion held today
    manager = await pg.as_("team_manager")
    page = await manager.get("/")
    assert menu(page)["report"] == "Figures"

    page = await manager.command("report")
    headline = page.card(f"Strategy discussions, {PERIOD}", within="notices").words
    # The shipped rule hides counts from 1 to 5, in chat as in the file.
    assert "Discussions held: fewer than 6 (out of hours: not shown), about fewer than 6 children" in headline
    assert (
        'Counts from 1 to 5 show as "fewer than 6"; other counts are rounded to the nearest 5, so figures '
        "may not add up. The file follows."
    ) in headline

    # The file is a card in the manager's direct messages, with its download link.
    card = page.card(f"Strategy discussion figures, {PERIOD}", within="direct")
    [link] = [a for a in card.all("a") if a.attrs.get("href") == HREF]
    assert FILE_NAME in link.text and "download" in link.attrs

    for _ in range(2):  # each download is made and audited
        async with manager.http.get(manager.server.make_url(HREF)) as resp:
            assert resp.status == 200
            assert resp.headers["Content-Type"] == "text/html; charset=utf-8"
            assert resp.headers["Content-Disposition"] == f'attachment; filename="{FILE_NAME}"'
            assert resp.headers["Cache-Control"] == "no-store"
            body = (await resp.read()).decode("utf-8")
    figures = Text(body)
    assert PERIOD in figures.title and PERIOD in figures.text
    assert CASE not in body and CONCERN not in body  # figures, never a case

    manager_id = await person_id(sqlite_db, "Tam Team")
    entries = await downloads(sqlite_db)
    assert [(e.actor, e.channel, e.discussion_id, e.detail) for e in entries] == [
        (
            f"person:{manager_id}",
            "playground",
            None,
            {"start": "2026-11-01", "end": "2026-11-24", "where": "download"},
        )
    ] * 2


async def test_a_district_manager_sees_the_figures_too(playground):
    district = await playground.as_("district_manager")
    assert menu(await district.get("/"))["report"] == "Figures"


async def test_a_social_worker_has_no_figures(playground, sqlite_db):
    pg = playground
    await started(pg)
    worker = await pg.as_("social_worker")
    page = await worker.get("/")
    assert "report" not in menu(page) and "due" in menu(page)

    # Posted anyway (the menu's own form, with the command it does not offer): the polite refusal.
    form = page.root.first("form", action="/act/command")
    page = await worker.post(form.attrs["action"], [*form_data(form, {}), ("name", "report")])
    assert REFUSAL in page.notices()
    assert page.cards("Strategy discussion figures", within="direct") == []
    assert HREF not in page.html

    async with worker.http.get(worker.server.make_url(HREF)) as resp:
        assert resp.status == 403
        assert await resp.text() == NOT_YOURS  # no figure, no detail
    assert await downloads(sqlite_db) == []


async def test_a_manager_who_moved_role_can_no_longer_download(playground, sqlite_db):
    """The file is made when it is fetched, for whoever asks then: a link kept from before a change
    of role is refused."""
    pg = playground
    manager = await pg.as_("team_manager")
    await manager.get("/")
    page = await manager.command("report")
    assert page.card(f"Strategy discussion figures, {PERIOD}", within="direct")
    manager_id = await person_id(sqlite_db, "Tam Team")
    async with sqlite_db.session() as s:
        await s.execute(update(Person).where(Person.id == manager_id).values(role="social_worker"))
    async with manager.http.get(manager.server.make_url(HREF)) as resp:
        assert resp.status == 403
    assert await downloads(sqlite_db) == []
    assert "report" not in menu(await manager.get("/"))


async def test_the_download_refuses_a_period_that_is_not_one(playground, sqlite_db):
    manager = await playground.as_("team_manager")
    for href in ("/figures/2026-11-24/2026-11-01", "/figures/2026-02-30/2026-03-01"):
        async with manager.http.get(manager.server.make_url(href)) as resp:
            assert resp.status == 404
    assert await downloads(sqlite_db) == []


async def test_the_file_is_offered_only_to_someone_who_may_have_it(playground, sqlite_db):
    """The surface checks the role again when the card is delivered (the outbox may send it later):
    no link is offered to someone who is no longer a manager."""
    surface = playground.server.app[PLAYGROUND].surface
    month = (date(2026, 11, 1), date(2026, 11, 24))
    manager_id = await person_id(sqlite_db, "Tam Team")
    worker_id = await person_id(sqlite_db, "Sol Social")
    for who in (manager_id, worker_id):
        await surface.deliver(report_card(who, *month, TUESDAY_10AM))
    assert [e.card.title for e in playground.store.direct[manager_id].entries] == [
        f"Strategy discussion figures, {PERIOD}"
    ]
    assert worker_id not in playground.store.direct
