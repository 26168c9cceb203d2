"""The neutral conversation model: a Turn comes in, Cards go out.

Nothing here knows Slack, Teams or HTML. Each channel package in bot/ turns its platform's payload
into a Turn and renders Cards back (Block Kit, Adaptive Cards 1.5, HTML). Keep cards to what all of
them and a phone screen can show: a title, a little markdown (*bold*, _italic_, line breaks and
"- " bullets), label/value facts, one form of typed inputs, and buttons.
"""

from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any


class TurnKind(StrEnum):
    COMMAND = "command"  # /strategy convene, "@bot status", a playground menu item
    BUTTON = "button"  # a button press: action id and value
    FORM = "form"  # a submitted form: form id, values by input id
    REPLY = "reply"  # a message typed in a discussion's thread


@dataclass(frozen=True)
class Actor:
    """Who acts: a person from the directory, with their agency and role."""

    person_id: int
    name: str
    agency: str
    role: str


@dataclass(frozen=True)
class Turn:
    actor: Actor
    kind: TurnKind
    name: str = ""  # command name, button action id, or form id
    value: str = ""  # button value, or the command's arguments
    fields: dict[str, Any] = field(default_factory=dict)  # submitted form values by input id
    text: str = ""  # the reply's text
    discussion_id: int | None = None  # where: the discussion (and so its thread)
    channel: str = "playground"  # slack | teams | playground: recorded in the audit trail
    event_id: str | None = None  # the platform's delivery id, so a retried event changes nothing
    # Where the person acted, as the channel needs it to place what the turn sends (a new discussion's
    # post goes where it was convened): JSON-safe, opaque to the engine, stored with the queued cards.
    origin: dict[str, Any] | None = None


class TargetKind(StrEnum):
    MAIN_POST = "main_post"  # the discussion's summary post, updated in place
    THREAD = "thread"  # a reply in the discussion's thread
    DIRECT = "direct"  # a direct message to one person
    EPHEMERAL = "ephemeral"  # a reply only the actor sees (Slack ephemeral, Teams reply/modal, page notice)
    CHANNEL = "channel"  # a post in a configured place (the duty or out-of-hours channel)


@dataclass(frozen=True)
class Target:
    kind: TargetKind
    discussion_id: int | None = None
    person_id: int | None = None
    place: str | None = None  # for CHANNEL: "duty" or "out_of_hours"


class InputKind(StrEnum):
    SHORT_TEXT = "short_text"
    LONG_TEXT = "long_text"
    DATE = "date"  # ISO YYYY-MM-DD
    TIME = "time"  # HH:MM, 24-hour
    CHOICE = "choice"  # one of options
    MULTI_CHOICE = "multi_choice"  # any of options; value is a list
    PEOPLE = "people"  # one or more person ids from options; value is a list of str ids
    YES_NO = "yes_no"  # "yes" | "no"


@dataclass(frozen=True)
class Option:
    value: str
    label: str


@dataclass(frozen=True)
class Input:
    id: str
    label: str
    kind: InputKind
    required: bool = False
    options: tuple[Option, ...] = ()
    value: Any = None  # initial or previously entered value: nothing typed is ever lost
    max_length: int | None = None
    hint: str | None = None
    error: str | None = None  # shown beside the input after a bad submission


@dataclass(frozen=True)
class Form:
    id: str  # the form's id, which comes back as Turn.name
    title: str
    inputs: tuple[Input, ...]
    submit_label: str = "Submit"
    context: str = ""  # opaque value carried back with the submission (e.g. the discussion id)
    error: str | None = None  # a message about the whole form


@dataclass(frozen=True)
class Button:
    action: str  # comes back as Turn.name
    label: str
    value: str = ""  # comes back as Turn.value
    style: str | None = None  # "primary" | "danger" | None


@dataclass(frozen=True)
class Card:
    target: Target
    title: str
    text: str = ""
    facts: tuple[tuple[str, str], ...] = ()
    form: Form | None = None
    buttons: tuple[Button, ...] = ()
    key: str | None = None  # a stable key: a card with the same key replaces the earlier one
    # A short line for notifications and lock-screen previews: case reference and deadline only.
    preview: str = ""

    def to(self, target: Target) -> "Card":
        return replace(self, target=target)


@dataclass(frozen=True)
class Result:
    """What a turn did: the cards to send, whether anything changed, and whether it was a repeat.

    A turn that changed nothing (a form sent back with its errors, a button that only opens a form or
    shows something) leaves its delivery id unrecorded, so the same button or form works again; the
    engine decides that, not the channels.
    """

    cards: tuple[Card, ...] = ()
    changed: bool = False
    duplicate: bool = False  # a retried or double-clicked delivery, answered without acting again
    # The outbox rows the turn queued (every card but the answers), committed with the change: the
    # channel asks for them to be sent now; after a crash the scheduler sends them.
    queued: tuple[int, ...] = ()

    @property
    def answers(self) -> tuple[Card, ...]:
        """What only the person acting sees: notes and forms."""
        return tuple(c for c in self.cards if c.target.kind == TargetKind.EPHEMERAL)

    @property
    def others(self) -> tuple[Card, ...]:
        """What goes to the discussion, to other people or to the configured places."""
        return tuple(c for c in self.cards if c.target.kind != TargetKind.EPHEMERAL)


@dataclass(frozen=True)
class Ref:
    """What a button's value or a form's context points at:
    "<discussion id>[/<child id>][:<subject>][@<version>]".

    The child is the one of the discussion's children the act is about (a decision, a plan, a record);
    the subject is the row the act is about (an invitation, an action, a due item); the version is the
    version of what the form edits when it was shown, so a stale form can be refused.
    """

    discussion_id: int | None = None
    subject: str = ""
    version: str = ""
    child_id: int | None = None

    def __str__(self) -> str:
        out = "" if self.discussion_id is None else str(self.discussion_id)
        if self.child_id is not None:
            out += f"/{self.child_id}"
        if self.subject:
            out += f":{self.subject}"
        if self.version:
            out += f"@{self.version}"
        return out

    @classmethod
    def parse(cls, value: str) -> "Ref":
        head, _, version = value.partition("@")
        ids, _, subject = head.partition(":")
        did, _, child = ids.partition("/")
        return cls(
            int(did) if did.isdigit() else None, subject, version, int(child) if child.isdigit() else None
        )
