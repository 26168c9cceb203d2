"""What one turn of a discussion costs: SQL statements and time per thread reply and per view.

    python bench/turns.py [--replies 200] [--only sqlite] [--code PATH]

Times are reported as ratios to a baseline measured in the same run (a bare transaction that reads
one row), so machines can be compared. `--code PATH` runs
the same measurement on another checkout (e.g. a worktree of the previous release) so that a change's
cost can be read off one run. Only loopback databases: a SQLite file and the tests' PostgreSQL server.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # run as a script: bench.databases; --code puts another checkout first

from bench.databases import POSTGRES_URL, postgres_schema  # noqa: E402

CAST = {
    "chair": ("Dana Duty", "social_care", "duty_manager"),
    "police": ("Pat Police", "police", "police_officer"),
    "health": ("Harper Health", "health", "health_professional"),
}
CONVENE = {
    "case_ref": "BENCH-1",
    "category": "physical",
    "concern": "(benchmark)",
    "immediate_risk": "no",
    "referring_agency": "health",
    "format": "meeting",
    "proposed_date": "2026-11-24",
    "proposed_time": "14:00",
}
# The circumstances, under the names this release's form uses and the previous one's.
for _name in ("possible_injury", "medical_implications", "hospital_involvement", "inpatient", "complex"):
    CONVENE[f"c_{_name}"] = "no"
    CONVENE["complex_case" if _name == "complex" else _name] = "no"


def _cards(result: Any) -> list[Any]:
    return list(getattr(result, "cards", result))  # a Result now; a list of cards before


async def measure(url: str, replies: int, connect_args: dict[str, Any] | None = None) -> dict[str, float]:
    from sqlalchemy import event, select

    from dialogs.engine import Dialogs
    from dialogs.model import Actor, TargetKind, Turn, TurnKind
    from dialogs.procedure import load_procedure
    from storage import migrate
    from storage.db import Database
    from storage.models import Person

    db = Database(url, **({"connect_args": connect_args} if connect_args else {}))
    try:
        await migrate.upgrade(db)
        now = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)
        engine = Dialogs(db, load_procedure(), now=lambda: now)
        actors = {}
        async with db.session() as s:
            for key, (name, agency, role) in CAST.items():
                person = Person(
                    display_name=name,
                    email=f"{key}-{uuid.uuid4().hex[:6]}@bench.example",
                    agency=agency,
                    role=role,
                )
                s.add(person)
                await s.flush()
                assert person.id is not None
                actors[key] = Actor(person.id, name, agency, role)
        statements = 0

        def count(*_: Any) -> None:
            nonlocal statements
            statements += 1

        event.listen(db.engine.sync_engine, "before_cursor_execute", count)

        async def turn(who: str, kind: TurnKind, name: str = "", value: str = "", **kw: Any) -> list[Any]:
            return _cards(
                await engine.handle(Turn(actor=actors[who], kind=kind, name=name, value=value, **kw))
            )

        cards = await turn("chair", TurnKind.FORM, "convene", "", fields=CONVENE)
        did = next(c.target.discussion_id for c in cards if c.target.kind == TargetKind.MAIN_POST)
        form = next(c.form for c in await turn("chair", TurnKind.BUTTON, "invite", str(did)) if c.form)
        people = [str(actors[k].person_id) for k in ("police", "health")]
        cards = await turn("chair", TurnKind.FORM, "invite", form.context, fields={"people": people})
        for c in cards:
            for b in c.buttons:
                if b.action == "accept":
                    who = next(k for k, a in actors.items() if a.person_id == c.target.person_id)
                    await turn(who, TurnKind.BUTTON, "accept", b.value)
        await turn("chair", TurnKind.BUTTON, "start", str(did))

        async def timed(n: int, make: Any) -> tuple[float, float]:
            nonlocal statements
            times, before = [], statements
            for i in range(n):
                started = time.perf_counter()
                await make(i)
                times.append(time.perf_counter() - started)
            return statistics.median(times), (statements - before) / n

        async def bare(_: int) -> None:
            async with db.session() as session:
                await session.execute(select(Person.id).limit(1))

        base_time, _ = await timed(replies, bare)
        reply_time, reply_sql = await timed(
            replies,
            lambda i: turn(
                "police", TurnKind.REPLY, discussion_id=did, text=f"Contribution {i}.", event_id=f"ev-{i}"
            ),
        )
        view_time, view_sql = await timed(
            replies, lambda i: turn("chair", TurnKind.BUTTON, "status", str(did))
        )
        return {
            "base_ms": base_time * 1000,
            "reply_x": reply_time / base_time,
            "reply_sql": reply_sql,
            "view_x": view_time / base_time,
            "view_sql": view_sql,
        }
    finally:
        await db.dispose()


async def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--replies", type=int, default=200, help="turns of each kind to time")
    parser.add_argument("--only", choices=("sqlite", "postgresql"))
    parser.add_argument("--code", type=Path, default=REPO, help="the checkout whose code to measure")
    args = parser.parse_args(argv)
    sys.path.insert(0, str(args.code.resolve()))
    import dialogs

    print(f"code: {Path(dialogs.__file__).parent.parent}; {args.replies} turns of each kind; medians")
    if args.only != "postgresql":
        with tempfile.TemporaryDirectory() as tmp:
            _report("sqlite", await measure(f"sqlite:///{tmp}/bench.db", args.replies))
    if args.only != "sqlite":
        async with postgres_schema(POSTGRES_URL, "bench_turns") as connect_args:
            _report("postgresql", await measure(POSTGRES_URL, args.replies, connect_args))


def _report(name: str, r: dict[str, float]) -> None:
    print(
        f"{name:>10}: a bare transaction {r['base_ms']:.2f} ms (the baseline) | "
        f"thread reply {r['reply_x']:.1f}x, {r['reply_sql']:.0f} statements | "
        f"open the discussion {r['view_x']:.1f}x, {r['view_sql']:.0f} statements"
    )


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1:]))
