"""The playground surface (being built)."""

from aiohttp import web

from bot.config import Settings


def configured(settings: Settings) -> bool:
    return False


def setup(app: web.Application, services) -> None:
    """Add this surface's routes to the app and register its Surface with services.router."""
