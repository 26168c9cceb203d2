"""Which children a contribution is about: read from the start of what was typed.

In a discussion about siblings a contribution is about all of them unless it starts with case
references and a colon ("LL-2: ...", "LL-1, LL-3: ...", "LL-1 and LL-3: ..."). A start that names a
reference the discussion does not hold ("LL2: ...", "Re LL-2: ...") is not guessed at: the person is
asked to send it again, so nothing about one child lands on a sibling's record by a slip.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from storage.models import Child

TAG = re.compile(r"^\s*(?P<refs>[^:\n]{1,400}?)\s*:\s*(?P<text>.+)$", re.DOTALL)
REFERENCE_LIKE = re.compile(r"(?=.*[A-Za-z])(?=.*\d)[A-Za-z0-9][A-Za-z0-9/_.\-]*")


@dataclass(frozen=True)
class Tags:
    about: list[Child] | None  # None: every child of the discussion
    text: str  # what was typed, without the references it started with
    unknown: tuple[str, ...] = ()  # references it started with that the discussion does not hold

    def problem(self, children: list[Child]) -> str | None:
        """What to tell the person when the start could not be read, or None."""
        if not self.unknown:
            return None
        refs = ", ".join(c.case_ref for c in children)
        return (
            f"{', '.join(self.unknown)}: not a case reference of this discussion ({refs}). To say it is "
            "about some of the children only, start with their references and a colon "
            f'("{children[0].case_ref}: ..."); to say it is about all of them, leave that start out.'
        )


def looks_tagged(text: str) -> bool:
    """Cheap first look, so most replies need no list of children."""
    return TAG.match(text) is not None


def read_tags(text: str, children: list[Child]) -> Tags:
    match = TAG.match(text) if len(children) > 1 else None
    if match is None:
        return Tags(None, text)
    by_ref = {c.case_ref.lower(): c for c in children}
    names = [n for n in re.split(r"[\s,;]+", match.group("refs")) if n and n.lower() != "and"]
    known = [by_ref[n.lower()] for n in names if n.lower() in by_ref]
    unknown = tuple(n for n in names if n.lower() not in by_ref)
    if not known and not all(REFERENCE_LIKE.fullmatch(n) for n in names):
        return Tags(None, text)  # an ordinary sentence with a colon in it ("Time: 10:30")
    if unknown:
        return Tags(None, text, unknown)
    picked = {c.id for c in known}
    return Tags([c for c in children if c.id in picked], match.group("text").strip())
