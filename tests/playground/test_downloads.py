"""Downloading signed-off records from the playground: offered on the discussion's page to those who
may see it, refused (403) to anyone else, named by case reference, and every download audited."""

import json
import re

import aiohttp
import pytest
from sqlalchemy import select

from bot.records.formats import Format
from storage.models import AuditEvent, Child, PersonIdentity
from tests.records import TYPED, three_siblings

FORMATS = tuple(Format)


@pytest.fixture
async def walked(sqlite_db) -> tuple[int, dict[str, int]]:
    """The sibling walk of tests/records.py, before the playground starts (so the playground adds no
    cast of its own), its chair, police officer and an outsider given playground identities; the
    discussion and the children's ids by reference."""
    walk = await three_siblings(sqlite_db)
    async with sqlite_db.session() as s:
        for key in ("chair", "police", "outsider"):
            person_id = walk.drv.actors[key].person_id
            s.add(PersonIdentity(person_id=person_id, platform="playground", external_id=f"walk-{key}"))
        kids = (await s.execute(select(Child).where(Child.discussion_id == walk.discussion_id))).scalars()
        return walk.discussion_id, {c.case_ref: c.id for c in kids}


async def downloads(db) -> list[AuditEvent]:
    async with db.read() as s:
        query = select(AuditEvent).where(AuditEvent.action == "record.exported").order_by(AuditEvent.id)
        return list((await s.execute(query)).scalars())


async def test_the_chair_and_participants_download_each_childs_record(walked, playground, sqlite_db):
    pg, (did, kids) = playground, walked
    police = await pg.as_("walk-police")
    page = await police.get(f"/discussions/{did}")
    links = {a.attrs["href"] for a in page.section("records").all("a")}
    assert links == {f"/discussions/{did}/records/{kids[r]}/{f.value}" for r in kids for f in Format}
    assert "LL-3001 version 2" in page.section("records").words  # the amended record's current version

    for fmt in FORMATS:
        href = f"/discussions/{did}/records/{kids['LL-3001']}/{fmt.value}"
        async with police.http.get(police.server.make_url(href)) as resp:
            assert resp.status == 200
            body = await resp.read()
            assert resp.headers["Content-Type"].startswith(fmt.media_type)
            assert resp.headers["Content-Disposition"] == (
                f'attachment; filename="strategy-discussion-LL-3001-d1-v2.{fmt.value}"'
            )
            assert resp.headers["Cache-Control"] == "no-store"
        assert body.startswith({Format.DOCX: b"PK", Format.PDF: b"%PDF", Format.JSON: b"{"}[fmt])
        if fmt == Format.JSON:
            data = json.loads(body)
            assert data["case_ref"] == "LL-3001" and data["version"] == 2
            assert TYPED in [c["text"] for c in data["contributions"]]
    chair = await pg.as_("walk-chair")
    async with chair.http.get(
        chair.server.make_url(f"/discussions/{did}/records/{kids['LL-3003']}/json")
    ) as r:
        assert r.status == 200 and json.loads(await r.read())["case_ref"] == "LL-3003"

    entries = await downloads(sqlite_db)
    police_id, chair_id = (int(re.sub(r"\D", "", e.actor)) for e in (entries[0], entries[-1]))
    assert [(e.actor, e.channel, e.discussion_id) for e in entries] == [
        *[(f"person:{police_id}", "playground", did)] * len(FORMATS),
        (f"person:{chair_id}", "playground", did),
    ]
    assert [(e.detail["format"], e.detail["version"], e.detail["destination"]) for e in entries] == [
        *[(f.value, 2, "download") for f in FORMATS],
        ("json", 1, "download"),
    ]


async def test_someone_not_taking_part_sees_no_links_and_is_refused(walked, playground, sqlite_db):
    pg, (did, kids) = playground, walked
    outsider = await pg.as_("walk-outsider")
    page = await outsider.get(f"/discussions/{did}")
    assert page.root.all("section", id="records") == []
    for fmt in FORMATS:
        href = f"/discussions/{did}/records/{kids['LL-3001']}/{fmt.value}"
        async with outsider.http.get(outsider.server.make_url(href)) as resp:
            assert resp.status == 403
            assert "Content-Disposition" not in resp.headers
    # Nobody chosen yet (no identity cookie): refused too; an unknown child or discussion: not found.
    async with aiohttp.ClientSession() as anonymous:
        href = f"/discussions/{did}/records/{kids['LL-3001']}/json"
        async with anonymous.get(pg.server.make_url(href)) as resp:
            assert resp.status == 403
    police = await pg.as_("walk-police")
    async with police.http.get(police.server.make_url(f"/discussions/{did}/records/999999/json")) as resp:
        assert resp.status == 404
    async with police.http.get(police.server.make_url("/discussions/999999/records/1/json")) as resp:
        assert resp.status == 404
    assert await downloads(sqlite_db) == []
