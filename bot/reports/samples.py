"""The sample report in docs/: six months of a fictional council's figures, as the HTML page a
manager gets (small numbers hidden) and a picture of it.

    python -m bot.reports.samples          # writes docs/report-sample.html and docs/report-sample.png

Run it after changing the page, its charts or the figures' model, and commit what it writes; a test
fails when docs/report-sample.html is not what this module makes. The picture is taken by Debian's
Chromium through Playwright (a dev dependency). Every figure and reason here is invented.
"""

from __future__ import annotations

import sys
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from dialogs.report_model import (
    BANDS,
    Attendance,
    Conferences,
    Ended,
    Group,
    How,
    KindFigures,
    Month,
    OutcomeCount,
    Reason,
    Report,
    Suppress,
)

DOCS = Path(__file__).resolve().parents[2] / "docs"
SAMPLE_HTML = DOCS / "report-sample.html"
SAMPLE_PNG = DOCS / "report-sample.png"
LONDON = "Europe/London"
CHROMIUM = "/usr/bin/chromium"  # Debian's, never a browser Playwright downloads

E = Ended


def _kind(kind: str, label: str, counts: tuple[int, ...], **why: tuple[tuple[str, int], ...]) -> KindFigures:
    """`counts`: met, late, missed, closed, open; `why`: the reasons given, by how it ended."""
    by_state = dict(zip(Ended, counts, strict=True))
    reasons = {E(state): tuple(Reason(text, n) for text, n in given) for state, given in why.items()}
    return KindFigures(kind, label, {e: n for e, n in by_state.items() if n}, reasons)


def sample_report() -> Report:
    """April to September 2026 in a fictional council: 238 discussions about 301 children."""
    timeliness = (
        _kind(
            "meeting",
            "Strategy discussion to be held",
            (214, 19, 0, 5, 0),
            late=(
                ("Police could not attend within 24 hours", 11),
                ("Held after a bank holiday", 6),
                ("Paediatrician on call elsewhere", 2),
            ),
            closed=(("Referral withdrawn: wrong child", 5),),
        ),
        _kind(
            "record_circulation",
            "Record to be circulated",
            (201, 28, 3, 0, 6),
            late=(("Chair on leave the next day", 16), ("Waiting for police to check the wording", 12)),
            missed=(("Record circulated by the case-management system", 3),),
        ),
        _kind(
            "outcome_notification",
            "Referrer and absent agencies to be told the outcome",
            (188, 22, 9, 0, 11),
            late=(("Referrer's school closed for the holidays", 14), ("No contact details for the GP", 8)),
            missed=(("Referrer anonymous", 9),),
        ),
        _kind(
            "icpc",
            "Initial child protection conference to be held",
            (58, 14, 4, 0, 9),
            late=(("No chair available for the conference", 8), ("Family asked for a later date", 6)),
            missed=(("Enquiry ended: no conference needed", 4),),
        ),
        _kind(
            "further_discussion",
            "Further strategy discussion to be held",
            (77, 9, 0, 0, 8),
            late=(("Waiting for the medical report", 9),),
        ),
        _kind(
            "reconvene",
            "Discussion to be reconvened after the Single Assessment",
            (31, 2, 0, 0, 7),
            late=(("Assessment took longer", 2),),
        ),
        _kind(
            "final_discussion",
            "Final strategy discussion to be held",
            (52, 7, 0, 0, 12),
            late=(("Police investigation still open", 7),),
        ),
        _kind(
            "action",
            "Agreed action to be completed",
            (612, 71, 12, 6, 49),
            late=(
                ("Family not at home for the visit", 30),
                ("Records requested from another council", 24),
                ("Interpreter not available", 17),
            ),
            missed=(("No longer needed after the medical", 12),),
            closed=(("Closed with the discussion", 6),),
        ),
        _kind(
            "acknowledgement",
            "Record to be acknowledged",
            (590, 64, 0, 0, 18),
            late=(("Read but not acknowledged in time", 64),),
        ),
        _kind(
            "override_review",
            "Decision without the required attendance to be reviewed",
            (8, 3, 0, 0, 1),
            late=(("Manager on leave", 3),),
        ),
    )
    months = tuple(
        Month(date(2026, m, 1), {E.MET: met, E.LATE: late, E.MISSED: missed, E.OPEN: open_})
        for m, met, late, missed, open_ in (
            (4, 331, 39, 5, 0),
            (5, 352, 36, 6, 0),
            (6, 340, 41, 4, 0),
            (7, 366, 30, 7, 3),
            (8, 298, 49, 9, 14),
            (9, 344, 45, 7, 104),
        )
    )
    conferences = Conferences(
        enquiries=112,
        bands=dict(zip(BANDS, (41, 31, 13, 3), strict=True)),
        not_required=12,
        not_required_reasons=(
            Reason("Enquiry found no continuing risk of significant harm", 9),
            Reason("Family moved to another council's area", 2),
            Reason("Child now looked after", 1),
        ),
        awaited=12,
    )
    outcomes = (
        OutcomeCount("s47_single_agency", "S47 enquiry (single agency, within a Single Assessment)", 47),
        OutcomeCount("s47_joint", "S47 enquiry (joint with police, within a Single Assessment)", 79),
        OutcomeCount("single_assessment", "Single Assessment first, then reconvene", 58),
        OutcomeCount("no_s47", "No S47 enquiry", 117),
    )
    attendance = (
        _attend(Group.POLICE, 238, 231, 188, 21, 29, 9),
        _attend(Group.HEALTH, 238, 219, 150, 44, 31, 17),
        _attend(Group.PAEDIATRICIAN, 41, 36, 27, 4, 7, 3),
        _attend(Group.POLICE_MANAGER, 64, 58, 39, 12, 8, 0),
        _attend(Group.REFERRER, 102, 71, 40, 18, 11, 6),
    )
    return Report(
        start=date(2026, 4, 1),
        end=date(2026, 9, 30),
        council="Example Vale (fictional)",
        made_at=datetime(2026, 10, 1, 9, 15, tzinfo=ZoneInfo(LONDON)),
        discussions=238,
        children=301,
        out_of_hours=37,
        out_of_hours_overridden=4,
        timeliness=timeliness,
        months=months,
        conferences=conferences,
        outcomes=outcomes,
        attendance=attendance,
        overrides=11,
        override_reasons=(
            Reason("Police on another urgent call; directions given by phone", 7),
            Reason("Paediatrician unavailable out of hours", 3),
            Reason("Health could not be reached", 1),
        ),
    )


def _attend(group: Group, invited: int, took_part: int, *ways: int) -> Attendance:
    return Attendance(group, invited, took_part, dict(zip(How, ways, strict=True)))


HIDE = Suppress(6, 5)  # the shipped procedure's rule: the page as a manager gets it


def sample_html() -> bytes:
    from bot.reports.html import render_html

    return render_html(sample_report(), HIDE, tz=LONDON)


def screenshot(path: Path, width: int = 1100, height: int = 1480) -> None:
    """The top of the sample page in Chromium, as a PNG (Playwright, a dev dependency)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--headless", "--no-sandbox"])
        try:
            page = browser.new_page(viewport={"width": width, "height": height})
            page.goto(SAMPLE_HTML.as_uri())
            page.screenshot(path=str(path))
        finally:
            browser.close()


def main() -> None:
    SAMPLE_HTML.write_bytes(sample_html())
    screenshot(SAMPLE_PNG)
    for path in (SAMPLE_HTML, SAMPLE_PNG):
        print(f"wrote {path}", file=sys.stderr)


if __name__ == "__main__":
    main()
