"""The tables for the life of a strategy discussion.

Times are UTC (UTCDateTime); calendar dates (due days, ICPC date) are plain dates in the council's
time zone. Free text about the case lives only in these tables, never in logs or notifications.
"""

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Column, Index, UniqueConstraint, text
from sqlmodel import Field, SQLModel

from storage.fields import now as _now
from storage.fields import text as _text
from storage.fields import ts as _ts

# What the bot receives and sends, platform installs and the audit trail live in storage/traffic.py;
# they are named here too, so every table is imported from one place.
from storage.traffic import AuditEvent as AuditEvent
from storage.traffic import ConversationRef as ConversationRef
from storage.traffic import InboundEvent as InboundEvent
from storage.traffic import InboxItem as InboxItem
from storage.traffic import Outbox as Outbox
from storage.traffic import SlackInstallation as SlackInstallation
from storage.traffic import SlackOAuthState as SlackOAuthState


class Person(SQLModel, table=True):
    """The directory: who is who, across platforms."""

    id: int | None = Field(default=None, primary_key=True)
    display_name: str = Field(max_length=200)
    email: str | None = Field(default=None, max_length=320, index=True, unique=True)
    agency: str = Field(max_length=40)
    role: str = Field(max_length=40)
    manager_id: int | None = Field(default=None, foreign_key="person.id")
    created_at: datetime = _now()


class PersonIdentity(SQLModel, table=True):
    """A person's id on one platform (Slack user id, Teams AAD/29: id, playground handle)."""

    __table_args__ = (UniqueConstraint("platform", "tenant", "external_id"),)
    id: int | None = Field(default=None, primary_key=True)
    person_id: int = Field(foreign_key="person.id", index=True)
    platform: str = Field(max_length=20)
    tenant: str = Field(default="", max_length=100)
    external_id: str = Field(max_length=200)


class Series(SQLModel, table=True):
    """The discussions of one case: first, further and final. One open series per case per council."""

    __table_args__ = (
        # A second "first discussion" for a case with an open series fails here, even in a race.
        Index(
            "ux_series_open_case",
            "council",
            "case_ref",
            unique=True,
            postgresql_where=text("closed_at IS NULL"),
            sqlite_where=text("closed_at IS NULL"),
        ),
    )
    id: int | None = Field(default=None, primary_key=True)
    council: str = Field(default="", max_length=40)
    case_ref: str = Field(max_length=64, index=True)
    opened_at: datetime = _now()
    closed_at: datetime | None = _ts(default=None)
    icpc_held_on: date | None = None  # the initial child protection conference, when held
    icpc_not_required: bool = False  # the enquiry ended without the need for a conference
    icpc_recorded_by_id: int | None = Field(default=None, foreign_key="person.id")
    icpc_recorded_at: datetime | None = _ts(default=None)


class Discussion(SQLModel, table=True):
    """One meeting (or series of calls): its time, format, people, concern and thread are shared by
    the children it is about (`Child`); each child's decision, plan, deadlines and record are theirs."""

    id: int | None = Field(default=None, primary_key=True)
    series_id: int = Field(foreign_key="series.id", index=True)  # the first child's series
    # The children's case references as shown ("LL-1, LL-2"); each child's own is on `Child`.
    case_ref: str = Field(max_length=300, index=True)
    number: int = 1  # 1 = first; further discussions count up (the highest of its children's)
    is_final: bool = False
    previous_id: int | None = Field(default=None, foreign_key="discussion.id")
    state: str = Field(default="convened", max_length=20, index=True)  # dialogs.lifecycle.State
    stage: str = Field(default="concern", max_length=40)
    category: str = Field(max_length=40)
    concern: str = _text()
    immediate_risk: bool = False
    # The circumstances that decide who else must take part; None until answered.
    possible_injury: bool | None = None
    medical_implications: bool | None = None
    hospital_involvement: bool | None = None
    inpatient: bool | None = None
    complex_case: bool | None = None
    referring_agency: str = Field(default="other", max_length=40)
    out_of_hours: bool = False  # the meeting's hours, as worked out or as the chair overrode them
    out_of_hours_detected: bool = False  # worked out from the meeting's time and the council's hours
    out_of_hours_reason: str | None = _text(default=None)  # why the chair overrode it
    format: str = Field(default="meeting", max_length=20)  # meeting | call | series_of_calls
    convened_by_id: int = Field(foreign_key="person.id")
    chair_id: int = Field(foreign_key="person.id")
    convened_at: datetime = _now()
    proposed_at: datetime = _ts()
    meeting_due_at: datetime = _ts()
    late_reason: str | None = _text(default=None)
    started_at: datetime | None = _ts(default=None)
    held_on: date | None = Field(default=None, index=True)  # the local date it started (figures by period)
    monitoring: str | None = _text(default=None)  # who monitors progress, and how
    closed_at: datetime | None = _ts(default=None)
    closed_reason: str | None = _text(default=None)
    nation: str = Field(default="england-and-wales", max_length=20)
    updated_at: datetime = _now()


class Child(SQLModel, table=True):
    """A child the discussion is about, under their own case reference and in their own series.

    Removed children keep their row (removed_at, with the reason): what was said stays on file."""

    __table_args__ = (UniqueConstraint("discussion_id", "case_ref"),)
    id: int | None = Field(default=None, primary_key=True)
    discussion_id: int = Field(foreign_key="discussion.id", index=True)
    series_id: int = Field(foreign_key="series.id", index=True)
    case_ref: str = Field(max_length=64, index=True)
    position: int = 1  # the order the chair gave them in
    number: int = 1  # this discussion's number in the child's series (siblings' series may differ)
    previous_id: int | None = Field(default=None, foreign_key="child.id")  # the child in the one before
    added_at: datetime = _now()
    added_by_id: int | None = Field(default=None, foreign_key="person.id")
    added_reason: str | None = _text(default=None)  # given when added after convening
    removed_at: datetime | None = _ts(default=None)
    removed_by_id: int | None = Field(default=None, foreign_key="person.id")
    removed_reason: str | None = _text(default=None)


class Participant(SQLModel, table=True):
    __table_args__ = (UniqueConstraint("discussion_id", "person_id"),)
    id: int | None = Field(default=None, primary_key=True)
    discussion_id: int = Field(foreign_key="discussion.id", index=True)
    person_id: int = Field(foreign_key="person.id", index=True)
    agency: str = Field(max_length=40)
    role: str = Field(max_length=40)
    is_chair: bool = False
    # invited | accepted | declined | by_phone | absent
    status: str = Field(default="invited", max_length=20)
    how: str | None = Field(default=None, max_length=20)  # chat | phone | meeting
    reason: str | None = _text(default=None)  # why declined / absent
    directions: str | None = _text(default=None)  # police manager's directions when not attending
    invited_at: datetime = _now()
    responded_at: datetime | None = _ts(default=None)
    version: int = 1  # forms carry it: a stale one is refused (see storage.versions)


class Contribution(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    discussion_id: int = Field(foreign_key="discussion.id", index=True)
    person_id: int = Field(foreign_key="person.id")
    agency: str = Field(max_length=40)
    stage: str = Field(max_length=40)
    text: str = _text()
    via: str = Field(default="thread", max_length=30)  # thread | phone_entered_by_chair | form
    entered_by_id: int | None = Field(default=None, foreign_key="person.id")
    created_at: datetime = _now()
    edited_at: datetime | None = _ts(default=None)
    version: int = 1
    # About every child of the discussion (the default), or only those in `contributionchild`.
    for_all: bool = True


class ContributionChild(SQLModel, table=True):
    """A contribution about some of the children only: it goes on their records and no one else's."""

    contribution_id: int = Field(foreign_key="contribution.id", primary_key=True)
    child_id: int = Field(foreign_key="child.id", primary_key=True, index=True)


class Decision(SQLModel, table=True):
    """One child's decision ("the same for all" is stored once per child)."""

    id: int | None = Field(default=None, primary_key=True)
    discussion_id: int = Field(foreign_key="discussion.id", index=True)
    child_id: int = Field(foreign_key="child.id", unique=True)
    outcome: str = Field(max_length=40)
    reasons: str = _text()
    risks: str = _text()
    reconvene_on: date | None = None
    alternative: str | None = _text(default=None)  # no S47: what happens instead
    services: str | None = _text(default=None)
    refer_again_when: str | None = _text(default=None)
    # What the parents/carers and the child are told, when and by whom, or why not (an S47 plan says
    # it in its own words: Plan.tell_parents_how).
    parents_told: str | None = _text(default=None)
    decided_by_id: int = Field(foreign_key="person.id")
    decided_at: datetime = _now()
    # Decided without the quorum or a role the case called for: what was missing and the chair's reason.
    override_unmet: str | None = _text(default=None)
    override_reason: str | None = _text(default=None)
    override_reviewed_by_id: int | None = Field(default=None, foreign_key="person.id")
    override_reviewed_at: datetime | None = _ts(default=None)
    version: int = 1


class Plan(SQLModel, table=True):
    """One child's S47 plan: its own fields; the checklist answers are PlanItems of the same child."""

    id: int | None = Field(default=None, primary_key=True)
    discussion_id: int = Field(foreign_key="discussion.id", index=True)
    child_id: int = Field(foreign_key="child.id", unique=True)
    criminal_investigation: str | None = _text(default=None)
    tell_parents: bool | None = None
    tell_parents_how: str | None = _text(default=None)  # what, when, how and by whom; or why not
    icpc_on: date | None = None  # the conference date planned; the date held is on the series
    icpc_late_reason: str | None = _text(default=None)
    updated_at: datetime = _now()
    version: int = 1


class PlanItem(SQLModel, table=True):
    __table_args__ = (UniqueConstraint("child_id", "item"),)
    id: int | None = Field(default=None, primary_key=True)
    discussion_id: int = Field(foreign_key="discussion.id", index=True)
    child_id: int = Field(foreign_key="child.id", index=True)
    item: str = Field(max_length=60)  # checklist id from the procedure file
    answer: str | None = _text(default=None)
    not_applicable: bool = False
    na_reason: str | None = _text(default=None)


class Action(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    discussion_id: int = Field(foreign_key="discussion.id", index=True)
    description: str = _text()
    owner_id: int = Field(foreign_key="person.id")
    owner_agency: str = Field(max_length=40)
    due_on: date
    status: str = Field(default="open", max_length=20)  # open | done | cancelled
    created_at: datetime = _now()
    done_at: datetime | None = _ts(default=None)
    done_by_id: int | None = Field(default=None, foreign_key="person.id")


class ActionChild(SQLModel, table=True):
    """The children an action is for (one action may serve several siblings)."""

    action_id: int = Field(foreign_key="action.id", primary_key=True)
    child_id: int = Field(foreign_key="child.id", primary_key=True, index=True)


class OutcomeTold(SQLModel, table=True):
    """The chair's record that an agency was told the outcome another way than by the bot."""

    id: int | None = Field(default=None, primary_key=True)
    discussion_id: int = Field(foreign_key="discussion.id", index=True)
    agency: str = Field(max_length=40)
    told_by: str = Field(max_length=200)  # who told them (often someone the directory does not hold)
    how: str = Field(max_length=20)  # phone | email | secure_email | letter | in_person | other
    told_at: datetime = _ts()
    recorded_by_id: int = Field(foreign_key="person.id")
    recorded_at: datetime = _now()


class DueItem(SQLModel, table=True):
    """A deadline and its reminders. The scheduler claims rows whose next_at has come."""

    __table_args__ = (
        UniqueConstraint("discussion_id", "kind", "subject"),
        # The sweep reads only open rows in next_at order, so its cost follows what is due.
        Index(
            "ix_due_item_open_next_at",
            "next_at",
            postgresql_where=text("state = 'open'"),
            sqlite_where=text("state = 'open'"),
        ),
    )
    id: int | None = Field(default=None, primary_key=True)
    discussion_id: int = Field(foreign_key="discussion.id", index=True)
    kind: str = Field(max_length=40)  # dialogs.lifecycle.DueKind
    subject: str = Field(default="", max_length=60)  # e.g. the action id; the child id for a child's own
    child_id: int | None = Field(default=None, foreign_key="child.id", index=True)  # whose deadline
    recipient_id: int | None = Field(default=None, foreign_key="person.id")
    due_at: datetime = _ts(index=True)  # the figures count deadlines due in a period
    remind_at: datetime | None = _ts(default=None)
    morning_at: datetime | None = _ts(default=None)
    escalate_at: datetime | None = _ts(default=None)
    next_at: datetime | None = _ts(default=None)
    state: str = Field(default="open", max_length=20)  # dialogs.lifecycle.DueState
    stage: str = Field(default="pending", max_length=20)  # pending | reminded | due_day | escalated
    reason: str | None = _text(default=None)  # the chair's: why it is late, missed, or closed
    ended_at: datetime | None = _ts(default=None)  # when the act that ended it happened
    ended_by: str | None = Field(default=None, max_length=200)  # that act, in words
    claimed_by: str | None = Field(default=None, max_length=80)
    claim_expires_at: datetime | None = _ts(default=None)
    snoozed_until: datetime | None = _ts(default=None)  # reminders before then are held back
    updated_at: datetime = _now()


class RecordVersion(SQLModel, table=True):
    """One child's record of the discussion, as signed off (a later version is an amendment)."""

    __table_args__ = (UniqueConstraint("child_id", "version"),)
    id: int | None = Field(default=None, primary_key=True)
    discussion_id: int = Field(foreign_key="discussion.id", index=True)
    child_id: int = Field(foreign_key="child.id", index=True)
    version: int
    body: str = _text()  # the assembled record (markdown subset)
    # The record as signed (dialogs.record_model.Record as JSON): exports render this version, not
    # today's data. NULL for versions signed before migration 0010, which are rebuilt when exported.
    content: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    change: str | None = _text(default=None)  # what this version changed ("signed off", an addendum)
    created_at: datetime = _now()
    signed_off_by_id: int | None = Field(default=None, foreign_key="person.id")
    signed_off_at: datetime | None = _ts(default=None)


class Circulation(SQLModel, table=True):
    __table_args__ = (UniqueConstraint("record_id", "person_id", "kind"),)
    id: int | None = Field(default=None, primary_key=True)
    record_id: int = Field(foreign_key="recordversion.id", index=True)
    person_id: int = Field(foreign_key="person.id")
    kind: str = Field(default="record", max_length=30)  # record | outcome_notification
    sent_at: datetime = _now()
    acknowledged_at: datetime | None = _ts(default=None)
