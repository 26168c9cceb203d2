"""Importing people from a CSV file: every row checked before any is added, each problem by line."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncSession

from dialogs.directory.people import (
    DirectoryError,
    add_person,
    check_agency_and_role,
    clean_email,
    clean_identity,
    clean_name,
    find_by_email,
    get_person,
    identity_of,
    link_identity,
)
from dialogs.procedure import Procedure
from storage import audit
from storage.models import Person

CSV_REQUIRED = ("name", "email", "agency", "role")
CSV_OPTIONAL = ("slack_id", "teams_id", "manager_email")


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
        row.name = clean_name(values.get("name"))
    except DirectoryError as exc:
        reasons.append(str(exc))
    try:
        row.email = clean_email(values.get("email")) or ""
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
            key = clean_identity(platform, values[column], "")
        except DirectoryError as exc:
            reasons.append(str(exc))
            continue
        if key in ids:
            reasons.append(f"the {platform} id is also on line {ids[key]}")
            continue
        ids[key] = line
        owner = await identity_of(session, *key)
        if owner is not None and await _email_of(session, owner.person_id) != (row.email or None):
            reasons.append(f"the {platform} id already belongs to someone else in the directory")
        row.identities.append(key)
    try:
        row.manager_email = clean_email(values.get("manager_email"))
    except DirectoryError as exc:
        reasons.append(f"manager_email: {exc}")
    if row.manager_email and row.manager_email == row.email:
        reasons.append("a person cannot be their own manager")
    return row, reasons


async def _email_of(session: AsyncSession, person_id: int) -> str | None:
    person = await get_person(session, person_id)
    return person.email if person is not None else None
