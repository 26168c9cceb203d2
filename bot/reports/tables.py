"""The figures as data: one flat CSV table and a structured JSON document, each with the small-number
rule applied as on the page (dialogs.report_model.Suppress).

- CSV: the columns section, item, measure, value; every figure one row, its value as shown on the page
  ("fewer than 6", "not shown", "35%", counts rounded), led by rows saying the period, council and the
  rule applied. A reason that starts like a spreadsheet formula is quoted so that a spreadsheet shows
  it as text.
- Totals (held, within 15 working days, ended) and percentages come from `Suppress.total`/`share`:
  worked out from the rounded parts, so that subtracting shown figures gives no hidden count away.
- JSON: counts are numbers (rounded), a hidden count the string "fewer than 6"; percentages are whole
  numbers, "not shown" when hidden, null when there is nothing to share; `suppressed_below` and
  `rounded_to` say the rule (0: nothing hidden, or every count exact: not for circulation).
"""

from __future__ import annotations

import csv
import io
import json
from typing import Any

from dialogs.report_model import (
    BANDS,
    GROUP_LABELS,
    HOW_LABELS,
    NATIONAL_ICPC_WITHIN_15,
    NATIONAL_SOURCE,
    WITH_REASON,
    Ended,
    How,
    Reason,
    Report,
    Suppress,
    outcomes_shown,
)

SCHEMA = 2  # the JSON document's layout; raised when a field changes meaning or goes (2: counts rounded)
NOT_FOR_CIRCULATION = "not for circulation: shows small numbers"
HEAD = ("section", "item", "measure", "value")


# --- JSON ---------------------------------------------------------------------------------------------


def render_json(report: Report, hide: Suppress) -> bytes:
    return (json.dumps(figures(report, hide), indent=2, ensure_ascii=False) + "\n").encode("utf-8")


def figures(r: Report, hide: Suppress) -> dict[str, Any]:
    n = _Counts(hide)
    c = r.conferences
    held, not_required, awaited = c.states_shown(hide)
    bands = c.band_shares(hide)
    return {
        "schema": SCHEMA,
        "period": {"start": r.start.isoformat(), "end": r.end.isoformat()},
        "council": r.council or None,
        "made_at": r.made_at.isoformat(timespec="seconds"),
        "suppressed_below": hide.below,
        "rounded_to": hide.round_to if hide.rounds else 0,
        "discussions": {
            "held": _number(r.discussions_shown(hide)),
            "children": n(r.children),
            "out_of_hours": n(r.out_of_hours),
            "out_of_hours_percent": _percent(r.out_of_hours_share(hide)),
            "out_of_hours_set_by_chair": n(r.out_of_hours_overridden),
        },
        "timeliness": [
            {
                "kind": k.kind,
                "label": k.label,
                **{e.value: _number(v) for e, v in zip(Ended, k.shown(hide), strict=True)},
                "met_on_time_percent": _percent(k.met_share(hide)),
                "reasons": {e.value: n.reasons(k.reasons[e]) for e in WITH_REASON if k.reasons.get(e)},
            }
            for k in r.timeliness
        ],
        "months": [
            {
                "month": f"{m.month:%Y-%m}",
                "ended": _number(m.ended_shown(hide)),
                "met_on_time_percent": _percent(m.met_share(hide)),
            }
            for m in r.months
        ],
        "conferences": {
            "enquiries": _number(c.enquiries_shown(hide)),
            "held": _number(held),
            "bands": {
                b: {"held": _number(v), "percent_of_held": _percent(share)}
                for b, v, share in zip(BANDS, c.bands_shown(hide), bands, strict=True)
            },
            "within_15_working_days": {
                "held": _number(c.within_15_shown(hide)),
                "percent_of_held": _percent(c.within_15_share(hide)),
            },
            "national_within_15_percent": round(100 * NATIONAL_ICPC_WITHIN_15),
            "national_source": NATIONAL_SOURCE,
            "not_required": _number(not_required),
            "not_required_reasons": n.reasons(c.not_required_reasons),
            "awaited": _number(awaited),
        },
        "outcomes": [
            {"outcome": o.outcome, "label": o.label, "children": _number(v)}
            for o, (_, v) in zip(r.outcomes, outcomes_shown(r.outcomes, hide), strict=True)
        ],
        "attendance": [
            {
                "group": a.group.value,
                "label": GROUP_LABELS[a.group],
                "invited": n(a.invited),
                "took_part": n(a.took_part),
                "by_how": {h.value: n(a.by_how.get(h, 0)) for h in How},
            }
            for a in r.attendance
        ],
        "quorum_overrides": {"discussions": n(r.overrides), "reasons": n.reasons(r.override_reasons)},
    }


class _Counts:
    """A count or reason list for JSON, by the rule: numbers (rounded) stay numbers when shown."""

    def __init__(self, hide: Suppress) -> None:
        self.hide = hide

    def __call__(self, count: int) -> int | str:
        return _number(self.hide.count(count))

    def reasons(self, given: tuple[Reason, ...]) -> list[dict[str, int | str]]:
        return [{"reason": text, "count": _number(count)} for text, count in self.hide.reasons(given)]


def _number(shown: str) -> int | str:
    return int(shown) if shown.isdigit() else shown


def _percent(shown: str) -> int | str | None:
    """A share as shown: a whole number, the words for a hidden one, null when there was none."""
    return int(shown.removesuffix("%")) if shown.endswith("%") else None if shown == "none" else shown


# --- CSV ----------------------------------------------------------------------------------------------


def render_csv(report: Report, hide: Suppress) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(HEAD)
    writer.writerows(tuple(_cell(v) for v in row) for row in rows(report, hide))
    return out.getvalue().encode("utf-8")


def rows(r: Report, hide: Suppress) -> list[tuple[str, str, str, str]]:
    """Every figure as (section, item, measure, value), the value as the page shows it."""
    count = hide.count
    c = r.conferences
    out = [
        ("report", "period", "start", r.start.isoformat()),
        ("report", "period", "end", r.end.isoformat()),
        ("report", "council", "name", r.council or "every council in the database"),
        ("report", "made", "at", r.made_at.isoformat(timespec="seconds")),
        (
            "report",
            "small numbers",
            "hidden below",
            str(hide.below) if hide.below > 1 else NOT_FOR_CIRCULATION,
        ),
        ("report", "counts", "rounded to", str(hide.round_to) if hide.rounds else "exact"),
        ("discussions", "held", "discussions", r.discussions_shown(hide)),
        ("discussions", "held", "children", count(r.children)),
        ("discussions", "out of hours", "discussions", count(r.out_of_hours)),
        ("discussions", "out of hours", "% of held", r.out_of_hours_share(hide)),
        ("discussions", "out of hours set by the chair", "discussions", count(r.out_of_hours_overridden)),
    ]
    for k in r.timeliness:
        out += [("timeliness", k.label, e.value, v) for e, v in zip(Ended, k.shown(hide), strict=True)]
        out.append(("timeliness", k.label, "met on time, % of ended", k.met_share(hide)))
        for e in WITH_REASON:
            reason_rows = hide.reasons(k.reasons.get(e, ()))
            out += [("timeliness reasons", f"{k.label}: {e.value}", text, n) for text, n in reason_rows]
    for m in r.months:
        month = f"{m.month:%Y-%m}"
        out += [
            ("months", month, "ended", m.ended_shown(hide)),
            ("months", month, "met on time, % of ended", m.met_share(hide)),
        ]
    held, not_required, awaited = c.states_shown(hide)
    out += [
        ("conferences", "enquiries started", "enquiries", c.enquiries_shown(hide)),
        ("conferences", "held", "conferences", held),
    ]
    bands = zip(BANDS, c.bands_shown(hide), c.band_shares(hide), strict=True)
    for b, band_held, band_share in bands:
        out += [
            ("conferences", f"{b} working days", "held", band_held),
            ("conferences", f"{b} working days", "% of held", band_share),
        ]
    out += [
        ("conferences", "within 15 working days", "held", c.within_15_shown(hide)),
        ("conferences", "within 15 working days", "% of held", c.within_15_share(hide)),
        (
            "conferences",
            f"England: {NATIONAL_SOURCE}",
            "% within 15 working days",
            f"{NATIONAL_ICPC_WITHIN_15:.0%}",
        ),
        ("conferences", "not required", "enquiries", not_required),
        ("conferences", "awaited", "enquiries", awaited),
    ]
    out += [
        ("conferences: not required, reasons", "not required", t, n)
        for t, n in hide.reasons(c.not_required_reasons)
    ]
    out += [("outcomes", label, "children", v) for label, v in outcomes_shown(r.outcomes, hide)]
    for a in r.attendance:
        group = GROUP_LABELS[a.group]
        out += [
            ("attendance", group, "invited", count(a.invited)),
            ("attendance", group, "took part", count(a.took_part)),
        ]
        out += [("attendance", group, HOW_LABELS[h], count(a.by_how.get(h, 0))) for h in How]
    out.append(("quorum overrides", "decisions without the quorum", "discussions", count(r.overrides)))
    out += [
        ("quorum overrides: reasons", "decisions without the quorum", t, n)
        for t, n in hide.reasons(r.override_reasons)
    ]
    return out


def _cell(text: str) -> str:
    """Text a spreadsheet would take for a formula (=, +, -, @, a tab or return first) starts with a
    quote mark, so it is shown as typed and never run."""
    return f"'{text}" if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text
