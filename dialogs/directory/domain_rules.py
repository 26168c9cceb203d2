"""Email-domain rules: someone not yet in the directory whose email domain belongs to an agency is
added on first use, with that agency's default role."""

from __future__ import annotations

import re
from collections.abc import Iterable

from sqlalchemy.ext.asyncio import AsyncSession

from dialogs.directory.people import (
    DirectoryError,
    actor_of,
    add_person,
    clean_email,
    find_by_email,
    link_identity,
    resolve,
)
from dialogs.model import Actor
from dialogs.procedure import Procedure

DOMAIN = re.compile(r"^[a-z0-9-]+(\.[a-z0-9-]+)*$")
AGENCY_ID = re.compile(r"^[a-z][a-z0-9_]*$")
# The role a person gets when they are added automatically from their email domain.
DEFAULT_ROLE_FOR_AGENCY = {
    "police": "police_officer",
    "health": "health_professional",
    "social_care": "social_worker",
    "education": "education",
}


def parse_domain_rules(text: str, agencies: Iterable[str] | None = None) -> dict[str, str]:
    """ "police.uk=police, nhs.net=health" -> {"police.uk": "police", "nhs.net": "health"}.

    With `agencies`, every agency named must be one of them.
    """
    known = list(agencies) if agencies is not None else None
    rules: dict[str, str] = {}
    for entry in (text or "").split(","):
        entry = entry.strip()
        if not entry:
            continue
        domain, sep, agency = (part.strip() for part in entry.partition("="))
        domain = domain.lower().lstrip("@.")
        if not sep or not DOMAIN.match(domain) or not AGENCY_ID.match(agency):
            raise DirectoryError(
                f"{entry!r} is not a domain rule; write domain=agency, e.g. police.uk=police"
            )
        if known is not None and agency not in known:
            raise DirectoryError(f"{entry!r} names an unknown agency; accepted agencies: {', '.join(known)}")
        if domain in rules:
            raise DirectoryError(f"{entry!r}: the domain {domain} has more than one rule")
        rules[domain] = agency
    return rules


def agency_for_email(email: str | None, rules: dict[str, str]) -> str | None:
    """The agency of the longest rule domain that the email's domain is, or ends with as a subdomain."""
    _, at, domain = (email or "").strip().lower().rpartition("@")
    if not at or not domain:
        return None
    matches = [d for d in rules if domain == d or domain.endswith("." + d)]
    return rules[max(matches, key=len)] if matches else None


def _default_role(procedure: Procedure, agency: str) -> str | None:
    roles = {r.id: r for r in procedure.roles}
    role = DEFAULT_ROLE_FOR_AGENCY.get(agency)
    if role in roles and roles[role].agency == agency:
        return role
    # A council's procedure may name its roles differently: take its first role in that agency.
    return next((r.id for r in procedure.roles if r.agency == agency), None)


async def resolve_or_register(
    session: AsyncSession,
    procedure: Procedure,
    *,
    platform: str,
    external_id: str,
    tenant: str = "",
    email: str | None = None,
    name: str,
    rules: dict[str, str],
) -> Actor | None:
    """The Actor for a platform user, linking or adding them when their email allows; None when
    they are not in the directory and their email domain belongs to no known agency."""
    actor = await resolve(session, platform, external_id, tenant)
    if actor is not None:
        return actor
    try:
        email = clean_email(email)
    except DirectoryError:
        email = None  # a profile with an odd email is treated like one without
    if email is None:
        return None
    person = await find_by_email(session, email)
    if person is not None:
        assert person.id is not None  # a stored person
        await link_identity(
            session, person.id, platform, external_id, tenant, actor="system", channel=platform
        )
        return actor_of(person)
    agency = agency_for_email(email, rules)
    if agency is None or agency not in {a.id for a in procedure.agencies}:
        return None
    role = _default_role(procedure, agency)
    if role is None:
        return None
    person = await add_person(
        session,
        procedure,
        name=(name or "").strip()[:200] or email,
        email=email,
        agency=agency,
        role=role,
        identities=[(platform, external_id, tenant)],
        actor="system",
        channel=platform,
        action="directory.auto_add",
    )
    return actor_of(person)
