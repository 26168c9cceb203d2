"""Slack users and the directory: someone's Slack id in their workspace, found by email (and then
remembered in the directory) for people known to the bot only by their address."""

import logging

from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy import select

from bot.slack.client import Clients, Identity, SlackDeliveryError, call
from bot.slack.stored import PLATFORM
from dialogs import directory
from storage.db import Database
from storage.models import Person, PersonIdentity

log = logging.getLogger(__name__)


class People:
    def __init__(self, db: Database, clients: Clients) -> None:
        self.db = db
        self.clients = clients

    async def lookup(self, client: AsyncWebClient, me: Identity, person: Person) -> str | None:
        """Find someone's Slack id by email (users.lookupByEmail) and remember it in the directory."""
        if not person.email:
            return None
        try:
            found = await call(client, "users.lookupByEmail", email=person.email)
        except SlackDeliveryError as exc:
            if exc.code in ("users_not_found", "user_not_found"):
                return None
            raise
        user_id = (found.get("user") or {}).get("id")
        if user_id and me.tenant:  # always with the workspace: an id without one would match any
            async with self.db.session() as s:
                try:
                    await directory.link_identity(
                        s, person.id, PLATFORM, user_id, me.tenant, actor="system", channel=PLATFORM
                    )
                except directory.DirectoryError:
                    log.warning("slack: a Slack id found by email already belongs to another person")
                    return None
        return user_id

    async def slack_user(self, person_id: int) -> tuple[AsyncWebClient, Identity, str] | None:
        """The client for a person's workspace and their Slack id, looked up by email if need be."""
        async with self.db.session() as s:
            person = await s.get(Person, person_id)
            ident = (
                (
                    await s.execute(
                        select(PersonIdentity)
                        .where(PersonIdentity.person_id == person_id, PersonIdentity.platform == PLATFORM)
                        .order_by(PersonIdentity.id.desc())
                    )
                )
                .scalars()
                .first()
            )
        if person is None:
            return None
        # Someone known only by email, or by an id stored without its workspace: the council's own.
        if ident is not None and ident.tenant:
            client, me = await self.clients.for_team(ident.tenant)
        else:
            client, me = await self.clients.home()
        if ident is not None:
            return client, me, ident.external_id
        user = await self.lookup(client, me, person)
        return (client, me, user) if user else None

    async def reachable(self, person_id: int) -> bool:
        try:
            return await self.slack_user(person_id) is not None
        except SlackDeliveryError:
            return False
