"""Issue 13, delivery: at sign-off the chair gets each child's record in their personal chat with the
bot as links (Action.OpenUrl) to files the bot serves at /records/<token>: a signed, expiring token
for one record version, one format and the chair, honoured only while the chair may see the record's
discussion. Through the outbox, once; every link sent and every file fetched is an audit entry.

The three siblings' discussion (tests/test_siblings.py) is convened, decided and planned through the
engine; the chair reviews it and signs it off in Teams, on the real bot app and the stand-in Bot
Connector."""

import logging
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

import pytest
from sqlalchemy import select

from bot.records.formats import Format
from bot.records.links import Grant, Links, link_key
from bot.teams import cards as ac
from dialogs.model import Ref, TargetKind
from dialogs.procedure import load_procedure
from storage.models import AuditEvent, Outbox, PersonIdentity, RecordVersion
from tests.chair_files import FORMATS, check_file, file_names, send_again
from tests.engine_helpers import make_driver, one
from tests.teams.conftest import TENANT, make_harness, personal_chat, user
from tests.test_engine import answers
from tests.test_siblings import REFS, convene_siblings, decide_each

PUBLIC = "https://strategy-bot.example.org"
SECRET = "record-links-secret-for-tests-only-0123456789"
TITLE = f"Signed-off record files: {', '.join(REFS)}"


@pytest.fixture
async def bot(db, key, login_url, connector):
    async with make_harness(
        db, key, login_url, connector, public_url=PUBLIC, record_link_secret=SECRET
    ) as harness:
        yield harness


async def sign_off_in_teams(bot, db) -> tuple[dict, dict[str, RecordVersion]]:
    """The siblings' discussion up to its review through the engine; signed off by the chair in their
    Teams chat. Returns the people's ids and the records by case reference."""
    drv = await make_driver(db)
    chair = user("chair")
    ids = {k: a.person_id for k, a in drv.actors.items()}
    async with db.session() as s:
        for external in (chair.aad, chair.id):
            s.add(
                PersonIdentity(person_id=ids["chair"], platform="teams", tenant=TENANT, external_id=external)
            )
    bot.connector.installed_for = {chair.id}
    did, kids = await convene_siblings(drv)
    await decide_each(drv, did, kids)
    told = {"tell_parents": "yes", "tell_parents_how": "Social worker visits.", "icpc_on": "2026-12-10"}
    eldest = str(Ref(did, child_id=kids["LL-3001"].id))
    await drv.fill("chair", "plan", eldest, **told, **answers(load_procedure()))
    review = one(await drv.press("chair", "review", did), TargetKind.EPHEMERAL)
    sign = next(a["data"] for a in ac.render(review)["actions"] if a["data"].get("_sd") == "form")
    fields = {"monitoring": "Team manager, weekly.", "notify_others": "By phone today."}
    status, _ = await bot.send(bot.execute(chair, personal_chat(chair), sign, fields))
    assert status == 200
    async with db.read() as s:
        versions = list((await s.execute(select(RecordVersion))).scalars())
    return ids, {ref: next(v for v in versions if v.child_id == kids[ref].id) for ref in REFS}


def links_cards(connector) -> list[dict]:
    chat = personal_chat(user("chair"))
    return [c.card for c in connector.sent("SendToConversation", chat) if TITLE in c.card_text]


def buttons(card: dict) -> list[dict]:
    return [a for item in card["body"] if item["type"] == "ActionSet" for a in item["actions"]]


async def audited(db, action: str) -> list[dict]:
    async with db.read() as s:
        rows = (await s.execute(select(AuditEvent).where(AuditEvent.action == action))).scalars()
        return [r.detail | {"actor": r.actor, "channel": r.channel} for r in rows]


async def get(bot, url: str):
    """Fetch a link as the chair's browser would, from the bot app's own server."""
    resp = await bot.client.get(urlsplit(url).path, allow_redirects=False)
    return resp, await resp.read()


async def test_the_chair_gets_links_that_serve_each_childs_files_once(bot, db):
    ids, records = await sign_off_in_teams(bot, db)
    connector = bot.connector

    # One message in the chair's private chat: per child, the case reference and discussion, and a
    # button per file; nothing in a channel or thread, nothing to anyone else.
    [card] = links_cards(connector)
    texts = [item["text"] for item in card["body"] if item["type"] == "TextBlock"]
    assert texts[0] == TITLE
    assert texts[1:4] == [f"**{ref}**, strategy discussion 1, version 1" for ref in REFS]
    assert "Please do not forward them." in texts[-1]
    links = buttons(card)
    labels = {Format.DOCX: "Word (DOCX)", Format.PDF: "PDF", Format.JSON: "JSON"}
    assert [(b["type"], b["title"]) for b in links] == [
        ("Action.OpenUrl", labels[f]) for _ in REFS for f in FORMATS
    ]
    assert all(b["url"].startswith(f"{PUBLIC}/records/") for b in links)
    reader = bot.services.router.get("teams").links.links
    grants = [reader.read(urlsplit(b["url"]).path.removeprefix("/records/")) for b in links]
    assert [(g.version_id, g.fmt, g.person_id) for g in grants] == [
        (records[ref].id, f, ids["chair"]) for ref in REFS for f in FORMATS
    ]
    lifetime = 72 * 3600  # RECORD_LINK_HOURS
    assert all(abs(g.expires_at - datetime.now(UTC).timestamp() - lifetime) < 120 for g in grants)
    assert not [
        c
        for c in connector.posts()
        if TITLE in c.card_text and c.conversation_id != personal_chat(user("chair"))
    ]

    # Each link serves its file to the chair, named by case reference, discussion and version only.
    names = file_names(REFS)
    for link, name in zip(links, names, strict=True):
        resp, data = await get(bot, link["url"])
        fmt = Format(name.rsplit(".", 1)[1])
        assert resp.status == 200, data[:200]
        assert resp.content_type == fmt.media_type
        assert resp.headers["Content-Disposition"] == f'attachment; filename="{name}"'
        assert resp.headers["Cache-Control"] == "private, no-store"
        check_file(fmt, data, name.removeprefix("strategy-discussion-").split("-d1-")[0])

    # Audited: a link per file sent (record.exported, teams-link), and each file fetched.
    expected = sorted((records[ref].id, f.value) for ref in REFS for f in FORMATS)
    for action in ("record.exported", "record.downloaded"):
        entries = await audited(db, action)
        assert sorted((e["record_version_id"], e["format"]) for e in entries) == expected, action
        assert {(e["destination"], e["actor"], e["channel"]) for e in entries} == {
            ("teams-link", f"person:{ids['chair']}", "teams")
        }

    # Through the outbox, in the chair's own lane; sent again (a crash before the row was marked
    # sent, the lease run out), it sends nothing a second time.
    async with db.read() as s:
        [row] = (await s.execute(select(Outbox).where(Outbox.card_key.like("record_files:%")))).scalars()
    assert (row.recipient_key, row.status, row.surface) == (f"person:{ids['chair']}", "sent", "teams")
    await send_again(bot.services, row)
    assert len(links_cards(connector)) == 1
    assert len(await audited(db, "record.exported")) == len(expected)


async def test_a_forged_expired_or_no_longer_allowed_link_is_refused(bot, db, caplog):
    caplog.set_level(logging.INFO, logger="aiohttp.access")
    ids, records = await sign_off_in_teams(bot, db)
    [card] = links_cards(bot.connector)
    link = buttons(card)[0]["url"]
    token = urlsplit(link).path.removeprefix("/records/")
    links = bot.services.router.get("teams").links
    version, fmt = records[REFS[0]].id, FORMATS[0]
    now = int(datetime.now(UTC).timestamp())

    def url(**change) -> str:
        grant = Grant(version, fmt, ids["chair"], now + 3600)
        return links.url(Grant(**(grant.__dict__ | change)))

    refused = {
        "signature changed": link[:-2] + ("AA" if not link.endswith("AA") else "BB"),
        "another version, same signature": link.replace(
            f"/records/{version}.", f"/records/{version + 1}.", 1
        ),
        "later expiry, same signature": link.replace(f".{token.split('.')[3]}.", f".{now + 10**6}.", 1),
        "garbage": f"{PUBLIC}/records/not-a-token",
        "signed with another key": f"{PUBLIC}/records/"
        + Links(b"k" * 32).issue(Grant(version, fmt, ids["chair"], now + 3600)),
        "someone who may not see it": url(person_id=ids["outsider"]),
        "a version that does not exist": url(version_id=version + 1000),
    }
    for what, bad in refused.items():
        resp, body = await get(bot, bad)
        assert (resp.status, body.decode()) == (
            403,
            "This link is not valid. Ask the chair of the discussion for the record.",
        ), what
    resp, body = await get(bot, url(expires_at=now - 1))
    assert (resp.status, body.decode()) == (
        403,
        "This link has expired. Ask the chair of the discussion for the record.",
    )
    # A participant who took part may use a link issued to them; the chair's own link still works.
    assert (await get(bot, url(person_id=ids["police"])))[0].status == 200
    assert (await get(bot, link))[0].status == 200
    # HEAD (a link checker) neither renders nor audits a download.
    head = await bot.client.head(urlsplit(link).path)
    assert head.status == 405
    downloads = await audited(db, "record.downloaded")
    assert [e["actor"] for e in downloads] == [f"person:{ids['police']}", f"person:{ids['chair']}"]
    # The access log shows that links were used, never the tokens: each is a key to a file.
    logged = [r for r in caplog.records if r.name == "aiohttp.access" and "/records/" in r.getMessage()]
    assert len(logged) == 11 and all(" /records/(hidden) HTTP" in r.getMessage() for r in logged)
    assert not any(token in r.getMessage() or token in str(vars(r)) for r in logged)


async def test_without_a_public_address_the_chair_is_told_and_no_link_is_sent(db, key, login_url, connector):
    async with make_harness(db, key, login_url, connector, record_link_secret=SECRET) as bot:
        await sign_off_in_teams(bot, db)
        assert links_cards(connector) == []
        chat = personal_chat(user("chair"))
        told = [
            c.card_text for c in connector.sent("SendToConversation", chat) if "PUBLIC_URL" in c.card_text
        ]
        assert len(told) == 1 and "signed-off record files" in told[0]
        async with db.read() as s:
            [row] = (await s.execute(select(Outbox).where(Outbox.card_key.like("record_files:%")))).scalars()
        assert row.status == "failed"
        assert await audited(db, "record.exported") == []


def test_the_key_is_shared_by_every_copy_and_a_short_secret_is_refused():
    from bot.config import ConfigError, Settings, load_settings

    grant = Grant(7, Format.PDF, 3, int((datetime.now(UTC) + timedelta(hours=2)).timestamp()))
    token = Links(link_key(Settings(_env_file=None, record_link_secret=SECRET))).issue(grant)
    assert Links(link_key(Settings(_env_file=None, record_link_secret=SECRET))).read(token) == grant
    assert Links(link_key(Settings(_env_file=None, record_link_secret=SECRET[::-1]))).read(token) is None
    # No secret: derived from the app password, so every copy with the same password agrees.
    password = Settings(_env_file=None, microsoft_app_password="app-password")
    token = Links(link_key(password)).issue(grant)
    assert (
        Links(link_key(Settings(_env_file=None, microsoft_app_password="app-password"))).read(token) == grant
    )
    assert grant.expired(datetime.now(UTC) + timedelta(hours=2, seconds=1))
    with pytest.raises(ConfigError, match="RECORD_LINK_SECRET is not valid \\(\\(hidden\\)\\)"):
        load_settings(_env_file=None, record_link_secret="too short")
    with pytest.raises(ConfigError, match="PUBLIC_URL"):
        load_settings(_env_file=None, public_url="http://strategy-bot.example.org")
