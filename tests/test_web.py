"""Health probes over real HTTP against real databases."""

from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import text

from bot.config import Settings
from bot.services import Services
from bot.web import build_app as build_web_app
from storage.db import Database


def build_app(db):
    return build_web_app(Services.create(Settings(), db))


async def _get(app, path):
    async with TestClient(TestServer(app)) as client:
        resp = await client.get(path)
        return resp.status, await resp.json()


async def test_healthz_and_readyz_when_migrated(db):
    assert await _get(build_app(db), "/healthz") == (200, {"status": "ok"})
    status, body = await _get(build_app(db), "/readyz")
    assert status == 200 and body["status"] == "ready"


async def test_readyz_503_when_not_migrated(tmp_path):
    db = Database(f"sqlite:///{tmp_path / 'empty.db'}")
    try:
        status, body = await _get(build_app(db), "/readyz")
        assert status == 503 and body["database"] == "not migrated"
        assert (await _get(build_app(db), "/healthz"))[0] == 200  # alive all the same
    finally:
        await db.dispose()


async def test_readyz_503_when_database_unreachable():
    db = Database("postgresql://postgres@127.0.0.1:1/nowhere")
    try:
        status, body = await _get(build_app(db), "/readyz")
        assert status == 503 and body["database"] == "unreachable"
    finally:
        await db.dispose()


async def test_readyz_503_when_schema_is_behind(sqlite_db):
    async with sqlite_db.engine.begin() as conn:
        await conn.execute(text("UPDATE alembic_version SET version_num = 'old'"))
    status, body = await _get(build_app(sqlite_db), "/readyz")
    assert status == 503 and body["revision"] == "old"
