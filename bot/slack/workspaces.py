"""Which Slack workspaces the bot serves (SLACK_ALLOWED_TEAM_IDS), enforced where requests and
installations come in: a request from any other workspace or organisation is refused before Bolt
looks for its installation, and an installation from one is not kept (its token is revoked at once).
"""

import json
import logging

from slack_bolt.error import BoltError
from slack_bolt.oauth.async_callback_options import AsyncCallbackOptions, AsyncFailureArgs, AsyncSuccessArgs
from slack_bolt.oauth.async_oauth_flow import AsyncOAuthFlow
from slack_bolt.response import BoltResponse
from slack_sdk.oauth.installation_store.models.installation import Installation
from slack_sdk.web.async_client import AsyncWebClient

from bot.config import Settings
from bot.slack.modals import info_view

log = logging.getLogger(__name__)

NOT_SERVED = (
    "Sorry, the Strategy discussions app serves only the council's own Slack workspaces, so it cannot "
    "be used here. Please ask your administrator if you think this is wrong."
)
INSTALL_REFUSED = (
    "<html><head><title>Not installed</title></head><body><h1>Not installed</h1><p>This Strategy "
    "discussions app serves only the council's own Slack workspaces, and this workspace is not one of "
    "them, so nothing was installed. If it should be, ask the bot's administrator to add its id to "
    "SLACK_ALLOWED_TEAM_IDS.</p></body></html>"
)


def allowed_teams(settings: Settings) -> frozenset[str]:
    """SLACK_ALLOWED_TEAM_IDS as a set; empty means every workspace may use the app."""
    return frozenset(t for t in (settings.slack_allowed_team_ids or "").split(",") if t)


def team_allowed(settings: Settings, team_id: str | None, enterprise_id: str | None = None) -> bool:
    """Whether a workspace, or any workspace of an Enterprise Grid organisation, may use the app."""
    allowed = allowed_teams(settings)
    return not allowed or bool({team_id, enterprise_id} & allowed)


def only_allowed_teams(settings: Settings):
    """A Bolt `before_authorize` middleware: requests from other teams are answered politely where
    Slack shows the answer (a slash command, a modal) and otherwise acknowledged and ignored."""

    async def middleware(body: dict, context, next) -> BoltResponse | None:
        team, org = context.team_id, context.enterprise_id
        if team_allowed(settings, team, org) or (
            not team and not org and body.get("type") == "url_verification"
        ):
            await next()
            return None
        log.warning(
            "slack: ignored a request from workspace %s, which is not in SLACK_ALLOWED_TEAM_IDS", team or org
        )
        if body.get("command"):
            answer = {"response_type": "ephemeral", "text": NOT_SERVED}
        elif body.get("type") == "view_submission":
            answer = {"response_action": "update", "view": info_view("Strategy discussion", text=NOT_SERVED)}
        else:
            return BoltResponse(status=200, body="")
        return BoltResponse(status=200, body=json.dumps(answer), headers={"Content-Type": "application/json"})

    return middleware


class WorkspaceNotAllowed(BoltError):
    """An installation from a workspace that is not in SLACK_ALLOWED_TEAM_IDS."""


class AllowedTeamsOAuthFlow(AsyncOAuthFlow):
    """Bolt's OAuth flow, keeping only installations from the allowed workspaces."""

    def __init__(self, app_settings: Settings, **kwargs) -> None:
        super().__init__(**kwargs)
        self.app_settings = app_settings

    async def store_installation(self, request, installation: Installation) -> None:
        if not team_allowed(self.app_settings, installation.team_id, installation.enterprise_id):
            team = installation.team_id or installation.enterprise_id
            log.warning(
                "slack: refused an installation in workspace %s (not in SLACK_ALLOWED_TEAM_IDS)", team
            )
            await self._revoke(installation.bot_token)
            raise WorkspaceNotAllowed(f"workspace {team} is not allowed")
        await super().store_installation(request, installation)

    async def _revoke(self, token: str | None) -> None:
        """Give the token back at once, which also removes the app from that workspace."""
        if not token:
            return
        client = AsyncWebClient(token=token, base_url=self.app_settings.slack_api_url, timeout=15)
        try:
            await client.auth_revoke()
        except Exception as exc:  # nothing is stored either way; the token is useless to us
            log.warning("slack: could not revoke a refused installation's token (%s)", type(exc).__name__)

    @staticmethod
    def callbacks() -> AsyncCallbackOptions:
        async def success(args: AsyncSuccessArgs) -> BoltResponse:
            return await args.default.success(args)

        async def failure(args: AsyncFailureArgs) -> BoltResponse:
            if isinstance(args.error, WorkspaceNotAllowed):
                return BoltResponse(
                    status=403, body=INSTALL_REFUSED, headers={"Content-Type": "text/html; charset=utf-8"}
                )
            return await args.default.failure(args)

        return AsyncCallbackOptions(success=success, failure=failure)
