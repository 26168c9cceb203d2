"""The report's three charts as inline SVG, drawn by matplotlib without a GUI.

- Each chart is its own `Figure` (the object-oriented API, no pyplot state), so charts can be drawn in
  worker threads at the same time.
- The small-number rule applies to charts as to tables: a hidden count, or a share not shown, is not
  drawn; its place says "fewer than 6" (or "not shown") instead, so a chart never shows what the tables
  hide. Counts are the rounded ones, and bars are drawn at the percentage the tables show (worked out
  from the rounded counts), never the exact ratio.
- Every chart comes with its text alternative: a title and a summary of every number on the SVG
  (role="img", aria-label, <title>), a caption, and the same numbers as a data table.
- Output is byte for byte the same for the same figures (fixed hash salt, no date), so the sample in
  docs/ can be checked.
"""

from __future__ import annotations

import io
import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import matplotlib
from markupsafe import escape
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from dialogs.report_model import (
    BANDS,
    GROUP_LABELS,
    HOW_LABELS,
    NATIONAL_ICPC_WITHIN_15,
    Attendance,
    Conferences,
    How,
    Month,
    Suppress,
)

# Read by every figure this process saves. Set once, here, and never changed, so charts drawn in
# several threads at once all read the same values.
matplotlib.rcParams.update(
    {
        "svg.hashsalt": "strategy-bot-report",  # clip-path ids from the content, not a random salt
        "svg.fonttype": "none",  # text stays text: it scales, and a reader can select or search it
        "font.family": "sans-serif",
        "font.sans-serif": ["DejaVu Sans", "Liberation Sans", "Arial"],
        "font.size": 11,
    }
)

OURS, ENGLAND, GRID = "#1d4f91", "#b35900", "#d0d7e2"
# Okabe-Ito colours: told apart with every common colour-vision deficiency.
WAY_COLOURS = ("#1d4f91", "#e69f00", "#009e73", "#cc79a7", "#56b4e9")
WIDTH = 4.2  # inches: 10-point text stays readable when the SVG is scaled to a phone's width


@dataclass(frozen=True)
class Chart:
    id: str  # the figure's element id, and the prefix of every id inside its SVG
    title: str
    caption: str
    svg: str  # markup to inline
    head: tuple[str, ...]  # the data table: the same numbers as the chart
    rows: tuple[tuple[str, ...], ...]


def bands_chart(c: Conferences, hide: Suppress) -> Chart:
    """Our share of the conferences held in each census band, and within 15 working days beside
    England's figure (only that combined figure is published nationally)."""
    england = f"{NATIONAL_ICPC_WITHIN_15:.0%}"
    labels = [f"{b} days" for b in BANDS] + ["Within 15 days", "England: within 15"]
    shares = [*c.band_shares(hide), c.within_15_share(hide)]
    counts = [*c.bands_shown(hide), c.within_15_shown(hide)]
    # Where there is no share to draw, the bar's place says the count ("fewer than 6", or 0).
    shown = [*(s if s.endswith("%") else n for s, n in zip(shares, counts, strict=True)), england]
    values = [_percent(s) for s in shown]
    colours = [OURS] * len(counts) + [ENGLAND]
    keys = [*BANDS, "within-15", "england"]  # each bar's id

    fig, ax = _figure(3.4)
    ys = [float(y) for y in range(len(labels))]
    ys[-2:] = [y + 0.4 for y in ys[-2:]]  # a gap before the pair compared with England
    for y, value, text, colour, key in zip(ys, values, shown, colours, keys, strict=True):
        if value is not None:
            hatch = "//" if colour == ENGLAND else None
            ax.barh(y, value, height=0.7, color=colour, hatch=hatch, gid=f"bar-{key}")
        ax.text((value or 0) + 1.5, y, text, va="center", fontsize=10)
    ax.set_yticks(ys, labels)
    ax.invert_yaxis()
    _percent_axis(ax, "x")
    ax.set_xlabel("% of conferences held")

    names = [*(f"{b} working days" for b in BANDS), "Within 15 working days"]
    rows = [*zip(names, counts, shares, strict=True), ("England, within 15 working days", "", england)]
    title = "Initial conferences by working days from the S47 start"
    held = c.states_shown(hide)[0]
    return _chart(
        "chart-bands",
        fig,
        title,
        f"Of the {held} initial conferences held for enquiries that started in the period: "
        f"the share in each census band, and within 15 working days beside England ({england}).",
        ("Working days", "Conferences held", "Share of held"),
        rows,
    )


def months_chart(months: tuple[Month, ...], hide: Suppress) -> Chart:
    """Each month's deadlines met on time, as a share of those due in it that have ended."""
    shown = [m.met_share(hide) for m in months]
    values = [_percent(s) for s in shown]
    fig, ax = _figure(3.0)
    xs = list(range(len(months)))
    # A month with no figure (hidden, or nothing ended) is a gap: NaN breaks the line there.
    ax.plot(xs, [math.nan if v is None else v for v in values], color=OURS, marker="o", linewidth=2)
    for x, value in zip(xs, values, strict=True):
        if value is not None:
            ax.annotate(f"{value:.0f}%", (x, value), textcoords="offset points", xytext=(0, 7), ha="center")
    step = max(1, math.ceil(len(months) / 12))
    ax.set_xticks(xs[::step], [_month_tick(m, i == 0) for i, m in enumerate(months)][::step])
    ax.set_xlim(-0.5, len(months) - 0.5)
    _percent_axis(ax, "y")
    ax.set_ylim(0, 110)

    rows = tuple(
        (f"{m.month:%b %Y}", m.ended_shown(hide), text) for m, text in zip(months, shown, strict=True)
    )
    return _chart(
        "chart-months",
        fig,
        "Deadlines met on time, month by month",
        "Of the deadlines due in each month that have ended (met, late, missed or closed), the share met "
        "on time. A gap is a month with none ended, or whose figure the small-number rule hides.",
        ("Month", "Deadlines ended", "Met on time, % of ended"),
        rows,
    )


# Short enough to stand beside a bar on a phone; the page's note says "in the meeting" is in person or video.
WAYS = ("Took part (any way)", "In the meeting", "In the thread", "By phone", "Entered by the chair")
WAY_KEYS = ("took_part", *(h.value for h in How))  # each bar's id: bar-<group>-<way>


def attendance_chart(attendance: tuple[Attendance, ...], hide: Suppress) -> Chart:
    """For each group, a small chart of its own: in how many discussions someone of it took part, any
    way and each way. Every bar carries its number, so there is no scale to read (or misread)."""
    fig = Figure(figsize=(WIDTH, 0.35 + 1.25 * len(attendance)), layout="constrained")
    axes = fig.subplots(len(attendance), 1, sharex=True, squeeze=False)[:, 0]
    # Bars are as long as the rounded counts the labels show: a true length would give the count away.
    largest = max(
        [hide.value(n) for a in attendance for n in _attendance_counts(a) if not hide.hides(n)] + [1]
    )
    for ax, a in zip(axes, attendance, strict=True):
        counts = _attendance_counts(a)
        ys = range(len(counts))
        for y, n in zip(ys, counts, strict=True):
            if not hide.hides(n):  # a hidden count is not drawn: its label says so
                bar = hide.value(n)
                ax.barh(y, bar, height=0.75, color=WAY_COLOURS[y], gid=f"bar-{a.group.value}-{WAY_KEYS[y]}")
            x = 0 if hide.hides(n) else hide.value(n)
            ax.text(x + largest * 0.015, y, hide.count(n), va="center", fontsize=9)
        ax.set_yticks(ys, WAYS[: len(counts)], fontsize=9)
        ax.tick_params(axis="y", length=0)
        ax.invert_yaxis()
        ax.set_title(GROUP_LABELS[a.group], loc="left", fontsize=11, fontweight="bold")
        ax.xaxis.set_visible(False)
        for side in ("top", "right", "bottom"):
            ax.spines[side].set_visible(False)
    axes[0].set_xlim(0, largest * 1.25)

    rows = tuple(
        (GROUP_LABELS[a.group], hide.count(a.invited), *(hide.count(n) for n in _attendance_counts(a)))
        for a in attendance
    )
    return _chart(
        "chart-attendance",
        fig,
        "Who took part, and how",
        "The number of discussions held in the period in which someone of each group took part, any way "
        "and each way (one discussion can count in several ways).",
        ("Group", "Invited", "Took part", *(HOW_LABELS[h].capitalize() for h in How)),
        rows,
    )


def _attendance_counts(a: Attendance) -> list[int]:
    return [a.took_part, *(a.by_how.get(h, 0) for h in How)]


# --- drawing helpers ---------------------------------------------------------------------------------


def _figure(height: float) -> tuple[Figure, Axes]:
    fig = Figure(figsize=(WIDTH, height), layout="constrained")
    ax = fig.add_subplot()
    ax.set_axisbelow(True)
    return fig, ax


def _percent_axis(ax: Axes, which: str) -> None:
    ticks = [0, 25, 50, 75, 100]
    names = [f"{t}%" for t in ticks]
    if which == "x":
        ax.set_xlim(0, 118)  # room for the label beside a full bar
        ax.set_xticks(ticks, names)
        ax.grid(axis="x", color=GRID)
    else:
        ax.set_yticks(ticks, names)
        ax.grid(axis="y", color=GRID)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)


def _month_tick(m: Month, first: bool) -> str:
    return f"{m.month:%b}\n{m.month:%Y}" if first or m.month.month == 1 else f"{m.month:%b}"


def _percent(text: str) -> float | None:
    return float(text.removesuffix("%")) if text.endswith("%") else None


def _chart(
    id: str, fig: Figure, title: str, caption: str, head: tuple[str, ...], rows: Iterable[Sequence[object]]
) -> Chart:
    table = tuple(tuple(str(v) for v in row) for row in rows)
    summary = "; ".join(
        f"{row[0]}: " + ", ".join(f"{h.lower()} {v}" for h, v in zip(head[1:], row[1:], strict=True) if v)
        for row in table
    )
    return Chart(id, title, caption, _inline(_svg(fig), id, f"{title}. {summary}."), head, table)


def _svg(fig: Figure) -> str:
    out = io.StringIO()
    fig.savefig(out, format="svg", metadata={"Date": None})
    return out.getvalue()


def _inline(svg: str, prefix: str, label: str) -> str:
    """The SVG as markup for inside the page: no XML prolog, DOCTYPE or metadata (which names a web
    address); ids prefixed, so two charts' ids never clash; sized by CSS from its viewBox; an image
    to assistive technology, with its text alternative."""
    svg = svg[svg.index("<svg") :]
    svg = re.sub(r"\s*<metadata>.*?</metadata>", "", svg, flags=re.S)
    svg = re.sub(r'\bid="([^"]+)"', rf'id="{prefix}-\1"', svg)
    svg = re.sub(r"url\(#([^)]+)\)", rf"url(#{prefix}-\1)", svg)
    svg = re.sub(r'href="#([^"]+)"', rf'href="#{prefix}-\1"', svg)
    end = svg.index(">")
    opening = re.sub(r'\s(?:width|height)="[^"]*"', "", svg[:end])
    text = escape(label)
    return f'{opening} role="img" aria-label="{text}"><title>{text}</title>{svg[end + 1 :]}'
