"""The tables of what the bot receives and sends (inbox, outbox, delivery ids, where it can write on a
platform), the platforms' installs, and the append-only audit trail. storage/models.py names them too.

Times are UTC (UTCDateTime). Queued cards and inbox payloads hold case text: guard them like the rest.
"""

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, Index, UniqueConstraint, text
from sqlmodel import Field, SQLModel

from storage.fields import now as _now
from storage.fields import ts as _ts
from storage.types import UTCDateTime, utcnow


class ConversationRef(SQLModel, table=True):
    """Where the bot can write on a platform: a channel, a thread, a person's direct chat."""

    __table_args__ = (UniqueConstraint("platform", "kind", "key"),)
    id: int | None = Field(default=None, primary_key=True)
    platform: str = Field(max_length=20)
    kind: str = Field(max_length=20)  # discussion_post | thread | person | channel
    key: str = Field(max_length=300)
    discussion_id: int | None = Field(default=None, foreign_key="discussion.id", index=True)
    person_id: int | None = Field(default=None, foreign_key="person.id", index=True)
    reference: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    updated_at: datetime = _now()


class InboundEvent(SQLModel, table=True):
    """Platform event ids already handled, so a retried delivery changes nothing."""

    platform: str = Field(primary_key=True, max_length=20)
    event_id: str = Field(primary_key=True, max_length=200)
    received_at: datetime = _now()


class AuditEvent(SQLModel, table=True):
    """Append-only; each row carries the hash of the one before it in its chain (see storage.audit)."""

    # Two writers of one chain cannot both take the same place in it (no fork).
    __table_args__ = (Index("ix_auditevent_chain_seq", "chain", "seq", unique=True),)

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, index=True)
    actor: str = Field(max_length=200)  # person id or "system"
    channel: str = Field(max_length=20)  # slack | teams | playground | cli | scheduler
    action: str = Field(max_length=60)
    discussion_id: int | None = Field(default=None, index=True)
    detail: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    # "discussion:<id>" or "council"; NULL for the one global chain written before migration 0007.
    chain: str | None = Field(default=None, max_length=40)
    seq: int | None = None  # 1, 2, 3, ... within the chain; NULL before migration 0007
    prev_hash: str = Field(max_length=64)
    hash: str = Field(max_length=64, unique=True)


class Outbox(SQLModel, table=True):
    """Cards waiting to go out. Sent in id order per recipient; claimed with a lease like due items."""

    __table_args__ = (
        UniqueConstraint("dedupe_key"),
        Index(
            "ix_outbox_pending_next_attempt_at",
            "next_attempt_at",
            postgresql_where=text("status = 'pending'"),
            sqlite_where=text("status = 'pending'"),
        ),
        # "Is an earlier message to this recipient still waiting?" must not scan sent rows.
        Index(
            "ix_outbox_pending_recipient",
            "recipient_key",
            "id",
            postgresql_where=text("status = 'pending'"),
            sqlite_where=text("status = 'pending'"),
        ),
    )
    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(default="reminder", max_length=20)  # reminder | handover | turn
    # person:12 | place:duty | discussion:7 (every card of a turn about discussion 7): the unit of order
    recipient_key: str = Field(max_length=80)
    dedupe_key: str | None = Field(default=None, max_length=200)  # one row per reminder event
    card: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    # The card's key: a later row with the same key in the same lane replaces this one unsent.
    card_key: str | None = Field(default=None, max_length=200)
    # Where the person acted whose turn queued the card (Turn.origin): the surface places it by this.
    origin: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    discussion_id: int | None = Field(default=None, index=True)
    due_item_id: int | None = Field(default=None)
    due_at: datetime | None = _ts(default=None)  # when the reminder event was due
    late: bool = False  # handled well after its time (the process was down)
    status: str = Field(default="pending", max_length=20)  # pending | sent | failed | dropped | replaced
    attempts: int = 0
    next_attempt_at: datetime = _now()
    claimed_by: str | None = Field(default=None, max_length=80)
    claim_expires_at: datetime | None = _ts(default=None)
    surface: str | None = Field(default=None, max_length=20)
    last_error: str | None = Field(default=None, max_length=300)  # no case details: the surface's reason
    created_at: datetime = _now()
    sent_at: datetime | None = _ts(default=None)


class SlackInstallation(SQLModel, table=True):
    """A Slack workspace (or Enterprise Grid org) the app was installed in through OAuth.

    `data` is the installation as Slack's OAuth flow returned it, bot token included: guard the
    database like the token itself.
    """

    id: int | None = Field(default=None, primary_key=True)
    client_id: str = Field(max_length=50)
    enterprise_id: str | None = Field(default=None, max_length=50, index=True)
    team_id: str | None = Field(default=None, max_length=50, index=True)
    user_id: str | None = Field(default=None, max_length=50)  # who installed it
    is_enterprise_install: bool = False
    data: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    installed_at: datetime = _now()


class SlackOAuthState(SQLModel, table=True):
    """One-time `state` values of OAuth installs in progress (against forged redirects)."""

    state: str = Field(primary_key=True, max_length=100)
    expires_at: datetime = _ts()


class InboxItem(SQLModel, table=True):
    """What a platform sent, stored before the bot answers it (see storage.inbox, docs/durability.md).

    The payload is the raw body and holds case text: it is emptied once the row is done."""

    __tablename__ = "inbox"
    __table_args__ = (
        UniqueConstraint("platform", "event_key"),
        # The sweep looks only at rows still waiting.
        Index(
            "ix_inbox_pending_claimed_until",
            "claimed_until",
            postgresql_where=text("status = 'pending'"),
            sqlite_where=text("status = 'pending'"),
        ),
    )
    id: int | None = Field(default=None, primary_key=True)
    platform: str = Field(max_length=20)  # slack | teams | playground
    event_key: str = Field(max_length=200)  # the platform's event id, or a stable id for an interaction
    kind: str = Field(max_length=40)  # reply | command | shortcut | block_actions | view_submission ...
    payload: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    status: str = Field(default="pending", max_length=10)  # pending | done | failed
    attempts: int = 0
    received_at: datetime = _now()
    claimed_by: str | None = Field(default=None, max_length=80)  # the process working on it
    claimed_until: datetime | None = _ts(default=None)  # its lease, or "not before" after a failure
    last_error: str | None = Field(default=None, max_length=100)  # the exception's type, never its text
    finished_at: datetime | None = _ts(default=None)
