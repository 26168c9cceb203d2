"""Bolt's OAuth installation store and state store, kept in our own database.

The installation is stored as slack_sdk hands it over (`vars(installation)`), plus the columns
needed to find it again; a newer install of the same workspace replaces the older one.
"""

import logging
import secrets
from datetime import timedelta

from slack_sdk.oauth.installation_store.async_installation_store import AsyncInstallationStore
from slack_sdk.oauth.installation_store.models.bot import Bot
from slack_sdk.oauth.installation_store.models.installation import Installation
from slack_sdk.oauth.state_store.async_state_store import AsyncOAuthStateStore
from sqlalchemy import delete, select

from storage.db import Database
from storage.models import SlackInstallation, SlackOAuthState
from storage.types import utcnow

log = logging.getLogger(__name__)

STATE_LIFETIME = timedelta(minutes=10)


def _same(column, value):
    return column.is_(None) if value is None else column == value


class DatabaseInstallationStore(AsyncInstallationStore):
    def __init__(self, db: Database, client_id: str) -> None:
        self.db = db
        self.client_id = client_id

    @property
    def logger(self) -> logging.Logger:
        return log

    async def async_save(self, installation: Installation) -> None:
        async with self.db.session() as s:
            await s.execute(
                delete(SlackInstallation).where(
                    SlackInstallation.client_id == self.client_id,
                    _same(SlackInstallation.enterprise_id, installation.enterprise_id),
                    _same(SlackInstallation.team_id, installation.team_id),
                    _same(SlackInstallation.user_id, installation.user_id),
                )
            )
            s.add(
                SlackInstallation(
                    client_id=self.client_id,
                    enterprise_id=installation.enterprise_id,
                    team_id=installation.team_id,
                    user_id=installation.user_id,
                    is_enterprise_install=bool(installation.is_enterprise_install),
                    data=dict(vars(installation)),
                )
            )

    async def async_save_bot(self, bot: Bot) -> None:  # bots are saved with their installation
        return None

    async def _find(self, enterprise_id, team_id, user_id, is_enterprise_install) -> SlackInstallation | None:
        query = select(SlackInstallation).where(SlackInstallation.client_id == self.client_id)
        if is_enterprise_install or (enterprise_id and not team_id):
            query = query.where(
                SlackInstallation.enterprise_id == enterprise_id, SlackInstallation.is_enterprise_install
            )
        else:
            if enterprise_id:
                query = query.where(SlackInstallation.enterprise_id == enterprise_id)
            if team_id:
                query = query.where(SlackInstallation.team_id == team_id)
        if user_id:
            query = query.where(SlackInstallation.user_id == user_id)
        query = query.order_by(SlackInstallation.installed_at.desc(), SlackInstallation.id.desc()).limit(1)
        async with self.db.session() as s:
            return (await s.execute(query)).scalars().first()

    async def async_find_installation(
        self, *, enterprise_id, team_id, user_id=None, is_enterprise_install=False
    ) -> Installation | None:
        row = await self._find(enterprise_id, team_id, user_id, is_enterprise_install)
        return Installation(**row.data) if row is not None else None

    async def async_find_bot(self, *, enterprise_id, team_id, is_enterprise_install=False) -> Bot | None:
        row = await self._find(enterprise_id, team_id, None, is_enterprise_install)
        if row is None or not row.data.get("bot_token"):
            return None
        return Installation(**row.data).to_bot()

    async def async_delete_bot(self, *, enterprise_id, team_id) -> None:
        await self.async_delete_all(enterprise_id=enterprise_id, team_id=team_id)

    async def async_delete_installation(self, *, enterprise_id, team_id, user_id=None) -> None:
        async with self.db.session() as s:
            query = delete(SlackInstallation).where(
                SlackInstallation.client_id == self.client_id,
                _same(SlackInstallation.enterprise_id, enterprise_id),
                _same(SlackInstallation.team_id, team_id),
            )
            if user_id:
                query = query.where(SlackInstallation.user_id == user_id)
            await s.execute(query)

    async def async_delete_all(self, *, enterprise_id, team_id) -> None:
        await self.async_delete_installation(enterprise_id=enterprise_id, team_id=team_id)


class DatabaseStateStore(AsyncOAuthStateStore):
    """A state is issued when someone starts installing and consumed once when Slack sends them back."""

    def __init__(self, db: Database, lifetime: timedelta = STATE_LIFETIME) -> None:
        self.db = db
        self.lifetime = lifetime

    @property
    def logger(self) -> logging.Logger:
        return log

    async def async_issue(self, *args, **kwargs) -> str:
        state = secrets.token_urlsafe(32)
        async with self.db.session() as s:
            await s.execute(delete(SlackOAuthState).where(SlackOAuthState.expires_at < utcnow()))
            s.add(SlackOAuthState(state=state, expires_at=utcnow() + self.lifetime))
        return state

    async def async_consume(self, state: str) -> bool:
        async with self.db.session() as s:
            row = await s.get(SlackOAuthState, state)
            if row is None:
                return False
            await s.delete(row)
            return row.expires_at >= utcnow()
