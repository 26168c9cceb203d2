import dataclasses
import json
from datetime import UTC, date, datetime

import pytest

from dialogs.timescales import Timescales, compute_timescales


def test_defaults_and_json_shape_across_the_spring_clock_change():
    # Held Friday 27 March 2026; decided to meet at 10:00 GMT on Saturday 28 March, the day before
    # the clocks go forward: 24 elapsed hours later is 11:00 BST.
    result = compute_timescales(
        held_on=date(2026, 3, 27), convened_at=datetime(2026, 3, 28, 10, 0), nation="england-and-wales"
    )
    assert result == Timescales(
        record_circulation_due=date(2026, 3, 30),
        outcome_notification_due=date(2026, 3, 30),
        icpc_due=date(2026, 4, 21),  # 15 working days, skipping Good Friday 3 and Easter Monday 6 April
        further_discussion_due=date(2026, 4, 21),
        meeting_due=result.meeting_due,
    )
    assert result.as_json_dict() == {
        "record_circulation_due": "2026-03-30",
        "outcome_notification_due": "2026-03-30",
        "icpc_due": "2026-04-21",
        "further_discussion_due": "2026-04-21",
        "meeting_due": "2026-03-29T11:00:00+01:00",
    }
    json.dumps(result.as_json_dict())  # plain strings only


@pytest.mark.parametrize(
    ("nation", "next_day", "fifteen_days"),
    [
        # Thu 24 Dec 2026: Fri 25 Christmas, Mon 28 substitute Boxing Day, Fri 1 Jan New Year's Day.
        ("england-and-wales", date(2026, 12, 29), date(2027, 1, 19)),
        ("northern-ireland", date(2026, 12, 29), date(2027, 1, 19)),
        # Scotland also has Monday 4 January 2027, the substitute for 2 January.
        ("scotland", date(2026, 12, 29), date(2027, 1, 20)),
    ],
)
def test_christmas_eve_in_each_nation(nation, next_day, fifteen_days):
    result = compute_timescales(
        held_on=date(2026, 12, 24), convened_at=datetime(2026, 12, 23, 16, 30), nation=nation
    )
    assert result.as_json_dict() == {
        "record_circulation_due": next_day.isoformat(),
        "outcome_notification_due": next_day.isoformat(),
        "icpc_due": fifteen_days.isoformat(),
        "further_discussion_due": fifteen_days.isoformat(),
        "meeting_due": "2026-12-24T16:30:00+00:00",
    }


def test_2029_around_easter_with_an_aware_start():
    # Easter Sunday 2029 is 1 April: Good Friday 30 March; Easter Monday 2 April except in Scotland.
    convened = datetime(2029, 3, 28, 9, 15, tzinfo=UTC)  # BST began on Sunday 25 March 2029
    ew = compute_timescales(held_on=date(2029, 3, 29), convened_at=convened, nation="england-and-wales")
    sct = compute_timescales(held_on=date(2029, 3, 29), convened_at=convened, nation="scotland")
    assert ew.as_json_dict() == {
        "record_circulation_due": "2029-04-03",
        "outcome_notification_due": "2029-04-03",
        "icpc_due": "2029-04-23",
        "further_discussion_due": "2029-04-23",
        "meeting_due": "2029-03-29T10:15:00+01:00",
    }
    assert sct.record_circulation_due == date(2029, 4, 2)
    assert sct.icpc_due == date(2029, 4, 20)
    assert sct.meeting_due == ew.meeting_due


def test_configured_numbers():
    result = compute_timescales(
        held_on=date(2026, 10, 23),  # a Friday
        convened_at=datetime(2026, 10, 24, 10, 0),
        nation="england-and-wales",
        record_circulation_working_days=0,
        outcome_notification_working_days=2,
        icpc_working_days=10,
        further_discussion_working_days=5,
        meeting_within_hours=24,
    )
    assert result.record_circulation_due == date(2026, 10, 23)
    assert result.outcome_notification_due == date(2026, 10, 27)
    assert result.icpc_due == date(2026, 11, 6)
    assert result.further_discussion_due == date(2026, 10, 30)
    # Across the autumn change: 24 elapsed hours after 10:00 BST is 09:00 GMT.
    assert result.as_json_dict()["meeting_due"] == "2026-10-25T09:00:00+00:00"


def test_missing_inputs_leave_fields_out():
    only_meeting = compute_timescales(held_on=None, convened_at=datetime(2026, 6, 1, 9, 0), nation="scotland")
    assert only_meeting.as_json_dict() == {"meeting_due": "2026-06-02T09:00:00+01:00"}
    only_dates = compute_timescales(held_on=date(2026, 6, 12), convened_at=None, nation="scotland")
    assert only_dates.meeting_due is None
    assert "meeting_due" not in only_dates.as_json_dict()
    assert only_dates.record_circulation_due == date(2026, 6, 16)  # Monday 15 June 2026 is a bank holiday
    assert compute_timescales(held_on=None, convened_at=None, nation="scotland").as_json_dict() == {}


def test_timescales_is_frozen():
    with pytest.raises(dataclasses.FrozenInstanceError):
        Timescales().icpc_due = date(2026, 1, 1)  # type: ignore[misc]


def test_errors():
    with pytest.raises(ValueError):
        compute_timescales(held_on=None, convened_at=None, nation="wales")
    with pytest.raises(ValueError):  # 01:30 on 29 March 2026 never happened in London
        compute_timescales(held_on=None, convened_at=datetime(2026, 3, 29, 1, 30), nation="scotland")
    with pytest.raises(ValueError):
        compute_timescales(
            held_on=date(2026, 3, 2), convened_at=None, nation="scotland", icpc_working_days=-1
        )
