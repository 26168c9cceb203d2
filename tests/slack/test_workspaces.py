"""Which workspaces the bot serves: SLACK_ALLOWED_TEAM_IDS for requests and installs, the workspace
always stored with a Slack id, and no guessing of a workspace (never "the newest installation")."""

import json
import re
import time
from urllib.parse import parse_qs, urlparse

import pytest
from sqlalchemy import func, select

from bot.config import ConfigError, Settings, load_settings
from bot.slack.client import Identity, SlackDeliveryError
from bot.slack.settings import check
from bot.slack.workspaces import NOT_SERVED
from dialogs import directory
from dialogs.model import Card, Target, TargetKind
from storage.models import Discussion, InboundEvent, PersonIdentity, SlackInstallation
from tests.slack import signing
from tests.slack.conftest import check_standin, make_harness
from tests.slack.people import email, seed_people
from tests.slack.standin import BOT_USER, TEAM
from tests.slack.test_modes import _install

ROGUE = "T0ROGUE"  # a workspace that installed the app, or signs up, but is not the council's


async def _oauth(db, standin, **extra):
    return await make_harness(
        db, standin, slack_bot_token=None, slack_client_id="111.222", slack_client_secret="s3cret", **extra
    )


async def _redirect(slack) -> tuple[int, str]:
    """Go through /slack/install and come back from Slack with a code, as a browser would."""
    page = await slack.client.get("/slack/install")
    link = re.search(r'href="(https://slack.com/oauth/v2/authorize\?[^"]+)"', await page.text()).group(1)
    state = parse_qs(urlparse(link.replace("&amp;", "&")).query)["state"][0]
    done = await slack.client.get(
        f"/slack/oauth_redirect?code=c0de&state={state}", headers={"Cookie": f"slack-app-oauth-state={state}"}
    )
    return done.status, await done.text()


async def test_an_install_from_a_workspace_not_allowed_is_rejected_and_given_back(db, standin):
    slack = await _oauth(db, standin, slack_allowed_team_ids=f"{TEAM},E0GRID")
    try:
        standin.install_team = ROGUE
        status, page = await _redirect(slack)
        assert status == 403 and "nothing was installed" in page
        async with db.session() as s:
            assert (await s.execute(select(func.count()).select_from(SlackInstallation))).scalar_one() == 0
        [revoked] = [c for c in standin.calls if c.method == "auth.revoke"]
        assert revoked.token == "xoxb-installed-1"  # the rogue workspace's token, given back at once

        standin.install_team = TEAM  # the council's own workspace installs as before
        status, _ = await _redirect(slack)
        assert status == 200
        async with db.session() as s:
            assert (await s.execute(select(SlackInstallation.team_id))).scalars().all() == [TEAM]
        check_standin(standin)
    finally:
        await slack.client.close()


@pytest.fixture
async def guarded(sqlite_db, standin):
    """One workspace (the council's), with SLACK_ALLOWED_TEAM_IDS set to it."""
    slack = await make_harness(sqlite_db, standin, slack_allowed_team_ids=TEAM)
    await seed_people(sqlite_db, slack.services.procedure, standin)
    standin.add_channel("C0DUTY", name="duty-team", members=[BOT_USER, "U0DUTY"])
    yield slack
    await slack.settle()
    await slack.client.close()
    check_standin(standin)


def _command(slack, team: str) -> str:
    fields = {
        "command": "/strategy",
        "text": "help",
        "team_id": team,
        "user_id": "U0DUTY",
        "channel_id": "C0DUTY",
        "trigger_id": slack.trigger(),
        "response_url": slack.standin.response_url(),
    }
    return signing.form_body(fields)


async def test_requests_from_a_workspace_not_allowed_are_refused_politely(guarded):
    slack, standin = guarded, guarded.standin
    # A slash command: told so, right where they typed it; nothing else happens.
    refused = await slack.post(_command(slack, ROGUE), signing.FORM)
    assert refused.status == 200 and refused.json() == {"response_type": "ephemeral", "text": NOT_SERVED}
    assert standin.methods() == [] and standin.webhooks == []

    # A form submitted from there: the modal says so, and nothing is convened.
    await slack.command("U0DUTY", "convene")
    form = slack.last_view("views.open")
    payload = {
        "type": "view_submission",
        "api_app_id": "A0STRATEGY",
        "user": {"id": "U0DUTY", "team_id": ROGUE},
        "team": {"id": ROGUE},
        "view": {**form, "state": {"values": {}}, "team_id": ROGUE},
    }
    sent = await slack.post(signing.payload_body(payload), signing.FORM)
    assert sent.json()["response_action"] == "update" and NOT_SERVED in json.dumps(sent.json()["view"])
    async with slack.services.db.session() as s:
        assert (await s.execute(select(func.count()).select_from(Discussion))).scalar_one() == 0

    # An event (a reply in a thread): acknowledged and ignored.
    body = {
        "team_id": ROGUE,
        "api_app_id": "A0STRATEGY",
        "type": "event_callback",
        "event_id": "EvRogue1",
        "event_time": int(time.time()),
        "event": {"type": "message", "user": "U0DUTY", "text": "hello", "ts": "2.0", "thread_ts": "1.0"},
        "authorizations": [{"team_id": ROGUE, "user_id": "UBOT", "is_bot": True}],
    }
    text = json.dumps(body)
    sent = await slack.raw(text, signing.signed_headers(text, content_type=signing.JSON))
    await slack.settle()
    assert (sent.status, sent.text) == (200, "")
    async with slack.services.db.session() as s:
        assert (await s.execute(select(func.count()).select_from(InboundEvent))).scalar_one() == 0

    # The council's own workspace is served as before.
    calls = len(standin.calls)
    await slack.post(_command(slack, TEAM), signing.FORM)
    assert "convene" in json.dumps(standin.webhooks[-1]) and len(standin.calls) >= calls


async def test_no_workspace_is_guessed_when_none_is_known(db, standin):
    """Many workspaces, the council's not named: a person known only by email, or by an id without its
    workspace, is not looked for in whichever workspace installed last."""
    slack = await _oauth(db, standin)
    try:
        cast = await seed_people(db, slack.services.procedure, standin)
        for team in ("T0SECOND", "T0NEWEST"):
            standin.install_team = team
            await _install(slack)
        async with db.session() as s:  # an id from a CSV import: stored without a workspace
            await directory.link_identity(s, cast.ids["team"], "slack", "U0TEAMX", "")
        surface = slack.app.surface
        for slug in ("health", "team"):  # known by email only / by an id without its workspace
            card = Card(target=Target(TargetKind.DIRECT, person_id=cast.ids[slug]), title="Hi", preview="X")
            assert await surface.can_reach(card) is False
            with pytest.raises(SlackDeliveryError) as raised:
                await surface.deliver(card)
            assert raised.value.code == "no_team" and "SLACK_TEAM_ID" in raised.value.explanation
        with pytest.raises(SlackDeliveryError, match="no_team"):
            await slack.app.clients.for_team(None)
        sent = {"users.lookupByEmail", "conversations.open", "chat.postMessage"} & set(standin.methods())
        assert sent == set()
    finally:
        await slack.client.close()


async def test_the_named_workspace_is_used_for_team_channels_and_people_known_by_email(db, standin):
    slack = await _oauth(db, standin, slack_team_id="T0SECOND", slack_duty_channel="C0DUTY")
    try:
        cast = await seed_people(db, slack.services.procedure, standin)
        for team in ("T0SECOND", "T0NEWEST"):  # tokens xoxb-installed-1 and -2
            standin.install_team = team
            await _install(slack)
        standin.add_channel("C0DUTY", name="duty", members=[BOT_USER])
        surface = slack.app.surface
        await surface.deliver(
            Card(target=Target(TargetKind.CHANNEL, place="duty"), title="Hand", preview="H")
        )
        await surface.deliver(
            Card(target=Target(TargetKind.DIRECT, person_id=cast.ids["health"]), title="Hi", preview="X")
        )
        used = {c.token for c in standin.calls if c.method in ("chat.postMessage", "users.lookupByEmail")}
        assert used == {"xoxb-installed-1"}
        async with db.session() as s:  # found by email, and remembered with its workspace
            found = (
                await s.execute(select(PersonIdentity).where(PersonIdentity.person_id == cast.ids["health"]))
            ).scalar_one()
        assert (found.external_id, found.tenant) == ("U0HEALTH", "T0SECOND")
    finally:
        await slack.client.close()


async def test_someone_added_from_their_profile_is_linked_with_their_workspace(slack):
    cast = await seed_people(slack.services.db, slack.services.procedure, slack.standin)
    await slack.command("U0HEALTH", "status")  # known by email only: found through users.info
    assert [c["user"] for c in slack.standin.called("users.info")] == ["U0HEALTH"]
    async with slack.services.db.session() as s:
        linked = (
            await s.execute(select(PersonIdentity).where(PersonIdentity.person_id == cast.ids["health"]))
        ).scalar_one()
    assert (linked.external_id, linked.tenant) == ("U0HEALTH", TEAM)
    assert email("health") not in json.dumps(slack.standin.webhooks)

    # Without a workspace, no id is linked (one stored without its workspace would match any).
    client, _me = await slack.app.clients.for_team(None)
    slack.standin.add_user("U0PAEDS2", name="Pia Again", email=email("paeds"))
    assert await slack.app.work.actor(client, "U0PAEDS2", None) is None
    # An organisation-wide install has no workspace of its own: the organisation is the tenant.
    async with slack.services.db.session() as s:
        team = await directory.get_person(s, cast.ids["team"])
    grid = Identity(team_id="", bot_user_id=BOT_USER, enterprise_id="E0GRID")
    slack.standin.add_user("U0TEAMG", name="Tam Team", email=email("team"))
    slack.standin.users.pop("U0TEAM")  # so that the email finds U0TEAMG
    assert await slack.app.surface.lookup(client, grid, team) == "U0TEAMG"
    async with slack.services.db.session() as s:
        tenants = (
            await s.execute(
                select(PersonIdentity.external_id, PersonIdentity.tenant).where(
                    PersonIdentity.external_id.in_(["U0PAEDS2", "U0TEAMG"])
                )
            )
        ).all()
    assert tenants == [("U0TEAMG", "E0GRID")]


def test_workspace_settings_are_checked():
    base = {"_env_file": None, "slack_signing_secret": "x"}
    oauth = base | {"slack_client_id": "1", "slack_client_secret": "2"}
    assert Settings(**base, slack_allowed_team_ids=" T0A, E0B ,").slack_allowed_team_ids == "T0A,E0B"
    with pytest.raises(ConfigError, match="SLACK_ALLOWED_TEAM_IDS"):
        load_settings(**base, slack_allowed_team_ids="council.slack.com")
    with pytest.raises(ConfigError, match="SLACK_TEAM_ID"):
        load_settings(**base, slack_team_id="T0A,T0B")
    with pytest.raises(ConfigError, match="need SLACK_TEAM_ID"):
        check(Settings(**oauth, slack_duty_channel="C0DUTY"))
    with pytest.raises(ConfigError, match="SLACK_TEAM_ID must be one of SLACK_ALLOWED_TEAM_IDS"):
        check(
            Settings(**oauth, slack_duty_channel="C0DUTY", slack_team_id="T0A", slack_allowed_team_ids="T0B")
        )
    check(Settings(**oauth, slack_duty_channel="C0DUTY", slack_team_id="T0A", slack_allowed_team_ids="T0A"))
