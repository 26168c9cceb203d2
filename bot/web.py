"""The aiohttp application: health probes, and the routes of each configured chat surface."""

import logging

from aiohttp import web
from sqlalchemy import text

from bot.services import Services
from storage import migrate

log = logging.getLogger(__name__)

SERVICES = web.AppKey("services", Services)


async def healthz(_request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


async def readyz(request: web.Request) -> web.Response:
    """Ready only when the database answers and carries the newest schema."""
    db = request.app[SERVICES].db
    try:
        async with db.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
        revision = await migrate.current_revision(db)
    except Exception as exc:  # any failure to reach the database means not ready
        log.warning("readiness check: database unreachable (%s)", type(exc).__name__)
        return web.json_response({"status": "unavailable", "database": "unreachable"}, status=503)
    head = migrate.head_revision()
    if revision != head:
        return web.json_response(
            {"status": "unavailable", "database": "not migrated", "revision": revision, "expected": head},
            status=503,
        )
    return web.json_response({"status": "ready", "database": "ok", "revision": revision})


def build_app(services: Services) -> web.Application:
    app = web.Application()
    app[SERVICES] = services
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    for surface in surfaces_for(services.settings):
        surface.setup(app, services)
    from bot.records import folder

    folder.attach(services)  # RECORD_EXPORT_DIR: the export folder takes its own cards from the outbox
    if services.settings.scheduler_enabled:
        from bot import scheduler

        scheduler.setup(app, services)  # reminders: started and stopped with the app
    return app


def surfaces_for(settings) -> list:
    """Slack and Teams when configured; the local playground only when neither is."""
    from bot import playground, slack, teams

    platforms = [m for m in (slack, teams) if m.configured(settings)]
    return platforms or [playground]
