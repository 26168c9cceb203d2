import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from dialogs.clock import (
    NATIONS,
    add_working_days,
    after_elapsed_hours,
    bank_holidays,
    end_of_day,
    is_working_day,
    localize,
    working_days_between,
)

GOVUK = (
    Path(__file__).resolve().parents[2] / "shared" / "conformance" / "calendar" / "govuk-bank-holidays.json"
)
LONDON = ZoneInfo("Europe/London")
EW, SCT, NI = NATIONS

# The fixture is a copy of the data in PyPI govuk-bank-holidays 0.19, taken before the Royal
# Proclamation of 3 February 2026 appointed Monday 15 June 2026 a bank holiday in Scotland (the men's
# football World Cup). GOV.UK lists it now, and so does the holidays package; it is a real bank holiday.
PROCLAIMED_AFTER_FIXTURE = {(SCT, date(2026, 6, 15))}


def _days(first: date, last: date):
    return (first + timedelta(days=i) for i in range((last - first).days + 1))


def _govuk() -> dict[str, set[date]]:
    data = json.loads(GOVUK.read_text(encoding="utf-8"))
    return {nation: {date.fromisoformat(e["date"]) for e in data[nation]["events"]} for nation in NATIONS}


# --- bank holidays ---------------------------------------------------------------------------------


@pytest.mark.parametrize("nation", NATIONS)
def test_agrees_with_govuk_on_every_day_it_covers(nation):
    listed = _govuk()[nation] | {d for n, d in PROCLAIMED_AFTER_FIXTURE if n == nation}
    all_listed = set().union(*_govuk().values())
    wrong = []
    for day in _days(min(all_listed), max(all_listed)):
        is_holiday = day in bank_holidays(nation, day.year)
        working = day.weekday() < 5 and not is_holiday
        if is_holiday != (day in listed) or is_working_day(day, nation) != working:
            wrong.append(day)
    assert wrong == []


def test_the_fixture_covers_2012_to_2028_and_one_off_days():
    govuk = _govuk()
    assert min(govuk[EW]) == date(2012, 1, 2) and max(govuk[EW]) == date(2028, 12, 26)
    for one_off in (date(2022, 6, 3), date(2022, 9, 19), date(2023, 5, 8)):
        for nation in NATIONS:
            assert one_off in govuk[nation]
            assert one_off in bank_holidays(nation, one_off.year)


def test_scotland_world_cup_bank_holiday_2026_is_scotland_only():
    assert date(2026, 6, 15) in bank_holidays(SCT, 2026)
    assert date(2026, 6, 15) not in bank_holidays(EW, 2026)
    assert date(2026, 6, 15) not in bank_holidays(NI, 2026)


def test_weekend_dates_are_never_listed_only_their_substitutes():
    # Christmas 2027 is a Saturday and Boxing Day a Sunday: the days off are Mon 27 and Tue 28.
    for nation in NATIONS:
        december = {d for d in bank_holidays(nation, 2027) if d.month == 12}
        assert december == {date(2027, 12, 27), date(2027, 12, 28)}
    for nation in NATIONS:
        for year in range(2012, 2040):
            assert all(d.weekday() < 5 and d.year == year for d in bank_holidays(nation, year))


def test_2029_follows_the_rules():
    # 1 Jan 2029 is a Monday; Easter Sunday is 1 April, so Good Friday 30 March, Easter Monday 2 April;
    # first Monday of May 7 May; last Monday of May 28 May; 25 and 26 December are Tue and Wed.
    common = {date(2029, 1, 1), date(2029, 3, 30), date(2029, 5, 7), date(2029, 5, 28)}
    common |= {date(2029, 12, 25), date(2029, 12, 26)}
    # England and Wales: Easter Monday and the last Monday of August (27 August).
    assert set(bank_holidays(EW, 2029)) == common | {date(2029, 4, 2), date(2029, 8, 27)}
    # Scotland: no Easter Monday; 2 January (Tue); first Monday of August (6 Aug); St Andrew's Day (Fri).
    assert set(bank_holidays(SCT, 2029)) == common | {
        date(2029, 1, 2),
        date(2029, 8, 6),
        date(2029, 11, 30),
    }
    # Northern Ireland: as England, plus St Patrick's Day (Sat 17 March, so Monday 19 March) and the
    # Battle of the Boyne (Thu 12 July).
    assert set(bank_holidays(NI, 2029)) == common | {
        date(2029, 4, 2),
        date(2029, 8, 27),
        date(2029, 3, 19),
        date(2029, 7, 12),
    }


@pytest.mark.parametrize(
    ("nation", "nominal", "substitute"),
    [
        (SCT, date(2030, 11, 30), date(2030, 12, 2)),  # St Andrew's Day on a Saturday -> Monday
        (SCT, date(2031, 11, 30), date(2031, 12, 1)),  # ... on a Sunday -> Monday
        (NI, date(2030, 3, 17), date(2030, 3, 18)),  # St Patrick's Day on a Sunday -> Monday
        (NI, date(2031, 7, 12), date(2031, 7, 14)),  # 12 July on a Saturday -> Monday
        (SCT, date(2033, 1, 1), date(2033, 1, 3)),  # New Year's Day on a Saturday -> Monday ...
        (SCT, date(2033, 1, 2), date(2033, 1, 4)),  # ... and 2 January on the Sunday -> Tuesday
        (EW, date(2032, 12, 25), date(2032, 12, 27)),  # Christmas on a Saturday -> Monday ...
        (EW, date(2032, 12, 26), date(2032, 12, 28)),  # ... Boxing Day on the Sunday -> Tuesday
    ],
)
def test_substitute_days_after_2028(nation, nominal, substitute):
    assert nominal.weekday() >= 5
    assert nominal not in bank_holidays(nation, nominal.year)
    assert substitute in bank_holidays(nation, substitute.year)
    assert not is_working_day(substitute, nation)


def test_bank_holidays_returns_a_copy():
    first = bank_holidays(EW, 2026)
    first.clear()
    assert bank_holidays(EW, 2026)


@pytest.mark.parametrize(
    "call", [lambda: bank_holidays("wales", 2026), lambda: is_working_day(date(2026, 3, 7), "UK")]
)
def test_unknown_nation_names_the_accepted_values(call):
    with pytest.raises(ValueError) as err:
        call()
    assert all(nation in str(err.value) for nation in NATIONS)


# --- working days ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "n", "nation", "expected"),
    [
        (date(2026, 3, 7), 1, EW, date(2026, 3, 9)),  # Saturday + 1 = Monday
        (date(2026, 3, 8), 1, EW, date(2026, 3, 9)),  # Sunday + 1 = Monday
        (date(2026, 3, 6), 1, EW, date(2026, 3, 9)),  # Friday + 1 = Monday
        (date(2026, 3, 4), 2, EW, date(2026, 3, 6)),
        (date(2026, 3, 8), 0, EW, date(2026, 3, 8)),  # n = 0 is the day itself, even a Sunday
        (date(2026, 12, 25), 0, EW, date(2026, 12, 25)),
        # Christmas 2026: Fri 25 Dec, Sat 26, Sun 27, Mon 28 is the substitute Boxing Day.
        (date(2026, 12, 24), 1, EW, date(2026, 12, 29)),
        (date(2026, 12, 24), 1, SCT, date(2026, 12, 29)),
        (date(2026, 12, 24), 1, NI, date(2026, 12, 29)),
        (date(2026, 12, 25), 1, EW, date(2026, 12, 29)),  # starts on a bank holiday
        (date(2026, 12, 26), 1, EW, date(2026, 12, 29)),  # starts on a Saturday before a substitute
        # New Year 2027: Fri 1 Jan; in Scotland 2 January (Saturday) moves to Monday 4 January.
        (date(2026, 12, 31), 1, EW, date(2027, 1, 4)),
        (date(2026, 12, 31), 1, SCT, date(2027, 1, 5)),
        # 15 working days across Christmas and New Year.
        (date(2026, 12, 14), 15, EW, date(2027, 1, 7)),
        (date(2026, 12, 14), 15, NI, date(2027, 1, 7)),
        (date(2026, 12, 14), 15, SCT, date(2027, 1, 8)),
        # Easter 2026: Good Friday 3 April, Easter Monday 6 April (not a holiday in Scotland).
        (date(2026, 4, 2), 1, EW, date(2026, 4, 7)),
        (date(2026, 4, 2), 1, NI, date(2026, 4, 7)),
        (date(2026, 4, 2), 1, SCT, date(2026, 4, 6)),
        (date(2026, 4, 3), 1, EW, date(2026, 4, 7)),  # starts on Good Friday
        # St Patrick's Day, Tuesday 17 March 2026, Northern Ireland only.
        (date(2026, 3, 16), 1, NI, date(2026, 3, 18)),
        (date(2026, 3, 16), 1, EW, date(2026, 3, 17)),
        # 12 July 2026 is a Sunday: Northern Ireland has Monday 13 July off.
        (date(2026, 7, 10), 1, NI, date(2026, 7, 14)),
        (date(2026, 7, 10), 1, EW, date(2026, 7, 13)),
        (date(2026, 7, 12), 1, NI, date(2026, 7, 14)),  # starts on the (Sunday) nominal day
        # St Andrew's Day, Monday 30 November 2026, Scotland only.
        (date(2026, 11, 27), 1, SCT, date(2026, 12, 1)),
        (date(2026, 11, 27), 1, EW, date(2026, 11, 30)),
        # Scotland's summer bank holiday is the first Monday of August, England's the last.
        (date(2026, 7, 31), 1, SCT, date(2026, 8, 4)),
        (date(2026, 8, 28), 1, EW, date(2026, 9, 1)),
        # One-off days: the Coronation (Mon 8 May 2023), the State Funeral (Mon 19 September 2022).
        (date(2023, 5, 5), 1, EW, date(2023, 5, 9)),
        (date(2022, 9, 16), 1, SCT, date(2022, 9, 20)),
        # 2029: Christmas Tuesday, Boxing Day Wednesday.
        (date(2029, 12, 24), 1, EW, date(2029, 12, 27)),
        (date(2029, 3, 29), 1, EW, date(2029, 4, 3)),  # Good Friday 30 March, Easter Monday 2 April
        (date(2029, 3, 29), 1, SCT, date(2029, 4, 2)),
    ],
)
def test_add_working_days(start, n, nation, expected):
    assert add_working_days(start, n, nation) == expected
    assert working_days_between(start, expected, nation) == n


def test_add_working_days_rejects_negative_n():
    with pytest.raises(ValueError):
        add_working_days(date(2026, 3, 4), -1, EW)


def test_working_days_between_is_the_inverse_of_add_working_days():
    for nation in NATIONS:
        for start in _days(date(2026, 12, 1), date(2027, 1, 31)):
            assert working_days_between(start, start, nation) == 0
            assert working_days_between(start, start - timedelta(days=3), nation) == 0
            for n in range(21):
                due = add_working_days(start, n, nation)
                assert working_days_between(start, due, nation) == n
                if n:
                    # `due` is a working day and the first day on which n is reached.
                    assert is_working_day(due, nation)
                    assert working_days_between(start, due - timedelta(days=1), nation) == n - 1


def test_working_days_between_counts_after_start_up_to_end():
    # Mon 21 Dec 2026 to Mon 4 Jan 2027 in England: 22, 23, 24, 29, 30, 31 Dec and 4 Jan.
    assert working_days_between(date(2026, 12, 21), date(2027, 1, 4), EW) == 7
    # Scotland: 4 January is the substitute for 2 January.
    assert working_days_between(date(2026, 12, 21), date(2027, 1, 4), SCT) == 6


# --- elapsed hours and local time ------------------------------------------------------------------


def test_24_hours_across_the_spring_change():
    # Clocks go forward at 01:00 UTC on Sunday 29 March 2026 (last Sunday of March).
    start = datetime(2026, 3, 28, 10, 0, tzinfo=LONDON)
    due = after_elapsed_hours(start, 24)
    assert due.isoformat() == "2026-03-29T11:00:00+01:00"
    # Subtract in UTC: datetimes sharing a tzinfo subtract as wall-clock times in Python.
    assert due.astimezone(UTC) - start.astimezone(UTC) == timedelta(hours=24)


def test_24_hours_across_the_autumn_change():
    # Clocks go back at 01:00 UTC on Sunday 25 October 2026 (last Sunday of October).
    start = datetime(2026, 10, 24, 10, 0, tzinfo=LONDON)
    due = after_elapsed_hours(start, 24)
    assert due.isoformat() == "2026-10-25T09:00:00+00:00"
    # Subtract in UTC: datetimes sharing a tzinfo subtract as wall-clock times in Python.
    assert due.astimezone(UTC) - start.astimezone(UTC) == timedelta(hours=24)


def test_elapsed_hours_from_another_zone_and_fractions():
    start = datetime(2026, 6, 1, 8, 0, tzinfo=UTC)
    assert after_elapsed_hours(start, 1.5).isoformat() == "2026-06-01T10:30:00+01:00"
    assert after_elapsed_hours(start, 0, tz="UTC").isoformat() == "2026-06-01T08:00:00+00:00"


def test_elapsed_hours_rejects_naive_and_negative():
    with pytest.raises(ValueError):
        after_elapsed_hours(datetime(2026, 3, 28, 10, 0), 24)
    with pytest.raises(ValueError):
        after_elapsed_hours(datetime(2026, 3, 28, 10, 0, tzinfo=LONDON), -1)


def test_localize_ordinary_times():
    assert localize(datetime(2026, 1, 15, 9, 30)).isoformat() == "2026-01-15T09:30:00+00:00"
    assert localize(datetime(2026, 7, 15, 9, 30)).isoformat() == "2026-07-15T09:30:00+01:00"
    # Either side of the spring gap.
    assert localize(datetime(2026, 3, 29, 0, 59)).isoformat() == "2026-03-29T00:59:00+00:00"
    assert localize(datetime(2026, 3, 29, 2, 0)).isoformat() == "2026-03-29T02:00:00+01:00"


def test_localize_rejects_the_missing_spring_hour():
    with pytest.raises(ValueError, match="does not exist") as err:
        localize(datetime(2026, 3, 29, 1, 30))
    assert "\n" not in str(err.value)


def test_localize_takes_the_first_of_the_repeated_autumn_hour():
    local = localize(datetime(2026, 10, 25, 1, 30))
    assert local.utcoffset() == timedelta(hours=1)  # still BST: the first 01:30
    assert local.astimezone(UTC) == datetime(2026, 10, 25, 0, 30, tzinfo=UTC)
    # A caller's fold=1 does not change the rule.
    assert localize(datetime(2026, 10, 25, 1, 30, fold=1)).astimezone(UTC).hour == 0


def test_localize_rejects_aware_input_and_unknown_zones():
    with pytest.raises(ValueError):
        localize(datetime(2026, 1, 15, 9, 30, tzinfo=UTC))
    with pytest.raises(ValueError):
        localize(datetime(2026, 1, 15, 9, 30), tz="Europe/Nowhere")


def test_end_of_day():
    assert end_of_day(date(2026, 12, 29)).isoformat() == "2026-12-29T23:59:59+00:00"
    # The day the clocks change still ends at 23:59:59 local time (BST).
    assert end_of_day(date(2026, 3, 29)).isoformat() == "2026-03-29T23:59:59+01:00"
    assert end_of_day(date(2026, 12, 29), tz="UTC").tzinfo is not None
