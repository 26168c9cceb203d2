"""People in the directory: checking what is entered, finding people, adding and linking them."""

from __future__ import annotations

import re
from collections.abc import Iterable

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from dialogs.model import Actor
from dialogs.procedure import Procedure
from storage import audit
from storage.models import Person, PersonIdentity

PLATFORMS = ("slack", "teams", "playground")

# Roles that may sit in any agency: the referrer's agency differs per person, and "other" roles
# (e.g. a specialist) are by definition not tied to one.
_ANY_AGENCY_ROLES = {"referrer"}
_ANY_AGENCY = "other"

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


class DirectoryError(ValueError):
    """Input the directory cannot accept; the message says what is wrong and what would be accepted."""


# --- validation -------------------------------------------------------------------------------


def clean_name(name: str | None) -> str:
    name = (name or "").strip()
    if not name:
        raise DirectoryError("a name is required")
    if len(name) > 200:
        raise DirectoryError("the name is too long (at most 200 characters)")
    return name


def clean_email(email: str | None) -> str | None:
    email = (email or "").strip().lower()
    if not email:
        return None
    if len(email) > 320 or not _EMAIL.match(email):
        raise DirectoryError(f"{email!r} is not an email address (expected name@example.org)")
    return email


def check_agency_and_role(procedure: Procedure, agency: str, role: str) -> None:
    """Raise DirectoryError unless `agency` and `role` exist and the role belongs to the agency."""
    agencies = [a.id for a in procedure.agencies]
    if agency not in agencies:
        raise DirectoryError(f"unknown agency {agency!r}; accepted agencies: {', '.join(agencies)}")
    roles = {r.id: r for r in procedure.roles}
    if role not in roles:
        raise DirectoryError(f"unknown role {role!r}; accepted roles: {', '.join(roles)}")
    owner = roles[role].agency
    if role not in _ANY_AGENCY_ROLES and owner != _ANY_AGENCY and owner != agency:
        same_agency = [r for r, v in roles.items() if v.agency == agency]
        hint = f"; roles in {agency}: {', '.join(same_agency)}" if same_agency else ""
        raise DirectoryError(f"the role {role!r} belongs to the agency {owner!r}, not {agency!r}{hint}")


def clean_identity(platform: str, external_id: str, tenant: str) -> tuple[str, str, str]:
    platform = (platform or "").strip().lower()
    if platform not in PLATFORMS:
        raise DirectoryError(f"unknown platform {platform!r}; accepted platforms: {', '.join(PLATFORMS)}")
    external_id = (external_id or "").strip()
    if not external_id:
        raise DirectoryError(f"a {platform} id is required")
    if len(external_id) > 200:
        raise DirectoryError(f"the {platform} id is too long (at most 200 characters)")
    tenant = (tenant or "").strip()
    if len(tenant) > 100:
        raise DirectoryError("the tenant id is too long (at most 100 characters)")
    return platform, external_id, tenant


# --- reading ----------------------------------------------------------------------------------


async def get_person(session: AsyncSession, person_id: int) -> Person | None:
    return await session.get(Person, person_id)


async def find_by_email(session: AsyncSession, email: str) -> Person | None:
    query = select(Person).where(col(Person.email) == email.strip().lower())
    return (await session.execute(query)).scalars().first()


async def list_people(session: AsyncSession) -> list[Person]:
    query = select(Person).order_by(col(Person.agency), col(Person.display_name), col(Person.id))
    return list((await session.execute(query)).scalars())


async def identities_by_person(session: AsyncSession) -> dict[int, list[PersonIdentity]]:
    """Every platform identity, grouped by person id (for listings)."""
    query = select(PersonIdentity).order_by(col(PersonIdentity.platform), col(PersonIdentity.id))
    grouped: dict[int, list[PersonIdentity]] = {}
    for identity in (await session.execute(query)).scalars():
        grouped.setdefault(identity.person_id, []).append(identity)
    return grouped


async def identity_of(
    session: AsyncSession, platform: str, external_id: str, tenant: str
) -> PersonIdentity | None:
    query = select(PersonIdentity).where(
        col(PersonIdentity.platform) == platform,
        col(PersonIdentity.external_id) == external_id,
        col(PersonIdentity.tenant) == tenant,
    )
    return (await session.execute(query)).scalars().first()


def actor_of(person: Person) -> Actor:
    assert person.id is not None  # a stored person
    return Actor(person_id=person.id, name=person.display_name, agency=person.agency, role=person.role)


async def resolve(session: AsyncSession, platform: str, external_id: str, tenant: str = "") -> Actor | None:
    """The person behind a platform id. An identity stored without a tenant matches any tenant;
    one stored with a tenant matches only that tenant (and wins over a tenant-less one)."""
    query = (
        select(Person)
        .join(PersonIdentity, col(PersonIdentity.person_id) == col(Person.id))
        .where(
            col(PersonIdentity.platform) == platform,
            col(PersonIdentity.external_id) == external_id,
            or_(col(PersonIdentity.tenant) == tenant, col(PersonIdentity.tenant) == ""),
        )
        .order_by(col(PersonIdentity.tenant).desc())  # the exact tenant before ""
        .limit(1)
    )
    person = (await session.execute(query)).scalars().first()
    return actor_of(person) if person is not None else None


# --- writing ----------------------------------------------------------------------------------


async def link_identity(
    session: AsyncSession,
    person_id: int,
    platform: str,
    external_id: str,
    tenant: str = "",
    *,
    actor: str = "cli",
    channel: str = "cli",
) -> PersonIdentity:
    """Record a person's id on a platform; linking the same id again to the same person is a no-op."""
    platform, external_id, tenant = clean_identity(platform, external_id, tenant)
    if await get_person(session, person_id) is None:
        raise DirectoryError(f"there is no person {person_id} in the directory")
    existing = await identity_of(session, platform, external_id, tenant)
    if existing is not None:
        if existing.person_id != person_id:
            raise DirectoryError(
                f"that {platform} id already belongs to person {existing.person_id} in the directory"
            )
        return existing
    identity = PersonIdentity(person_id=person_id, platform=platform, external_id=external_id, tenant=tenant)
    session.add(identity)
    await session.flush()
    await audit.append(
        session,
        actor=actor,
        channel=channel,
        action="directory.link",
        detail={"person_id": person_id, "platform": platform},
    )
    return identity


async def add_person(
    session: AsyncSession,
    procedure: Procedure,
    *,
    name: str,
    email: str | None = None,
    agency: str,
    role: str,
    identities: Iterable[tuple[str, str, str]] = (),
    manager_email: str | None = None,
    actor: str = "cli",
    channel: str = "cli",
    action: str = "directory.add",
) -> Person:
    """Add someone to the directory, with their platform identities (platform, external_id, tenant)."""
    name = clean_name(name)
    email = clean_email(email)
    check_agency_and_role(procedure, agency, role)
    cleaned = [clean_identity(*identity) for identity in identities]
    if email is not None and await find_by_email(session, email) is not None:
        raise DirectoryError(f"{email} is already in the directory")
    for platform, external_id, tenant in cleaned:
        if await identity_of(session, platform, external_id, tenant) is not None:
            raise DirectoryError(f"that {platform} id already belongs to someone in the directory")
    manager_id = await _manager_id(session, manager_email)
    person = Person(display_name=name, email=email, agency=agency, role=role, manager_id=manager_id)
    session.add(person)
    await session.flush()
    assert person.id is not None  # given by the flush
    for platform, external_id, tenant in cleaned:
        session.add(
            PersonIdentity(person_id=person.id, platform=platform, external_id=external_id, tenant=tenant)
        )
    await session.flush()
    await audit.append(
        session,
        actor=actor,
        channel=channel,
        action=action,
        detail={"person_id": person.id, "agency": agency, "role": role},
    )
    return person


async def _manager_id(session: AsyncSession, manager_email: str | None) -> int | None:
    manager_email = clean_email(manager_email)
    if manager_email is None:
        return None
    manager = await find_by_email(session, manager_email)
    if manager is None:
        raise DirectoryError(f"the manager {manager_email} is not in the directory; add them first")
    return manager.id
