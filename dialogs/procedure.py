"""The procedure configuration: the rules a council runs strategy discussions by.

Every number and list in ../shared/PROCEDURE.md lives in a YAML file, never in code, because local
procedures differ from council to council. `load_procedure` validates such a file and, when it is
wrong, says which file, line and field, so that the person editing it can fix it without a developer.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import yaml
from pydantic import (
    Field,
    ValidationError,
    model_validator,
)
from pydantic_core import PydanticCustomError

from dialogs.clock import bank_holidays
from dialogs.lifecycle import DueKind
from dialogs.procedure_sections import (
    AGENDA_STAGE_IDS,
    CIRCUMSTANCE_IDS,
    REFERRING_AGENCY,
    Agency,
    AgendaStage,
    Category,
    ChecklistItem,
    Circumstance,
    CircumstanceId,
    Format,
    OfficeHours,
    Outcome,
    Quorum,
    Reminders,
    Reports,
    Requirement,
    Role,
    Section,
    Text,
    Timescales,
)

# What callers take from here, wherever it is defined.
__all__ = [
    "AGENDA_STAGE_IDS",
    "CIRCUMSTANCE_IDS",
    "DEFAULT_PROCEDURE_FILE",
    "REFERRING_AGENCY",
    "CircumstanceId",
    "Procedure",
    "ProcedureError",
    "Reminders",
    "in_a_sentence",
    "load_procedure",
]

DEFAULT_PROCEDURE_FILE = Path(__file__).with_name("procedures") / "working-together-2023-kent-medway.yaml"


class Procedure(Section):
    name: Text
    version: int = Field(ge=1)
    office_hours: OfficeHours
    timescales: Timescales
    reminders: Reminders
    agencies: tuple[Agency, ...] = Field(min_length=1)
    roles: tuple[Role, ...] = Field(min_length=1)
    quorum: Quorum
    categories: tuple[Category, ...] = Field(min_length=1)
    complex_case_requires_meeting: bool
    requirements: tuple[Requirement, ...] = ()
    agenda: tuple[AgendaStage, ...] = Field(min_length=1)
    outcomes: tuple[Outcome, ...] = Field(min_length=1)
    s47_checklist: tuple[ChecklistItem, ...] = Field(min_length=1)
    cultural_context_prompt: Text
    # The words the bot uses; a council's older copy of this file without them gets the shipped ones.
    circumstances: tuple[Circumstance, ...] = Field(min_length=1)
    formats: tuple[Format, ...] = Field(min_length=1)
    format_advice: Text
    deadlines: dict[DueKind, Text]
    reports: Reports = Reports()  # older files without the section get the defaults

    @model_validator(mode="after")
    def _cross_check(self) -> Procedure:
        # Only the first problem, but with its exact place (in ctx) so the loader can find its line:
        # a model validator's own error has no location inside the model.
        problem = next(iter(self._problems()), None)
        if problem is not None:
            loc, reason = problem
            raise PydanticCustomError(
                "procedure_reference",
                "{field}: {reason}",
                {"field": _path(loc), "reason": reason, "loc": loc},
            )
        return self

    def _problems(self) -> Iterable[tuple[tuple[str | int, ...], str]]:
        for section in (
            "agencies",
            "roles",
            "categories",
            "requirements",
            "agenda",
            "outcomes",
            "s47_checklist",
        ):
            seen: set[str] = set()
            for i, item in enumerate(getattr(self, section)):
                if item.id in seen:
                    yield (section, i, "id"), f"duplicate id {item.id!r}"
                seen.add(item.id)
        agency_ids = {a.id for a in self.agencies}
        if REFERRING_AGENCY in agency_ids:
            i = [a.id for a in self.agencies].index(REFERRING_AGENCY)
            yield ("agencies", i, "id"), f"{REFERRING_AGENCY!r} is reserved for the case's referring agency"
        for i, role in enumerate(self.roles):
            if role.agency not in agency_ids:
                yield ("roles", i, "agency"), f"unknown agency {role.agency!r}"
        if not any(r.may_chair for r in self.roles):
            yield ("roles",), "no role may chair"
        if not any(r.may_convene for r in self.roles):
            yield ("roles",), "no role may convene"
        for when in ("in_hours", "out_of_hours"):
            for i, entry in enumerate(getattr(self.quorum, when)):
                if entry != REFERRING_AGENCY and entry not in agency_ids:
                    yield ("quorum", when, i), f"unknown agency {entry!r}"
        role_ids = {r.id for r in self.roles}
        for i, req in enumerate(self.requirements):
            if req.role not in role_ids:
                yield ("requirements", i, "role"), f"unknown role {req.role!r}"
        missing_kinds = [k.value for k in DueKind if k not in self.deadlines]
        if missing_kinds:
            yield ("deadlines",), f"missing the name of: {', '.join(missing_kinds)}"
        asked = [c.id for c in self.circumstances]
        for i, cid in enumerate(asked):
            if cid in asked[:i]:
                yield ("circumstances", i, "id"), f"duplicate id {cid!r}"
        for i, req in enumerate(self.requirements):
            if req.when not in asked:
                yield ("requirements", i, "when"), f"{req.when!r} is not among the circumstances asked"
        if "meeting" not in {f.id for f in self.formats}:
            yield ("formats",), "the meeting format must be offered"
        stage_ids = [s.id for s in self.agenda]
        missing = [s for s in AGENDA_STAGE_IDS if s not in stage_ids]
        if missing:
            yield ("agenda",), f"missing stage(s): {', '.join(missing)}"
        elif [s for s in stage_ids if s in AGENDA_STAGE_IDS] != list(AGENDA_STAGE_IDS):
            yield ("agenda",), f"stages must come in this order: {', '.join(AGENDA_STAGE_IDS)}"

    def is_out_of_hours(self, local_dt: datetime, is_bank_holiday: bool) -> bool:
        """Whether wall-clock `local_dt` is outside office hours; the caller knows about bank holidays."""
        return self.office_hours.is_out_of_hours(local_dt, is_bank_holiday)

    def out_of_hours_at(self, at: datetime, *, tz: str, nation: str) -> bool:
        """Whether the aware instant `at` is outside office hours, bank holidays of `nation` included."""
        local = at.astimezone(ZoneInfo(tz))
        bank_holiday = local.date() in bank_holidays(nation, local.year)
        return self.is_out_of_hours(local.replace(tzinfo=None), bank_holiday)

    def agency(self, id: str) -> Agency:
        return _find(self.agencies, id, "agency")

    def role(self, id: str) -> Role:
        return _find(self.roles, id, "role")

    def category(self, id: str) -> Category:
        return _find(self.categories, id, "category")

    def outcome(self, id: str) -> Outcome:
        return _find(self.outcomes, id, "outcome")

    def deadline_label(self, kind: str, *, in_sentence: bool = False) -> str:
        """The deadline's name in the file's words; `in_sentence`: to follow other words."""
        label = self.deadlines.get(DueKind(kind), kind) if kind in DueKind else kind
        return in_a_sentence(label) if in_sentence else label

    def format_label(self, id: str) -> str:
        return next((f.label for f in self.formats if f.id == id), id)

    def meeting_required_for(self) -> str:
        """The format rule in the file's words: the advice, then the cases that need a meeting."""
        needing = [c.label for c in self.categories if c.meeting_required]
        if self.complex_case_requires_meeting:
            needing += [c.label for c in self.circumstances if c.id == "complex"]
        if not needing:
            return self.format_advice
        return f"{self.format_advice} A meeting (not calls) is required for: {'; '.join(needing)}."

    def chair_roles(self) -> frozenset[str]:
        return frozenset(r.id for r in self.roles if r.may_chair)

    def convener_roles(self) -> frozenset[str]:
        return frozenset(r.id for r in self.roles if r.may_convene)


def _find[T: Agency | Role | Category | Outcome](items: tuple[T, ...], id: str, kind: str) -> T:
    # The lists are a few dozen entries at most, so a scan is simpler than an index.
    for item in items:
        if item.id == id:
            return item
    raise KeyError(f"unknown {kind} {id!r}")


def in_a_sentence(label: str) -> str:
    """'Record to be circulated' -> 'record to be circulated'; an acronym ('ICPC ...') stays as it is."""
    if len(label) > 1 and label[1].isupper():
        return label
    return label[:1].lower() + label[1:]


class ProcedureError(Exception):
    """A procedure file that cannot be used; the message names the file, line and field."""


def load_procedure(path: str | Path | None = None) -> Procedure:
    """Read and validate a procedure file (the shipped default when `path` is None)."""
    path = Path(path) if path is not None else DEFAULT_PROCEDURE_FILE
    where = f"procedure file {path}"
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ProcedureError(f"{where}: cannot be read: {exc.strerror or exc}") from exc
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
        _check_duplicate_keys(root)
        data = yaml.safe_load(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = f", line {mark.line + 1}" if mark else ""
        problem = ": ".join(p for p in (exc.context, exc.problem) if p)
        raise ProcedureError(f"{where}{line}: YAML syntax error: {problem}") from exc
    if root is None:
        raise ProcedureError(f"{where}, line 1: the file is empty")
    if path != DEFAULT_PROCEDURE_FILE and isinstance(data, dict):
        # Sections added since a council copied the file come from the shipped one.
        for key, value in _shipped_sections().items():
            data.setdefault(key, value)
    try:
        return Procedure.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]  # one precise message helps more than a wall of them
        ctx = err.get("ctx") or {}
        if err["type"] == "procedure_reference":
            loc, msg = ctx["loc"], ctx["reason"]
        else:
            loc, msg = err["loc"], err["msg"]
        more = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
        raise ProcedureError(f"{where}, line {_line_of(root, loc)}, field {_path(loc)}: {msg}{more}") from exc


def _shipped_sections() -> dict[str, Any]:
    shipped = yaml.safe_load(DEFAULT_PROCEDURE_FILE.read_text(encoding="utf-8"))
    return {key: shipped[key] for key in _ADDED_SECTIONS}


# Top-level sections newer than the first release of the file (see load_procedure).
_ADDED_SECTIONS = ("circumstances", "formats", "format_advice", "deadlines")


def _path(loc: tuple[str | int, ...]) -> str:
    """('roles', 3, 'agency') -> 'roles[3].agency'."""
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else f".{part}" if out else str(part)
    return out or "(top level)"


def _line_of(root: yaml.Node, loc: tuple[str | int, ...]) -> int:
    """1-based line of the deepest node along `loc`: a key's line, a list item's line, or, for a
    missing key, the line of the mapping that should hold it."""
    node, line = root, root.start_mark.line + 1
    for part in loc:
        child = None
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                if key.value == str(part):
                    child, line = value, key.start_mark.line + 1
                    break
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
            child = node.value[part]
            line = child.start_mark.line + 1
        if child is None:
            break
        node = child
    return line


def _check_duplicate_keys(node: yaml.Node | None) -> None:
    # PyYAML silently keeps the last of two equal keys; in a hand-edited file that hides a mistake.
    if isinstance(node, yaml.MappingNode):
        seen: set[str] = set()
        for key, value in node.value:
            if key.value in seen:
                raise yaml.MarkedYAMLError(
                    problem=f"duplicate key {key.value!r}", problem_mark=key.start_mark
                )
            seen.add(key.value)
            _check_duplicate_keys(value)
    elif isinstance(node, yaml.SequenceNode):
        for item in node.value:
            _check_duplicate_keys(item)
