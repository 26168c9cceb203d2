"""Microsoft Teams on the Microsoft 365 Agents SDK: `POST /api/messages` and the Teams Surface.

Built on the Agents SDK (microsoft-agents-hosting-aiohttp, -hosting-core, -authentication-msal,
-activity), the maintained successor of the Bot Framework SDK, which Microsoft archived and stopped
supporting on 31 December 2025. Every SDK import stays inside this package.
"""

import asyncio
import logging
import warnings

from aiohttp import web

from bot.config import Settings

log = logging.getLogger(__name__)

ROUTE = "/api/messages"
SHUTDOWN_GRACE = 30  # seconds to let cards already promised to Teams go out when the app stops


def configured(settings: Settings) -> bool:
    return bool(settings.microsoft_app_id.strip()) or settings.teams_local_development


def setup(app: web.Application, services, *, token_provider_factory=None) -> None:
    """Add POST /api/messages (and GET /records/<token> and /reports/<token>, the record and figures
    links) to the app and register the Teams Surface with services.router.

    `token_provider_factory` replaces MSAL for the bot's own tokens (tests use a local key).
    """
    from microsoft_agents.hosting.aiohttp import CloudAdapter
    from microsoft_agents.hosting.core import OutboundHostValidator

    from bot.teams import auth
    from bot.teams.agent import TeamsAgent
    from bot.teams.record_links import RecordLinks
    from bot.teams.report_links import ReportLinks
    from bot.teams.surface import TeamsSurface

    settings = services.settings
    if settings.microsoft_app_password is not None:
        from bot.teams.cards import use_shared_key

        use_shared_key(settings.microsoft_app_password.get_secret_value())
    config = auth.auth_configuration(settings)
    anonymous = bool(config.ANONYMOUS_ALLOWED)
    # Teams itself calls from Microsoft's service hosts only; a local stand-in (tests) does not.
    check_hosts = not anonymous and not settings.teams_openid_metadata_url_override
    adapter = CloudAdapter(
        connection_manager=auth.connections(config, token_provider_factory),
        host_validator=OutboundHostValidator(enabled=True) if check_hosts else None,
    )
    adapter.on_turn_error = _turn_error
    links = RecordLinks(services)  # the signed-off records' files, as links the bot serves
    reports = ReportLinks(services)  # the figures files managers ask for, likewise
    surface = TeamsSurface(
        services, adapter, app_id=config.CLIENT_ID or "", anonymous=anonymous, links=links, reports=reports
    )
    agent = TeamsAgent(surface)
    validator = auth.token_validator(settings, config)

    async def messages(request: web.Request) -> web.StreamResponse:
        claims = await auth.authenticate(request, validator)
        if isinstance(claims, web.Response):
            return claims
        with warnings.catch_warnings():  # the SDK reads the claims under this plain string key
            warnings.simplefilter("ignore", web.NotAppKeyWarning)
            request["claims_identity"] = claims
        try:
            return await adapter.process(request, agent)
        except Exception as exc:  # noqa: BLE001 - the message could hold case details: log its type only
            log.error("Teams: a turn failed (%s); Teams will send it again", type(exc).__name__)
            return web.json_response({"error": "The bot could not handle this activity."}, status=500)

    async def finish_sending(_app: web.Application) -> None:
        try:  # a turn already committed and answered: let its cards go out, without hanging the stop
            await asyncio.wait_for(surface.tasks.drain(), SHUTDOWN_GRACE)
        except TimeoutError:
            log.warning("Teams: %d turn(s) still sending at shutdown", len(surface.tasks.running))

    app.router.add_post(ROUTE, messages)
    links.setup(app)  # GET /records/<token>
    reports.setup(app)  # GET /reports/<token>
    app.on_cleanup.append(finish_sending)
    services.router.add(surface)


async def _turn_error(_context, error: Exception) -> None:
    # The SDK's default sends the exception text into the conversation; ours must never show details.
    raise error
