"""What the chair's record files must be, for the Slack and Teams tests of their delivery."""

import io
from datetime import UTC, datetime

from sqlalchemy import update

from bot.records.formats import Format
from bot.records.to_chair import FORMATS
from storage import outbox
from storage.models import Outbox


def file_names(refs, formats=FORMATS, *, discussion: int = 1, version: int = 1) -> list[str]:
    """The files' names: the case reference, the discussion's number and the version, never a name."""
    return [f"strategy-discussion-{r}-d{discussion}-v{version}.{f.value}" for r in refs for f in formats]


def check_file(fmt: Format, data: bytes, case_ref: str) -> None:
    """The bytes are a file of that format, holding that child's record."""
    if fmt == Format.DOCX:
        import docx

        document = docx.Document(io.BytesIO(data))
        text = "\n".join(p.text for p in document.paragraphs)
        text += "\n".join(c.text for t in document.tables for row in t.rows for c in row.cells)
        assert case_ref in text + document.core_properties.title
    else:
        from pypdf import PdfReader

        assert data.startswith(b"%PDF-")
        assert case_ref in "".join(page.extract_text() for page in PdfReader(io.BytesIO(data)).pages)


async def send_again(services, row: Outbox) -> None:
    """The files card's row taken again by the outbox (its lease ran out, its retry time came): it
    must send nothing twice."""
    async with services.db.session() as s:
        await s.execute(
            update(Outbox)
            .where(Outbox.id == row.id)
            .values(
                status=outbox.PENDING,
                claimed_by=None,
                claim_expires_at=None,
                next_attempt_at=datetime.now(UTC),
            )
        )
    report = await services.sender.drain()
    assert (report.sent, report.failed) == (1, 0)
