"""Teams users and the directory: who someone is, and how to reach them.

A Teams user has a tenant-wide Entra object id (aadObjectId: what administrators know and import)
and a per-app user id (29:...: what the Bot Connector needs to open a chat or mention them). Both
are kept in the directory as "teams" identities once the bot has seen them.
"""

import logging

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from dialogs import directory
from dialogs.model import Actor
from dialogs.procedure import Procedure
from storage.models import Person, PersonIdentity

log = logging.getLogger(__name__)

PLATFORM = "teams"


async def resolve(session: AsyncSession, *, user_id: str, aad_object_id: str, tenant: str) -> Actor | None:
    """The directory person behind a Teams user, linking their 29: id when found by object id."""
    actor = None
    if aad_object_id:
        actor = await directory.resolve(session, PLATFORM, aad_object_id, tenant)
    if actor is None and user_id:
        return await directory.resolve(session, PLATFORM, user_id, tenant)
    if actor is not None and user_id and await directory.resolve(session, PLATFORM, user_id, tenant) is None:
        await _link(session, actor.person_id, user_id, tenant)
    return actor


async def resolve_or_register(
    session: AsyncSession,
    procedure: Procedure,
    *,
    user_id: str,
    aad_object_id: str,
    tenant: str,
    email: str | None,
    name: str,
    domain_rules: str,
) -> Actor | None:
    """As `resolve`, else by email: linking a known person, or adding one from a known agency's domain."""
    actor = await resolve(session, user_id=user_id, aad_object_id=aad_object_id, tenant=tenant)
    if actor is not None or not email:
        return actor
    actor = await directory.resolve_or_register(
        session,
        procedure,
        platform=PLATFORM,
        external_id=aad_object_id or user_id,
        tenant=tenant,
        email=email,
        name=name,
        rules=directory.parse_domain_rules(domain_rules),
    )
    if actor is not None and aad_object_id and user_id:
        await _link(session, actor.person_id, user_id, tenant)
    return actor


async def _link(session: AsyncSession, person_id: int, user_id: str, tenant: str) -> None:
    try:
        await directory.link_identity(
            session, person_id, PLATFORM, user_id, tenant, actor="system", channel=PLATFORM
        )
    except directory.DirectoryError as exc:  # the id belongs to someone else: leave it to an administrator
        log.warning("Teams user id not linked: %s", type(exc).__name__)


async def teams_user(session: AsyncSession, person_id: int) -> tuple[str, str] | None:
    """(id to open a chat or mention with, tenant) for a person: the 29: id if known, else the object id."""
    rows = (
        await session.execute(
            select(PersonIdentity).where(
                PersonIdentity.person_id == person_id, PersonIdentity.platform == PLATFORM
            )
        )
    ).scalars()
    identities = sorted(rows, key=lambda i: not i.external_id.startswith("29:"))
    return (identities[0].external_id, identities[0].tenant) if identities else None


async def display_name(session: AsyncSession, person_id: int) -> str:
    person = await session.get(Person, person_id)
    return person.display_name if person else f"person {person_id}"
