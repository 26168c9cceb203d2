"""Who may call /api/messages, and who the bot is when it calls Teams: our settings on the SDK's terms.

With MICROSOFT_APP_ID set, every request must carry a Bot Framework / Entra JWT that the SDK's
validator accepts: RS256 signed by a published key, audience = the app id, an accepted issuer (issuer
validation is switched on), not expired (5 minutes of clock skew), and a `serviceurl` claim naming the
activity's serviceUrl. Anything else gets 401 and changes nothing.

Without an app id (TEAMS_LOCAL_DEVELOPMENT) requests are anonymous, as with the Bot Framework
Emulator, and accepted only from this machine.
"""

import asyncio
import ipaddress
import logging

import aiohttp
from aiohttp import web
from microsoft_agents.hosting.core import (
    AgentAuthConfiguration,
    AuthTypes,
    ClaimsIdentity,
    ConnectionManager,
    JwtTokenValidator,
)
from microsoft_agents.hosting.core.authorization.jwt.jwt_token_validator import _JwkClientManager

from bot.config import ConfigError, Settings

log = logging.getLogger(__name__)

SERVICE_URL_CLAIM = "serviceurl"


def auth_configuration(settings: Settings) -> AgentAuthConfiguration:
    """The SDK's connection settings ("SERVICE_CONNECTION") from ours."""
    app_id = settings.microsoft_app_id.strip()
    if not app_id:
        return AgentAuthConfiguration(anonymous_allowed=True)
    if not settings.microsoft_app_tenant_id.strip():
        raise ConfigError(
            "MICROSOFT_APP_TENANT_ID is required with MICROSOFT_APP_ID: the Directory (tenant) ID of the "
            "council's Microsoft Entra tenant, from the app registration's Overview page"
        )
    password = settings.microsoft_app_password.get_secret_value() if settings.microsoft_app_password else ""
    certificate = settings.microsoft_app_certificate_path
    if certificate is not None:
        if not certificate.is_file():
            raise ConfigError(f"MICROSOFT_APP_CERTIFICATE_PATH: no file at {certificate} (a PFX certificate)")
        auth = {"auth_type": AuthTypes.certificate, "cert_pfx_file": str(certificate)}
    elif password:
        auth = {"auth_type": AuthTypes.client_secret, "client_secret": password}
    else:
        raise ConfigError(
            "MICROSOFT_APP_ID is set but neither MICROSOFT_APP_PASSWORD (a client secret) nor "
            "MICROSOFT_APP_CERTIFICATE_PATH (a PFX certificate) is"
        )
    return AgentAuthConfiguration(
        client_id=app_id,
        tenant_id=settings.microsoft_app_tenant_id.strip(),
        anonymous_allowed=False,
        validate_issuer=True,  # off by default in the SDK: a token from an unknown issuer is refused
        **auth,
    )


def connections(config: AgentAuthConfiguration, provider_factory=None) -> ConnectionManager:
    """How the bot gets tokens for its own calls to Teams: MSAL, unless a test gives another provider."""
    if provider_factory is None:
        from microsoft_agents.authentication.msal import MsalAuth

        provider_factory = MsalAuth
    return ConnectionManager(provider_factory, connections_configurations={"SERVICE_CONNECTION": config})


class _KeysFromMetadata(_JwkClientManager):
    """Signing keys from the JWKS named in one OpenID metadata document, instead of the SDK's built-in
    Bot Framework / Entra key URLs (TEAMS_OPENID_METADATA_URL_OVERRIDE: tests, special clouds)."""

    def __init__(self, metadata_url: str) -> None:
        super().__init__()
        self.metadata_url = metadata_url
        self._jwks_uri: str | None = None
        self._lock = asyncio.Lock()

    async def get_signing_key(self, jwks_uri: str, header: dict):
        return await super().get_signing_key(await self.jwks_uri(), header)

    async def jwks_uri(self) -> str:
        async with self._lock:
            if self._jwks_uri is None:
                timeout = aiohttp.ClientTimeout(total=10)
                async with aiohttp.ClientSession(timeout=timeout) as http:
                    async with http.get(self.metadata_url) as response:
                        response.raise_for_status()
                        self._jwks_uri = str((await response.json(content_type=None))["jwks_uri"])
            return self._jwks_uri


def token_validator(settings: Settings, config: AgentAuthConfiguration) -> JwtTokenValidator | None:
    """The SDK's validator for our app id; None in local development (anonymous)."""
    if config.ANONYMOUS_ALLOWED:
        return None
    validator = JwtTokenValidator(config)
    if settings.teams_openid_metadata_url_override:
        validator._jwk_client_manager = _KeysFromMetadata(settings.teams_openid_metadata_url_override)
    return validator


async def authenticate(
    request: web.Request, validator: JwtTokenValidator | None
) -> ClaimsIdentity | web.Response:
    """The caller's claims, or the response that refuses them."""
    if validator is None:
        if not from_this_machine(request):
            log.warning("Teams local development: refused a request from another machine")
            return _refuse(403, "Local development mode accepts requests from this machine only.")
        return ClaimsIdentity()  # anonymous
    scheme, _, token = request.headers.get("Authorization", "").strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token or any(c.isspace() for c in token):
        return _refuse(401, "A Bot Framework bearer token is required.")
    try:
        claims = await validator.validate_token(token)
    except Exception as exc:  # noqa: BLE001 - whatever is wrong with a token, it is refused the same way
        log.warning("Teams: token refused (%s)", type(exc).__name__)
        return _refuse(401, "The token is not valid for this bot.")
    claimed = claims.get_claim_value(SERVICE_URL_CLAIM)
    if claimed:
        try:
            body = await request.json()
        except ValueError:
            return _refuse(400, "The body is not JSON.")
        if not isinstance(body, dict) or _norm(claimed) != _norm(body.get("serviceUrl")):
            log.warning("Teams: token issued for another service URL")
            return _refuse(401, "The token was issued for another service URL.")
    return claims


def _norm(url) -> str:
    return str(url or "").strip().rstrip("/").lower()


def _refuse(status: int, message: str) -> web.Response:
    return web.json_response({"error": message}, status=status)


def from_this_machine(request: web.Request) -> bool:
    """A loopback caller with no proxy in between (a local reverse proxy would make everyone loopback)."""
    if any(h in request.headers for h in ("Forwarded", "X-Forwarded-For", "X-Real-IP")):
        return False
    try:
        return ipaddress.ip_address((request.remote or "").split("%")[0]).is_loopback
    except ValueError:
        return False
