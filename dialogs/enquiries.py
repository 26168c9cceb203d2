"""An S47 enquiry, as the figures and the census extract both count it: a child's series of
discussions that decided S47, found by its conference deadline (the series' `icpc` due item; the
newest that applies, as dialogs.deadlines.series_icpc chooses), on a child who was not removed from
the discussion that decided it. The enquiry starts on that discussion's local date.

One definition, so the report's conferences and the census's rows are always the same enquiries.
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import Select, func, select
from sqlmodel import col

from dialogs.lifecycle import DueKind, DueState
from storage.models import Child, Discussion, DueItem, Series


def enquiries(start: date, end: date, council: str | None) -> Select[int | None]:
    """The conference deadlines of the enquiries that started from `start` to `end` (local dates, both
    included), of `council` (None: every council). `DueItem`, `Child` (the child in the deciding
    discussion), `Discussion` (that discussion) and `Series` (the child's) are joined, so a caller
    picks its columns with `with_only_columns`."""
    newest = (
        select(func.max(col(DueItem.id)).label("item_id"))
        .select_from(DueItem)
        .join(Child, col(Child.id) == col(DueItem.child_id))
        .where(col(DueItem.kind) == DueKind.ICPC.value, col(DueItem.state) != DueState.WITHDRAWN.value)
        .group_by(col(Child.series_id))
        .subquery()
    )
    query = (
        select(col(DueItem.id))
        .select_from(DueItem)
        .join(newest, newest.c.item_id == col(DueItem.id))
        .join(Child, col(Child.id) == col(DueItem.child_id))
        .join(Discussion, col(Discussion.id) == col(Child.discussion_id))
        .join(Series, col(Series.id) == col(Child.series_id))
        .where(
            col(Child.removed_at).is_(None),
            col(Discussion.held_on) >= start,
            col(Discussion.held_on) <= end,
        )
    )
    return query if council is None else query.where(col(Series.council) == council)
