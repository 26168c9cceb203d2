"""Builds the default DOCX template, record.docx, beside this file.

    python -m bot.records.templates.make_template

The template is laid out like a local authority's "record of strategy discussion" form: a title, then one
section per item PROCEDURE.md says the record holds, each a heading (Word's Heading 2, so a screen reader
and the navigation pane find it) over a table or a paragraph. The docxtpl tags in it are the template
variables of bot/records/context.py (docs/records.md lists them): `{{ x }}` prints a value, `{%tr ... %}`
in a table row repeats or keeps that row, `{%p ... %}` in a paragraph of its own does so for what lies
between. A council wanting its own layout copies the file, edits it in Word, keeps the tags it wants
and points RECORD_DOCX_TEMPLATE at the copy; this script is only how ours is made, so a change to it is
reviewed as code. The output is the same bytes on every run (fixed zip times and document dates), so
the committed file can be checked against it (tests/test_record_documents.py).
"""

from __future__ import annotations

import io
import zipfile
from datetime import UTC, datetime
from pathlib import Path

import docx
from docx.enum.section import WD_ORIENT
from docx.enum.table import WD_TABLE_ALIGNMENT
from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.opc.constants import RELATIONSHIP_TYPE as RT
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.shared import Cm, Pt, RGBColor
from docx.table import Table

HERE = Path(__file__).resolve().parent
TEMPLATE = HERE / "record.docx"
FIXED = datetime(2026, 1, 1, tzinfo=UTC)  # the template's own dates: the same on every build
FONT = "Arial"
INK = RGBColor(0x1F, 0x2A, 0x44)
SHADE = "D9E2F3"  # header cells
WIDTH = 17.0  # cm between the margins of an A4 page


def build() -> bytes:
    doc = docx.Document()
    _page_and_styles(doc)
    _header_and_footer(doc)

    doc.add_heading("Record of strategy discussion", level=1)
    p = doc.add_paragraph(
        "Case reference {{ case_ref }} \u2022 {{ discussion_label }} (discussion {{ discussion_number }}) "
        "\u2022 {{ version_label }}"
    )
    p.runs[0].bold = True
    doc.add_paragraph(
        "One record per child per discussion. The council's case-management system holds the official "
        "record; this is the record as signed off in the strategy discussion."
    ).runs[0].italic = True

    _section(doc, "Details of the discussion")
    _pairs(
        doc,
        [
            ("Case reference", "{{ case_ref }}"),
            ("Discussion", "{{ discussion_label }} (discussion {{ discussion_number }})"),
            (
                "Other children discussed at the same time",
                "{{ siblings }} (each has their own record)",
                "siblings",
            ),
            ("Format", "{{ format }}"),
            (
                "Out of hours",
                "{{ out_of_hours }}{% if out_of_hours_reason %}: set by the chair because "
                "{{ out_of_hours_reason }}{% endif %}",
            ),
            ("Convened", "{{ convened_at }}"),
            ("Meeting time proposed", "{{ proposed_at }}"),
            ("Started", "{{ started_at }}"),
            ("Decision recorded", "{{ ended_at }}"),
            ("Length", "{{ length }}"),
            ("Held later than the procedure's timescale because", "{{ late_reason }}", "late_reason"),
            ("Chair", "{{ chair }}{% if chair_role %}, {{ chair_role }}{% endif %}"),
        ],
    )

    _section(doc, "Attendance")
    _rows(
        doc,
        ["Name", "Role", "Agency", "How they took part"],
        ["{{ a.name }}", "{{ a.role }}", "{{ a.agency }}", "{{ a.how }}{% if a.chair %} (chair){% endif %}"],
        "a in attendance",
        [3.5, 5.0, 3.5, 5.0],
    )

    _section(doc, "Apologies and agencies not present")
    _rows(
        doc,
        ["Name", "Agency", "Reason", "Directions given"],
        ["{{ a.name }}, {{ a.role }}", "{{ a.agency }}", "{{ a.reason }}", "{{ a.directions }}"],
        "a in apologies",
        [4.0, 3.0, 5.0, 5.0],
        empty="None: everyone invited took part.",
    )

    _section(doc, "Quorum and required roles")
    doc.add_paragraph("Quorum: {{ quorum }}").runs[0].bold = True
    _rows(
        doc,
        ["Requirement", "Met", "Note"],
        ["{{ q.label }}", "{{ q.met }}", "{{ q.note }}"],
        "q in requirements",
        [10.0, 2.0, 5.0],
    )
    doc.add_heading("Circumstances of the case", level=3)
    _rows(
        doc,
        ["Circumstance", "Answer"],
        ["{{ c.label }}", "{{ c.answer }}"],
        "c in circumstances",
        [12.0, 5.0],
    )

    _section(doc, "The concern")
    doc.add_paragraph("Category: {{ category }}").runs[0].bold = True
    doc.add_paragraph("{{ concern }}")

    _section(doc, "Information shared by agency")
    _tag(doc, "{%p for g in information %}")
    doc.add_heading("{{ g.agency }}", level=3)
    _rows(
        doc,
        ["Who and when", "Information"],
        [
            "{{ c.by }}, {{ c.at }}{% if c.by_phone %} (by phone, entered by the chair){% endif %}",
            "{{ c.text }}",
        ],
        "c in g.contributions",
        [4.5, 12.5],
        guard=False,
    )
    _tag(doc, "{%p endfor %}")
    _tag(doc, "{%p if not information %}")
    doc.add_paragraph("None recorded.")
    _tag(doc, "{%p endif %}")

    _section(doc, "Decision")
    _tag(doc, "{%p if decision %}")
    _pairs(
        doc,
        [
            ("Decision", "{{ decision.label }}"),
            ("Reasons", "{{ decision.reasons }}"),
            ("Risks identified", "{{ decision.risks }}"),
            ("Section 47 enquiry started", "{{ decision.starts_s47 }}"),
            ("Decided by", "{{ decision.decided_by }}, {{ decision.decided_at }}"),
            ("Reconvene on", "{{ decision.reconvene_on }}", "decision.reconvene_on"),
            ("What happens instead", "{{ decision.instead }}", "decision.instead"),
            ("Services offered", "{{ decision.services }}", "decision.services"),
            ("Refer again when", "{{ decision.refer_again_when }}", "decision.refer_again_when"),
            (
                "Decided without (quorum override)",
                "{{ decision.override_unmet }}. The chair's reason: {{ decision.override_reason }} "
                "({{ decision.override_review }})",
                "decision.override_reason",
            ),
        ],
    )
    _tag(doc, "{%p else %}")
    doc.add_paragraph("No decision recorded.")
    _tag(doc, "{%p endif %}")

    _section(doc, "S47 plan")
    _tag(doc, "{%p if plan %}")
    _rows(
        doc,
        ["Planning item", "Agreed answer"],
        ["{{ i.label }}", "{{ i.answer }}"],
        "i in plan.answers",
        [7.0, 10.0],
        guard=False,
    )
    _tag(doc, "{%p else %}")
    doc.add_paragraph("{{ no_plan }}")
    _tag(doc, "{%p endif %}")

    _section(doc, "What parents, carers and the child are told")
    doc.add_paragraph("{{ parents_told }}")

    _section(doc, "Actions")
    _rows(
        doc,
        ["Action", "Owner", "Agency", "Due", "Status"],
        [
            "{{ x.description }}",
            "{{ x.owner }}",
            "{{ x.agency }}",
            "{{ x.due_on }}",
            "{{ x.status }}{% if x.done_at %}, {{ x.done_at }}{% endif %}",
        ],
        "x in actions",
        [6.0, 3.0, 2.5, 2.5, 3.0],
        empty="None agreed.",
    )

    _section(doc, "Deadlines")
    _rows(
        doc,
        ["Deadline", "Due", "Outcome", "How it ended", "Reason"],
        [
            "{{ d.label }}",
            "{{ d.due_at }}",
            "{{ d.outcome_label }}",
            "{{ d.ended_by }}{% if d.ended_at %}, {{ d.ended_at }}{% endif %}",
            "{{ d.reason }}",
        ],
        "d in deadlines",
        [4.0, 3.0, 2.0, 4.5, 3.5],
        empty="None.",
    )

    _section(doc, "Initial child protection conference")
    _tag(doc, "{%p if conference %}")
    _pairs(
        doc,
        [
            ("Target date", "{{ conference.target }}"),
            ("Planned for", "{{ conference.planned_on }}", "conference.planned_on"),
            ("Later than the target because", "{{ conference.late_reason }}", "conference.late_reason"),
            ("Held on", "{{ conference.held_on or 'Not yet held' }}"),
            (
                "Working days and census band",
                "{{ conference.working_days }} working days from the decision: band {{ conference.band }}",
                "conference.band",
            ),
            ("Not required because", "{{ conference.not_required }}", "conference.not_required"),
        ],
    )
    _tag(doc, "{%p else %}")
    doc.add_paragraph("No conference is due from this discussion.")
    _tag(doc, "{%p endif %}")

    _section(doc, "Next discussion")
    doc.add_paragraph("Next strategy discussion by: {{ next_discussion_by }}")

    _section(doc, "Monitoring")
    doc.add_paragraph("{{ monitoring }}")

    _tag(doc, "{%p if closed_reason %}")
    _section(doc, "Closed")
    doc.add_paragraph("{{ closed_reason }}")
    _tag(doc, "{%p endif %}")

    _section(doc, "Sign-off")
    _pairs(
        doc,
        [
            ("Signed off by the chair", "{{ signed_off_by }}"),
            ("Signed off at", "{{ signed_off_at }}"),
            ("Version", "{{ version_label }}"),
        ],
    )

    _section(doc, "Versions")
    _rows(
        doc,
        ["Version", "Signed off by", "When", "What changed"],
        [
            "{{ v.version }}{% if v.current %} (this version){% endif %}",
            "{{ v.signed_off_by }}",
            "{{ v.signed_off_at }}",
            "{{ v.change }}",
        ],
        "v in versions",
        [2.5, 3.5, 4.0, 7.0],
        empty="Not signed off yet.",
    )

    _section(doc, "Circulation")
    _rows(
        doc,
        ["Sent to", "What", "Sent", "Acknowledged"],
        ["{{ c.name }}", "{{ c.what }}", "{{ c.sent_at }}", "{{ c.acknowledged_at }}"],
        "c in circulation",
        [5.0, 2.5, 4.75, 4.75],
        empty="Not circulated yet.",
    )
    return _reproducible(doc)


def _page_and_styles(doc: docx.document.Document) -> None:
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


def _header_and_footer(doc: docx.document.Document) -> None:
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


def _section(doc: docx.document.Document, heading: str) -> None:
    doc.add_heading(heading, level=2)


def _tag(doc: docx.document.Document, tag: str) -> None:
    """A paragraph that holds only a docxtpl tag: docxtpl removes the paragraph itself."""
    doc.add_paragraph(tag)


def _pairs(doc: docx.document.Document, rows: list[tuple[str, ...]]) -> Table:
    """A two-column table of label and value, as a form has; a third item is the row's condition."""
    table = _table(doc, 2, [6.0, WIDTH - 6.0])
    for label, value, *condition in rows:
        if condition:
            _tag_row(table, f"{{%tr if {condition[0]} %}}")
        cells = table.add_row().cells
        _header_cell(cells[0], label)
        cells[1].text = value
        if condition:
            _tag_row(table, "{%tr endif %}")
    return table


def _rows(
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
        _tag(doc, f"{{%p if {items} %}}")
    table = _table(doc, len(headers), widths)
    header = table.add_row()
    _repeat_as_header(header)
    for cell, text in zip(header.cells, headers, strict=True):
        _header_cell(cell, text)
    _tag_row(table, f"{{%tr for {loop} %}}")
    for cell, text in zip(table.add_row().cells, cells, strict=True):
        cell.text = text
    _tag_row(table, "{%tr endfor %}")
    if guard and empty is not None:
        _tag(doc, "{%p else %}")
        doc.add_paragraph(empty)
        _tag(doc, "{%p endif %}")


def _table(doc: docx.document.Document, columns: int, widths: list[float]) -> Table:
    table = doc.add_table(rows=0, cols=columns)
    table.style = doc.styles["Table Grid"]
    table.alignment = WD_TABLE_ALIGNMENT.LEFT
    table.autofit = False
    for column, width in zip(table.columns, widths, strict=True):
        column.width = Cm(width)
    doc.add_paragraph()  # a table needs a paragraph between it and the next one
    return table


def _tag_row(table: Table, tag: str) -> None:
    table.add_row().cells[0].text = tag


def _header_cell(cell, text: str) -> None:
    cell.text = ""
    run = cell.paragraphs[0].add_run(text)
    run.bold = True
    shd = OxmlElement("w:shd")
    shd.set(qn("w:val"), "clear")
    shd.set(qn("w:color"), "auto")
    shd.set(qn("w:fill"), SHADE)
    cell._tc.get_or_add_tcPr().append(shd)


def _repeat_as_header(row) -> None:
    """Word repeats the row on each page and reads it to screen-reader users as the column headers."""
    trpr = row._tr.get_or_add_trPr()
    trpr.append(OxmlElement("w:tblHeader"))
    cant_split = OxmlElement("w:cantSplit")
    trpr.append(cant_split)


def _reproducible(doc: docx.document.Document) -> bytes:
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


if __name__ == "__main__":
    TEMPLATE.write_bytes(build())
    print(f"wrote {TEMPLATE}")
