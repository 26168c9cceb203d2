"""`python -m bot record export REFERENCE --format docx|pdf|json [--out PATH]`, for councils that
collect records in batch.

It writes the latest signed-off record of each discussion about the child (one file per discussion),
each named by `Signed.file_stem` (case reference, discussion number, version: never a name), in the
current folder, or:
- `--out FILE`: that file, when there is exactly one record; with several it refuses (exit 2) rather
  than guess which one is meant, or write several records into one file;
- `--out FOLDER` (a folder that exists): every file in it, under its own name.
An unknown reference, or a child with no signed-off record yet, exits 2 with one line. Each file is
written atomically and audited (actor "cli"); what is printed names files and versions only.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import TYPE_CHECKING

from bot.cli import UsageError
from bot.config import Settings
from bot.records.formats import Format

if TYPE_CHECKING:
    from dialogs.record_export import Signed


def register(sub) -> None:
    record = sub.add_parser("record", help="signed-off records of strategy discussions")
    export = record.add_subparsers(dest="record_command", required=True).add_parser(
        "export",
        help="write a child's signed-off records as files (one per discussion)",
        description="Write the latest signed-off record of each discussion about the child with this "
        "case reference, one file each, named by case reference, discussion and version.",
    )
    export.add_argument("reference", help="the child's case reference")
    export.add_argument("--format", required=True, choices=[f.value for f in Format])
    export.add_argument(
        "--out",
        type=Path,
        help="a file (when there is one record) or an existing folder; default: the current folder",
    )
    export.set_defaults(handler=cmd_export)


def cmd_export(args, settings: Settings) -> int:
    return asyncio.run(_export(args.reference.strip(), Format(args.format), args.out, settings))


async def _export(reference: str, fmt: Format, out: Path | None, settings: Settings) -> int:
    from sqlalchemy import func, select
    from sqlmodel import col

    from bot.cli_ops import _open_db
    from bot.records import files
    from bot.services import Services
    from dialogs.record_export import latest_for
    from storage.models import Child

    db = await _open_db(settings)
    written: list[tuple[Signed, Path]] = []
    try:
        dialogs = Services.create(settings, db).dialogs
        async with db.read() as session:  # no write lock while the records are built
            records = await latest_for(dialogs, session, reference)
            known = (
                records
                or (
                    await session.execute(
                        select(col(Child.id))
                        .where(func.lower(col(Child.case_ref)) == reference.lower())
                        .limit(1)
                    )
                ).first()
            )
        if not known:
            raise UsageError(f"no child with case reference {reference!r} in this database")
        if not records:
            raise UsageError(f"case {reference} has no signed-off record yet: nothing to export")
        targets = _targets(records, fmt, out, reference)
        try:
            for record, path in targets:
                written.append((record, files.write(record, fmt, path)))
        except OSError as exc:
            raise UsageError(f"cannot write {path}: {exc.strerror or type(exc).__name__}") from None
        finally:
            if written:  # every file that was written is audited, even if a later one failed
                async with db.session() as session:
                    for record, path in written:
                        await files.audit_export(session, record, fmt, str(path), actor="cli", channel="cli")
    finally:
        await db.dispose()
    for record, path in written:
        print(f"{path}  (discussion {record.record.discussion_number}, version {record.version.version})")
    return 0


def _targets(
    records: list[Signed], fmt: Format, out: Path | None, reference: str
) -> list[tuple[Signed, Path]]:
    """Where each record goes (see the module's docstring)."""
    from bot.records.files import file_name

    if out is None or out.is_dir():
        folder = (out or Path.cwd()).resolve()
        return [(r, folder / file_name(r, fmt)) for r in records]
    if len(records) > 1:
        raise UsageError(
            f"case {reference} has {len(records)} signed-off records (one per discussion), so --out "
            f"{out} cannot hold them: give a folder that exists, or leave --out out to write them here"
        )
    if not out.parent.is_dir():
        raise UsageError(f"--out {out}: there is no folder {out.parent}")
    return [(records[0], out.resolve())]
