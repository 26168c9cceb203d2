"""The figures as files (bot/reports: the HTML page with its charts, CSV, JSON) from a report built by
hand, whose every count is known.

The counts from 1 to 5 in KNOWN (listed in HIDDEN) must show as "fewer than 6" in what is circulated,
and never as digits: not in a table, a sentence, a chart's labels or its text alternative. A share of
a hidden count, or out of one, is "not shown", and a chart draws neither. Every other count shows
rounded to the nearest 5 (never below 10), and totals and shares are worked out from the rounded
counts, a hidden one standing for 5 (tests/test_report_rounding.py checks that no subtraction undoes
the rule).
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
            {E.MET: 30, E.LATE: 4, E.OPEN: 6},  # late hidden: met 30 of 30 + 5 ended, 86%
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
        Month(date(2026, 11, 1), {E.MET: 20, E.LATE: 3}),  # late hidden: 20 of 20 + 5, 80%
        Month(date(2026, 12, 1), {E.OPEN: 9}),  # nothing ended: a gap
    ),
    conferences=Conferences(
        enquiries=31,  # held 21, not required 7, awaited 3
        bands={"0-10": 12, "11-15": 7, "16-20": 2, "21+": 0},  # 16-20 hidden; held 10 + 10 + 5 + 0
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
    # Counts rounded to the nearest 5, none shown below 10 (6 and 7 show as 10); a share is of the
    # rounded counts, a hidden one standing for 5: met 30 of 30 + 5 ended is 86%.
    assert rows_["Strategy discussion to be held"] == ["30", "fewer than 6", "0", "0", "10", "86%"]
    assert rows_["Record to be circulated"] == ["25", "15", "10", "0", "10", "50%"]  # 25 of 50
    assert rows_["16-20 working days"] == ["fewer than 6", "not shown"]
    # Held: 10 + 10 + 5 + 0 = 25 (21 in truth), so 0-10 is 40% of it and within 15 days 80%.
    assert rows_["0-10 working days"] == ["10", "40%"]
    assert rows_["21+ working days"] == ["0", "0%"]
    assert rows_["Within 15 working days"] == ["20", "80%"]
    assert rows_["England, within 15 working days"] == ["", "81%"]
    assert rows_["Single Assessment first, then reconvene"] == ["fewer than 6"]
    assert rows_["Police"] == ["40", "40", "30", "10", "fewer than 6", "fewer than 6"]
    assert rows_["Oct 2026"] == ["fewer than 6", "not shown"]
    assert rows_["Nov 2026"] == ["25", "80%"]  # 20 met and 3 late: 20 of 20 + 5
    assert rows_["Sep 2026"] == ["50", "80%"]  # 40 met and 8 late: 40 of 40 + 10
    assert rows_["Dec 2026"] == ["0", "none"]
    headline = squeezed(p.within("section"))
    assert "Discussions held 40 about 50 children" in headline  # 3 out of hours (5) and 37 (35)
    assert "Deadlines met on time 65% of 85 ended" in headline  # 55 of 35 + 50
    assert "Conferences within 15 working days 80% of 25 held" in headline
    assert "Enquiries started 40 Conferences held 25 Not required 10" in squeezed(text)
    assert "The bot does not tell in person from video" in text
    assert "81%" in text and "England, year to 31 March 2025" in text
    # Reasons given fewer than 6 times are folded into one line; the others show with their count.
    assert "Chair on leave (10)" in squeezed(text) and "Police on another call" not in text
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
    assert drawn == {"0-10", "11-15", "21+", "within-15", "england"}  # not 16-20 (2)
    texts = bands.within("text")
    assert "fewer than 6" in texts and "40%" in texts and "80%" in texts and "81%" in texts
    assert "57%" not in texts  # 12 of 21 in truth: bars are drawn at the shares of the rounded counts

    drawing = charts.attendance_chart(KNOWN.attendance, HIDE)
    people = svg_of(drawing)
    bars = {i.removeprefix("chart-attendance-bar-") for i in people.ids if "-bar-" in i}
    # Bars are as long as the rounded counts: police took part in 38 and met in 30, drawn as 40 and 30.
    widths = {
        key: _bar_width(drawing.svg, f"chart-attendance-bar-police-{key}") for key in ("took_part", "meeting")
    }
    assert widths["took_part"] / widths["meeting"] == pytest.approx(40 / 30, rel=1e-3)
    assert {"police-phone", "police-entered_by_chair", "referrer-thread", "referrer-phone"}.isdisjoint(bars)
    assert {"police-took_part", "police-meeting", "police-thread", "health-phone"} <= bars
    assert people.within("text").count("fewer than 6") == 5

    months = svg_of(charts.months_chart(KNOWN.months, HIDE))
    labels = re.findall(r"\b\d+%", months.within("text"))
    assert labels == ["0%", "25%", "50%", "75%", "100%", "80%", "80%"]  # the axis, September, November
    everything = svg_of(charts.months_chart(KNOWN.months, NO_SUPPRESSION))
    assert re.findall(r"\b\d+%", everything.within("text"))[5:] == ["83%", "100%", "87%"]


def test_all_counts_says_it_is_not_for_circulation():
    html, hidden = page()
    all_html, everything = page(NO_SUPPRESSION)
    assert "Not for circulation: shows small numbers." in everything.within("header")
    period = "Strategy discussion figures, 7 Sep 2026 to 31 Dec 2026"
    assert title_of(all_html) == f"Not for circulation: {period}" and title_of(html) == period
    assert "Not for circulation" not in hidden.within("body")
    header = squeezed(hidden.within("header").replace("\u201c", '"').replace("\u201d", '"'))
    assert 'Counts from 1 to 5 show as "fewer than 6"' in header
    assert "Other counts are rounded to the nearest 5, so figures may not add up" in header
    assert "rounded" not in everything.within("header")  # --all-counts: every count as it is


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
    assert found["report", "counts", "rounded to"] == "5"
    assert found["timeliness", "Strategy discussion to be held", "late"] == "fewer than 6"
    assert found["timeliness", "Record to be circulated", "met on time, % of ended"] == "50%"
    assert found["conferences", "16-20 working days", "held"] == "fewer than 6"
    assert found["conferences", "held", "conferences"] == "25"
    assert found["conferences", "within 15 working days", "% of held"] == "80%"
    assert found["attendance", "Referrer", "by phone"] == "fewer than 6"
    assert found["attendance", "Police", "took part"] == "40"  # 38
    assert found["outcomes", "No S47 enquiry", "children"] == "25"
    assert found["months", "2026-09", "met on time, % of ended"] == "80%"
    assert not {row[3] for row in table if row[0] != "report"} & {str(n) for n in HIDDEN}  # but the rule
    # A reason a spreadsheet would take for a formula is shown as text.
    assert found["timeliness reasons", "Record to be circulated: missed", f"'{FORMULA}"] == "10"
    everything = {
        tuple(r[:3]): r[3] for r in csv.reader(io.StringIO(render_csv(KNOWN, NO_SUPPRESSION).decode()))
    }
    assert everything["report", "small numbers", "hidden below"] == NOT_FOR_CIRCULATION
    assert everything["report", "counts", "rounded to"] == "exact"
    assert everything["timeliness", "Strategy discussion to be held", "late"] == "4"
    assert everything["timeliness", "Record to be circulated", "met on time, % of ended"] == "54%"
    assert len(rows(KNOWN, HIDE)) == len(table) - 1


def test_json_holds_the_same_figures_structured_with_the_rule_applied():
    data = json.loads(render_json(KNOWN, HIDE))
    assert data["suppressed_below"] == 6 and data["rounded_to"] == 5 and data["council"] == "Testshire"
    assert data["period"] == {"start": "2026-09-07", "end": "2026-12-31"}
    meeting = data["timeliness"][0]
    assert meeting["kind"] == "meeting" and meeting["met"] == 30 and meeting["late"] == "fewer than 6"
    assert meeting["open"] == 10 and meeting["met_on_time_percent"] == 86
    # A month's ended count with its share only, as on the page.
    assert set(meeting) == {"kind", "label", *(e.value for e in Ended), "met_on_time_percent", "reasons"}
    assert set(data["months"][0]) == {"month", "ended", "met_on_time_percent"}
    assert meeting["reasons"] == {
        "late": [
            {"reason": "other reasons, each given fewer times than the rule allows", "count": "fewer than 6"}
        ]
    }
    assert data["timeliness"][1]["reasons"]["missed"] == [{"reason": FORMULA, "count": 10}]
    assert [m["met_on_time_percent"] for m in data["months"]] == [80, "not shown", 80, None]
    assert [m["ended"] for m in data["months"]] == [50, "fewer than 6", 25, 0]
    c = data["conferences"]
    assert c["bands"]["16-20"] == {"held": "fewer than 6", "percent_of_held": "not shown"}
    assert c["bands"]["0-10"] == {"held": 10, "percent_of_held": 40}
    assert (c["enquiries"], c["held"], c["not_required"]) == (40, 25, 10)  # 25 + 10 + 5
    assert c["within_15_working_days"] == {"held": 20, "percent_of_held": 80}
    assert c["national_within_15_percent"] == 81 and c["awaited"] == "fewer than 6"
    assert data["attendance"][4]["by_how"] == {
        "meeting": 10,
        "thread": "fewer than 6",
        "phone": "fewer than 6",
        "entered_by_chair": 0,
    }
    assert data["discussions"]["out_of_hours_percent"] == "not shown"
    assert small_numbers(data) == []

    everything = json.loads(render_json(KNOWN, NO_SUPPRESSION))
    assert everything["suppressed_below"] == 0 and everything["rounded_to"] == 0
    assert sorted(set(small_numbers(everything))) == sorted(HIDDEN)
    assert everything["discussions"]["out_of_hours_percent"] == 8
    assert everything["conferences"]["bands"]["0-10"] == {"held": 12, "percent_of_held": 57}
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
    """Every number from 1 to 5 in the document, but its layout's version and the rule's rounding."""
    if isinstance(data, dict):
        return [n for k, v in data.items() if k not in ("schema", "rounded_to") for n in small_numbers(v)]
    if isinstance(data, list):
        return [n for v in data for n in small_numbers(v)]
    return [data] if isinstance(data, int) and not isinstance(data, bool) and data in HIDDEN else []


def squeezed(text: str) -> str:
    return re.sub(r"\s+", " ", text)


def _bar_width(svg: str, gid: str) -> float:
    """The width of a horizontal bar matplotlib drew (its path's x extent), by the bar's id."""
    path = re.search(rf'<g id="{gid}">\s*<path d="([^"]+)"', svg).group(1)
    xs = [float(x) for x in re.findall(r"([-\d.]+) [-\d.]+", path)]
    return max(xs) - min(xs)


@pytest.mark.parametrize("below", [6, 11])
def test_the_rule_follows_the_procedures_number(below):
    hide = Suppress(below)
    data = json.loads(render_json(KNOWN, hide))
    assert data["suppressed_below"] == below
    assert data["timeliness"][1]["missed"] == (10 if below == 6 else f"fewer than {below}")
    assert f"fewer than {below}".encode() in render_html(KNOWN, hide)
