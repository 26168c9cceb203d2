"""The rows of the fictional year (bench/report_seed.py) and how its deadlines end: each table's rows
kept in memory with their ids, then bulk-inserted with SQLAlchemy core, one transaction per `flush`."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import insert

from storage.db import Database
from storage.models import Child, Contribution, Decision, Discussion, DueItem, Participant, Person, Series

TZ, NATION = "Europe/London", "england-and-wales"  # the council's calendar
ZONE = ZoneInfo(TZ)
NOW = datetime(2026, 4, 15, 7, 0, tzinfo=UTC)  # when the report is made: nothing happens after it
TABLES: tuple[Any, ...] = (
    Person,
    Series,
    Discussion,
    Child,
    Participant,
    Contribution,
    Decision,
    DueItem,
)  # references first
CHUNK = 10_000  # rows per executemany
HOUR = timedelta(hours=1)

# The reasons people give, from short lists: the report groups them.
LATE = (
    "police representative unavailable",
    "health representative unavailable",
    "waiting for information from the school",
    "interpreter needed",
    "bank holiday",
    "chair covering two teams",
)
DECLINED = ("on leave", "at another strategy discussion", "a colleague attends instead")
MISSED = ("family moved out of the area", "agency did not respond", "superseded by a new referral")
CLOSED = ("enquiry concluded", "case transferred to another council", "duplicate referral")
NOT_REQUIRED = (
    "S47 concluded: concerns not substantiated",
    "S47 concluded: child in need plan instead",
    "family moved out of the area",
    "child became looked after",
)
OVERRIDE = (
    "risk immediate: could not wait for health",
    "police joined only by phone after the decision",
    "referrer not reachable out of hours",
    "paediatrician unavailable; examination booked",
)
FICTION = "(fictional benchmark text)"


def _defaults(model: Any) -> dict[str, Any]:
    """Every column of the table with the model's default (a clock default: NOW), so each table's rows
    have the same keys, as an executemany needs."""
    out: dict[str, Any] = {}
    for c in model.__table__.columns:
        default = c.default
        out[c.name] = None if default is None else NOW if default.is_callable else default.arg
    return out


DEFAULTS = {model: _defaults(model) for model in TABLES}


class Rows:
    """The rows made since the last flush, per table, with ids given here (references are known before
    anything is inserted); `stored`: how many of each were inserted so far."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.rows: dict[Any, list[dict[str, Any]]] = {m: [] for m in TABLES}
        self.ids = dict.fromkeys(TABLES, 0)
        self.stored: dict[str, int] = {}

    def add(self, model: Any, **values: Any) -> dict[str, Any]:
        unknown = values.keys() - DEFAULTS[model].keys()
        if unknown:
            raise KeyError(f"{model.__name__} has no {sorted(unknown)}")
        self.ids[model] += 1
        row = {**DEFAULTS[model], **values, "id": self.ids[model]}
        self.rows[model].append(row)
        return row

    async def flush(self, db: Database) -> None:
        """Insert what was made since the last flush, in one transaction."""
        async with db.writing(), db.engine.begin() as conn:
            for model in TABLES:
                rows = self.rows[model]
                for i in range(0, len(rows), CHUNK):
                    await conn.execute(insert(model.__table__), rows[i : i + CHUNK])
                name = model.__tablename__
                self.stored[name] = self.stored.get(name, 0) + len(rows)
                rows.clear()

    def pick[T](self, weights: dict[T, int]) -> T:
        return self.rng.choices(list(weights), list(weights.values()))[0]

    def due(
        self,
        did: int,
        kind: str,
        due_at: datetime,
        who: int | None,
        *,
        subject: str = "",
        child: int | None = None,
        done: datetime | None = None,
        state: str | None = None,
        reason: str | None = None,
    ) -> dict[str, Any]:
        """A deadline; `done`: when its act happened (met, or late with `reason`), if it has.
        `state` "withdrawn": what created it was undone."""
        subject = subject or (str(child) if child else "")
        row = self.add(
            DueItem,
            discussion_id=did,
            kind=kind,
            subject=subject,
            child_id=child,
            recipient_id=who,
            due_at=due_at,
            escalate_at=due_at + 2 * HOUR,
            updated_at=NOW,
        )
        if state == "withdrawn":
            row.update(state=state, next_at=None)
        else:
            self.act(row, done, reason)
        return row

    def act(self, row: dict[str, Any], done: datetime | None, reason: str | None = None) -> None:
        """End the deadline by its act at `done` (met, or late with a reason); open if not yet done."""
        if done is None or done > NOW:
            overdue = row["due_at"] < NOW
            row.update(state="open", stage="escalated" if overdue else "pending", ended_at=None, reason=None)
            row["next_at"] = row["due_at"] + 2 * HOUR if overdue else row["due_at"] - 24 * HOUR
        elif done <= row["due_at"]:
            row.update(state="met", ended_at=done, ended_by="done", reason=None, next_at=None)
        else:
            reason = reason or self.rng.choice(LATE)
            row.update(state="late", ended_at=done, ended_by="done", reason=reason, next_at=None)

    def unmet(self, row: dict[str, Any]) -> None:
        """The act will not happen: closed or missed with a reason once due, open until then."""
        if row["due_at"] > NOW:
            self.act(row, None)
            return
        state, reasons = ("closed", CLOSED) if self.rng.random() < 0.7 else ("missed", MISSED)
        ended = row["due_at"] + 24 * HOUR
        row.update(state=state, reason=self.rng.choice(reasons), ended_at=ended, next_at=None)

    def around(self, row: dict[str, Any], late: float, missed: float = 0.02) -> None:
        """Most acts in time, some late (hours to days), a few never."""
        r = self.rng.random()
        if r < missed:
            self.unmet(row)
            return
        early = timedelta(minutes=self.rng.randrange(30, 20 * 60))
        later = timedelta(minutes=self.rng.randrange(120, 5 * 24 * 60))
        self.act(row, row["due_at"] - early if r >= missed + late else row["due_at"] + later)
