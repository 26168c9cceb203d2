"""Reminder and escalation cards, and the sweep that queues them for claimed due items.

What a reminder may say: the case reference, what is due (in the procedure file's words) and the
deadline; never the child or the case (PROCEDURE.md, "Information-governance rules"). The same goes
for `card.preview`. Its first button is the act that meets the deadline (dialogs/lifecycle.py).

Where reminders go:
- To the person who has to act, by DIRECT message. A surface that cannot message that person
  directly leaves it to the scheduler, which posts the same card in the discussion's THREAD.
- A passed statutory deadline also asks the chair for the reason (form `due.missed_reason`): why it
  is late, or that it will not happen and why.
- An escalation goes to the chair's team manager (Person.manager_id) or the CHANNEL place "duty", per
  `reminders.escalate_to`; to "duty" as well when the chair has no team manager. Chasing an
  unanswered invitation or acknowledgement escalates to the chair, who can follow it up.
- Out of hours (office hours and bank holidays from the procedure): reminders still go to the person
  (a direct message waits for them), and a copy goes to the CHANNEL place "out_of_hours" when the
  deadline is counted in hours (the meeting, invitations, the quorum) or the discussion is an
  out-of-hours one: those are the out-of-hours team's job. Deadlines counted in working days are not,
  and appear in the next morning's handover instead (dialogs/handover.py). An escalation to "duty"
  goes to "out_of_hours" while the duty place is closed.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from dialogs import moments
from dialogs.cards_json import card_to_dict
from dialogs.clock import say_when as when
from dialogs.deadline_wants import CHILD_KINDS
from dialogs.lifecycle import DEADLINE, Act, Deadline, DueKind, Escalate, State
from dialogs.model import Button, Card, Ref, Target, TargetKind
from dialogs.moments import DUE_DAY, ESCALATED, OVERDUE, REMINDED
from dialogs.procedure import Procedure, in_a_sentence
from storage import audit, claims, outbox
from storage.models import Child, Discussion, DueItem, Person

DUTY, OUT_OF_HOURS = "duty", "out_of_hours"
REPEAT = "repeat"  # a snoozed reminder coming back


def recipient_key(target: Target) -> str:
    """The unit of ordering in the outbox: messages to one key are sent in the order queued."""
    match target.kind:
        case TargetKind.DIRECT:
            return f"person:{target.person_id}"
        case TargetKind.CHANNEL:
            return f"place:{target.place}"
        case TargetKind.MAIN_POST:
            return f"post:{target.discussion_id}"
        case _:
            return f"thread:{target.discussion_id}"


# --- reminder cards ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Context:
    """What a reminder may use about its discussion and the people involved."""

    discussion: Discussion
    people: dict[int, Person]
    procedure: Procedure
    tz: str
    nation: str
    now: datetime
    case_ref: str = ""  # the child's whose deadline it is; the discussion's for the meeting's own

    @property
    def ref(self) -> str:
        return self.case_ref or self.discussion.case_ref

    @property
    def chair_id(self) -> int:
        return self.discussion.chair_id

    def name(self, person_id: int | None) -> str:
        person = self.people.get(person_id) if person_id is not None else None
        return person.display_name if person else "someone"


def _direct(d: Discussion, person_id: int) -> Target:
    return Target(TargetKind.DIRECT, discussion_id=d.id, person_id=person_id)


def _place(d: Discussion, place: str) -> Target:
    return Target(TargetKind.CHANNEL, discussion_id=d.id, place=place)


def _open_button(d: Discussion, primary: bool = True) -> Button:
    return Button("discussion.open", "Open the discussion", str(d.id), "primary" if primary else None)


# The button that does each act a deadline waits for (the handlers in dialogs/flows).
DO: dict[Act, tuple[str, str]] = {
    Act.START: ("start", "Start the discussion"),
    Act.INVITE: ("invite", "Invite people"),
    Act.SIGN_OFF: ("review", "Review and sign off the record"),
    Act.TELL_OUTCOME: ("tell_outcome", "Record who was told"),
    Act.RECORD_ICPC: ("icpc", "Record the conference"),
    Act.FURTHER: ("reconvene", "Further discussion"),
    Act.ACTION_DONE: ("action_done", "Mark done"),
    Act.ACKNOWLEDGE: ("ack", "Acknowledge receipt"),
    Act.REVIEW_OVERRIDE: ("review_override", "Mark reviewed"),
}


def _do_buttons(item: DueItem, d: Discussion) -> tuple[Button, ...]:
    """The button that meets the deadline, for the person who must do it (for a child's own
    deadline, the act for that child)."""
    own = DueKind(item.kind) in CHILD_KINDS  # its subject is the child: the act needs no other
    value = str(Ref(d.id, "" if own else item.subject, child_id=item.child_id))
    act = DEADLINE[DueKind(item.kind)].met_by
    if act == Act.ANSWER:
        return (Button("accept", "Accept", value, "primary"), Button("decline", "Decline", value))
    if act == Act.TELL_OUTCOME and d.state not in (State.SIGNED_OFF, State.CLOSED):
        act = Act.SIGN_OFF  # before sign-off the bot tells them itself, when the record is signed
    action, label = DO[act]
    return (Button(action, label, value, "primary"),)


def _for_recipient(item: DueItem, d: Discussion, *more: Button) -> tuple[Button, ...]:
    do = _do_buttons(item, d)
    return (*do, *more, _open_button(d, primary=not do), _snooze_button(item))


def _snooze_button(item: DueItem) -> Button:
    return Button("due.snooze", "Snooze", f"{item.discussion_id}:{item.id}")


def _reason_button(item: DueItem) -> Button:
    return Button("due.missed_reason", "Give the reason", f"{item.discussion_id}:{item.id}", "primary")


def event_cards(
    item: DueItem, event: str, at: datetime, *, late: bool, ctx: Context
) -> list[tuple[str, Card]]:
    """The cards for one moment of `item` (due at `at`), as (audience, card) pairs."""
    d, kind = ctx.discussion, DEADLINE[DueKind(item.kind)]
    ref, deadline = ctx.ref, when(item.due_at, ctx.tz)
    label = ctx.procedure.deadline_label(item.kind, in_sentence=True)
    recipient = item.recipient_id if item.recipient_id is not None else ctx.chair_id
    to_recipient = _direct(d, recipient)
    if item.kind == DueKind.OVERRIDE_REVIEW and item.recipient_id is None:
        to_recipient = _place(d, DUTY)  # no team manager: the duty team reviews, as it was first told
    out: list[tuple[str, Card]] = []

    def card(target: Target, title: str, text: str, buttons: tuple[Button, ...], audience: str) -> None:
        if late:
            text += (
                f"\n_Sent late: this was due at {when(at, ctx.tz)}; the reminder service was not running._"
            )
        facts = (("Case", ref), ("Deadline", deadline))
        out.append(
            (
                audience,
                Card(
                    target=target,
                    title=title,
                    text=text,
                    facts=facts,
                    buttons=buttons,
                    key=f"due:{item.id}:{event}:{audience}:{at.astimezone(UTC):%Y%m%dT%H%M%S}",
                    preview=f"{ref}: {title} (deadline {deadline})",
                ),
            )
        )

    if event in (REMINDED, DUE_DAY, REPEAT):
        title = {REMINDED: "Reminder", DUE_DAY: "Due today", REPEAT: "Reminder again"}[event]
        card(
            to_recipient,
            f"{title}: {label}",
            f"Case {ref}: {label} by {deadline}.",
            _for_recipient(item, d),
            "recipient",
        )
    elif event == OVERDUE and not kind.statutory:
        title, text = _chase(item, ctx)
        card(to_recipient, title, text, _for_recipient(item, d), "recipient")
    elif event == OVERDUE:
        passed = f"Case {ref}: {label} was due by {deadline}."
        ask = "\nIf it will still be done, please say why it is late; if not, say why it will not happen."
        if recipient == ctx.chair_id:
            card(
                _direct(d, recipient),
                f"Deadline passed: {label}",
                passed + ask,
                (*_do_buttons(item, d), _reason_button(item), _open_button(d, primary=False)),
                "recipient",
            )
        else:
            card(
                _direct(d, recipient),
                f"Deadline passed: {label}",
                passed,
                (*_do_buttons(item, d), _open_button(d, primary=not _do_buttons(item, d))),
                "recipient",
            )
            card(
                _direct(d, ctx.chair_id),
                f"Deadline passed: {label}",
                passed + f" It was for {ctx.name(recipient)} to do." + ask,
                (_open_button(d), _reason_button(item)),
                "chair",
            )
    elif event == ESCALATED:
        card(*_escalation(item, kind, label, ctx), (_open_button(d),), "escalation")

    out_of_hours = ctx.procedure.out_of_hours_at(ctx.now, tz=ctx.tz, nation=ctx.nation)
    already = any(c.target.place == OUT_OF_HOURS for _, c in out)
    if out and out_of_hours and (kind.urgent or d.out_of_hours) and not already:
        first = out[0][1]
        card(
            _place(d, OUT_OF_HOURS),
            f"Out of hours: {in_a_sentence(first.title)}",
            first.text.split("\n_Sent late")[0]
            + "\nSent to the out-of-hours team as well because it falls outside office hours.",
            (_open_button(d),),
            "out_of_hours",
        )
    return out


def _chase(item: DueItem, ctx: Context) -> tuple[str, str]:
    ref = ctx.ref
    if item.kind == DueKind.OVERRIDE_REVIEW:
        return (
            "Please review the decision",
            f"Case {ref}: the chair decided without everyone the procedure requires. Please read the "
            "reason on the discussion and mark it reviewed.",
        )
    if item.kind == "invitation":
        return (
            "Please answer the invitation",
            f"Case {ref}: you are invited to a strategy discussion due to start at "
            f"{when(ctx.discussion.proposed_at, ctx.tz)}. Please say whether you can take part.",
        )
    if item.kind == "quorum":
        return (
            "Quorum not confirmed",
            f"Case {ref}: not every agency needed for the quorum has accepted yet, and the discussion is "
            f"due to start at {when(ctx.discussion.proposed_at, ctx.tz)}.",
        )
    return (
        "Please acknowledge the record",
        f"Case {ref}: please confirm you have received it (due by {when(item.due_at, ctx.tz)}).",
    )


def _escalation(item: DueItem, kind: Deadline, label: str, ctx: Context) -> tuple[Target, str, str]:
    d, ref = ctx.discussion, ctx.ref
    if kind.escalate == Escalate.CHAIR:
        what = "answered the invitation" if item.kind == "invitation" else "acknowledged the record"
        text = (
            f"Case {ref}: {ctx.name(item.recipient_id)} has not {what} (due by {when(item.due_at, ctx.tz)})."
        )
        return _direct(d, ctx.chair_id), f"Still outstanding: {label}", text
    text = (
        f"Case {ref}: {label} was due by {when(item.due_at, ctx.tz)} and is still outstanding. "
        f"The chair, {ctx.name(ctx.chair_id)}, has been reminded."
    )
    title = f"Escalation: {label}"
    chair = ctx.people.get(ctx.chair_id)
    manager = chair.manager_id if chair else None
    if ctx.procedure.reminders.escalate_to == "team_manager" and manager is not None:
        return _direct(d, manager), title, text
    out_of_hours = ctx.procedure.out_of_hours_at(ctx.now, tz=ctx.tz, nation=ctx.nation)
    return _place(d, OUT_OF_HOURS if out_of_hours else DUTY), title, text


# --- the sweep: claimed due items -> outbox ------------------------------------------------------


async def advance_due_items(
    session: AsyncSession,
    procedure: Procedure,
    ids: list[int],
    *,
    worker: str,
    now: datetime,
    tz: str,
    nation: str,
    late_after: timedelta,
) -> int:
    """Queue the messages of the claimed items `ids` and move each item to its next moment.

    Runs in one transaction: the messages are queued if and only if the items advance, so a process
    that dies half way leaves the items to be claimed again once its lease runs out, with nothing
    queued twice. Returns the number of messages queued.
    """
    await audit.lock(session)  # before any row lock, in the same order as the engine's turns
    items = await claims.claimed_due_items(session, ids, worker=worker)
    # Claimed rows that ended meanwhile (their act was done) are simply let go.
    handled = {item.id for item in items}
    await claims.release_due_items(session, [i for i in ids if i not in handled], worker=worker)
    if not items:
        return 0
    discussions = await _by_id(session, Discussion, {i.discussion_id for i in items})
    person_ids = {d.chair_id for d in discussions.values()} | {
        i.recipient_id for i in items if i.recipient_id
    }
    people = await _by_id(session, Person, person_ids)
    children = await _by_id(session, Child, {i.child_id for i in items if i.child_id is not None})
    messages: list[outbox.Message] = []
    # Missed statutory deadlines and escalations go into the audit trail: one entry per discussion and kind of
    # event in the batch (the trail serialises its writers, so an entry per item would be slow).
    missed: dict[tuple[int, str], list[dict[str, Any]]] = defaultdict(list)
    for item in items:
        d = discussions[item.discussion_id]
        child = children.get(item.child_id) if item.child_id is not None else None
        ctx = Context(d, people, procedure, tz, nation, now, child.case_ref if child else "")
        step = moments.step(item, now)
        sends = list(step.send) + ([(step.repeat_at, REPEAT)] if step.repeat_at else [])
        for at, event in sends:
            late = now - at > late_after
            for _audience, card in event_cards(item, event, at, late=late, ctx=ctx):
                messages.append(
                    outbox.Message(
                        card=card_to_dict(card),
                        recipient_key=recipient_key(card.target),
                        dedupe_key=card.key,
                        discussion_id=d.id,
                        due_item_id=item.id,
                        due_at=at,
                        late=late,
                    )
                )
            if event == ESCALATED or (event == OVERDUE and DEADLINE[DueKind(item.kind)].statutory):
                missed[(item.discussion_id, "due.overdue" if event == OVERDUE else "due.escalated")].append(
                    {"due_item": item.id, "kind": item.kind, "due_at": item.due_at.isoformat(), "late": late}
                )
        item.stage, item.next_at, item.snoozed_until = step.stage, step.next_at, step.snoozed_until
        item.claimed_by, item.claim_expires_at, item.updated_at = None, None, now
    for (discussion_id, action), entries in missed.items():
        await audit.append(
            session,
            actor="system",
            channel="scheduler",
            action=action,
            discussion_id=discussion_id,
            detail={"items": entries},
        )
    await outbox.add(session, messages)
    await session.flush()
    return len(messages)


async def _by_id[M: (Discussion, Person, Child)](
    session: AsyncSession, model: type[M], ids: set[int]
) -> dict[int, M]:
    if not ids:
        return {}
    rows = await session.execute(select(model).where(col(model.id).in_(ids)))
    return {row.id: row for row in rows.scalars() if row.id is not None}  # stored rows: never None
