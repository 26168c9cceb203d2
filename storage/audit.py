"""The append-only audit trail: who did what, when, through which channel.

The trail is a set of hash chains, so writers in different discussions never wait for each other:
- one chain per discussion (`discussion:<id>`), and a council-wide chain (`council`) for entries
  about no discussion (the directory, anchors);
- each entry has its chain's next `seq` (1, 2, 3, ...) and the hash of the entry before it in its
  chain (`GENESIS` for the first); its own hash covers its content, chain, seq and that previous hash;
- `anchor` (called by the scheduler's tick) writes one entry into the council chain recording the
  head (seq and hash) of every discussion chain that moved since the last anchor. Editing an entry
  and re-hashing the rest of its chain, or deleting a chain's last entries, no longer fits the head
  an anchor recorded, so `verify` catches it for every entry up to the chain's last anchor;
- entries written before migration 0007 (`chain` NULL) stay what they were: one global chain in id
  order, verified as before, whose head and length migration 0007 anchored in the council chain.

Triggers (see the first migration) refuse UPDATE and DELETE on the table as a first line; the
chains catch what gets past them.

Writers and locks. `append` only queues the entry on the session; the entries are chained when the
transaction commits (the session's before_commit), chain by chain in sorted order, each under a lock
of its own chain: on PostgreSQL a transaction-scoped advisory lock keyed on the chain, on SQLite the
BEGIN IMMEDIATE every writer already holds. Two transactions writing different discussions take
different locks and never wait for each other; two writing the same discussion take turns for the
few milliseconds of the commit, and a UNIQUE (chain, seq) index refuses a fork should anything skip
the lock. Because a transaction takes its chain locks last, in one order, and takes no other lock
after them, the chain locks cannot be part of a deadlock, however many discussions one transaction
writes to (a series refresh closes other discussions; a reminders sweep audits many).
"""

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from sqlalchemy import and_, event, func, select, text
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session, SessionTransaction
from sqlmodel import col

from storage.models import AuditEvent
from storage.types import utcnow

GENESIS = "0" * 64
COUNCIL = "council"  # the chain of entries about no discussion, and of the anchors
LEGACY = "legacy"  # how anchors name the global chain written before migration 0007 (chain NULL)
ANCHOR = "audit.anchor"  # the action of an anchor entry
# A transaction commits within this of appending (turns take seconds) and the processes' clocks
# agree within it: anchor() looks this far back past the last anchor for chains that moved.
ANCHOR_MARGIN = timedelta(minutes=10)
# PostgreSQL advisory locks come in a one-bigint and a two-int key space; the chains use the
# two-int one, (this class, discussion id or 0 for the council chain), so no other lock collides.
_PG_LOCK_CLASS = 0x53545241  # "STRA"
_PG_GLOBAL_LOCK_KEY = 0x5354524154  # "STRAT": lock()'s one-bigint key, as before
_PENDING = "storage.audit.pending"  # session.info key: entries waiting for the commit


def chain_of(discussion_id: int | None) -> str:
    return COUNCIL if discussion_id is None else f"discussion:{discussion_id}"


def _lock_key(chain: str) -> int:
    return 0 if chain == COUNCIL else int(chain.removeprefix("discussion:"))


def _digest(row: AuditEvent) -> str:
    body: dict[str, Any] = {
        "at": row.at.isoformat(),
        "actor": row.actor,
        "channel": row.channel,
        "action": row.action,
        "discussion_id": row.discussion_id,
        "detail": row.detail,
        "prev_hash": row.prev_hash,
    }
    if row.chain is not None:  # entries before migration 0007 were hashed without these
        body["chain"], body["seq"] = row.chain, row.seq
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


async def lock(session: AsyncSession) -> None:
    """The old global write lock (PostgreSQL; SQLite's BEGIN IMMEDIATE serialises writers anyway).

    The audit trail no longer needs it: `append` takes no global lock and the engine's turns do not
    take this. It is kept, unchanged, for the reminders sweep (dialogs/reminders.py), which relies on
    it for something else: sweeps in two processes insert outbox rows for the same recipients, and
    the outbox sends a recipient's messages in id order, so their ids must commit in order, which
    this lock (held to the commit) ensures. Give the outbox an ordering of its own, then drop this."""
    if session.get_bind().dialect.name == "postgresql":
        await session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_GLOBAL_LOCK_KEY})


async def append(
    session: AsyncSession,
    *,
    actor: str,
    channel: str,
    action: str,
    discussion_id: int | None = None,
    detail: dict[str, Any] | None = None,
) -> AuditEvent:
    """Add an entry in the caller's transaction: it is chained and stored when the transaction
    commits, and dropped if it (or the savepoint it was added in) rolls back. The returned row has
    its id, seq and hash only after the commit."""
    row = AuditEvent(
        at=utcnow(),
        actor=actor,
        channel=channel,
        action=action,
        discussion_id=discussion_id,
        detail=detail or {},
        chain=chain_of(discussion_id),
        prev_hash="",  # prev_hash, seq and hash are filled in at the commit, under the chain's lock
        hash="",
    )
    sync = session.sync_session
    transaction = sync.get_nested_transaction() or sync.get_transaction()
    sync.info.setdefault(_PENDING, []).append((transaction, row))
    return row


@event.listens_for(Session, "after_soft_rollback")
def _drop_rolled_back(session: Session, previous: SessionTransaction) -> None:
    pending = session.info.get(_PENDING)
    if pending:
        session.info[_PENDING] = [(t, row) for t, row in pending if not _within(t, previous)]


def _within(transaction: SessionTransaction | None, outer: SessionTransaction) -> bool:
    while transaction is not None:
        if transaction is outer:
            return True
        transaction = transaction.parent
    return False


@event.listens_for(Session, "before_commit")
def _chain_pending(session: Session) -> None:
    """Chain and store the transaction's entries: chains in sorted order, entries in append order."""
    pending = [row for _, row in session.info.pop(_PENDING, [])]
    if not pending:
        return
    # The transaction's own changes first: after the first chain lock it writes audit entries only,
    # which wait for no other transaction (see the module's docstring).
    session.flush()
    postgresql = session.get_bind().dialect.name == "postgresql"
    for chain in sorted({row.chain for row in pending if row.chain is not None}):
        if postgresql:
            session.execute(
                text("SELECT pg_advisory_xact_lock(:c, :k)"), {"c": _PG_LOCK_CLASS, "k": _lock_key(chain)}
            )
        head = session.execute(
            select(col(AuditEvent.seq), col(AuditEvent.hash))
            .where(col(AuditEvent.chain) == chain)
            .order_by(col(AuditEvent.seq).desc())
            .limit(1)
        ).first()
        seq: int = (head[0] or 0) if head is not None else 0
        prev_hash: str = head[1] if head is not None else GENESIS
        for row in (r for r in pending if r.chain == chain):
            seq += 1
            row.seq, row.prev_hash = seq, prev_hash
            row.hash = prev_hash = _digest(row)
            session.add(row)
    session.flush()


async def anchor(session: AsyncSession) -> int:
    """Record in the council chain the head of every discussion chain that moved since the last
    anchor; returns how many (0: nothing moved, nothing written). Run it in a transaction of its own
    (it takes the council chain's lock at the commit), every few minutes: the scheduler's tick."""
    last = (
        await session.execute(
            select(AuditEvent)
            .where(col(AuditEvent.chain) == COUNCIL, col(AuditEvent.action) == ANCHOR)
            .order_by(col(AuditEvent.seq).desc())
            .limit(1)
        )
    ).scalar()
    since = None if last is None else last.at - ANCHOR_MARGIN
    # Chains with an entry written since shortly before the last anchor (all of them at the first).
    moved = select(col(AuditEvent.chain)).where(col(AuditEvent.chain).like("discussion:%"))
    if since is not None:
        moved = moved.where(col(AuditEvent.at) >= since)
    # Their heads: the newest entry of each, whenever it was written.
    latest = (
        select(col(AuditEvent.chain), func.max(col(AuditEvent.seq)).label("seq"))
        .where(col(AuditEvent.chain).in_(moved.distinct()))
        .group_by(col(AuditEvent.chain))
        .subquery()
    )
    heads = (
        await session.execute(
            select(col(AuditEvent.chain), col(AuditEvent.seq), col(AuditEvent.id), col(AuditEvent.hash))
            .join(latest, and_(col(AuditEvent.chain) == latest.c.chain, col(AuditEvent.seq) == latest.c.seq))
            .order_by(col(AuditEvent.chain))
        )
    ).all()
    anchored: dict[str, int] = {}
    if since is not None:
        # A head already anchored was anchored after it was written, so by an anchor this recent.
        recent = select(col(AuditEvent.detail)).where(
            col(AuditEvent.chain) == COUNCIL,
            col(AuditEvent.action) == ANCHOR,
            col(AuditEvent.at) >= since - ANCHOR_MARGIN,
        )
        for detail in (await session.execute(recent)).scalars():
            for chain, head in _heads(detail):
                anchored[chain] = max(anchored.get(chain, 0), head["seq"])
    record: dict[str, dict[str, Any]] = {
        chain: {"seq": seq, "id": id_, "hash": hash_}
        for chain, seq, id_, hash_ in heads
        if chain is not None and seq is not None and seq > anchored.get(chain, 0)
    }
    if record:
        await append(session, actor="system", channel="scheduler", action=ANCHOR, detail={"heads": record})
    return len(record)


def _heads(detail: dict[str, Any]) -> Iterable[tuple[str, dict[str, Any]]]:
    heads = detail.get("heads")
    return heads.items() if isinstance(heads, dict) else ()


@dataclass(frozen=True)
class Verification:
    checked: int
    broken_at: int | None = None  # id of the first row that does not fit the chain
    problem: str | None = None

    @property
    def ok(self) -> bool:
        return self.broken_at is None


@dataclass
class _Anchored:
    """What the anchors recorded: per chain, seq -> (hash, id of the anchor entry)."""

    heads: dict[str, dict[int, tuple[str, int]]] = field(default_factory=dict)

    def add(self, anchor_id: int, detail: dict[str, Any]) -> None:
        for chain, head in _heads(detail):
            self.heads.setdefault(chain, {})[int(head["seq"])] = (str(head["hash"]), anchor_id)

    def last(self, chain: str) -> tuple[int, str, int] | None:
        """The highest seq anchored for the chain: (seq, hash, anchor id)."""
        seqs = self.heads.get(chain)
        if not seqs:
            return None
        seq = max(seqs)
        return seq, *seqs[seq]


class _Broken(Exception):
    def __init__(self, checked: int, row_id: int | None, problem: str) -> None:
        self.checked, self.row_id, self.problem = checked, row_id, problem


async def verify(session: AsyncSession) -> Verification:
    """Check every chain: each entry's hash, its link to the entry before it, its place (seq), and
    that every head an anchor recorded is still there with the hash it had. Stops at the first
    problem; `checked` counts the entries found intact before it."""
    anchored = _Anchored()
    anchors = select(col(AuditEvent.id), col(AuditEvent.detail)).where(
        col(AuditEvent.chain) == COUNCIL, col(AuditEvent.action) == ANCHOR
    )
    for anchor_id, detail in (await session.execute(anchors)).all():
        anchored.add(anchor_id, detail)
    checked = 0
    try:
        checked = await _verify_legacy(session, anchored)
        checked = await _verify_chains(session, anchored, checked)
    except _Broken as broken:
        return Verification(broken.checked, broken.row_id, broken.problem)
    return Verification(checked)


async def _verify_legacy(session: AsyncSession, anchored: _Anchored) -> int:
    """The entries from before migration 0007: one chain in id order, as that release verified it,
    ending exactly at the head migration 0007 anchored."""
    prev_hash, checked, last_id = GENESIS, 0, None
    rows = await session.stream_scalars(
        select(AuditEvent).where(col(AuditEvent.chain).is_(None)).order_by(col(AuditEvent.id))
    )
    async for row in rows:
        if row.prev_hash != prev_hash:
            raise _Broken(
                checked, row.id, "does not follow the entry before it: an earlier entry was deleted or edited"
            )
        if _digest(row) != row.hash:
            raise _Broken(checked, row.id, "its content was changed after it was written")
        prev_hash, checked, last_id = row.hash, checked + 1, row.id
    head = anchored.last(LEGACY)
    if head is None:
        if checked:
            raise _Broken(checked, last_id, "entries from before the chains were never anchored")
        return checked
    seq, hash_, anchor_id = head
    if checked > seq:
        raise _Broken(checked, last_id, "written to the old global chain after it was closed")
    if checked < seq:
        raise _Broken(
            checked, anchor_id, "the old global chain ends before the head anchored: entries were deleted"
        )
    if prev_hash != hash_:
        raise _Broken(
            checked, anchor_id, "the old global chain's head differs from what was anchored: it was edited"
        )
    return checked


async def _verify_chains(session: AsyncSession, anchored: _Anchored, checked: int) -> int:
    rows = await session.stream_scalars(
        select(AuditEvent)
        .where(col(AuditEvent.chain).is_not(None))
        .order_by(col(AuditEvent.chain), col(AuditEvent.seq))
    )
    chain: str | None = None
    seq, prev_hash = 0, GENESIS
    seen: set[str] = set()
    async for row in rows:
        row_chain, row_seq = row.chain or "", row.seq or 0  # never None: the query's filter, the index
        if row_chain != chain:
            if chain is not None:
                _check_tail(anchored, chain, seq, checked)
            chain, seq, prev_hash = row_chain, 0, GENESIS
            seen.add(row_chain)
        if row_chain != chain_of(row.discussion_id):
            raise _Broken(checked, row.id, "is in another discussion's chain than its own")
        if row_seq != seq + 1 or row.prev_hash != prev_hash:
            raise _Broken(
                checked, row.id, "does not follow the entry before it: an earlier entry was deleted or edited"
            )
        if _digest(row) != row.hash:
            raise _Broken(checked, row.id, "its content was changed after it was written")
        head = anchored.heads.get(row_chain, {}).get(row_seq)
        if head is not None and head[0] != row.hash:
            raise _Broken(
                checked, row.id, "differs from what was anchored: it or an entry before it was edited"
            )
        seq, prev_hash, checked = row_seq, row.hash, checked + 1
    if chain is not None:
        _check_tail(anchored, chain, seq, checked)
    for missing in sorted(set(anchored.heads) - seen - {LEGACY}):
        last = anchored.last(missing)
        assert last is not None
        raise _Broken(checked, last[2], f"anchors entries of {missing} that are all gone: they were deleted")
    return checked


def _check_tail(anchored: _Anchored, chain: str, seq: int, checked: int) -> None:
    last = anchored.last(chain)
    if last is not None and last[0] > seq:
        raise _Broken(
            checked,
            last[2],
            f"anchors entry {last[0]} of {chain}, which ends at {seq}: its last entries were deleted",
        )
