"""The directory of who is who: people, their agency and role, and their ids on each platform.

Surfaces turn a platform user into an Actor with `resolve` (or `resolve_or_register`, which can add
someone whose email domain belongs to a known agency). Operators manage it with
`python -m bot directory add|list|import`. Every function works in the caller's transaction and
never commits. Audit entries carry ids, agency and role only: never names or emails.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from dialogs.model import Actor
from dialogs.procedure import Procedure
from storage import audit
from storage.models import Person, PersonIdentity

PLATFORMS = ("slack", "teams", "playground")

# The role a person gets when they are added automatically from their email domain.
DEFAULT_ROLE_FOR_AGENCY = {
    "police": "police_officer",
    "health": "health_professional",
    "social_care": "social_worker",
    "education": "education",
}

# Roles that may sit in any agency: the referrer's agency differs per person, and "other" roles
# (e.g. a specialist) are by definition not tied to one.
_ANY_AGENCY_ROLES = {"referrer"}
_ANY_AGENCY = "other"

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_DOMAIN = re.compile(r"^[a-z0-9-]+(\.[a-z0-9-]+)*$")
_AGENCY_ID = re.compile(r"^[a-z][a-z0-9_]*$")

CSV_REQUIRED = ("name", "email", "agency", "role")
CSV_OPTIONAL = ("slack_id", "teams_id", "manager_email")


class DirectoryError(ValueError):
    """Input the directory cannot accept; the message says what is wrong and what would be accepted."""


# --- validation -------------------------------------------------------------------------------


def _clean_name(name: str | None) -> str:
    name = (name or "").strip()
    if not name:
        raise DirectoryError("a name is required")
    if len(name) > 200:
        raise DirectoryError("the name is too long (at most 200 characters)")
    return name


def _clean_email(email: str | None) -> str | None:
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


def _clean_identity(platform: str, external_id: str, tenant: str) -> tuple[str, str, str]:
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


async def _identity(
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
    platform, external_id, tenant = _clean_identity(platform, external_id, tenant)
    if await get_person(session, person_id) is None:
        raise DirectoryError(f"there is no person {person_id} in the directory")
    existing = await _identity(session, platform, external_id, tenant)
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
    name = _clean_name(name)
    email = _clean_email(email)
    check_agency_and_role(procedure, agency, role)
    cleaned = [_clean_identity(*identity) for identity in identities]
    if email is not None and await find_by_email(session, email) is not None:
        raise DirectoryError(f"{email} is already in the directory")
    for platform, external_id, tenant in cleaned:
        if await _identity(session, platform, external_id, tenant) is not None:
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
    manager_email = _clean_email(manager_email)
    if manager_email is None:
        return None
    manager = await find_by_email(session, manager_email)
    if manager is None:
        raise DirectoryError(f"the manager {manager_email} is not in the directory; add them first")
    return manager.id


# --- CSV import -------------------------------------------------------------------------------


@dataclass
class _Row:
    line: int
    name: str
    email: str
    agency: str
    role: str
    identities: list[tuple[str, str, str]]
    manager_email: str | None


def _read_csv(path: Path) -> tuple[list[dict[str, str]], list[int], list[str]]:
    """The rows (as dicts), the line each row ends on, and the header."""
    try:
        with path.open(encoding="utf-8-sig", newline="") as f:  # -sig: spreadsheets add a BOM
            reader = csv.DictReader(f)
            header = [h.strip().lower() for h in reader.fieldnames or []]
            reader.fieldnames = header
            rows, lines = [], []
            for row in reader:
                rows.append(row)
                lines.append(reader.line_num)
    except FileNotFoundError:
        raise DirectoryError(f"there is no file at {path}") from None
    except UnicodeDecodeError:
        raise DirectoryError(f"{path} is not a UTF-8 text file; save it as CSV (UTF-8)") from None
    except (OSError, csv.Error) as exc:
        raise DirectoryError(f"{path} cannot be read: {exc}") from None
    return rows, lines, header


def _check_header(path: Path, header: list[str]) -> None:
    expected = ", ".join(CSV_REQUIRED + CSV_OPTIONAL)
    if not header:
        raise DirectoryError(f"{path} is empty; the first line must be the header: {expected}")
    missing = [c for c in CSV_REQUIRED if c not in header]
    unknown = [c for c in header if c not in CSV_REQUIRED + CSV_OPTIONAL]
    if missing or unknown:
        parts = []
        if missing:
            parts.append(f"missing column(s) {', '.join(missing)}")
        if unknown:
            parts.append(f"unknown column(s) {', '.join(unknown)}")
        raise DirectoryError(f"{path}, line 1 (the header): {'; '.join(parts)}; expected columns: {expected}")


async def import_csv(session: AsyncSession, procedure: Procedure, path: str | Path) -> int:
    """Add or update everyone in a CSV file, all or nothing; returns how many rows were imported.

    A row whose email is already in the directory updates that person, so re-importing is safe.
    """
    path = Path(path)
    raw_rows, lines, header = _read_csv(path)
    _check_header(path, header)
    if not raw_rows:
        raise DirectoryError(f"{path} has a header but no rows; nothing was imported")

    rows: list[_Row] = []
    problems: dict[int, list[str]] = {}
    emails: dict[str, int] = {}  # email -> line, to find repeats and managers within the file
    ids: dict[tuple[str, str, str], int] = {}
    for raw, line in zip(raw_rows, lines, strict=True):
        row, reasons = await _check_row(session, procedure, raw, line, emails, ids)
        rows.append(row)
        if reasons:
            problems[line] = reasons
    # Managers may be further down the file or already in the directory.
    for row in rows:
        if row.manager_email and row.manager_email not in emails:
            if await find_by_email(session, row.manager_email) is None:
                problems.setdefault(row.line, []).append(
                    f"the manager {row.manager_email} is neither in this file nor in the directory"
                )
    if problems:
        listed = " | ".join(
            f"line {line}: {'; '.join(reasons)}" for line, reasons in sorted(problems.items())
        )
        raise DirectoryError(
            f"{path}: nothing was imported because {len(problems)} row(s) need fixing: {listed}"
        )

    people: dict[str, Person] = {}
    for row in rows:
        person = await find_by_email(session, row.email)
        if person is None:
            person = await add_person(
                session, procedure, name=row.name, email=row.email, agency=row.agency, role=row.role
            )
        else:
            person.display_name, person.agency, person.role = row.name, row.agency, row.role
            await session.flush()
            await audit.append(
                session,
                actor="cli",
                channel="cli",
                action="directory.update",
                detail={"person_id": person.id, "agency": row.agency, "role": row.role},
            )
        assert person.id is not None  # a stored person
        for identity in row.identities:
            await link_identity(session, person.id, *identity)
        people[row.email] = person
    for row in rows:
        manager = None
        if row.manager_email:
            manager = people.get(row.manager_email) or await find_by_email(session, row.manager_email)
        people[row.email].manager_id = manager.id if manager is not None else None
    await session.flush()
    return len(rows)


async def _check_row(
    session: AsyncSession,
    procedure: Procedure,
    raw: dict[str, str],
    line: int,
    emails: dict[str, int],
    ids: dict[tuple[str, str, str], int],
) -> tuple[_Row, list[str]]:
    """One CSV row, cleaned, and every reason it cannot be imported (empty when it can)."""
    values = {k: (v or "").strip() for k, v in raw.items() if k is not None}
    row = _Row(line, "", "", values.get("agency", ""), values.get("role", ""), [], None)
    reasons: list[str] = ["more values than columns"] if None in raw else []
    try:
        row.name = _clean_name(values.get("name"))
    except DirectoryError as exc:
        reasons.append(str(exc))
    try:
        row.email = _clean_email(values.get("email")) or ""
        if not row.email:
            reasons.append("an email is required (it is how a re-import finds the person)")
        elif row.email in emails:
            reasons.append(f"{row.email} is also on line {emails[row.email]}")
        else:
            emails[row.email] = line
    except DirectoryError as exc:
        reasons.append(str(exc))
    try:
        check_agency_and_role(procedure, row.agency, row.role)
    except DirectoryError as exc:
        reasons.append(str(exc))
    for platform, column in (("slack", "slack_id"), ("teams", "teams_id")):
        if not values.get(column):
            continue
        try:
            key = _clean_identity(platform, values[column], "")
        except DirectoryError as exc:
            reasons.append(str(exc))
            continue
        if key in ids:
            reasons.append(f"the {platform} id is also on line {ids[key]}")
            continue
        ids[key] = line
        owner = await _identity(session, *key)
        if owner is not None and await _email_of(session, owner.person_id) != (row.email or None):
            reasons.append(f"the {platform} id already belongs to someone else in the directory")
        row.identities.append(key)
    try:
        row.manager_email = _clean_email(values.get("manager_email"))
    except DirectoryError as exc:
        reasons.append(f"manager_email: {exc}")
    if row.manager_email and row.manager_email == row.email:
        reasons.append("a person cannot be their own manager")
    return row, reasons


async def _email_of(session: AsyncSession, person_id: int) -> str | None:
    person = await get_person(session, person_id)
    return person.email if person is not None else None


# --- email-domain rules -----------------------------------------------------------------------


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
        if not sep or not _DOMAIN.match(domain) or not _AGENCY_ID.match(agency):
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
        email = _clean_email(email)
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


# --- the playground's cast --------------------------------------------------------------------


@dataclass(frozen=True)
class DemoPerson:
    slug: str  # the playground identity
    name: str
    agency: str
    role: str
    manager: str | None = None  # the manager's slug

    @property
    def email(self) -> str:
        return f"{self.slug.replace('_', '.')}@example.org"


# Fictional staff; managers come before the people they manage.
DEMO_PEOPLE: tuple[DemoPerson, ...] = (
    DemoPerson("district_manager", "Dee District (district manager)", "social_care", "district_manager"),
    DemoPerson("team_manager", "Tam Team (team manager)", "social_care", "team_manager", "district_manager"),
    DemoPerson("duty_manager", "Dana Duty (duty manager)", "social_care", "duty_manager", "team_manager"),
    DemoPerson("social_worker", "Sol Social (social worker)", "social_care", "social_worker", "duty_manager"),
    DemoPerson(
        "ooh_manager", "Nia Night (out-of-hours manager)", "social_care", "ooh_manager", "team_manager"
    ),
    DemoPerson("ooh_worker", "Owen Late (out-of-hours worker)", "social_care", "ooh_worker", "ooh_manager"),
    DemoPerson("police_manager", "Mo Sergeant (police safeguarding manager)", "police", "police_manager"),
    DemoPerson(
        "police_officer", "Pat Constable (police officer)", "police", "police_officer", "police_manager"
    ),
    DemoPerson("health_professional", "Hari Health (health visitor)", "health", "health_professional"),
    DemoPerson("paediatrician", "Dr Pia Paeds (paediatrician)", "health", "paediatrician"),
    DemoPerson("consultant", "Dr Cal Consultant (consultant)", "health", "consultant"),
    DemoPerson("referrer", "Rae Referrer (school safeguarding lead)", "education", "referrer"),
)


async def seed_demo(session: AsyncSession, procedure: Procedure) -> int:
    """Add the playground's cast to an empty directory; returns how many were added (0 if not empty)."""
    if (await session.execute(select(func.count()).select_from(Person))).scalar_one():
        return 0
    by_slug = {p.slug: p for p in DEMO_PEOPLE}
    for p in DEMO_PEOPLE:
        await add_person(
            session,
            procedure,
            name=p.name,
            email=p.email,
            agency=p.agency,
            role=p.role,
            identities=[("playground", p.slug, "")],
            manager_email=by_slug[p.manager].email if p.manager else None,
            actor="system",
            channel="playground",
        )
    return len(DEMO_PEOPLE)
