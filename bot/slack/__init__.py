"""The Slack surface, on slack-bolt (async): see bot/slack/app.py for the wiring and README "Slack"."""

from aiohttp import web

from bot.config import Settings

SLACK = web.AppKey("slack", object)  # the running SlackApp, for tests and shutdown


def configured(settings: Settings) -> bool:
    """On as soon as any Slack credential is set; setup() then insists on a complete set."""
    return any(
        (
            settings.slack_signing_secret and settings.slack_signing_secret.get_secret_value(),
            settings.slack_bot_token and settings.slack_bot_token.get_secret_value(),
            settings.slack_app_token and settings.slack_app_token.get_secret_value(),
            settings.slack_client_id,
        )
    )


def setup(app: web.Application, services) -> None:
    """Add POST /slack/events (and the OAuth routes) to the app and register the Slack Surface."""
    from bot.slack.app import SlackApp

    slack = SlackApp(services)
    slack.routes(app)
    services.router.add(slack.surface)
    app[SLACK] = slack
