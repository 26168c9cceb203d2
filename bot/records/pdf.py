"""The record as an accessible PDF for A4 paper: HTML from a Jinja2 template, laid out by WeasyPrint.

Accessible means PDF/UA-1 (ISO 14289-1), which WeasyPrint writes from HTML: the PDF is tagged (its
structure tree holds the headings in reading order, the tables with their header cells and scopes, the
paragraphs), marked, in British English (`<html lang="en-GB">`, /Lang) and titled, with the viewer told
to show the title rather than the file name. The title carries the case reference and the discussion
number, never a child's name. Margin boxes (the protective marking, page numbers) are left out of the
structure, as artifacts are. What participants typed goes through Jinja2's autoescape, so it is text:
it makes no element, link or heading, and its line breaks are kept by CSS (white-space: pre-wrap).

WeasyPrint needs Pango (Debian's libpango-1.0-0 and libpangoft2-1.0-0; .ci/run installs them).
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined

from dialogs.record_model import Record

from .context import context

TEMPLATES = Path(__file__).resolve().parent / "templates"
PDF_VARIANT = "pdf/ua-1"


@cache
def _environment() -> Environment:
    return Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=True,
        undefined=StrictUndefined,  # a misspelt variable fails the render instead of printing nothing
        trim_blocks=True,
        lstrip_blocks=True,
    )


@cache
def _stylesheet():  # -> weasyprint.CSS, parsed once per process
    from weasyprint import CSS

    return CSS(filename=str(TEMPLATES / "record.css"))


def render_html(record: Record) -> str:
    """The record as the HTML the PDF is made from."""
    return _environment().get_template("record.html").render(context(record))


def render_pdf(record: Record) -> bytes:
    """The record as a tagged PDF/UA-1 document on A4 pages."""
    from weasyprint import HTML
    from weasyprint.urls import URLFetcher

    # The record is self-contained: nothing in it is fetched, from the network or from this machine.
    nothing = URLFetcher(allowed_protocols=())
    document = HTML(string=render_html(record), base_url=str(TEMPLATES), url_fetcher=nothing)
    pdf = document.write_pdf(stylesheets=[_stylesheet()], pdf_variant=PDF_VARIANT, pdf_tags=True)
    assert pdf is not None  # written to memory, not to a target
    return pdf
