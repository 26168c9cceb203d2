"""What the playground has shown: an in-memory message store, and the Surface that fills it.

The store stands in for a chat platform's own history, so it lives in memory only: a restart loses
the rendered messages, never the discussion itself, which is in the database.
"""

import itertools
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from bot.reports.to_person import ReportFiles
from dialogs.model import Actor, Card, TargetKind
from dialogs.report_card import period

log = logging.getLogger(__name__)

PLACES = {"duty": "Duty", "out_of_hours": "Out of hours"}


@dataclass
class Reply:
    """A message a person typed in a discussion's thread."""

    person_id: int
    name: str
    agency: str
    text: str


@dataclass
class Entry:
    id: int
    at: datetime  # when it was posted, or last updated
    card: Card | None = None
    reply: Reply | None = None
    posted_at: datetime | None = None
    edited: bool = False


@dataclass
class Feed:
    """Messages in order; a card with a key already shown replaces that message where it stands."""

    entries: list[Entry] = field(default_factory=list)

    def put(self, entry: Entry, key: str | None = None) -> None:
        if key is not None:
            for n, old in enumerate(self.entries):
                if old.card is not None and _key(old.card) == key:
                    entry.posted_at = old.posted_at or old.at
                    entry.edited = True
                    self.entries[n] = entry
                    return
        self.entries.append(entry)


def _key(card: Card) -> str | None:
    if card.key:
        return card.key
    if card.target.kind == TargetKind.MAIN_POST:  # a discussion has one main post, key or not
        return f"main:{card.target.discussion_id}"
    return None


@dataclass
class MessageStore:
    now: Callable[[], datetime]
    channel: Feed = field(default_factory=Feed)  # each discussion's main post
    threads: dict[int, Feed] = field(default_factory=dict)  # discussion id -> its thread
    direct: dict[int, Feed] = field(default_factory=dict)  # person id -> their direct messages
    places: dict[str, Feed] = field(default_factory=dict)  # "duty" | "out_of_hours"
    notices: dict[int, list[Entry]] = field(default_factory=dict)  # person id -> replies only they see
    version: int = 0  # goes up on every change, so a page can tell that it is out of date
    _ids: itertools.count = field(default_factory=lambda: itertools.count(1))

    def _entry(self, card: Card | None = None, reply: Reply | None = None) -> Entry:
        return Entry(id=next(self._ids), at=self.now(), card=card, reply=reply)

    def put(self, card: Card, actor: Actor | None = None) -> None:
        """File a card where its target says. An EPHEMERAL card goes to the actor who caused it."""
        target = card.target
        entry = self._entry(card)
        if target.kind == TargetKind.MAIN_POST:
            self.channel.put(entry, _key(card))
        elif target.kind == TargetKind.THREAD:
            self.threads.setdefault(target.discussion_id or 0, Feed()).put(entry, _key(card))
        elif target.kind == TargetKind.DIRECT:
            self.direct.setdefault(target.person_id or 0, Feed()).put(entry, _key(card))
        elif target.kind == TargetKind.CHANNEL:
            self.places.setdefault(target.place or "duty", Feed()).put(entry, _key(card))
        else:
            person_id = actor.person_id if actor is not None else target.person_id
            if person_id is None:
                return  # an answer for nobody in particular has nowhere to go
            notices = self.notices.setdefault(person_id, [])
            key = _notice_key(card)
            notices[:] = [n for n in notices if key is None or _notice_key(n.card) != key]
            notices.append(entry)
        self.version += 1

    def add_reply(self, discussion_id: int, reply: Reply) -> None:
        self.threads.setdefault(discussion_id, Feed()).put(self._entry(reply=reply))
        self.version += 1

    def start_turn(self, person_id: int, form_id: str | None = None, context: str = "") -> None:
        """Before a person's next turn: their old notices go, and so does the form they are submitting.
        Other open forms stay, so nothing half-filled disappears because of an unrelated click."""
        kept = []
        for n in self.notices.get(person_id, []):
            f = n.card.form if n.card else None
            if f is not None and not (f.id == form_id and f.context == context):
                kept.append(n)
        self.notices[person_id] = kept
        self.version += 1

    def open_form(self, person_id: int, form_id: str, context: str) -> Card | None:
        """The notice holding this form, if the person still has it open."""
        for n in self.notices.get(person_id, []):
            f = n.card.form if n.card else None
            if f is not None and f.id == form_id and f.context == context:
                return n.card
        return None

    def dismiss(self, person_id: int, entry_id: int) -> None:
        self.notices[person_id] = [n for n in self.notices.get(person_id, []) if n.id != entry_id]
        self.version += 1

    def thread(self, discussion_id: int) -> list[Entry]:
        return self.threads.get(discussion_id, Feed()).entries


def _notice_key(card: Card | None) -> str | None:
    if card is None:
        return None
    if card.key:
        return card.key
    return f"form:{card.form.id}:{card.form.context}" if card.form is not None else None


class PlaygroundSurface:
    """The playground as a delivery surface: every target is reachable, because the store is the place."""

    name = "playground"

    def __init__(self, store: MessageStore, reports: ReportFiles | None = None) -> None:
        self.store = store
        self.reports = reports  # whether a report card's manager may still have the figures

    async def can_reach(self, card: Card, origin: dict[str, Any] | None = None) -> bool:
        return True

    async def deliver(self, card: Card, origin: dict[str, Any] | None = None) -> None:
        person_id = card.target.person_id
        if self.reports is not None and person_id is not None and period(card) is not None:
            if not await self.reports.may_have(person_id):  # no longer a manager: no link to offer
                log.warning("playground: person %s may no longer have the figures; not shown", person_id)
                return
        self.store.put(card)
