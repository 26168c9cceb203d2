"""No subtraction of circulated figures gives a hidden count away (the small-number rule, Suppress).

A review found that hiding a count (1 to 5) is undone when its whole and its other parts are shown:
bands 20, 3, 7 and 0 with 30 held and "within 15: 23" give 11-15 = 23 - 20 = 3. Here, for many seeded
random reports with small parts, the CSV and JSON are rendered with the shipped rule, read back as a
reader would, and every hidden count is put to the subtractions the review listed:

- the conferences held minus the other bands, and within 15 working days minus 0-10 (or 11-15): every
  true value of the bands that shows the same conference figures (counts, totals, shares) is tried,
  so these and any other sum of the conference figures are covered at once;
- the discussions held minus those held out of hours, either way round: the same, for their figures;
- the months' deadlines ended against each kind's endings (and the months' shares met against the
  kinds' counts met): the interval the months' figures allow for all ended (or met), minus each other
  kind's count, must leave a hidden count more than one value.

A reader who knows the rule is assumed, and everything outside the figures tried is taken as known
(stronger than any reader is). The last tests show the check finding what the rules this one replaced
gave away.
"""

import csv
import io
import itertools
import json
import random
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime

import pytest

from bot.reports.tables import figures, render_csv, render_json, rows
from dialogs.report_model import (
    BANDS,
    ENDED,
    Conferences,
    Ended,
    KindFigures,
    Month,
    Report,
    Suppress,
)

RULE = Suppress(6, 5)  # the shipped procedure's
SMALL = range(1, RULE.below)
REPORTS = 150  # random reports: a few seconds in all


# --- random reports with small parts ------------------------------------------------------------------


def _part(rng: random.Random) -> int:
    return rng.choice((0, rng.randint(1, 5), rng.randint(1, 5), rng.randint(6, 30)))


def random_report(seed: int) -> Report:
    """Bands, discussions, and deadlines of 1 to 3 kinds over 1 to 3 months (each month's and each
    kind's endings the two sums of one table of kind by month), all with small parts."""
    rng = random.Random(seed)
    kinds, months = rng.randint(1, 3), rng.randint(1, 3)
    # cells[k][m][state]: the deadlines of kind k due in month m that ended so (open last)
    cells = [
        [[_part(rng) if rng.random() < 0.6 else 0 for _ in (*ENDED, Ended.OPEN)] for _ in range(months)]
        for _ in range(kinds)
    ]
    states = (*ENDED, Ended.OPEN)
    held_out, held_in = _part(rng), rng.choice((0, rng.randint(1, 5), rng.randint(6, 40)))
    return Report(
        start=date(2026, 9, 1),
        end=date(2026, 11, 30),
        council="Testshire",
        made_at=datetime(2026, 12, 1, 9, tzinfo=UTC),
        discussions=held_out + held_in,
        children=_part(rng),
        out_of_hours=held_out,
        out_of_hours_overridden=0,
        timeliness=tuple(
            KindFigures(
                f"kind_{k}",
                f"Kind {k}",
                {s: sum(cells[k][m][i] for m in range(months)) for i, s in enumerate(states)},
            )
            for k in range(kinds)
        ),
        months=tuple(
            Month(
                date(2026, 9 + m, 1),
                {s: sum(cells[k][m][i] for k in range(kinds)) for i, s in enumerate(states)},
            )
            for m in range(months)
        ),
        conferences=_conferences([_part(rng) for _ in BANDS], _part(rng), _part(rng)),
        outcomes=(),
        attendance=(),
        overrides=0,
        override_reasons=(),
    )


def _conferences(bands: list[int], not_required: int, awaited: int) -> Conferences:
    held = dict(zip(BANDS, bands, strict=True))
    return Conferences(sum(bands) + not_required + awaited, held, not_required, (), awaited)


# --- what a reader has: the rendered files, read back -------------------------------------------------


@dataclass(frozen=True)
class Files:
    csv: dict[tuple[str, str, str], str]  # (section, item, measure) -> value
    json: dict

    @classmethod
    def of(cls, report: Report, hide: Suppress) -> "Files":
        table = csv.reader(io.StringIO(render_csv(report, hide).decode()))
        found = {(s, i, m): v for s, i, m, v in list(table)[1:]}
        return cls(found, json.loads(render_json(report, hide)))

    def section(self, name: str) -> dict[tuple[str, str, str], str]:
        return {k: v for k, v in self.csv.items() if k[0] == name}


def could_be(shown: str, hide: Suppress) -> range | list[int]:
    """Every true count that shows as `shown` on its own (the rule is public)."""
    if shown.startswith("fewer than"):
        return SMALL
    n = int(shown)
    return [c for c in range(n + hide.round_to + 1) if hide.count(c) == shown] if n else [0]


# --- the subtractions ---------------------------------------------------------------------------------


def bands_tried(
    report: Report, hide: Suppress, *, enough: bool = False, all_unknown: bool = False
) -> dict[str, set[int]]:
    """For each hidden band: the values it takes among all the bands that show the same conference
    figures as the report's (its CSV rows and its JSON section). The not required and awaited are
    taken as known (a stronger reader than there is) unless `all_unknown`, when they are tried too.
    `enough`: stop once each hidden band has its true value and another (quicker)."""
    files = Files.of(report, hide)
    seen = (files.section("conferences"), files.json["conferences"])
    c = report.conferences
    shown = [files.csv["conferences", f"{b} working days", "held"] for b in BANDS]
    known = ([c.not_required], [c.awaited])
    if all_unknown:
        known = tuple(
            could_be(files.csv["conferences", x, "enquiries"], hide) for x in ("not required", "awaited")
        )
    found: dict[str, set[int]] = {b: set() for b, n in c.bands.items() if n in SMALL}
    bare = _bare(report)
    for *bands, not_required, awaited in itertools.product(*(could_be(s, hide) for s in shown), *known):
        other = replace(bare, conferences=_conferences(bands, not_required, awaited))
        if _same(other, hide, "conferences", seen):
            for b, n in zip(BANDS, bands, strict=True):
                if b in found:
                    found[b].add(n)
            if enough and all(len(v) > 1 and c.bands[b] in v for b, v in found.items()):
                break
    return found


def hours_tried(report: Report, hide: Suppress) -> dict[str, set[int]]:
    """The out-of-hours and in-hours discussions (either may be small) that show the same figures."""
    files = Files.of(report, hide)
    seen = (files.section("discussions"), files.json["discussions"])
    held = files.csv["discussions", "held", "discussions"]
    most = int(held) + 2 * hide.round_to if held.isdigit() else hide.below
    found: dict[str, set[int]] = {}
    bare = _bare(report)
    out_of_hours = could_be(files.csv["discussions", "out of hours", "discussions"], hide)
    for out, in_ in itertools.product(out_of_hours, range(most + 1)):
        if _same(replace(bare, discussions=out + in_, out_of_hours=out), hide, "discussions", seen):
            found.setdefault("out of hours", set()).add(out)
            found.setdefault("in hours", set()).add(in_)
    truth = {"out of hours": report.out_of_hours, "in hours": report.discussions - report.out_of_hours}
    return {k: v for k, v in found.items() if truth[k] in SMALL}


def _bare(report: Report) -> Report:
    """The report without its deadlines: the figures tried do not need them, and it is quicker."""
    return replace(report, timeliness=(), months=())


def _same(report: Report, hide: Suppress, section: str, seen: tuple[dict, dict]) -> bool:
    """Whether `report` shows the same figures in the CSV's and the JSON's `section` as `seen`."""
    table = {tuple(r[:3]): r[3] for r in rows(report, hide) if r[0] == section}
    return table == seen[0] and figures(report, hide)[section] == seen[1]


def month_interval(ended: str, hide: Suppress) -> tuple[int, int]:
    """The fewest and most deadlines a month could have ended, given its "ended" as shown: a total of
    up to four endings (met, late, missed, closed), each standing for its value as shown."""
    if not ended.isdigit() or ended == "0":
        return (min(could_be(ended, hide)), max(could_be(ended, hide)))
    total = int(ended)
    # value -> (fewest, most) true counts showing as it, for one ending
    values: dict[int, tuple[int, int]] = {}
    for n in range(total + hide.round_to + 1):
        v = hide.value(n)
        lo, hi = values.get(v, (n, n))
        values[v] = (min(lo, n), max(hi, n))
    reach = {0: (0, 0)}  # sum of values -> (fewest, most) true total, over up to four endings
    for _ in ENDED:
        step = dict(reach)
        for s, (lo, hi) in reach.items():
            for v, (a, b) in values.items():
                if v and s + v <= total:
                    old = step.get(s + v)
                    step[s + v] = (min(lo + a, old[0]), max(hi + b, old[1])) if old else (lo + a, hi + b)
        reach = step
    # A total shown at the least a count can show may stand for smaller sums (each part small).
    sums = [s for s in reach if s == total or (s < total == hide.value(hide.below) and s)]
    return (max(hide.below, min(reach[s][0] for s in sums)), max(reach[s][1] for s in sums))


def met_interval(ended: str, share: str, hide: Suppress) -> tuple[int, int]:
    """The fewest and most met on time in a month, from its ended and its share as shown."""
    if share == "none":
        return (0, 0)
    if share == "not shown":  # the month's met, or all it ended, is hidden
        return (0, max(SMALL))
    total, percent = int(ended), int(share.removesuffix("%"))
    most = month_interval(ended, hide)[1]  # no more met than ended
    met = [n for n in range(most + 1) if _percent(hide.value(n), total) == percent]
    return (min(met), max(met))


def _percent(part: int, whole: int) -> int:
    return (200 * part + whole) // (2 * whole)


def kinds_subtracted(
    report: Report, hide: Suppress, *, totals_rounded: bool = False
) -> list[tuple[str, int, tuple[int, int]]]:
    """Each hidden ending of a kind, and the interval the months leave it: all the months ended (or
    met) minus every other kind's count of that sum, each as it could be from how it shows.
    `totals_rounded`: a month's ended is its true total rounded, as a count is (not the rule's way)."""
    files = Files.of(report, hide)
    months = files.json["months"]
    if totals_rounded:  # only the ended is tried: the met get a bound too loose to decide anything
        ended = [(min(could_be(str(m["ended"]), hide)), max(could_be(str(m["ended"]), hide))) for m in months]
        met = [(0, 2 * m.ended) for m in report.months]
    else:
        ended = [month_interval(str(m["ended"]), hide) for m in months]
        met = [met_interval(str(m["ended"]), _words(m["met_on_time_percent"]), hide) for m in months]
    shown = {
        (k.label, e): could_be(files.csv["timeliness", k.label, e.value], hide)
        for k in report.timeliness
        for e in ENDED
    }
    out = []
    for k in report.timeliness:
        for e in ENDED:
            if k.count(e) not in SMALL:
                continue
            for name, whole, parts in (
                ("ended", ended, [key for key in shown if key != (k.label, e)]),
                ("met", met, [key for key in shown if key[1] == Ended.MET and key != (k.label, e)]),
            ):
                if name == "met" and e != Ended.MET:
                    continue
                lo = sum(w[0] for w in whole) - sum(max(shown[p]) for p in parts)
                hi = sum(w[1] for w in whole) - sum(min(shown[p]) for p in parts)
                out.append((f"{k.label} {e.value} by {name}", k.count(e), (max(lo, 1), min(hi, max(SMALL)))))
    return out


def _words(percent: int | str | None) -> str:
    return "none" if percent is None else f"{percent}%" if isinstance(percent, int) else percent


# --- the tests ----------------------------------------------------------------------------------------


def test_no_hidden_band_is_given_away_by_the_conferences_held_or_within_15():
    checked = 0
    for seed in range(REPORTS):
        report = random_report(seed)
        tried = bands_tried(report, RULE, enough=True)
        if any(len(values) < 2 for values in tried.values()):
            # Given the not required and awaited exactly, a small whole can leave one value (bands
            # 0, 0, 0, 5 with 1 not required: 6 enquiries, shown, so 5); they are hidden too.
            tried = bands_tried(report, RULE, enough=True, all_unknown=True)
        for band, values in tried.items():
            assert report.conferences.bands[band] in values  # the truth is among them: the reader is right
            assert len(values) > 1, f"seed {seed}: band {band} is {values} ({report.conferences})"
            checked += 1
    assert checked > 50  # the reports did have hidden bands to give away


def test_no_small_count_is_given_away_by_the_discussions_held_and_out_of_hours():
    checked = 0
    for seed in range(REPORTS):
        report = random_report(seed)
        for which, values in hours_tried(report, RULE).items():
            assert len(values) > 1, f"seed {seed}: {which} is {values}"
            checked += 1
    assert checked > 30


def test_no_hidden_ending_is_given_away_by_the_months():
    checked = 0
    for seed in range(REPORTS):
        report = random_report(seed)
        for what, truth, (lo, hi) in kinds_subtracted(report, RULE):
            assert lo <= truth <= hi, f"seed {seed}: {what} is {truth}, outside {lo} to {hi}"
            assert hi > lo, f"seed {seed}: {what} is {truth} exactly"
            checked += 1
    assert checked > 100


# --- the check can fail: the rules the review and this test replaced ----------------------------------


@dataclass(frozen=True)
class ExactTotals(Suppress):
    """Totals from the true counts (with `round_to` 0, every count exact): the review's finding."""

    def total(self, parts):
        whole = sum(parts)
        return self.count(whole)


@dataclass(frozen=True)
class RoundedTotals(ExactTotals):
    """Each total rounded on its own from the true total, as many published tables do."""


@dataclass(frozen=True)
class TrueShares(Suppress):
    """Percentages from the true counts."""

    def share(self, count, whole):
        shown = super().share(count, whole)
        return f"{_percent(sum(count), sum(whole))}%" if shown.endswith("%") else shown


@pytest.mark.parametrize(
    ("leaky", "bands", "band", "given_away"),
    [
        # 30 held, 23 within 15 days: 23 - 20 = 3 (the review's example).
        (ExactTotals(6, 0), [20, 3, 7, 0], "11-15", 3),
        # 20 of 30 is 67%, and among the counts that show as 20, 10 and 35 held, only 20 of 30 makes
        # 67%; 7 of 30 (23%) then leaves 3.
        (TrueShares(6, 5), [20, 3, 7, 0], "11-15", 3),
        # 27 held shows as 25, at most 27; 13 and 13 show as 15, at least 13 each: 27 - 26 = 1.
        (RoundedTotals(6, 5), [13, 1, 13, 0], "11-15", 1),
    ],
)
def test_the_check_finds_what_the_rules_replaced_gave_away(leaky, bands, band, given_away):
    report = replace(random_report(0), conferences=_conferences(bands, 8, 9))
    assert bands_tried(report, leaky)[band] == {given_away}
    assert len(bands_tried(report, RULE)[band]) > 1  # the shipped rule on the same figures


def test_the_check_finds_a_month_that_gives_an_ending_away_when_totals_are_rounded_on_their_own():
    """One month: 13 met and 1 late of one kind, 13 met of another. Its 27 ended, rounded on its own,
    shows as 25 (at most 27); the two 13s show as 15 (at least 13 each): 27 - 26 = 1 late."""
    one = {Ended.MET: 13, Ended.LATE: 1}
    report = replace(
        random_report(0),
        timeliness=(KindFigures("a", "A", one), KindFigures("b", "B", {Ended.MET: 13})),
        months=(Month(date(2026, 9, 1), {Ended.MET: 26, Ended.LATE: 1}),),
    )
    [(_, _, leaky)] = [
        x
        for x in kinds_subtracted(report, RoundedTotals(6, 5), totals_rounded=True)
        if x[0] == "A late by ended"
    ]
    assert leaky == (1, 1)
    [(_, _, shipped)] = [x for x in kinds_subtracted(report, RULE) if x[0] == "A late by ended"]
    assert shipped[1] > shipped[0]


def test_a_procedure_that_hides_small_numbers_must_round_to_at_least_5():
    """With exact counts, or rounding to 2, 3 or 4, the months' shares met against the kinds' counts
    met pin a hidden count in some random reports: the procedure file refuses such a rule. Here 11
    met in September (11 of 30 ended, 37%) and none in October, with 10 met of kind 1 shown: kind 2
    met 1, exactly."""
    from pydantic import ValidationError

    from dialogs.procedure_sections import Reports

    report = random_report(17)
    [exact] = [x for x in kinds_subtracted(report, Suppress(6, 0)) if x[0] == "Kind 2 met by met"]
    assert exact == ("Kind 2 met by met", 1, (1, 1))
    [shipped] = [x for x in kinds_subtracted(report, RULE) if x[0] == "Kind 2 met by met"]
    assert shipped == ("Kind 2 met by met", 1, (1, 5))

    assert Reports(suppress_below=6, round_to=5).round_to == 5
    assert Reports(suppress_below=0, round_to=0).round_to == 0  # nothing hidden: exact is allowed
    for finer in (0, 1, 4):
        with pytest.raises(ValidationError, match="must be at least 5 while suppress_below hides"):
            Reports(suppress_below=6, round_to=finer)
