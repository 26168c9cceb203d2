"""Who may call /api/messages: a valid Bot Framework JWT, or (local development) loopback only."""

import time

import jwt
import pytest
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import func, select

from bot import teams
from bot.config import ConfigError, Settings
from bot.teams.auth import auth_configuration
from bot.web import build_app
from storage.models import ConversationRef
from tests.engine_helpers import TUESDAY_10AM, Clock
from tests.teams.conftest import (
    APP_ID,
    TEAM,
    add_people,
    make_harness,
    personal_chat,
    services_for,
    teams_settings,
    user,
)
from tests.teams.identity import SigningKey


async def refs_stored(db) -> int:
    async with db.session() as s:
        return (await s.execute(select(func.count()).select_from(ConversationRef))).scalar()


async def test_a_valid_token_is_accepted_and_the_bot_answers_through_the_connector(teams_bot, db):
    status, _ = await teams_bot.send(teams_bot.install())
    assert status == 202
    welcome = teams_bot.connector.sent("SendToConversation", TEAM)
    assert len(welcome) == 1 and "convene" in welcome[0].body["text"]
    assert welcome[0].authorization.startswith("Bearer ")  # checked by the stand-in against the test key
    assert await refs_stored(db) == 1  # the team's channel, for later proactive messages


def _now() -> int:
    return int(time.time())


@pytest.mark.parametrize(
    "why, claims, logged",
    [
        ("wrong audience", {"aud": "another-bot"}, "JWT audience not accepted"),
        ("wrong issuer", {"iss": "https://login.example.net/not-microsoft"}, "JWT issuer not accepted"),
        ("expired beyond the 5 minutes of clock skew", {"exp": _now() - 600}, "ExpiredSignatureError"),
        ("not yet valid", {"nbf": _now() + 3600}, "ImmatureSignatureError"),
        (
            "issued for another service URL",
            {"serviceurl": "https://smba.example.net/x/"},
            "another service URL",
        ),
    ],
)
async def test_a_bad_token_gets_401_and_changes_nothing(teams_bot, db, caplog, why, claims, logged):
    status, body = await teams_bot.send(teams_bot.install(), token=f"Bearer {teams_bot.token(**claims)}")
    assert status == 401, why
    assert "error" in body
    assert logged in caplog.text  # refused for that reason, not another
    assert teams_bot.connector.calls == [] and await refs_stored(db) == 0


async def test_unsigned_foreign_and_missing_tokens_get_401(teams_bot, db):
    claims = {
        "iss": "https://api.botframework.com",
        "aud": APP_ID,
        "exp": _now() + 600,
        "serviceurl": teams_bot.service_url,
    }
    unsigned = jwt.encode(claims, None, algorithm="none", headers={"kid": teams_bot.key.kid})
    stranger = SigningKey()
    forged_same_kid = stranger.token(claims, kid=teams_bot.key.kid)
    unknown_kid = stranger.token(claims)
    for header in (
        f"Bearer {unsigned}",
        f"Bearer {forged_same_kid}",
        f"Bearer {unknown_kid}",
        None,
        "Basic abc",
        "Bearer ",
        "Bearer a b",
    ):
        status, _ = await teams_bot.send(teams_bot.install(), token=header)
        assert status == 401, header
    assert teams_bot.connector.calls == [] and await refs_stored(db) == 0


async def test_without_an_app_id_only_this_machine_may_call(sqlite_db, key, login_url, connector):
    connector.verify_token = None  # local development: the Emulator sends and expects no tokens
    async with make_harness(
        sqlite_db, key, login_url, connector, microsoft_app_id="", teams_local_development=True
    ) as bot:
        status, _ = await bot.send(bot.install(), token=None)
        assert status == 202
        assert len(connector.sent("SendToConversation", TEAM)) == 1
        assert connector.calls[0].authorization == ""
        status, body = await bot.send(bot.install(), token=None, headers={"X-Forwarded-For": "203.0.113.9"})
        assert status == 403 and "this machine" in body["error"]
        assert len(connector.sent("SendToConversation", TEAM)) == 1
        # An answer sent after the request (in a turn of the bot's own) goes out anonymously too.
        await add_people(sqlite_db, ("chair",))
        status, _ = await bot.send(bot.message(user("chair"), "help", personal=True), token=None)
        assert status == 202
        answer = connector.sent("SendToConversation", personal_chat(user("chair")))
        assert len(answer) == 1 and "convene" in answer[0].card_text and answer[0].authorization == ""


async def test_the_app_serves_api_messages_only_when_teams_is_configured(sqlite_db, login_url):
    clock = Clock(TUESDAY_10AM)
    configured = services_for(teams_settings(sqlite_db, login_url), sqlite_db, clock)
    async with TestClient(TestServer(build_app(configured))) as client:
        assert (await client.post("/api/messages", json={"type": "message"})).status == 401
    plain = services_for(Settings(_env_file=None, database_url=sqlite_db.url), sqlite_db, clock)
    assert not teams.configured(plain.settings)
    async with TestClient(TestServer(build_app(plain))) as client:
        assert (await client.post("/api/messages", json={})).status in (404, 405)


def test_the_settings_map_onto_the_sdk_configuration(tmp_path):
    base = {"microsoft_app_id": APP_ID, "microsoft_app_tenant_id": "tenant-guid"}
    secret = auth_configuration(Settings(_env_file=None, **base, microsoft_app_password="s3cret"))
    assert (secret.CLIENT_ID, secret.TENANT_ID, secret.CLIENT_SECRET) == (APP_ID, "tenant-guid", "s3cret")
    assert secret.VALIDATE_ISSUER and not secret.ANONYMOUS_ALLOWED
    pfx = tmp_path / "bot.pfx"
    pfx.write_bytes(b"not really a certificate")
    cert = auth_configuration(Settings(_env_file=None, **base, microsoft_app_certificate_path=pfx))
    assert cert.CERT_PFX_FILE == str(pfx) and cert.AUTH_TYPE == "certificate"
    assert auth_configuration(Settings(_env_file=None, teams_local_development=True)).ANONYMOUS_ALLOWED
    with pytest.raises(ConfigError, match="MICROSOFT_APP_PASSWORD"):
        auth_configuration(Settings(_env_file=None, **base))
    with pytest.raises(ConfigError, match="MICROSOFT_APP_TENANT_ID"):
        auth_configuration(Settings(_env_file=None, microsoft_app_id=APP_ID, microsoft_app_password="x"))
