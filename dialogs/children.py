"""The children a discussion is about: their case references, and the series each one is in.

A meeting about siblings shares its time, people, concern and thread; each child has their own case
reference (the case-management system's ID), series, decision, plan, deadlines and record
(PROCEDURE.md, "Several children"). `Discussion.case_ref` holds the references as shown together.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from dialogs.model import Input, InputKind, Option
from storage.models import Child, Discussion, Series

# A case-management ID: letters, digits and - / _ . with at least one digit, so a name ("Smith, Jane")
# is refused rather than taken as references.
CASE_REF = re.compile(r"(?=[^\d]*\d)[A-Za-z0-9][A-Za-z0-9/_.\-]{0,63}")
MAX_CHILDREN = 12  # a family in one meeting; more is almost certainly a mistake in the field
LABEL_LENGTH = 300  # discussion.case_ref


@dataclass(frozen=True)
class Refs:
    """Case references as the chair typed them: the good ones, in order, and what is wrong."""

    refs: tuple[str, ...]
    problem: str | None = None


def ident(child: Child) -> int:
    """A stored child's id."""
    assert child.id is not None
    return child.id


def parse_refs(text: str) -> Refs:
    """One or more case references, separated by commas, semicolons or new lines (not spaces: "Jane
    Smith" must be refused as a name, not taken as two references)."""
    refs: list[str] = []
    for ref in (r.strip() for r in re.split(r"[,;\n]+", text)):
        if ref and ref.lower() not in {r.lower() for r in refs}:
            refs.append(ref)
    bad = [r for r in refs if not CASE_REF.fullmatch(r)]
    if bad:
        return Refs(
            tuple(refs),
            "Use the case-management ID: letters, digits and - / _ . only, with a digit (no names).",
        )
    if not refs:
        return Refs((), "Please give the case reference of each child.")
    if len(refs) > MAX_CHILDREN:
        return Refs(tuple(refs), f"At most {MAX_CHILDREN} children in one discussion.")
    return Refs(tuple(refs))


def label(refs: list[str]) -> str:
    """The references shown together, cut short (with how many more) to fit the column."""
    out = ", ".join(refs)
    for n in range(len(refs) - 1, 0, -1):
        if len(out) <= LABEL_LENGTH:
            break
        out = ", ".join(refs[:n]) + f" and {len(refs) - n} more"
    return out[:LABEL_LENGTH]


async def active(session: AsyncSession, discussion_id: int) -> list[Child]:
    query = (
        select(Child)
        .where(col(Child.discussion_id) == discussion_id, col(Child.removed_at).is_(None))
        .order_by(col(Child.position), col(Child.id))
    )
    return list((await session.execute(query)).scalars())


async def relabel(session: AsyncSession, d: Discussion) -> None:
    """After a child was added or removed: the discussion shows the references it now holds."""
    assert d.id is not None
    children = await active(session, d.id)
    d.case_ref = label([c.case_ref for c in children])
    d.series_id = children[0].series_id
    d.number = max(c.number for c in children)


async def open_series(session: AsyncSession, council: str, case_ref: str) -> Series | None:
    """The case's open series, whatever the case of its letters. Series from before COUNCIL was set
    (council "") are this deployment's too."""
    query = select(Series).where(
        col(Series.council).in_({council, ""}),
        func.lower(col(Series.case_ref)) == case_ref.lower(),
        col(Series.closed_at).is_(None),
    )
    return (await session.execute(query)).scalars().first()


async def series_children(session: AsyncSession, series_id: int) -> list[tuple[Child, Discussion]]:
    """The child's place in each discussion of the series (not where the child was removed), in order."""
    query = (
        select(Child, Discussion)
        .join(Discussion, col(Discussion.id) == col(Child.discussion_id))
        .where(col(Child.series_id) == series_id, col(Child.removed_at).is_(None))
        .order_by(col(Child.number), col(Child.id))
    )
    return [(c, d) for c, d in (await session.execute(query)).all()]


def children_input(children: list[Child], label: str, value: list[str] | None = None) -> Input:
    """Which of the siblings something is about (every one, unless the chair narrows it)."""
    return Input(
        "children",
        label,
        InputKind.MULTI_CHOICE,
        required=True,
        options=tuple(Option(str(c.id), c.case_ref) for c in children),
        value=value if value is not None else [str(c.id) for c in children],
    )
