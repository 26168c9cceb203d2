"""A local stand-in for Microsoft's token signing: one RSA key, its OpenID metadata and JWKS served over
HTTP, tokens for Teams' calls into the bot, and tokens for the bot's own calls to the connector."""

import time
import uuid

import jwt
from aiohttp import web
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

BOT_FRAMEWORK_ISSUER = "https://api.botframework.com"
CONNECTOR_AUDIENCE = "https://api.botframework.com"


class SigningKey:
    def __init__(self) -> None:
        self.private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.kid = uuid.uuid4().hex

    def jwk(self) -> dict:
        public = RSAAlgorithm.to_jwk(self.private.public_key(), as_dict=True)
        return public | {"kid": self.kid, "use": "sig", "alg": "RS256", "endorsements": ["msteams"]}

    def token(self, claims: dict, *, kid: str | None = None, algorithm: str = "RS256") -> str:
        headers = {"kid": kid or self.kid}
        key = self.private if algorithm == "RS256" else None
        return jwt.encode(claims, key, algorithm=algorithm, headers=headers)

    def channel_token(self, app_id: str, service_url: str, **override) -> str:
        """What Teams (the Bot Framework channel service) sends with each activity."""
        now = int(time.time())
        claims = {
            "iss": BOT_FRAMEWORK_ISSUER,
            "aud": app_id,
            "serviceurl": service_url,
            "nbf": now - 60,
            "iat": now - 60,
            "exp": now + 3600,
        }
        return self.token({k: v for k, v in (claims | override).items() if v is not None})

    def verify_connector_token(self, token: str) -> bool:
        """Whether a bot's outbound bearer token is one of ours, for the connector."""
        try:
            jwt.decode(token, self.private.public_key(), algorithms=["RS256"], audience=CONNECTOR_AUDIENCE)
        except jwt.PyJWTError:
            return False
        return True


def login_app(key: SigningKey) -> web.Application:
    """The OpenID metadata document and the key set, as login.botframework.com publishes them."""

    async def metadata(request: web.Request) -> web.Response:
        base = f"{request.scheme}://{request.host}"
        return web.json_response(
            {
                "issuer": BOT_FRAMEWORK_ISSUER,
                "authorization_endpoint": f"{base}/v1/.well-known/authorize",
                "jwks_uri": f"{base}/v1/.well-known/keys",
                "id_token_signing_alg_values_supported": ["RS256"],
                "token_endpoint_auth_methods_supported": ["private_key_jwt"],
            }
        )

    async def keys(_request: web.Request) -> web.Response:
        return web.json_response({"keys": [key.jwk()]})

    app = web.Application()
    app.router.add_get("/v1/.well-known/openidconfiguration", metadata)
    app.router.add_get("/v1/.well-known/keys", keys)
    return app


class LocalTokenProvider:
    """The bot's token source in tests, instead of MSAL: tokens for the connector signed by the key.

    Passed (with functools.partial) as `token_provider_factory` to bot.teams.setup, so it is built
    from the SDK's AgentAuthConfiguration, as MsalAuth is.
    """

    def __init__(self, configuration, key: SigningKey) -> None:
        self._configuration = configuration
        self.key = key
        self.requested: list[str] = []

    @property
    def configuration(self):
        return self._configuration

    async def get_access_token(
        self, resource_url: str, scopes: list[str], force_refresh: bool = False
    ) -> str:
        self.requested.append(resource_url)
        now = int(time.time())
        claims = {
            "iss": "https://login.microsoftonline.com/test/v2.0",
            "aud": CONNECTOR_AUDIENCE,
            "exp": now + 600,
        }
        return self.key.token(claims | {"appid": self._configuration.CLIENT_ID or ""})

    def get_token_credential(self):
        raise NotImplementedError

    async def acquire_token_on_behalf_of(self, scopes, user_assertion):
        raise NotImplementedError
