"""Many workspaces through OAuth (installation and state in our database), Socket Mode, and settings."""

import asyncio
import json
import re
from urllib.parse import parse_qs, urlparse

import pytest
from sqlalchemy import func, select

from bot import slack as slack_surface
from bot.config import ConfigError, Settings, load_settings
from bot.slack.settings import bot_scopes, check
from dialogs import directory
from dialogs.model import Card, Target, TargetKind
from storage.models import SlackInstallation, SlackOAuthState
from tests.conftest import CONFORMANCE
from tests.slack import signing
from tests.slack.conftest import check_standin, make_harness
from tests.slack.people import seed_people
from tests.slack.standin import APP_TOKEN

SOCKET = CONFORMANCE / "slack" / "socket_mode"


@pytest.fixture
async def oauth(db, standin):
    """Many workspaces: no bot token, an OAuth client instead; on SQLite and PostgreSQL."""
    slack = await make_harness(
        db, standin, slack_bot_token=None, slack_client_id="111.222", slack_client_secret="s3cret"
    )
    yield slack
    await slack.settle()
    await slack.client.close()
    check_standin(standin)


async def _install(slack) -> None:
    page = await slack.client.get("/slack/install")
    assert page.status == 200
    link = re.search(r'href="(https://slack.com/oauth/v2/authorize\?[^"]+)"', await page.text()).group(1)
    query = parse_qs(urlparse(link.replace("&amp;", "&")).query)
    assert query["client_id"] == ["111.222"] and query["scope"] == [",".join(bot_scopes())]
    state = query["state"][0]
    async with slack.services.db.session() as s:
        assert await s.get(SlackOAuthState, state) is not None
    cookie = {"Cookie": f"slack-app-oauth-state={state}"}
    done = await slack.client.get(f"/slack/oauth_redirect?code=c0de&state={state}", headers=cookie)
    assert done.status == 200, await done.text()
    # The state is spent: replaying the redirect fails and installs nothing more.
    again = await slack.client.get(f"/slack/oauth_redirect?code=c0de&state={state}", headers=cookie)
    assert again.status >= 400


async def test_install_through_oauth_then_serve_that_workspace(oauth):
    slack, standin = oauth, oauth.standin
    await _install(slack)
    assert standin.called("oauth.v2.access")[0]["code"] == "c0de"
    async with slack.services.db.session() as s:
        rows = (await s.execute(select(SlackInstallation))).scalars().all()
        assert (await s.execute(select(func.count()).select_from(SlackOAuthState))).scalar_one() == 0
    assert [(r.team_id, r.data["bot_token"]) for r in rows] == [("T0SECOND", "xoxb-installed-1")]

    # A command from that workspace is authorised with the stored token and answered.
    cast = await seed_people(slack.services.db, slack.services.procedure, standin)
    body = signing.form_body(
        {
            "command": "/strategy",
            "text": "help",
            "team_id": "T0SECOND",
            "user_id": "U0DUTY",
            "channel_id": "C0X",
            "trigger_id": "1.2.3",
            "response_url": standin.response_url(),
        }
    )
    assert (await slack.post(body, signing.FORM)).status == 200
    assert "convene" in json.dumps(standin.webhooks[-1])

    # Deliveries later (the scheduler) use that workspace's token too.
    async with slack.services.db.session() as s:
        await directory.link_identity(s, cast.ids["team"], "slack", "U0TEAMB", "T0SECOND")
    standin.add_user("U0TEAMB", name="Tam Team", email=None, team="T0SECOND")
    card = Card(
        target=Target(TargetKind.DIRECT, person_id=cast.ids["team"]), title="Reminder", preview="ABC-1"
    )
    await slack.app.surface.deliver(card)
    assert [c.token for c in standin.calls if c.method == "chat.postMessage"] == ["xoxb-installed-1"]


async def test_a_workspace_that_never_installed_gets_nothing(oauth):
    body = signing.form_body(
        {
            "command": "/strategy",
            "text": "help",
            "team_id": "T0NEVER",
            "user_id": "U1",
            "channel_id": "C0X",
            "trigger_id": "1.2.3",
            "response_url": oauth.standin.response_url(),
        }
    )
    sent = await oauth.post(body, signing.FORM)
    assert sent.status == 200
    [told] = oauth.standin.webhooks  # politely, through the command's response_url
    assert "not installed in this workspace" in told["text"]
    assert oauth.standin.methods() == []


async def _acked(standin, envelope_id: str) -> dict:
    """Wait for the bot's acknowledgement of one envelope (bounded, so a failure cannot hang)."""

    async def wait():
        while True:
            found = [a for a in standin.socket_acks if a.get("envelope_id") == envelope_id]
            if found:
                return found[0]
            standin.socket_acked.clear()
            await standin.socket_acked.wait()

    return await asyncio.wait_for(wait(), timeout=20)


async def test_socket_mode_receives_and_acknowledges_slacks_frames(sqlite_db, standin):
    slack = await make_harness(sqlite_db, standin, slack_app_token=APP_TOKEN)
    try:
        assert standin.called("apps.connections.open") == [{}]
        assert [c.token for c in standin.calls if c.method == "apps.connections.open"] == [APP_TOKEN]
        await seed_people(slack.services.db, slack.services.procedure, standin)

        big = json.loads((SOCKET / "envelope_interactive_block_actions.json").read_text())  # 70 KB, not ours
        message = json.loads((SOCKET / "envelope_events_api_message.json").read_text())
        command = json.loads((SOCKET / "envelope_slash_commands.json").read_text())
        command["payload"] |= {
            "command": "/strategy",
            "text": "help",
            "user_id": "U0DUTY",
            "response_url": standin.response_url(),
        }
        shortcut = json.loads((SOCKET / "envelope_interactive_shortcut.json").read_text())
        shortcut["envelope_id"] = "shortcut-1"
        shortcut["payload"] |= {
            "callback_id": "strategy_convene",
            "user": {"id": "U0DUTY", "team_id": "T111"},
        }
        for frame in (big, message, command, shortcut):
            await standin.socket_frames.put(json.dumps(frame))

        assert (await _acked(standin, message["envelope_id"])) == {"envelope_id": message["envelope_id"]}
        await _acked(standin, command["envelope_id"])
        await _acked(standin, "shortcut-1")
        await slack.settle()
        assert "convene" in json.dumps(standin.webhooks[-1])  # the help text, through response_url
        [opened] = standin.called("views.open")
        assert (
            opened["view"]["callback_id"] == "d:form"
            and json.loads(opened["view"]["private_metadata"])["f"] == "convene"
        )
        # Another app's action is not ours: left unacknowledged, and it broke nothing.
        assert big["envelope_id"] not in [a.get("envelope_id") for a in standin.socket_acks]
        assert standin.problems == []
    finally:
        await slack.client.close()


def test_slack_is_configured_by_any_credential_and_then_needs_a_complete_set():
    base = {"_env_file": None}
    assert not slack_surface.configured(Settings(**base))
    assert slack_surface.configured(Settings(**base, slack_signing_secret="x"))
    with pytest.raises(ConfigError, match="SLACK_BOT_TOKEN"):
        check(Settings(**base, slack_signing_secret="x"))
    with pytest.raises(ConfigError, match="SLACK_SIGNING_SECRET"):
        check(Settings(**base, slack_bot_token="xoxb-1"))
    with pytest.raises(ConfigError, match="not both"):
        check(
            Settings(
                **base,
                slack_signing_secret="x",
                slack_bot_token="xoxb-1",
                slack_client_id="1",
                slack_client_secret="2",
            )
        )
    with pytest.raises(ConfigError, match="both SLACK_CLIENT_ID and SLACK_CLIENT_SECRET"):
        check(Settings(**base, slack_signing_secret="x", slack_client_id="1"))
    check(Settings(**base, slack_signing_secret="x", slack_bot_token="xoxb-1"))


def test_wrong_slack_settings_are_named_without_echoing_secrets():
    with pytest.raises(ConfigError) as wrong:
        load_settings(
            _env_file=None,
            slack_bot_token="xoxp-a-user-token",
            slack_duty_channel="#duty",
            slack_discussion_mode="dm",
            slack_api_url="slack.com/api",
        )
    message = str(wrong.value)
    assert "SLACK_BOT_TOKEN is not valid ((hidden)): this token should start with xoxb-" in message
    assert "xoxp-a-user-token" not in message
    assert "SLACK_DUTY_CHANNEL" in message and "channel ID" in message
    assert "SLACK_DISCUSSION_MODE" in message and "SLACK_API_URL" in message
    assert Settings(_env_file=None, slack_api_url="http://127.0.0.1:9/api").slack_api_url.endswith("/api/")


def test_check_config_reports_slack_without_secrets(monkeypatch, capsys, tmp_path):
    from bot.cli import main

    monkeypatch.chdir(tmp_path)  # no .env here
    monkeypatch.setenv("SLACK_SIGNING_SECRET", "sign-me")
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-secret-token")
    monkeypatch.setenv("SLACK_DISCUSSION_MODE", "thread")
    assert main(["check-config"]) == 0
    out = capsys.readouterr().out
    assert "slack ok: one workspace, HTTP at /slack/events, each discussion in a thread" in out
    assert "xoxb-secret-token" not in out and "sign-me" not in out
    monkeypatch.delenv("SLACK_BOT_TOKEN")
    assert main(["check-config"]) == 2
    assert "Slack is half configured" in capsys.readouterr().err
