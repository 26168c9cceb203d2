"""The statutory clock: working days and elapsed hours, as pure functions.

Working days exclude Saturdays, Sundays and the bank holidays of the council's nation
(see ../shared/PROCEDURE.md, "Deadlines"). Day 0 is the day of the event, whatever day it is.
"""

from __future__ import annotations

import functools
from datetime import UTC, date, datetime, time, timedelta
from types import MappingProxyType
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import holidays

Nation = Literal["england-and-wales", "scotland", "northern-ireland"]
NATIONS: tuple[Nation, ...] = ("england-and-wales", "scotland", "northern-ireland")

# England and Wales share one set of bank holidays, so England's subdivision stands for both.
_SUBDIV = {"england-and-wales": "ENG", "scotland": "SCT", "northern-ireland": "NIR"}

_SATURDAY = 5


def check_nation(nation: str) -> Nation:
    """`nation` itself if it is one of NATIONS, else ValueError naming the accepted values."""
    for known in NATIONS:
        if nation == known:
            return known
    raise ValueError(f"unknown nation {nation!r}; expected one of: {', '.join(NATIONS)}")


@functools.lru_cache(maxsize=256)
def _bank_holidays(nation: str, year: int) -> MappingProxyType[date, str]:
    subdiv = _SUBDIV[check_nation(nation)]
    # GB has only the "public" category, which is the bank holidays (substitute days included,
    # named "... (observed)").
    found = holidays.country_holidays("GB", subdiv=subdiv, years=year, categories=("public",))
    # Correction: the package also keeps the nominal date when it falls on a weekend (e.g. Christmas
    # Day on Saturday 25 Dec 2027 as well as its substitute on Monday 27 Dec). GOV.UK lists only the
    # day off actually given, and a bank holiday is never a Saturday or Sunday, so drop those.
    return MappingProxyType(
        {day: name for day, name in sorted(found.items()) if day.year == year and day.weekday() < _SATURDAY}
    )


def bank_holidays(nation: str, year: int) -> dict[date, str]:
    """The bank holidays of `nation` in `year`, as GOV.UK lists them: date -> name."""
    return dict(_bank_holidays(nation, year))  # a copy, so callers cannot alter the cache


def is_working_day(day: date, nation: str) -> bool:
    """Monday to Friday and not a bank holiday of that nation."""
    holidays_that_year = _bank_holidays(nation, day.year)  # validates nation even at weekends
    return day.weekday() < _SATURDAY and day not in holidays_that_year


def add_working_days(day: date, n: int, nation: str) -> date:
    """The n-th working day after `day` (day 0 is `day` itself, even at a weekend or bank holiday)."""
    if n < 0:
        raise ValueError(f"n must be >= 0, got {n}")
    check_nation(nation)
    while n > 0:
        day += timedelta(days=1)
        if is_working_day(day, nation):
            n -= 1
    return day


def working_days_between(start: date, end: date, nation: str) -> int:
    """How many working days after `start` `end` is: working days d with start < d <= end."""
    check_nation(nation)
    return sum(is_working_day(start + timedelta(days=i), nation) for i in range(1, (end - start).days + 1))


def _zone(tz: str) -> ZoneInfo:
    try:
        return ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown time zone {tz!r}") from exc


def after_elapsed_hours(start: datetime, hours: float, tz: str = "Europe/London") -> datetime:
    """`hours` of real elapsed time after `start`, shown in `tz`.

    Computed in UTC so that 24 hours stays 24 hours across a clock change.
    """
    if start.tzinfo is None or start.utcoffset() is None:
        raise ValueError("start must be timezone-aware; use localize() for a wall-clock time")
    if hours < 0:
        raise ValueError(f"hours must be >= 0, got {hours}")
    return (start.astimezone(UTC) + timedelta(hours=hours)).astimezone(_zone(tz))


def localize(naive: datetime, tz: str = "Europe/London") -> datetime:
    """Read a naive wall-clock time as local time in `tz`.

    A time in the spring-forward gap (e.g. 01:30 on 29 March 2026 in London) never happened, so it
    raises ValueError. A time in the autumn overlap (01:00-01:59 on 25 October 2026) happens twice;
    we take the first occurrence (fold=0, still summer time), i.e. the earlier, stricter deadline.
    """
    if naive.tzinfo is not None:
        raise ValueError("localize() expects a naive datetime")
    zone = _zone(tz)
    local = naive.replace(tzinfo=zone, fold=0)
    # A non-existent wall time does not survive a round trip through UTC.
    if local.astimezone(UTC).astimezone(zone).replace(tzinfo=None) != naive.replace(fold=0):
        raise ValueError(f"{naive.isoformat(sep=' ')} does not exist in {tz} (the clocks go forward)")
    return local


def end_of_day(day: date, tz: str = "Europe/London") -> datetime:
    """23:59:59 local time on `day`: the end of a working day, "by the end of the N-th working day"."""
    return localize(datetime.combine(day, time(23, 59, 59)), tz)


def say_when(at: datetime, tz: str) -> str:
    """'end of Mon 30 Mar 2026' for an end-of-day deadline, else 'Mon 30 Mar 2026, 14:05' (local)."""
    local = at.astimezone(ZoneInfo(tz))
    if local.time().replace(microsecond=0) == time(23, 59, 59):
        return f"end of {local:%a %-d %b %Y}"
    return f"{local:%a %-d %b %Y, %H:%M}"
