"""Issue 14, in chat on Teams: "report" gives a team or district manager this month's headline figures
and, in their personal chat with the bot, one message with a link (Action.OpenUrl) to the figures
file the bot serves at /reports/<token>: a signed, expiring token for the person and the period,
honoured only while the person may still have the figures. Through the outbox, once; the link sent
and every download are audit entries. Anyone else is told politely that the figures are for managers.

On the real bot app and the stand-in Bot Connector; the discussion the figures count is convened,
decided and held through the engine (tests/test_siblings.py)."""

import logging
from datetime import UTC, date, datetime
from html.parser import HTMLParser
from urllib.parse import urlsplit

import pytest
from sqlalchemy import select, update

from bot.records.formats import Format
from bot.records.links import Grant
from bot.teams.report_links import ReportGrant, ReportTokens
from storage.models import AuditEvent, Outbox, Person, PersonIdentity
from tests.chair_files import send_again
from tests.engine_helpers import Driver, make_driver
from tests.teams.conftest import CHANNEL, TENANT, make_harness, personal_chat, user
from tests.test_siblings import REFS, convene_siblings, decide_each

PUBLIC = "https://strategy-bot.example.org"
SECRET = "record-links-secret-for-tests-only-0123456789"
MONTH = "1 to 24 Nov 2026"  # the harness's clock: Tuesday 24 November 2026
START, END = date(2026, 11, 1), date(2026, 11, 24)
LINK_TITLE = f"Strategy discussion figures, {MONTH}"
HEADLINE_TITLE = f"Strategy discussions, {MONTH}"
REFUSAL = "The figures are for team managers and district managers. Please ask your manager if you need them."
FILE_NAME = "strategy-discussion-figures-2026-11-01-to-2026-11-24.html"
INVALID = "This link is not valid."


@pytest.fixture
async def bot(db, key, login_url, connector):
    async with make_harness(
        db, key, login_url, connector, public_url=PUBLIC, record_link_secret=SECRET
    ) as harness:
        yield harness


async def people(db) -> tuple[Driver, dict[str, int]]:
    """The cast (tests/engine_helpers.py) and two managers; the managers, a social worker and a police
    officer known to Teams by both their ids."""
    drv = await make_driver(db)
    ids = {k: a.person_id for k, a in drv.actors.items()}
    async with db.session() as s:
        for key, role in (("manager", "team_manager"), ("district", "district_manager")):
            person = Person(
                display_name=key.title(), email=f"{key}@example.org", agency="social_care", role=role
            )
            s.add(person)
            await s.flush()
            ids[key] = person.id
        for key in ("manager", "district", "outsider", "police"):
            for external in (user(key).aad, user(key).id):
                s.add(
                    PersonIdentity(person_id=ids[key], platform="teams", tenant=TENANT, external_id=external)
                )
    return drv, ids


async def hold_a_discussion(drv: Driver) -> None:
    """This month: one discussion about three siblings, held, with a decision for each child."""
    did, kids = await convene_siblings(drv)
    await decide_each(drv, did, kids)


async def ask(bot, key: str) -> list[dict]:
    """`key` sends "report" in their personal chat; the cards the bot posted there."""
    status, _ = await bot.send(bot.message(user(key), "report", personal=True))
    assert status == 202  # a message: Teams gets its answer at once, the cards follow
    return [c.card for c in bot.connector.sent("SendToConversation", personal_chat(user(key))) if c.card]


def texts(card: dict) -> list[str]:
    return [item["text"] for item in card["body"] if item["type"] == "TextBlock"]


def buttons(card: dict) -> list[dict]:
    return [a for item in card["body"] if item["type"] == "ActionSet" for a in item["actions"]]


def link_cards(connector) -> list[tuple[str, dict]]:
    """Every message with a link to figures, anywhere: (conversation, card)."""
    return [
        (c.conversation_id, c.card)
        for c in connector.posts()
        if c.card and any(b.get("url", "").startswith(f"{PUBLIC}/reports/") for b in buttons(c.card))
    ]


async def audited(db, action: str) -> list[dict]:
    async with db.read() as s:
        rows = (await s.execute(select(AuditEvent).where(AuditEvent.action == action))).scalars()
        return [(r.detail or {}) | {"actor": r.actor, "channel": r.channel} for r in rows]


async def report_rows(db) -> list[Outbox]:
    async with db.read() as s:
        return list((await s.execute(select(Outbox).where(Outbox.card_key.like("report_file:%")))).scalars())


async def get(bot, url: str):
    """Fetch a link as the manager's browser would, from the bot app's own server."""
    resp = await bot.client.get(urlsplit(url).path, allow_redirects=False)
    return resp, await resp.read()


class _Page(HTMLParser):
    """The page's title and its visible text."""

    def __init__(self) -> None:
        super().__init__()
        self.title, self.text, self._in = "", [], ""

    def handle_starttag(self, tag, attrs):
        self._in = tag

    def handle_endtag(self, tag):
        self._in = ""

    def handle_data(self, data):
        if self._in == "title":
            self.title += data
        elif self._in not in ("style", "script"):
            self.text.append(data)


def page(data: bytes) -> _Page:
    parsed = _Page()
    parsed.feed(data.decode("utf-8"))
    return parsed


async def test_a_team_manager_gets_the_headline_and_one_link_to_the_figures_file(bot, db):
    drv, ids = await people(db)
    await hold_a_discussion(drv)
    await bot.services.sender.drain()  # the discussion's own cards (in no Teams channel here) settle
    cards = await ask(bot, "manager")

    # The answer: this month's headline, counted from the discussion held (small numbers hidden).
    [headline] = [c for c in cards if texts(c)[0] == HEADLINE_TITLE]
    lines = texts(headline)[1]
    assert "Discussions held: fewer than 6" in lines
    assert "about fewer than 6 children" in lines
    assert "Decisions without the quorum: 0" in lines
    assert "Decisions per child: S47" in lines and "none yet" not in lines
    assert "other counts are rounded to the nearest 5" in lines  # the shipped rule, said

    # One message with one button to the figures, in the manager's chat and nowhere else.
    [(chat, card)] = link_cards(bot.connector)
    assert chat == personal_chat(user("manager"))
    assert texts(card)[0] == LINK_TITLE
    assert "Please do not forward it." in texts(card)[-1]
    [button] = buttons(card)
    assert (button["type"], button["title"]) == ("Action.OpenUrl", "Open the figures (HTML)")
    token = urlsplit(button["url"]).path.removeprefix("/reports/")
    grant = bot.services.router.get("teams").reports.tokens.read(token)
    assert (grant.person_id, grant.start, grant.end) == (ids["manager"], START, END)
    lifetime = 72 * 3600  # RECORD_LINK_HOURS
    assert abs(grant.expires_at - datetime.now(UTC).timestamp() - lifetime) < 120

    # The link serves the figures page, as a file, for the period, with no case in it.
    resp, data = await get(bot, button["url"])
    assert resp.status == 200, data[:200]
    assert resp.headers["Content-Type"] == "text/html; charset=utf-8"
    assert resp.headers["Content-Disposition"] == f'attachment; filename="{FILE_NAME}"'
    assert "no-store" in resp.headers["Cache-Control"]
    figures = page(data)
    assert MONTH in figures.title
    visible = " ".join(figures.text)
    assert "Discussions held" in visible and "fewer than 6" in visible
    assert "rounded to the nearest 5" in visible
    assert not any(ref in data.decode() for ref in REFS)

    # Audited: the link sent, and the download, with the period and where; no figures.
    expected = {"start": "2026-11-01", "end": "2026-11-24", "where": "teams-link"}
    for action in ("report.sent", "report.downloaded"):
        assert await audited(db, action) == [
            expected | {"actor": f"person:{ids['manager']}", "channel": "teams"}
        ]

    # Through the outbox, in the manager's lane; sent again (a crash before the row was marked sent,
    # the lease run out), it sends nothing a second time.
    [row] = await report_rows(db)
    assert (row.recipient_key, row.status, row.surface) == (f"person:{ids['manager']}", "sent", "teams")
    await send_again(bot.services, row)
    assert len(link_cards(bot.connector)) == 1
    assert len(await audited(db, "report.sent")) == 1


async def test_a_district_manager_asking_in_a_channel_is_answered_in_their_own_chat(bot, db):
    await people(db)
    district = user("district")
    bot.connector.installed_for = {district.id}
    status, _ = await bot.send(bot.message(district, "report", channel=CHANNEL))
    assert status == 202
    chat = personal_chat(district)
    [(where, _card)] = link_cards(bot.connector)
    assert where == chat
    mine = [c.card for c in bot.connector.sent("SendToConversation", chat) if c.card]
    [headline] = [c for c in mine if texts(c)[0] == HEADLINE_TITLE]
    assert "Discussions held: 0" in texts(headline)[1]  # nothing held this month
    in_channel = [c for c in bot.connector.posts() if c.conversation_id.startswith(CHANNEL)]
    assert [c.body.get("text") for c in in_channel] == ["I have answered you in your private chat with me."]


async def test_a_forged_expired_or_no_longer_allowed_link_is_refused(bot, db, caplog):
    caplog.set_level(logging.INFO, logger="aiohttp.access")
    _, ids = await people(db)
    await ask(bot, "manager")
    [(_, card)] = link_cards(bot.connector)
    link = buttons(card)[0]["url"]
    token = urlsplit(link).path.removeprefix("/reports/")
    links = bot.services.router.get("teams").reports
    now = int(datetime.now(UTC).timestamp())

    def url(**change) -> str:
        grant = ReportGrant(ids["manager"], START, END, now + 3600)
        return links.url(ReportGrant(**(grant.__dict__ | change)))

    record_link = bot.services.router.get("teams").links.links.issue  # a record token is not a report one
    refused = {
        "signature changed": link[:-2] + ("AA" if not link.endswith("AA") else "BB"),
        "another person, same signature": link.replace(
            f"/reports/{ids['manager']}.", f"/reports/{ids['district']}.", 1
        ),
        "a longer period, same signature": link.replace(".20261101.", ".20260101.", 1),
        "later expiry, same signature": link.replace(f".{token.split('.')[3]}.", f".{now + 10**6}.", 1),
        "garbage": f"{PUBLIC}/reports/not-a-token",
        "signed with another key": f"{PUBLIC}/reports/"
        + ReportTokens(b"k" * 32).issue(ReportGrant(ids["manager"], START, END, now + 3600)),
        "a record link's token": f"{PUBLIC}/reports/"
        + record_link(Grant(1, Format.PDF, ids["manager"], now + 3600)),
        "a social worker": url(person_id=ids["outsider"]),
        "a police officer": url(person_id=ids["police"]),
        "nobody": url(person_id=ids["manager"] + 1000),
        "a period that ends before it starts": url(start=END, end=START),
    }
    for what, bad in refused.items():
        resp, body = await get(bot, bad)
        assert (resp.status, body.decode()) == (403, INVALID), what
        assert "no-store" in resp.headers["Cache-Control"], what
    resp, body = await get(bot, url(expires_at=now - 1))
    assert (resp.status, body.decode()) == (
        403,
        "This link has expired. Send report to the Strategy discussion app in Teams for a new one.",
    )

    # The manager's own link works; once they are no longer a manager, it does not.
    assert (await get(bot, link))[0].status == 200
    async with db.session() as s:
        await s.execute(update(Person).where(Person.id == ids["manager"]).values(role="social_worker"))
    resp, body = await get(bot, link)
    assert (resp.status, body.decode()) == (403, INVALID)

    # HEAD (a link checker) neither makes nor audits a download; only the one download is audited.
    assert (await bot.client.head(urlsplit(link).path)).status == 405
    assert [e["actor"] for e in await audited(db, "report.downloaded")] == [f"person:{ids['manager']}"]

    # The access log shows that links were used, never the tokens: each is a key to the figures.
    logged = [r for r in caplog.records if r.name == "aiohttp.access" and "/reports/" in r.getMessage()]
    assert len(logged) == len(refused) + 4
    assert all(" /reports/(hidden) HTTP" in r.getMessage() for r in logged)
    assert not any(token in r.getMessage() or token in str(vars(r)) for r in logged)


@pytest.mark.parametrize("who", ["outsider", "police"])
async def test_a_social_worker_or_police_officer_is_told_the_figures_are_for_managers(bot, db, who):
    await people(db)
    cards = await ask(bot, who)
    assert [texts(c)[-1] for c in cards] == [REFUSAL]
    assert link_cards(bot.connector) == []
    assert await report_rows(db) == []
    assert await audited(db, "report.requested") == []


async def test_without_a_public_address_the_manager_is_told_and_no_link_is_sent(
    db, key, login_url, connector
):
    async with make_harness(db, key, login_url, connector, record_link_secret=SECRET) as bot:
        _, ids = await people(db)
        cards = await ask(bot, "manager")
        assert link_cards(connector) == []
        assert [texts(c)[0] for c in cards if texts(c)[0] == HEADLINE_TITLE] == [HEADLINE_TITLE]
        told = [" ".join(texts(c)) for c in cards if "PUBLIC_URL" in " ".join(texts(c))]
        assert len(told) == 1 and "figures file" in told[0]
        [row] = await report_rows(db)
        assert (row.recipient_key, row.status) == (f"person:{ids['manager']}", "failed")
        assert await audited(db, "report.sent") == []
