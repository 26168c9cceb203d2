"""The pieces the default record template is built of (make_template.py): page, styles, header and
footer, section headings, tables of label/value pairs and repeating rows, and a reproducible save."""

from __future__ import annotations

import io
import zipfile
from datetime import UTC, datetime

import docx
from docx.enum.section import WD_ORIENT
from docx.enum.table import WD_TABLE_ALIGNMENT
from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.opc.constants import RELATIONSHIP_TYPE as RT
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.shared import Cm, Pt, RGBColor
from docx.table import Table

FIXED = datetime(2026, 1, 1, tzinfo=UTC)  # the template's own dates: the same on every build
FONT = "Arial"
INK = RGBColor(0x1F, 0x2A, 0x44)
SHADE = "D9E2F3"  # header cells
WIDTH = 17.0  # cm between the margins of an A4 page


def page_and_styles(doc: docx.document.Document) -> None:
    section = doc.sections[0]
    section.orientation = WD_ORIENT.PORTRAIT
    section.page_width, section.page_height = Cm(21.0), Cm(29.7)
    for side in ("left_margin", "right_margin"):
        setattr(section, side, Cm(2.0))
    section.top_margin, section.bottom_margin = Cm(2.0), Cm(2.0)

    # British English for the spelling checker and screen readers, Arial as most councils' forms use.
    (rpr,) = doc.styles.element.xpath("w:docDefaults/w:rPrDefault/w:rPr")
    (lang,) = rpr.xpath("w:lang")
    lang.set(qn("w:val"), "en-GB")
    lang.set(qn("w:eastAsia"), "en-GB")
    normal = doc.styles["Normal"]
    normal.font.name = FONT
    normal.font.size = Pt(10)
    normal.paragraph_format.space_after = Pt(4)
    normal.paragraph_format.line_spacing = 1.1
    for level, size in ((1, 16), (2, 12.5), (3, 11)):
        style = doc.styles[f"Heading {level}"]
        style.font.name = FONT
        style.font.size = Pt(size)
        style.font.bold = True
        style.font.color.rgb = INK
        style.paragraph_format.space_before = Pt(14 if level < 3 else 8)
        style.paragraph_format.space_after = Pt(4)
        style.paragraph_format.keep_with_next = True
        # The theme's heading font would win over the name: say which font for every script.
        rfonts = style.element.get_or_add_rPr().get_or_add_rFonts()
        for attr in ("w:asciiTheme", "w:hAnsiTheme", "w:eastAsiaTheme", "w:cstheme"):
            rfonts.attrib.pop(qn(attr), None)
        for attr in ("w:ascii", "w:hAnsi", "w:cs"):
            rfonts.set(qn(attr), FONT)

    props = doc.core_properties
    props.title = "Record of strategy discussion {{ case_ref }}, discussion {{ discussion_number }}"
    props.subject = "Child protection strategy discussion"
    props.language = "en-GB"
    props.author = ""
    props.last_modified_by = ""
    props.comments = ""
    props.revision = 1
    props.created = props.modified = FIXED.replace(tzinfo=None)


def header_and_footer(doc: docx.document.Document) -> None:
    section = doc.sections[0]
    head = section.header.paragraphs[0]
    head.text = "OFFICIAL-SENSITIVE"
    head.alignment = WD_ALIGN_PARAGRAPH.CENTER
    head.runs[0].bold = True
    foot = section.footer.paragraphs[0]
    foot.text = "Record of strategy discussion {{ case_ref }}, discussion {{ discussion_number }}, "
    foot.add_run("{{ version_label }}. Page ")
    page = OxmlElement("w:fldSimple")
    page.set(qn("w:instr"), "PAGE")
    run = OxmlElement("w:r")
    rpr = OxmlElement("w:rPr")
    size = OxmlElement("w:sz")
    size.set(qn("w:val"), "16")  # half-points: 8 pt, as the rest of the footer
    rpr.append(size)
    run.append(rpr)
    t = OxmlElement("w:t")
    t.text = "1"
    run.append(t)
    page.append(run)
    foot._p.append(page)
    foot.alignment = WD_ALIGN_PARAGRAPH.CENTER
    for r in foot.runs:
        r.font.size = Pt(8)


def section(doc: docx.document.Document, heading: str) -> None:
    doc.add_heading(heading, level=2)


def tag(doc: docx.document.Document, tag: str) -> None:
    """A paragraph that holds only a docxtpl tag: docxtpl removes the paragraph itself."""
    doc.add_paragraph(tag)


def pairs(doc: docx.document.Document, rows: list[tuple[str, ...]]) -> Table:
    """A two-column table of label and value, as a form has; a third item is the row's condition."""
    table = grid(doc, 2, [6.0, WIDTH - 6.0])
    for label, value, *condition in rows:
        if condition:
            tag_row(table, f"{{%tr if {condition[0]} %}}")
        cells = table.add_row().cells
        header_cell(cells[0], label)
        cells[1].text = value
        if condition:
            tag_row(table, "{%tr endif %}")
    return table


def repeating(
    doc: docx.document.Document,
    headers: list[str],
    cells: list[str],
    loop: str,
    widths: list[float],
    empty: str | None = None,
    guard: bool = True,
) -> None:
    """A table with a header row and one row per item of `loop` ("x in items"); when the list can be
    empty, `empty` is said instead of an empty table."""
    items = loop.split(" in ", 1)[1]
    if guard and empty is not None:
        tag(doc, f"{{%p if {items} %}}")
    table = grid(doc, len(headers), widths)
    header = table.add_row()
    repeat_as_header(header)
    for cell, text in zip(header.cells, headers, strict=True):
        header_cell(cell, text)
    tag_row(table, f"{{%tr for {loop} %}}")
    for cell, text in zip(table.add_row().cells, cells, strict=True):
        cell.text = text
    tag_row(table, "{%tr endfor %}")
    if guard and empty is not None:
        tag(doc, "{%p else %}")
        doc.add_paragraph(empty)
        tag(doc, "{%p endif %}")


def grid(doc: docx.document.Document, columns: int, widths: list[float]) -> Table:
    table = doc.add_table(rows=0, cols=columns)
    table.style = doc.styles["Table Grid"]
    table.alignment = WD_TABLE_ALIGNMENT.LEFT
    table.autofit = False
    for column, width in zip(table.columns, widths, strict=True):
        column.width = Cm(width)
    doc.add_paragraph()  # a table needs a paragraph between it and the next one
    return table


def tag_row(table: Table, tag: str) -> None:
    table.add_row().cells[0].text = tag


def header_cell(cell, text: str) -> None:
    cell.text = ""
    run = cell.paragraphs[0].add_run(text)
    run.bold = True
    shd = OxmlElement("w:shd")
    shd.set(qn("w:val"), "clear")
    shd.set(qn("w:color"), "auto")
    shd.set(qn("w:fill"), SHADE)
    cell._tc.get_or_add_tcPr().append(shd)


def repeat_as_header(row) -> None:
    """Word repeats the row on each page and reads it to screen-reader users as the column headers."""
    trpr = row._tr.get_or_add_trPr()
    trpr.append(OxmlElement("w:tblHeader"))
    cant_split = OxmlElement("w:cantSplit")
    trpr.append(cant_split)


def reproducible(doc: docx.document.Document) -> bytes:
    # python-docx's own default template carries a thumbnail of a blank page: drop it.
    package = doc.part.package
    for rid, rel in list(package.rels.items()):
        if rel.reltype == RT.THUMBNAIL:
            del package.rels[rid]
    raw = io.BytesIO()
    doc.save(raw)
    out = io.BytesIO()
    with zipfile.ZipFile(raw) as zin, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zout:
        for info in zin.infolist():
            fixed = zipfile.ZipInfo(info.filename, date_time=(1980, 1, 1, 0, 0, 0))
            fixed.compress_type = zipfile.ZIP_DEFLATED
            fixed.external_attr = 0o644 << 16
            zout.writestr(fixed, zin.read(info.filename))
    return out.getvalue()
