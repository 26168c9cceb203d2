"""The record as documents: DOCX from the council's template and an accessible PDF on A4.

Every record of a whole sibling meeting (tests/records.py: S47 joint with a plan and an action, a Single
Assessment, no S47, and an amendment making LL-3001 version 2) is exported to both; each holds every
section and the values that matter, and a contribution full of markdown, HTML, Jinja and XML special
characters is there as typed, only in its own child's record, and makes no field, link or element.
"""

import dataclasses
import io
import json
import re
import zipfile

import docx
import jsonschema
import pypdf
import pytest
from docx.document import Document
from docx.table import Table
from docx.text.paragraph import Paragraph

from bot.config import ConfigError, load_settings
from bot.records import formats
from bot.records.docx import DEFAULT_TEMPLATE, render_docx
from bot.records.pdf import render_pdf
from bot.records.samples import SAMPLE_JSON, sample_json, sample_record
from bot.records.templates import make_template
from tests.conftest import REPO
from tests.records import AMENDMENT, TYPED, three_siblings

SECTIONS = [
    "Details of the discussion",
    "Attendance",
    "Apologies and agencies not present",
    "Quorum and required roles",
    "The concern",
    "Information shared by agency",
    "Decision",
    "S47 plan",
    "What parents, carers and the child are told",
    "Actions",
    "Deadlines",
    "Initial child protection conference",
    "Next discussion",
    "Monitoring",
    "Sign-off",
    "Versions",
    "Circulation",
]
DECISIONS = {
    "LL-3001": "S47 enquiry (joint with police, within a Single Assessment)",
    "LL-3002": "Single Assessment first, then reconvene",
    "LL-3003": "No S47 enquiry",
}
CIRCULATED = ["Pat Police", "Morgan Manager", "Harper Health"]
FIELDS = re.compile(rb"<w:(fldSimple|hyperlink|instrText|fldChar)\b")
A4 = (595.28, 841.89)  # points


# --- DOCX ---------------------------------------------------------------------------------------------


def blocks(doc: Document):
    """(style, text) of every paragraph and table cell, in document order."""
    for block in doc.iter_inner_content():
        if isinstance(block, Paragraph):
            yield block.style.name, block.text
        else:
            yield from _cells(block)


def _cells(table: Table):
    for row in table.rows:
        for cell in row.cells:
            for block in cell.iter_inner_content():
                if isinstance(block, Paragraph):
                    yield "cell", block.text
                else:
                    yield from _cells(block)


def docx_text(data: bytes) -> tuple[Document, list[tuple[str, str]], str]:
    doc = docx.Document(io.BytesIO(data))
    found = list(blocks(doc))
    return doc, found, "\n".join(text for _, text in found)


def fields_by_part(data: bytes) -> dict[str, int]:
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        return {n: len(FIELDS.findall(z.read(n))) for n in z.namelist() if n.endswith(".xml")}


def test_the_default_template_is_what_its_script_builds():
    assert DEFAULT_TEMPLATE.read_bytes() == make_template.build(), (
        "bot/records/templates/record.docx is stale: python -m bot.records.templates.make_template"
    )


async def test_every_record_of_a_sibling_meeting_exports_to_docx_with_every_section(db):
    walk = await three_siblings(db)
    template_fields = fields_by_part(DEFAULT_TEMPLATE.read_bytes())
    for ref, signed in walk.records.items():
        record = signed.record
        data = formats.render(record, formats.Format.DOCX)
        doc, found, text = docx_text(data)
        headings = [t for style, t in found if style == "Heading 2"]
        assert headings == SECTIONS, ref
        assert [t for style, t in found if style == "Heading 1"] == ["Record of strategy discussion"]
        assert doc.core_properties.title == f"Record of strategy discussion {ref}, discussion 1"
        assert doc.core_properties.language == "en-GB"
        # The details, the decision and who it went to.
        cells = [t for style, t in found if style == "cell"]
        assert cells[cells.index("Case reference") + 1] == ref
        assert cells[cells.index("Decision") + 1] == DECISIONS[ref]
        assert cells[cells.index("Length") + 1] == f"{record.minutes} minutes"
        assert cells[cells.index("Chair") + 1] == "Dana Duty, Duty / first-line manager"
        for name in CIRCULATED:
            assert name in cells and "Not yet acknowledged" in cells
        assert "Took part in the discussion (chair)" in cells
        # No field, link or element came from what was typed: document.xml has none, and every other
        # part (header, footer, styles) has what the template has, no more.
        assert not FIELDS.search(zipfile.ZipFile(io.BytesIO(data)).read("word/document.xml"))
        assert {k: v for k, v in fields_by_part(data).items() if k != "word/document.xml"} == {
            k: v for k, v in template_fields.items() if k != "word/document.xml"
        }

    eldest = docx_text(formats.render(walk.records["LL-3001"].record, formats.Format.DOCX))[2]
    middle = docx_text(formats.render(walk.records["LL-3002"].record, formats.Format.DOCX))[2]
    youngest = docx_text(formats.render(walk.records["LL-3003"].record, formats.Format.DOCX))[2]
    # The S47 plan's answers, one not applicable with its reason; the others have no plan.
    assert "Agreed answer for child_interview." in eldest and "Contingency plans" in eldest
    assert "Not applicable: physical injury, no neglect concern" in eldest
    for other in (middle, youngest):
        assert "Not applicable: the decision did not start a section 47 enquiry." in other
        assert "Agreed answer for" not in other
    assert "Joint visit with police to the eldest.\nPat Police\nPolice\nThu 26 Nov 2026\nOpen" in eldest
    assert "Reconvene on\nTue 15 Dec 2026" in middle
    assert "What happens instead\nContinue the Child and Family Assessment." in youngest
    # Deadlines with their outcome and reasons; the conference and its target for the S47 only.
    assert f"Missed\nThe chair said it will not happen, Fri 27 Nov 2026, 10:00\n{AMENDMENT}" in eldest
    assert "Target date\nTue 15 Dec 2026" in eldest and "No conference is due" in middle
    # The amended record is version 2 and lists both versions, with what the second changed.
    assert "Version\nVersion 2" in eldest and "2 (this version)" in eldest and AMENDMENT in eldest
    assert "1\nDana Duty\nTue 24 Nov 2026, 10:00\nsigned off" in eldest
    assert "1 (this version)" in middle and "2 (this version)" not in middle
    # The contribution tagged to LL-3001 is there as typed (line breaks and all), and only there.
    assert TYPED in eldest
    assert TYPED not in middle and TYPED not in youngest and "LL-9999" not in middle + youngest


# --- PDF ----------------------------------------------------------------------------------------------


def pdf_text(reader: pypdf.PdfReader) -> str:
    return "\n".join(page.extract_text() for page in reader.pages)


def squeezed(text: str) -> str:
    """Text without whitespace: a line wrapped on the page is the same text."""
    return "".join(text.split())


def structure(node, out: list[str]) -> list[str]:
    """The structure elements' types (/H1, /Table...) in the tree's order, which is the reading order."""
    node = node.get_object()
    if isinstance(node, pypdf.generic.ArrayObject):
        for kid in node:
            structure(kid, out)
    elif isinstance(node, pypdf.generic.DictionaryObject):
        if "/S" in node:
            out.append(node["/S"])
        if "/K" in node:
            structure(node["/K"], out)
    return out


def assert_accessible_a4(data: bytes, ref: str) -> pypdf.PdfReader:
    reader = pypdf.PdfReader(io.BytesIO(data))
    root = reader.trailer["/Root"]
    assert "/StructTreeRoot" in root and root["/MarkInfo"]["/Marked"].value is True
    assert root["/Lang"] == "en-GB" and root["/ViewerPreferences"]["/DisplayDocTitle"].value is True
    assert reader.metadata.title == f"Record of strategy discussion {ref}, discussion 1"
    assert b'pdfuaid:part="1"' in root["/Metadata"].get_object().get_data()  # PDF/UA-1
    for page in reader.pages:
        box = page.mediabox
        assert (round(float(box.width), 2), round(float(box.height), 2)) == A4
        for annot in page.get("/Annots") or []:
            assert annot.get_object().get("/Subtype") != "/Link"
    tags = structure(root["/StructTreeRoot"], [])
    headings = [t for t in tags if re.fullmatch(r"/H\d", t)]
    assert headings[0] == "/H1" and headings.count("/H1") == 1
    assert headings.count("/H2") >= len(SECTIONS) and "/H3" in headings
    assert headings.index("/H2") < headings.index("/H3")  # no level skipped
    assert {"/Table", "/TH", "/TD", "/P"} <= set(tags)
    return reader


async def test_every_record_of_a_sibling_meeting_exports_to_an_accessible_a4_pdf(db):
    walk = await three_siblings(db)
    texts = {}
    for ref, signed in walk.records.items():
        data = formats.render(signed.record, formats.Format.PDF)
        assert data.startswith(b"%PDF-1.7")
        reader = assert_accessible_a4(data, ref)
        text = texts[ref] = pdf_text(reader)
        for heading in SECTIONS:
            assert heading in text, (ref, heading)
        flat = squeezed(text)
        assert squeezed(DECISIONS[ref]) in flat
        assert all(squeezed(f"{name} Record Tue 24 Nov 2026, 10:00") in flat for name in CIRCULATED)
        assert "OFFICIAL-SENSITIVE" in text and f"Case reference {ref}" in text
    eldest, middle, youngest = (squeezed(texts[r]) for r in ("LL-3001", "LL-3002", "LL-3003"))
    assert squeezed("Agreed answer for child_interview.") in eldest
    assert squeezed("Not applicable: physical injury, no neglect concern") in eldest
    assert squeezed("Joint visit with police to the eldest.") in eldest
    assert squeezed("Not applicable: the decision did not start a section 47 enquiry.") in middle
    assert squeezed("2 (this version)") in eldest and squeezed(AMENDMENT) in eldest
    assert squeezed("Version Version 2") in eldest and squeezed("Version Version 1") in youngest
    # What was typed is on the page as typed, every character of it, and only in LL-3001's record.
    assert squeezed(TYPED) in eldest
    assert all(word in texts["LL-3001"] for word in ("<script>x</script>", "{{", "{%", "]]>", "<b>bold</b>"))
    assert squeezed(TYPED) not in middle + youngest and "LL-9999" not in middle + youngest


# --- Templates, settings and the samples in docs/ -----------------------------------------------------


TRICKY = '{_{ x }_} {_% if y %_} </w:t><w:fldSimple w:instr="PAGE"/> &amp; \x07bell\x0cpage\r\nend'
AS_SHOWN = '{_{ x }_} {_% if y %_} </w:t><w:fldSimple w:instr="PAGE"/> &amp; bellpage\nend'


def council_template(path) -> None:
    doc = docx.Document()
    doc.add_heading("Borsetshire Council: strategy meeting minute", level=1)
    doc.add_paragraph("Our reference {{ case_ref }}; outcome: {{ decision.label }}")
    doc.add_paragraph("{{ concern }}")
    doc.save(path)


def test_a_council_template_named_in_the_settings_is_used(tmp_path, monkeypatch):
    template = tmp_path / "council.docx"
    council_template(template)
    record = dataclasses.replace(sample_record(), concern=TRICKY)
    monkeypatch.setenv("RECORD_DOCX_TEMPLATE", str(template))
    assert load_settings().record_docx_template == template
    for data in (formats.render(record, formats.Format.DOCX), render_docx(record)):
        _, found, text = docx_text(data)
        assert found[0] == ("Heading 1", "Borsetshire Council: strategy meeting minute")
        assert "Our reference CR-100234; outcome: S47 enquiry (joint with police" in text
        assert AS_SHOWN in text  # docxtpl's own {_{ escape did not touch it either
        assert "Details of the discussion" not in text
        assert not FIELDS.search(zipfile.ZipFile(io.BytesIO(data)).read("word/document.xml"))
    # A template given by the caller wins over the setting; with neither, ours is used.
    assert "Details of the discussion" in docx_text(render_docx(record, DEFAULT_TEMPLATE))[2]
    monkeypatch.delenv("RECORD_DOCX_TEMPLATE")
    assert AS_SHOWN in docx_text(render_docx(record))[2]


def test_a_setting_that_is_not_a_word_document_is_refused(tmp_path):
    not_docx = tmp_path / "form.docx"
    not_docx.write_text("not a Word document")
    for path in (not_docx, tmp_path / "missing.docx"):
        with pytest.raises(ConfigError, match="RECORD_DOCX_TEMPLATE"):
            load_settings(record_docx_template=path)


def test_a_draft_with_little_in_it_renders_in_both_formats():
    bare = dataclasses.replace(
        sample_record(),
        attendance=(),
        contributions=(),
        decision=None,
        plan=None,
        actions=(),
        deadlines=(),
        conference=None,
        parents_told=None,
        monitoring=None,
        siblings=(),
        version=None,
        signed_off_by=None,
        signed_off_at=None,
        versions=(),
        circulation=(),
        concern=TRICKY,
        closed_reason="Closed: the family moved to another authority.",
        case_ref="CR_1&<2>",  # the footer, the properties and the title escape it too
    )
    title = "Record of strategy discussion CR_1&<2>, discussion 1"
    doc, found, text = docx_text(render_docx(bare))
    assert doc.core_properties.title == title
    assert doc.sections[0].footer.paragraphs[0].text.startswith(f"{title}, Draft, not signed off.")
    assert [t for style, t in found if style == "Heading 2"] == [*SECTIONS[:14], "Closed", *SECTIONS[14:]]
    for said in ("No decision recorded.", "Not signed off yet.", "Not circulated yet.", "None recorded."):
        assert said in text
    assert "Draft, not signed off" in text and AS_SHOWN in text
    reader = pypdf.PdfReader(io.BytesIO(render_pdf(bare)))
    assert reader.metadata.title == title
    text = pdf_text(reader)
    assert "No decision recorded." in text and "Closed: the family moved" in text
    assert squeezed(AS_SHOWN) in squeezed(text)


def test_the_sample_in_docs_is_what_the_samples_module_makes_and_valid():
    assert SAMPLE_JSON.read_bytes() == sample_json(), "docs/ is stale: python -m bot.records.samples"
    schema = json.loads((REPO / "docs" / "record.schema.json").read_text())
    jsonschema.validate(json.loads(SAMPLE_JSON.read_bytes()), schema)
    assert (REPO / "docs" / "record-sample.png").read_bytes().startswith(b"\x89PNG")
