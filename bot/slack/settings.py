"""How the Slack app is set up: its request paths, command and shortcuts, the Web API methods and events
it uses with the scopes each needs (the manifests must match: tests/slack/test_manifest.py), and the
checks of its settings."""

import logging

from bot.config import ConfigError, Settings
from bot.slack.workspaces import allowed_teams

EVENTS_PATH = "/slack/events"
INSTALL_PATH = "/slack/install"
REDIRECT_PATH = "/slack/oauth_redirect"
COMMAND = "/strategy"
CONVENE_SHORTCUT = "strategy_convene"  # global shortcut: "Convene a strategy discussion"
MESSAGE_SHORTCUT = (
    "strategy_from_message"  # message shortcut: "Start a strategy discussion from this message"
)

# The Web API methods the code calls and the bot scopes each needs (tests/slack checks that the code
# calls nothing else and that the manifests ask for exactly these scopes).
METHOD_SCOPES: dict[str, tuple[str, ...]] = {
    "auth.revoke": (),  # an installation from a workspace not allowed is given back at once
    "auth.test": (),
    "chat.getPermalink": (),
    "chat.postEphemeral": ("chat:write",),
    "chat.postMessage": ("chat:write",),
    "chat.update": ("chat:write",),
    "conversations.create": ("groups:write",),
    "conversations.invite": ("groups:write",),
    "conversations.members": ("channels:read", "groups:read"),
    "conversations.open": ("im:write",),
    # The signed-off records to the chair's DM (bot.slack.record_files, through files_upload_v2).
    "files.completeUploadExternal": ("files:write",),
    "files.getUploadURLExternal": ("files:write",),
    "pins.add": ("pins:write",),
    "users.info": ("users:read",),
    "users.lookupByEmail": ("users:read.email",),
    "views.open": (),
    "views.publish": (),
    "views.push": (),
    "views.update": (),
}
# slack_sdk helpers the code calls that call several Web API methods themselves.
SDK_HELPERS: dict[str, tuple[str, ...]] = {
    "files.upload_v2": ("files.getUploadURLExternal", "files.completeUploadExternal"),
}
# Bot events the app subscribes to, and the scope each needs.
EVENT_SCOPES: dict[str, str | None] = {
    "message.channels": "channels:history",  # replies in a discussion's thread, public channel
    "message.groups": "groups:history",  # replies in a discussion's thread, private channel
    "app_home_opened": None,
}
FEATURE_SCOPES = ("commands",)
NOT_INSTALLED = (
    "The Strategy discussions app is not installed in this workspace yet. "
    f"Please ask a workspace admin to install it (the bot's {INSTALL_PATH} page)."
)  # the slash command and both shortcuts


def bot_scopes() -> list[str]:
    scopes = {s for needed in METHOD_SCOPES.values() for s in needed}
    scopes |= {s for s in EVENT_SCOPES.values() if s}
    return sorted(scopes | set(FEATURE_SCOPES))


def secret(value) -> str | None:
    return value.get_secret_value() if value is not None and value.get_secret_value() else None


def check(settings: Settings) -> None:
    """Raise ConfigError naming what is missing or contradictory."""
    problems = []
    if not secret(settings.slack_signing_secret):
        problems.append(
            "SLACK_SIGNING_SECRET is required (Basic Information > App Credentials > Signing Secret)"
        )
    token, oauth = (
        secret(settings.slack_bot_token),
        bool(settings.slack_client_id or settings.slack_client_secret),
    )
    if oauth and not (settings.slack_client_id and secret(settings.slack_client_secret)):
        problems.append("for many workspaces set both SLACK_CLIENT_ID and SLACK_CLIENT_SECRET")
    if token and oauth:
        problems.append("set SLACK_BOT_TOKEN (one workspace) or SLACK_CLIENT_ID/SECRET (many), not both")
    if not token and not oauth:
        problems.append(
            "set SLACK_BOT_TOKEN (one workspace) or SLACK_CLIENT_ID and SLACK_CLIENT_SECRET (many)"
        )
    team_channels = settings.slack_duty_channel or settings.slack_out_of_hours_channel
    if oauth and team_channels and not settings.slack_team_id:  # the bot never guesses a workspace
        problems.append(
            "with many workspaces, SLACK_DUTY_CHANNEL and SLACK_OUT_OF_HOURS_CHANNEL need SLACK_TEAM_ID "
            "(the id of the workspace those channels are in)"
        )
    allowed = allowed_teams(settings)
    if settings.slack_team_id and allowed and settings.slack_team_id not in allowed:
        problems.append("SLACK_TEAM_ID must be one of SLACK_ALLOWED_TEAM_IDS")
    if problems:
        raise ConfigError("Slack is half configured: " + "; ".join(problems))


def quiet_sdk_logs() -> None:
    """slack_sdk and Bolt log whole request and response bodies at DEBUG, and those carry case
    details: keep their loggers at INFO or above whatever LOG_LEVEL says."""
    for name in ("slack_sdk", "slack_bolt"):
        logger = logging.getLogger(name)
        if logger.level < logging.INFO:  # NOTSET too: it would follow a DEBUG root logger
            logger.setLevel(logging.INFO)


def describe(settings: Settings) -> str:
    """One line for `check-config`: how Slack is connected (never a secret)."""
    check(settings)
    workspaces = (
        "many workspaces through OAuth (/slack/install)" if settings.slack_client_id else "one workspace"
    )
    transport = "Socket Mode" if secret(settings.slack_app_token) else f"HTTP at {EVENTS_PATH}"
    where = "a private channel" if settings.slack_discussion_mode == "private_channel" else "a thread"
    return f"{workspaces}, {transport}, each discussion in {where}, Web API {settings.slack_api_url}"
