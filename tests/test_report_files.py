"""The figures as files (bot/reports: the HTML page with its charts, CSV, JSON) from a report built by
hand, whose every count is known.

The counts from 1 to 5 in KNOWN (listed in HIDDEN) must show as "fewer than 6" in what is circulated,
and never as digits: not in a table, a sentence, a chart's labels or its text alternative. A share
that would give one away (its complement is small) is "not shown", and a chart draws neither.
"""

import csv
import io
import json
import re
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime
from html.parser import HTMLParser

import pytest

from bot.reports import charts
from bot.reports.html import render_html
from bot.reports.samples import SAMPLE_HTML, SAMPLE_PNG, sample_html
from bot.reports.tables import NOT_FOR_CIRCULATION, render_csv, render_json, rows
from dialogs.report_model import (
    NO_SUPPRESSION,
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

HIDE = Suppress(6)
E = Ended
ESCAPED = "<script>alert('x')</script> & \"quoted\" <b>not bold</b>"  # a reason given 7 times
FORMULA = "=SUM(A1:A9) was typed by the chair"  # a reason given 6 times


def _ways(meeting: int, thread: int, phone: int, entered: int) -> dict[How, int]:
    return {How.MEETING: meeting, How.THREAD: thread, How.PHONE: phone, How.ENTERED_BY_CHAIR: entered}


KNOWN = Report(
    start=date(2026, 9, 7),
    end=date(2026, 12, 31),
    council="Testshire",
    made_at=datetime(2027, 1, 8, 9, 30, tzinfo=UTC),
    discussions=40,
    children=52,
    out_of_hours=3,  # hidden
    out_of_hours_overridden=0,
    timeliness=(
        KindFigures(
            "meeting",
            "Strategy discussion to be held",
            {E.MET: 30, E.LATE: 4, E.OPEN: 6},  # late hidden: the share of ended (34) is not shown
            {E.LATE: (Reason("Police on another call", 4),)},
        ),
        KindFigures(
            "record_circulation",
            "Record to be circulated",
            {E.MET: 25, E.LATE: 15, E.MISSED: 6, E.OPEN: 7},
            {
                E.LATE: (Reason("Chair on leave", 8), Reason(ESCAPED, 7)),
                E.MISSED: (Reason(FORMULA, 6),),
            },
        ),
    ),
    months=(
        Month(date(2026, 9, 1), {E.MET: 40, E.LATE: 8}),  # 83%
        Month(date(2026, 10, 1), {E.MET: 3}),  # met hidden: a gap
        Month(date(2026, 11, 1), {E.MET: 20, E.LATE: 3}),  # late hidden, so the share is: a gap
        Month(date(2026, 12, 1), {E.OPEN: 9}),  # nothing ended: a gap
    ),
    conferences=Conferences(
        enquiries=30,
        bands={"0-10": 12, "11-15": 7, "16-20": 2, "21+": 0},  # 16-20 hidden
        not_required=7,
        not_required_reasons=(Reason("No continuing risk", 6), Reason("Moved away", 1)),
        awaited=3,  # hidden
    ),
    outcomes=(
        OutcomeCount("s47_single_agency", "S47 enquiry (single agency, within a Single Assessment)", 10),
        OutcomeCount("s47_joint", "S47 enquiry (joint with police, within a Single Assessment)", 12),
        OutcomeCount("single_assessment", "Single Assessment first, then reconvene", 5),  # hidden
        OutcomeCount("no_s47", "No S47 enquiry", 25),
    ),
    attendance=(
        Attendance(Group.POLICE, 40, 38, _ways(30, 6, 2, 1)),  # phone, entered hidden
        Attendance(Group.HEALTH, 40, 36, _ways(20, 10, 6, 0)),
        Attendance(Group.PAEDIATRICIAN, 9, 8, _ways(8, 0, 0, 0)),
        Attendance(Group.POLICE_MANAGER, 12, 11, _ways(7, 4, 0, 0)),  # thread hidden
        Attendance(Group.REFERRER, 20, 14, _ways(9, 3, 2, 0)),  # thread, phone hidden
    ),
    overrides=7,
    override_reasons=(Reason("Police unavailable", 6), Reason("Health unreachable", 1)),
)
HIDDEN = {1, 2, 3, 4, 5}
SMALL = re.compile(r"(?<![\w.:\-/])[1-5](?![\w.:\-/])")  # a count of 1 to 5 standing alone


class Page(HTMLParser):
    """The page's text (and its text alternatives), by element id, with the SVGs' drawn bars."""

    def __init__(self, html: bytes) -> None:
        super().__init__()
        self.stack: list[str] = []
        self.text: list[tuple[tuple[str, ...], str]] = []  # (open elements, text)
        self.ids: list[str] = []
        self.labels: list[str] = []  # aria-label attributes
        self.svgs: list[dict[str, str | None]] = []
        self.tags: set[str] = set()
        self.feed(html.decode())

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        self.tags.add(tag)
        if a.get("id"):
            self.ids.append(a["id"])
        if a.get("aria-label"):
            self.labels.append(a["aria-label"])
        if tag == "svg":
            self.svgs.append(a)
        if tag not in ("meta", "link", "br", "col", "use", "path", "rect"):
            self.stack.append(tag)

    def handle_startendtag(self, tag, attrs):
        self.handle_starttag(tag, attrs)
        if self.stack and self.stack[-1] == tag:
            self.stack.pop()

    def handle_endtag(self, tag):
        while self.stack and self.stack.pop() != tag:
            pass

    def handle_data(self, data):
        if data.strip():
            self.text.append((tuple(self.stack), data))

    def within(self, tag: str) -> str:
        return " ".join(t for stack, t in self.text if tag in stack and "style" not in stack)


def page(hide: Suppress = HIDE) -> tuple[bytes, Page]:
    html = render_html(KNOWN, hide, tz="Europe/London")
    return html, Page(html)


def svg_of(chart: charts.Chart) -> Page:
    return Page(chart.svg.encode())


# --- the page -----------------------------------------------------------------------------------------


def test_no_small_count_shows_anywhere_in_the_circulated_page_its_charts_or_their_alternatives():
    _, p = page()
    main = p.within("main") + " " + " ".join(p.labels)
    assert SMALL.findall(main) == []
    assert main.count("fewer than 6") >= 15
    # The same page with every count shows them: the check above can fail.
    _, everything = page(NO_SUPPRESSION)
    shown = everything.within("main") + " " + " ".join(everything.labels)
    assert {int(n) for n in SMALL.findall(shown)} == HIDDEN
    assert "fewer than" not in shown


def test_the_page_holds_every_section_and_the_figures_in_their_rows():
    html, p = page()
    text = p.within("body")
    for heading in (
        "Headline",
        "Timeliness of every deadline",
        "Reasons given",
        "Initial child protection conferences",
        "Outcomes, per child",
        "Attendance",
        "Decisions without the quorum",
        "Out of hours",
    ):
        assert heading in text, heading
    assert "7 Sep 2026 to 31 Dec 2026" in text
    assert "Testshire" in text and "Fri 8 Jan 2027, 09:30" in text
    rows_ = table_rows(html)
    # No total beside its parts: 40 beside 30, 0, 0 and 6 would give the hidden 4 away.
    # Late (2) is hidden, so the smallest other ending (open, 6) is hidden with it: 30 + 2 + 6 = 38
    # ended or open would otherwise give the 2 away.
    assert rows_["Strategy discussion to be held"] == ["30", "fewer than 6", "0", "0", "not shown", "not shown"]
    assert rows_["Record to be circulated"] == ["25", "15", "6", "0", "7", "54%"]
    assert rows_["16-20 working days"] == ["fewer than 6", "not shown"]
    assert rows_["0-10 working days"] == ["12", "57%"]
    assert rows_["Within 15 working days"] == ["19", "not shown"]  # 21 - 19 = 2 would show
    assert rows_["England, within 15 working days"] == ["", "81%"]
    assert rows_["Single Assessment first, then reconvene"] == ["fewer than 6"]
    assert rows_["Police"] == ["40", "38", "30", "6", "fewer than 6", "fewer than 6"]
    assert rows_["Oct 2026"] == ["fewer than 6", "not shown"]
    assert rows_["Nov 2026"] == ["23", "not shown"]  # 23 - 20 = 3: neither the share nor the met count
    assert rows_["Sep 2026"] == ["48", "83%"]
    assert rows_["Dec 2026"] == ["0", "none"]
    assert "The bot does not tell in person from video" in text
    assert "81%" in text and "England, year to 31 March 2025" in text
    # Reasons given fewer than 6 times are folded into one line; the others show with their count.
    assert "Chair on leave (8)" in squeezed(text) and "Police on another call" not in text
    assert "Moved away" not in text and "Health unreachable" not in text
    assert "other reasons, each given fewer times than the rule allows (fewer than 6)" in squeezed(text)


def test_a_reason_is_text_never_markup():
    html, p = page()
    assert ESCAPED in p.within("main")  # shown as typed
    assert b"<script" not in html and b"<b>not bold" not in html
    assert b"&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &#34;quoted&#34;" in html


def test_the_page_is_self_contained():
    html, p = page()
    assert p.tags.isdisjoint({"script", "img", "iframe", "object", "embed"})
    assert not re.search(rb"\s(src|srcset|action|poster)=", html)
    assert re.findall(rb"<link[^>]*>", html) == [b'<link rel="icon" href="data:,">']
    assert b"@import" not in html and not re.search(rb"url\((?!#)", html)
    # Web addresses only as the SVG namespaces' names, which are never fetched.
    assert set(re.findall(rb'([\w:-]+)="https?://', html)) <= {b"xmlns", b"xmlns:xlink"}
    assert b"default-src 'none'" in html  # the browser is told to fetch nothing, too


def test_every_chart_has_its_text_alternative_caption_and_data_table():
    html, p = page()
    assert len(p.svgs) == 3
    for svg in p.svgs:
        assert svg["role"] == "img" and svg["aria-label"]
        assert "width" not in svg and "height" not in svg and svg["viewbox"]  # scales with the page
    for chart_id in ("chart-months", "chart-bands", "chart-attendance"):
        assert f'<figure id="{chart_id}" aria-labelledby="{chart_id}-caption">'.encode() in html
    assert b"<?xml" not in html and b"<!DOCTYPE svg" not in html and b"<metadata" not in html
    assert len(p.ids) == len(set(p.ids))  # three SVGs inlined: no id twice
    bands = charts.bands_chart(KNOWN.conferences, HIDE)
    assert (
        bands.svg.count("<title>") == 1 and "16-20 working days: conferences held fewer than 6" in bands.svg
    )


def test_a_hidden_count_or_share_is_not_drawn_and_its_label_says_so():
    bands = svg_of(charts.bands_chart(KNOWN.conferences, HIDE))
    drawn = {i.removeprefix("chart-bands-bar-") for i in bands.ids if i.startswith("chart-bands-bar-")}
    # Not 16-20 (2), nor 11-15 (7), hidden with it (21 - 12 - 0 would give 16-20's 2 away otherwise),
    # nor within 15 (21 - 19 = 2).
    assert drawn == {"0-10", "21+", "england"}
    texts = bands.within("text")
    assert "fewer than 6" in texts and "not shown" in texts and "57%" in texts and "81%" in texts

    people = svg_of(charts.attendance_chart(KNOWN.attendance, HIDE))
    bars = {i.removeprefix("chart-attendance-bar-") for i in people.ids if "-bar-" in i}
    assert {"police-phone", "police-entered_by_chair", "referrer-thread", "referrer-phone"}.isdisjoint(bars)
    assert {"police-took_part", "police-meeting", "police-thread", "health-phone"} <= bars
    assert people.within("text").count("fewer than 6") == 5

    months = svg_of(charts.months_chart(KNOWN.months, HIDE))
    labels = re.findall(r"\b\d+%", months.within("text"))
    assert labels == ["0%", "25%", "50%", "75%", "100%", "83%"]  # the axis, then September only
    everything = svg_of(charts.months_chart(KNOWN.months, NO_SUPPRESSION))
    assert re.findall(r"\b\d+%", everything.within("text"))[5:] == ["83%", "100%", "87%"]


def test_all_counts_says_it_is_not_for_circulation():
    html, hidden = page()
    all_html, everything = page(NO_SUPPRESSION)
    assert "Not for circulation: shows small numbers." in everything.within("header")
    period = "Strategy discussion figures, 7 Sep 2026 to 31 Dec 2026"
    assert title_of(all_html) == f"Not for circulation: {period}" and title_of(html) == period
    assert "Not for circulation" not in hidden.within("body")
    header = hidden.within("header").replace("\u201c", '"').replace("\u201d", '"')
    assert 'Counts from 1 to 5 show as "fewer than 6"' in header


def test_the_same_figures_make_the_same_bytes_in_any_thread():
    first = render_html(KNOWN, HIDE)
    with ThreadPoolExecutor(4) as pool:  # charts are drawn in worker threads by the chat surfaces
        pages = list(pool.map(lambda _: render_html(KNOWN, HIDE), range(4)))
    assert all(p == first for p in pages)


# --- CSV and JSON -------------------------------------------------------------------------------------


def test_csv_is_one_flat_table_with_the_rule_applied():
    table = list(csv.reader(io.StringIO(render_csv(KNOWN, HIDE).decode())))
    assert table[0] == ["section", "item", "measure", "value"]
    assert all(len(row) == 4 for row in table)
    found = {tuple(row[:3]): row[3] for row in table[1:]}
    assert found["report", "small numbers", "hidden below"] == "6"
    assert found["timeliness", "Strategy discussion to be held", "late"] == "fewer than 6"
    assert found["timeliness", "Record to be circulated", "met on time, % of ended"] == "54%"
    assert found["conferences", "16-20 working days", "held"] == "fewer than 6"
    assert found["conferences", "within 15 working days", "% of held"] == "not shown"
    assert found["attendance", "Referrer", "by phone"] == "fewer than 6"
    assert found["outcomes", "No S47 enquiry", "children"] == "25"
    assert found["months", "2026-09", "met on time, % of ended"] == "83%"
    assert not {row[3] for row in table} & {str(n) for n in HIDDEN}
    # A reason a spreadsheet would take for a formula is shown as text.
    assert found["timeliness reasons", "Record to be circulated: missed", f"'{FORMULA}"] == "6"
    everything = {
        tuple(r[:3]): r[3] for r in csv.reader(io.StringIO(render_csv(KNOWN, NO_SUPPRESSION).decode()))
    }
    assert everything["report", "small numbers", "hidden below"] == NOT_FOR_CIRCULATION
    assert everything["timeliness", "Strategy discussion to be held", "late"] == "4"
    assert len(rows(KNOWN, HIDE)) == len(table) - 1


def test_json_holds_the_same_figures_structured_with_the_rule_applied():
    data = json.loads(render_json(KNOWN, HIDE))
    assert data["suppressed_below"] == 6 and data["council"] == "Testshire"
    assert data["period"] == {"start": "2026-09-07", "end": "2026-12-31"}
    meeting = data["timeliness"][0]
    assert meeting["kind"] == "meeting" and meeting["met"] == 30 and meeting["late"] == "fewer than 6"
    assert meeting["met_on_time_percent"] == "not shown"
    # No total beside its parts, and a month's ended count with its share only (see the page's test).
    assert set(meeting) == {"kind", "label", *(e.value for e in Ended), "met_on_time_percent", "reasons"}
    assert set(data["months"][0]) == {"month", "ended", "met_on_time_percent"}
    assert meeting["reasons"] == {
        "late": [
            {"reason": "other reasons, each given fewer times than the rule allows", "count": "fewer than 6"}
        ]
    }
    assert data["timeliness"][1]["reasons"]["missed"] == [{"reason": FORMULA, "count": 6}]
    assert [m["met_on_time_percent"] for m in data["months"]] == [83, "not shown", "not shown", None]
    c = data["conferences"]
    assert c["bands"]["16-20"] == {"held": "fewer than 6", "percent_of_held": "not shown"}
    assert c["bands"]["0-10"] == {"held": 12, "percent_of_held": 57}
    assert c["national_within_15_percent"] == 81 and c["awaited"] == "fewer than 6"
    assert data["attendance"][4]["by_how"] == {
        "meeting": 9,
        "thread": "fewer than 6",
        "phone": "fewer than 6",
        "entered_by_chair": 0,
    }
    assert data["discussions"]["out_of_hours_percent"] == "not shown"
    assert small_numbers(data) == []

    everything = json.loads(render_json(KNOWN, NO_SUPPRESSION))
    assert everything["suppressed_below"] == 0
    assert sorted(set(small_numbers(everything))) == sorted(HIDDEN)
    assert everything["discussions"]["out_of_hours_percent"] == 8
    assert "fewer than" not in json.dumps(everything)


# --- the sample in docs/ ------------------------------------------------------------------------------


def test_the_sample_in_docs_is_what_the_samples_module_makes():
    assert SAMPLE_HTML.read_bytes() == sample_html(), "docs/ is stale: python -m bot.reports.samples"
    assert SAMPLE_PNG.read_bytes().startswith(b"\x89PNG")


# --- helpers ------------------------------------------------------------------------------------------


def table_rows(html: bytes) -> dict[str, list[str]]:
    """Each table row's header cell -> its data cells' text."""
    found = {}
    for row in re.findall(rb"<tr>(.*?)</tr>", html, flags=re.S):
        head = re.search(rb'<th scope="row">(.*?)</th>', row)
        if head:
            cells = re.findall(rb"<td>(.*?)</td>", row)
            found[head.group(1).decode()] = [c.decode() for c in cells]
    return found


def title_of(html: bytes) -> str:
    return re.search(rb"<title>(.*?)</title>", html).group(1).decode()  # the page's, before any chart's


def small_numbers(data) -> list[int]:
    """Every number from 1 to 5 in the document, but its layout's version."""
    if isinstance(data, dict):
        return [n for k, v in data.items() if k != "schema" for n in small_numbers(v)]
    if isinstance(data, list):
        return [n for v in data for n in small_numbers(v)]
    return [data] if isinstance(data, int) and not isinstance(data, bool) and data in HIDDEN else []


def squeezed(text: str) -> str:
    return re.sub(r"\s+", " ", text)


@pytest.mark.parametrize("below", [6, 11])
def test_the_rule_follows_the_procedures_number(below):
    hide = Suppress(below)
    data = json.loads(render_json(KNOWN, hide))
    assert data["suppressed_below"] == below
    assert data["timeliness"][1]["missed"] == (6 if below == 6 else f"fewer than {below}")
    assert f"fewer than {below}".encode() in render_html(KNOWN, hide)
