"""The record as template variables: what the DOCX template (the council's own or ours) and the PDF's
HTML template are given. docs/records.md lists them for a council writing its own template.

Everything here is plain data (dicts, lists and strings) made once from the typed record, with dates
and times already written out as a reader expects them ("Tue 24 Nov 2026, 10:00"), so a template
needs no code. An optional item that is absent is the empty string (or an empty list), so `{% if %}`
works on it and printing it prints nothing. What participants typed is passed as the text they typed,
less the control characters no XML document may hold; each template engine escapes it for its format
(autoescape), so none of it can act as markup, a field or a template tag.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Any

from dialogs import record_model as m
from dialogs.record_text import TOOK_PART_LABELS

# Characters XML 1.0 cannot hold (C0 controls other than tab and newline, lone surrogates, U+FFFE/F):
# a DOCX with one does not open, and docxtpl would turn \a and \f into paragraphs and page breaks.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")

OUTCOME_LABELS = {
    m.Outcome.OPEN: "Open",
    m.Outcome.MET: "Met",
    m.Outcome.LATE: "Met late",
    m.Outcome.MISSED: "Missed",
    m.Outcome.CLOSED: "Closed with reason",
}
CIRCULATED_LABELS = {"record": "Record", "outcome_notification": "Outcome"}
NOT_PRESENT = (m.TookPart.INVITED, m.TookPart.DECLINED, m.TookPart.ABSENT)
SAID = {True: "Yes", False: "No", None: "Not answered"}


def text(value: str | None) -> str:
    """Typed text as it was typed, minus what XML cannot hold; "" for nothing."""
    if not value:
        return ""
    return _NOT_XML.sub("", value.replace("\r\n", "\n").replace("\r", "\n"))


def when(at: datetime | None) -> str:
    return f"{at:%a %d %b %Y, %H:%M}" if at is not None else ""


def day(on: date | None) -> str:
    return f"{on:%a %d %b %Y}" if on is not None else ""


def yes_no(flag: bool) -> str:
    return "Yes" if flag else "No"


def _first_up(s: str) -> str:
    return s[:1].upper() + s[1:]


def title(r: m.Record) -> str:
    """The document's title: the case reference and discussion number, never a name."""
    return f"Record of strategy discussion {r.case_ref}, discussion {r.discussion_number}"


def context(r: m.Record) -> dict[str, Any]:
    """The template variables for `r` (docs/records.md, "Template variables")."""
    chair = next((a for a in r.attendance if a.chair), None)
    attendance = [
        {
            "name": text(a.name),
            "role": text(a.role),
            "agency": text(a.agency),
            "chair": a.chair,
            "took_part": a.took_part.value,
            "how": TOOK_PART_LABELS[a.took_part].capitalize(),
            "reason": text(a.reason),
            "directions": text(a.directions),
        }
        for a in r.attendance
    ]
    apologies = [
        a | {"reason": a["reason"] or ("No answer to the invitation" if a["took_part"] == "invited" else "")}
        for a in attendance
        if a["took_part"] in NOT_PRESENT
    ]
    contributions = [
        {
            "by": text(c.by),
            "agency": text(c.agency),
            "at": when(c.at),
            "stage": text(c.stage),
            "text": text(c.text),
            "by_phone": c.entered_by_chair,
            "via": "By phone, entered by the chair" if c.entered_by_chair else "",
        }
        for c in r.contributions
    ]
    by_agency: dict[str, list[dict[str, Any]]] = {}
    for c in contributions:
        by_agency.setdefault(c["agency"], []).append(c)
    version = f"Version {r.version}" if r.version is not None else "Draft, not signed off"
    return {
        "title": title(r),
        "schema": r.schema,
        "case_ref": text(r.case_ref),
        "discussion_id": r.discussion_id,
        "discussion_number": r.discussion_number,
        "discussion": text(r.discussion),
        "discussion_label": f"{text(r.discussion).capitalize()} strategy discussion",
        "siblings": ", ".join(text(s) for s in r.siblings),
        "format": text(r.format),
        "out_of_hours": yes_no(r.out_of_hours),
        "out_of_hours_reason": text(r.out_of_hours_reason),
        "convened_at": when(r.convened_at),
        "proposed_at": when(r.proposed_at),
        "started_at": when(r.started_at) or "Not started",
        "ended_at": when(r.ended_at) or "No decision recorded",
        "length": (
            f"{r.minutes} minute{'s' if r.minutes != 1 else ''}" if r.minutes is not None else "Not recorded"
        ),
        "late_reason": text(r.late_reason),
        "chair": text(r.chair),
        "chair_role": text(chair.role) if chair else "",
        "chair_agency": text(chair.agency) if chair else "",
        "attendance": attendance,
        "apologies": apologies,
        "quorum_met": r.quorum_met,
        "quorum": "Met" if r.quorum_met else "Not met",
        "requirements": [
            {"label": text(q.label), "met": yes_no(q.met), "note": text(q.note)} for q in r.requirements
        ],
        "circumstances": [{"label": text(k), "answer": SAID[v]} for k, v in r.circumstances.items()],
        "category": text(r.category),
        "concern": text(r.concern),
        "contributions": contributions,
        "information": [{"agency": agency, "contributions": cs} for agency, cs in by_agency.items()],
        "decision": _decision(r.decision),
        "parents_told": text(r.parents_told) or "Not recorded",
        "plan": _plan(r.plan),
        "no_plan": (
            ""
            if r.plan is not None
            else "No plan recorded."
            if r.decision is not None and r.decision.starts_s47
            else "Not applicable: the decision did not start a section 47 enquiry."
        ),
        "actions": [
            {
                "description": text(a.description),
                "owner": text(a.owner),
                "agency": text(a.owner_agency),
                "due_on": day(a.due_on),
                "status": text(a.status).capitalize(),
                "done_at": when(a.done_at),
            }
            for a in r.actions
        ],
        "deadlines": [
            {
                "kind": d.kind,
                "label": text(d.label),
                "due_at": when(d.due_at),
                "outcome": d.outcome.value,
                "outcome_label": OUTCOME_LABELS[d.outcome],
                "ended_at": when(d.ended_at),
                "ended_by": _first_up(text(d.ended_by)),
                "reason": text(d.reason),
            }
            for d in r.deadlines
        ],
        "conference": _conference(r),
        "next_discussion_by": day(r.next_discussion_by) or "None set",
        "monitoring": text(r.monitoring) or "Not yet recorded",
        "closed_reason": text(r.closed_reason),
        "signed_off": r.version is not None,
        "version": r.version if r.version is not None else "",
        "version_label": version,
        "signed_off_by": text(r.signed_off_by) or "Not signed off",
        "signed_off_at": when(r.signed_off_at),
        "versions": [
            {
                "version": v.version,
                "signed_off_by": text(v.signed_off_by),
                "signed_off_at": when(v.signed_off_at),
                "change": text(v.change),
                "current": v.version == r.version,
            }
            for v in r.versions
        ],
        "circulation": [
            {
                "name": text(c.name),
                "what": CIRCULATED_LABELS.get(c.what, text(c.what)),
                "sent_at": when(c.sent_at),
                "acknowledged_at": when(c.acknowledged_at) or "Not yet acknowledged",
            }
            for c in r.circulation
        ],
    }


def _decision(x: m.Decision | None) -> dict[str, Any] | None:
    if x is None:
        return None
    return {
        "outcome": x.outcome,
        "label": text(x.label),
        "reasons": text(x.reasons),
        "risks": text(x.risks),
        "starts_s47": yes_no(x.starts_s47),
        "decided_by": text(x.decided_by),
        "decided_at": when(x.decided_at),
        "reconvene_on": day(x.reconvene_on),
        "instead": text(x.instead),
        "services": text(x.services),
        "refer_again_when": text(x.refer_again_when),
        "override_unmet": text(x.override_unmet),
        "override_reason": text(x.override_reason),
        "override_review": (
            ""
            if not x.override_reason
            else f"Reviewed by the team manager on {day(x.override_reviewed_at.date())}"
            if x.override_reviewed_at
            else "To be reviewed by the team manager"
        ),
    }


def _plan(p: m.Plan | None) -> dict[str, Any] | None:
    if p is None:
        return None
    return {
        "answers": [
            {
                "item": a.item,
                "label": text(a.label),
                "applies": a.not_applicable is None,
                "answer": (
                    f"Not applicable: {text(a.not_applicable)}"
                    if a.not_applicable is not None
                    else text(a.answer) or "Not answered"
                ),
                "not_applicable": text(a.not_applicable),
            }
            for a in p.answers
        ],
        "icpc_planned_on": day(p.icpc_planned_on),
        "icpc_late_reason": text(p.icpc_late_reason),
    }


def _conference(r: m.Record) -> dict[str, Any] | None:
    c = r.conference
    if c is None:
        return None
    return {
        "target": day(c.target),
        "planned_on": day(r.plan.icpc_planned_on) if r.plan else "",
        "late_reason": text(r.plan.icpc_late_reason) if r.plan else "",
        "held_on": day(c.held_on),
        "working_days": c.working_days if c.working_days is not None else "",
        "band": text(c.band),
        "not_required": text(c.not_required),
    }
