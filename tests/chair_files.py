"""What the chair's record files must be, for the Slack and Teams tests of their delivery: DOCX and
PDF when the renderers are there (bot/records/docx.py and pdf.py), JSON until they were (then each
validates against docs/record.schema.json)."""

import importlib.util
import io
import json

import jsonschema

from bot.records.formats import Format
from tests.conftest import REPO

RENDERERS = all(importlib.util.find_spec(f"bot.records.{m}") for m in ("docx", "pdf"))
FORMATS = (Format.DOCX, Format.PDF) if RENDERERS else (Format.JSON,)


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
    elif fmt == Format.PDF:
        from pypdf import PdfReader

        assert data.startswith(b"%PDF-")
        assert case_ref in "".join(page.extract_text() for page in PdfReader(io.BytesIO(data)).pages)
    else:
        schema = json.loads((REPO / "docs" / "record.schema.json").read_text())
        jsonschema.validate(json.loads(data), schema)
        assert case_ref in data.decode()
