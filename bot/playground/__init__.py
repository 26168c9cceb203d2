"""The local web playground: act as anyone in the directory and run whole discussions in a browser.

Served by `make run` when no Slack or Teams credentials are configured, on loopback only. Pages are
plain server-rendered HTML; what the bot has posted is kept in an in-memory message store (see
store.py), so a restart clears the page history but never the discussions, which are in the database.
"""

from aiohttp import web

from bot.config import Settings

PLAYGROUND = web.AppKey("playground", object)


def configured(settings: Settings) -> bool:
    """Never "configured": the playground runs when no chat platform is (see bot.web.surfaces_for)."""
    return False


def setup(app: web.Application, services) -> None:
    """Add the playground's routes to the app and register its Surface with services.router."""
    from bot.playground.routes import Playground

    playground = Playground(services)
    playground.routes(app)
    services.router.add(playground.surface)
    app[PLAYGROUND] = playground
