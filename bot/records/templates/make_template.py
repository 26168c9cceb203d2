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

from pathlib import Path

import docx

from bot.records.templates.docx_parts import (
    header_and_footer,
    page_and_styles,
    pairs,
    repeating,
    reproducible,
    section,
    tag,
)

HERE = Path(__file__).resolve().parent
TEMPLATE = HERE / "record.docx"


def build() -> bytes:
    doc = docx.Document()
    page_and_styles(doc)
    header_and_footer(doc)

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

    section(doc, "Details of the discussion")
    pairs(
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

    section(doc, "Attendance")
    repeating(
        doc,
        ["Name", "Role", "Agency", "How they took part"],
        ["{{ a.name }}", "{{ a.role }}", "{{ a.agency }}", "{{ a.how }}{% if a.chair %} (chair){% endif %}"],
        "a in attendance",
        [3.5, 5.0, 3.5, 5.0],
    )

    section(doc, "Apologies and agencies not present")
    repeating(
        doc,
        ["Name", "Agency", "Reason", "Directions given"],
        ["{{ a.name }}, {{ a.role }}", "{{ a.agency }}", "{{ a.reason }}", "{{ a.directions }}"],
        "a in apologies",
        [4.0, 3.0, 5.0, 5.0],
        empty="None: everyone invited took part.",
    )

    section(doc, "Quorum and required roles")
    doc.add_paragraph("Quorum: {{ quorum }}").runs[0].bold = True
    repeating(
        doc,
        ["Requirement", "Met", "Note"],
        ["{{ q.label }}", "{{ q.met }}", "{{ q.note }}"],
        "q in requirements",
        [10.0, 2.0, 5.0],
    )
    doc.add_heading("Circumstances of the case", level=3)
    repeating(
        doc,
        ["Circumstance", "Answer"],
        ["{{ c.label }}", "{{ c.answer }}"],
        "c in circumstances",
        [12.0, 5.0],
    )

    section(doc, "The concern")
    doc.add_paragraph("Category: {{ category }}").runs[0].bold = True
    doc.add_paragraph("{{ concern }}")

    section(doc, "Information shared by agency")
    tag(doc, "{%p for g in information %}")
    doc.add_heading("{{ g.agency }}", level=3)
    repeating(
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
    tag(doc, "{%p endfor %}")
    tag(doc, "{%p if not information %}")
    doc.add_paragraph("None recorded.")
    tag(doc, "{%p endif %}")

    section(doc, "Decision")
    tag(doc, "{%p if decision %}")
    pairs(
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
    tag(doc, "{%p else %}")
    doc.add_paragraph("No decision recorded.")
    tag(doc, "{%p endif %}")

    section(doc, "S47 plan")
    tag(doc, "{%p if plan %}")
    repeating(
        doc,
        ["Planning item", "Agreed answer"],
        ["{{ i.label }}", "{{ i.answer }}"],
        "i in plan.answers",
        [7.0, 10.0],
        guard=False,
    )
    tag(doc, "{%p else %}")
    doc.add_paragraph("{{ no_plan }}")
    tag(doc, "{%p endif %}")

    section(doc, "What parents, carers and the child are told")
    doc.add_paragraph("{{ parents_told }}")

    section(doc, "Actions")
    repeating(
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

    section(doc, "Deadlines")
    repeating(
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

    section(doc, "Initial child protection conference")
    tag(doc, "{%p if conference %}")
    pairs(
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
    tag(doc, "{%p else %}")
    doc.add_paragraph("No conference is due from this discussion.")
    tag(doc, "{%p endif %}")

    section(doc, "Next discussion")
    doc.add_paragraph("Next strategy discussion by: {{ next_discussion_by }}")

    section(doc, "Monitoring")
    doc.add_paragraph("{{ monitoring }}")

    tag(doc, "{%p if closed_reason %}")
    section(doc, "Closed")
    doc.add_paragraph("{{ closed_reason }}")
    tag(doc, "{%p endif %}")

    section(doc, "Sign-off")
    pairs(
        doc,
        [
            ("Signed off by the chair", "{{ signed_off_by }}"),
            ("Signed off at", "{{ signed_off_at }}"),
            ("Version", "{{ version_label }}"),
        ],
    )

    section(doc, "Versions")
    repeating(
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

    section(doc, "Circulation")
    repeating(
        doc,
        ["Sent to", "What", "Sent", "Acknowledged"],
        ["{{ c.name }}", "{{ c.what }}", "{{ c.sent_at }}", "{{ c.acknowledged_at }}"],
        "c in circulation",
        [5.0, 2.5, 4.75, 4.75],
        empty="Not circulated yet.",
    )
    return reproducible(doc)


if __name__ == "__main__":
    TEMPLATE.write_bytes(build())
    print(f"wrote {TEMPLATE}")
