"""The formats a signed-off record is exported in, each rendered from the typed record."""

from __future__ import annotations

from enum import StrEnum

from dialogs import record_json
from dialogs.record_model import Record


class Format(StrEnum):
    DOCX = "docx"  # from the council's template (RECORD_DOCX_TEMPLATE), for its case-management system
    PDF = "pdf"  # tagged and accessible, A4
    JSON = "json"  # validates against docs/record.schema.json

    @property
    def media_type(self) -> str:
        return MEDIA_TYPES[self]

    @property
    def label(self) -> str:
        """As people see it on a link or button."""
        return LABELS[self]


LABELS = {Format.DOCX: "Word (DOCX)", Format.PDF: "PDF", Format.JSON: "JSON"}
MEDIA_TYPES = {
    Format.DOCX: "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    Format.PDF: "application/pdf",
    Format.JSON: "application/json",
}


def render(record: Record, fmt: Format) -> bytes:
    """The record as a file of format `fmt`."""
    if fmt == Format.JSON:
        return record_json.to_json(record)
    if fmt == Format.DOCX:
        from bot.records.docx import render_docx

        return render_docx(record)
    from bot.records.pdf import render_pdf

    return render_pdf(record)
