"""A signed-off record written as files, and the audit entry for each export.

Shared by the export command, the export folder and the playground's downloads, so every way a record
leaves is named and audited alike: file names carry the case reference, the discussion's number and
the version (`Signed.file_stem`), never a child's name; audit entries carry ids, the format and where
it went, never case text.
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncSession

from bot.records.formats import Format, render
from dialogs.record_export import Signed
from storage import audit

EXPORTED = "record.exported"  # the audit action of every export: command, folder or download
STEM_PREFIX = "strategy-discussion-"  # every file name starts so (dialogs.record_export.Signed.file_stem)
FILE_MODE = 0o640  # the owner writes, the group (a case-management system's import) reads


def file_name(signed: Signed, fmt: Format) -> str:
    return f"{signed.file_stem}.{fmt.value}"


def write_atomic(path: Path, data: bytes) -> Path:
    """Write `data` at `path` so that a reader (a case-management system's import) sees the whole file
    or nothing: written under a temporary name in the same folder (same file system: the rename is
    atomic), flushed to the disk, then renamed over `path`; the folder is synced too, so the rename
    itself survives a power cut. The temporary name starts with a dot and ends in .tmp, which import
    jobs are usually set to skip; it is removed if anything fails."""
    folder = path.parent
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, FILE_MODE)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    _sync_folder(folder)
    return path


def remove_stale_temporaries(folder: Path, *, older_than: float = 3600) -> int:
    """Remove temporary files a killed process left behind (`write_atomic`'s, of our own names only),
    once they are older than any write takes, so another process's write in progress is left alone."""
    removed = 0
    cutoff = time.time() - older_than
    for tmp in folder.glob(f".{STEM_PREFIX}*.tmp"):
        try:
            if tmp.stat().st_mtime < cutoff:
                tmp.unlink()
                removed += 1
        except FileNotFoundError:  # another process removed or renamed it meanwhile
            continue
    return removed


def _sync_folder(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:  # a platform that cannot open a folder (Windows): the rename is all we have
        return
    try:
        os.fsync(fd)
    except OSError:
        pass  # some file systems refuse fsync on a folder; the file itself is on disk
    finally:
        os.close(fd)


def write(signed: Signed, fmt: Format, path: Path) -> Path:
    """Render the record in `fmt` and write it at `path`, atomically. CPU and disk work: callers in
    an event loop run it in a thread."""
    return write_atomic(path, render(signed.record, fmt))


async def audit_export(
    session: AsyncSession,
    signed: Signed,
    fmt: Format,
    destination: str,
    *,
    actor: str,
    channel: str,
    action: str = EXPORTED,
) -> None:
    """The audit entry of one export (or download): which record version, which format, where (who:
    `actor`)."""
    await audit.append(
        session,
        actor=actor,
        channel=channel,
        action=action,
        discussion_id=signed.version.discussion_id,
        detail={
            "record_version_id": signed.version.id,
            "version": signed.version.version,
            "format": fmt.value,
            "destination": destination,
        },
    )
