"""The life of a strategy discussion, written down once: its states, what may be done in each and by
whom, and each deadline with the act that meets it.

Every flow (dialogs/flows), every channel and the playground read these tables: a handler is
registered with its `Act` (flows/registry.py), the engine refuses an act outside its `Rule` with a
message saying what is possible now, the discussion's post offers the acts of its state, and a
reminder's button is the act that meets its deadline. docs/lifecycle.md is generated from here
(`python -m dialogs.lifecycle_doc`); a test fails when the two differ.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class State(StrEnum):
    """A discussion's state (the `discussion.state` column holds the value)."""

    CONVENED = "convened"  # convened and invitations out; not started
    IN_PROGRESS = "in_progress"  # started: the agenda's stages up to the decision
    DECIDED = "decided"  # the decision is recorded; the plan and the record are being prepared
    SIGNED_OFF = "signed_off"  # the chair signed the record off; it has been circulated
    CLOSED = "closed"  # every deadline ended by its act (met, late with a reason, or missed with one)
    CLOSED_WITH_REASON = "closed_with_reason"  # closed while deadlines were open: a reason for each


OPEN_STATES = frozenset({State.CONVENED, State.IN_PROGRESS, State.DECIDED, State.SIGNED_OFF})
CLOSED_STATES = frozenset({State.CLOSED, State.CLOSED_WITH_REASON})
BEFORE_SIGN_OFF = frozenset({State.CONVENED, State.IN_PROGRESS, State.DECIDED})
ALL_STATES = OPEN_STATES | CLOSED_STATES

STATE_LABELS: dict[State, str] = {
    State.CONVENED: "convened, not started",
    State.IN_PROGRESS: "in progress",
    State.DECIDED: "decided",
    State.SIGNED_OFF: "record signed off and circulated",
    State.CLOSED: "closed",
    State.CLOSED_WITH_REASON: "closed with reason",
}


class Who(StrEnum):
    """Whose act it is, relative to the discussion. Finer checks (your own invitation, your own
    action, a reminder sent to you) are the handler's."""

    ANYONE = "anyone"  # anyone in the directory
    CONVENER = "convener"  # a role the procedure lets convene
    CHAIR = "chair"  # the discussion's chair
    PARTICIPANT = "participant"  # invited to the discussion, or its chair
    MEMBER = "member"  # a participant, or a manager who may convene (they may look)
    REVIEWER = "reviewer"  # the chair's team manager (or, without one, another manager who may chair)


WHO_LABELS: dict[Who, str] = {
    Who.ANYONE: "anyone",
    Who.CONVENER: "a manager who may convene",
    Who.CHAIR: "the chair",
    Who.PARTICIPANT: "a participant",
    Who.MEMBER: "a participant or a manager",
    Who.REVIEWER: "the chair's team manager",
}


class Act(StrEnum):
    CONVENE = "convene"
    FURTHER = "further"  # a further or final discussion of the same case (a new discussion in the series)
    CIRCUMSTANCES = "circumstances"
    CHILDREN = "children"  # add a sibling (before the decision) or remove a child, with the reason
    INVITE = "invite"
    ANSWER = "answer"  # accept or decline one's invitation
    BY_PHONE = "by_phone"
    ABSENT = "absent"
    START = "start"
    NEXT_STAGE = "next_stage"
    CONTRIBUTE = "contribute"
    CORRECT = "correct"
    DECIDE = "decide"
    REVIEW_OVERRIDE = "review_override"
    PLAN = "plan"
    ADD_ACTION = "add_action"
    ACTION_DONE = "action_done"
    REVIEW = "review"
    SIGN_OFF = "sign_off"
    ACKNOWLEDGE = "acknowledge"
    TELL_OUTCOME = "tell_outcome"
    RECORD_ICPC = "record_icpc"
    GIVE_REASON = "give_reason"
    SNOOZE = "snooze"
    CLOSE = "close"
    VIEW = "view"


@dataclass(frozen=True)
class Rule:
    act: Act
    label: str  # what the person can do, as "what you can do now" lists it
    who: Who
    states: frozenset[State]  # empty: the act creates a discussion
    moves_to: tuple[State, ...] = ()  # the states it can lead to (the first is the usual one)
    note: str = ""  # a condition the table cannot show, for the docs


def _in(*states: State) -> frozenset[State]:
    return frozenset(states)


C, P, D, S = State.CONVENED, State.IN_PROGRESS, State.DECIDED, State.SIGNED_OFF

RULES: tuple[Rule, ...] = (
    Rule(Act.CONVENE, "convene a strategy discussion", Who.CONVENER, _in(), (C,),
         "refused while the case has an open series: a further discussion is offered instead"),
    Rule(Act.FURTHER, "hold a further or final discussion", Who.CHAIR, _in(S), (C,),
         "a new discussion in the series; none after the final one"),
    Rule(Act.CIRCUMSTANCES, "answer the questions about the case's circumstances", Who.CHAIR, _in(C, P)),
    Rule(Act.CHILDREN, "add or remove a child", Who.CHAIR, _in(C, P, D),
         note="a child is added only before any decision, and removed only with the reason (audited); "
         "never the last one"),
    Rule(Act.INVITE, "invite people", Who.CHAIR, _in(C, P),
         note="once started, with the reason (an audited correction of the attendance)"),
    Rule(Act.ANSWER, "accept or decline your invitation", Who.PARTICIPANT, _in(C),
         note="once started, replying in the thread is taking part; the chair records anything else"),
    Rule(Act.BY_PHONE, "record someone taking part by phone", Who.CHAIR, BEFORE_SIGN_OFF,
         note="once started, with the reason"),
    Rule(Act.ABSENT, "record apologies", Who.CHAIR, BEFORE_SIGN_OFF, note="once started, with the reason"),
    Rule(Act.START, "start the discussion", Who.CHAIR, _in(C), (P,),
         "a final discussion first invites every agency that took part in the first one"),
    Rule(Act.NEXT_STAGE, "move to the next stage", Who.CHAIR, _in(P, D),
         note="past the decision stage only once decided"),
    Rule(Act.CONTRIBUTE, "reply in the discussion's thread", Who.PARTICIPANT, BEFORE_SIGN_OFF),
    Rule(Act.CORRECT, "move or correct a contribution", Who.CHAIR, _in(P, D)),
    Rule(Act.DECIDE, "record or change the decision", Who.CHAIR, _in(P, D), (D,),
         "needs the quorum and the roles the case calls for, or the chair's override with a reason "
         "(reviewed by the team manager)"),
    Rule(Act.REVIEW_OVERRIDE, "review the chair's quorum override", Who.REVIEWER, _in(D, S) | CLOSED_STATES,
         note="closing the discussion does not end it"),
    Rule(Act.PLAN, "plan the S47 enquiry", Who.CHAIR, _in(D)),
    Rule(Act.ADD_ACTION, "add an action", Who.CHAIR, _in(D)),
    Rule(Act.ACTION_DONE, "mark an action done", Who.PARTICIPANT, _in(D, S), note="its owner or the chair"),
    Rule(Act.REVIEW, "review the record", Who.CHAIR, _in(D)),
    Rule(Act.SIGN_OFF, "sign off and circulate the record", Who.CHAIR, _in(D), (S, State.CLOSED),
         "signs what the chair reviewed: a changed draft is shown again"),
    Rule(Act.ACKNOWLEDGE, "acknowledge the record", Who.PARTICIPANT, _in(S) | CLOSED_STATES),
    Rule(Act.TELL_OUTCOME, "record that an agency was told the outcome", Who.CHAIR, _in(S)),
    Rule(Act.RECORD_ICPC, "record the initial child protection conference", Who.CHAIR, OPEN_STATES,
         note="once a discussion of the series has decided to start S47 enquiries"),
    Rule(Act.GIVE_REASON, "give the reason a deadline was late or missed", Who.CHAIR, ALL_STATES),
    Rule(Act.SNOOZE, "snooze a reminder", Who.ANYONE, OPEN_STATES, note="its recipient or the chair"),
    Rule(Act.CLOSE, "close the discussion", Who.CHAIR, OPEN_STATES, (State.CLOSED_WITH_REASON, State.CLOSED),
         "a reason for each open deadline; with none open it is simply closed. The record's "
         "acknowledgements and the manager's review of an override go on"),
    Rule(Act.VIEW, "see the discussion", Who.MEMBER, ALL_STATES),
)  # fmt: skip

RULE: dict[Act, Rule] = {r.act: r for r in RULES}

# A signed-off discussion whose deadlines have all ended closes by itself (no act).
AUTOMATIC_CLOSE = (State.SIGNED_OFF, State.CLOSED, "every deadline has ended")


def allowed(act: Act, state: State) -> bool:
    return state in RULE[act].states


def possible_now(state: State, relations: frozenset[Who]) -> list[str]:
    """What someone with `relations` to a discussion in `state` can do there, in table order."""
    hidden = {Act.VIEW, Act.SNOOZE, Act.GIVE_REASON, Act.CONVENE}
    return [r.label for r in RULES if state in r.states and r.who in relations and r.act not in hidden]


def not_now(act: Act, state: State, case_ref: str, relations: frozenset[Who]) -> str:
    """The polite refusal of an act outside the table, with what is possible instead."""
    what = RULE[act].label
    options = possible_now(state, relations)
    later = f" What you can do now: {'; '.join(options)}." if options else ""
    return f"You cannot {what} now: the discussion about {case_ref} is {STATE_LABELS[state]}.{later}"


# --- deadlines: each one and the act that meets it ------------------------------------------------


class DueKind(StrEnum):
    MEETING = "meeting"
    INVITATION = "invitation"
    QUORUM = "quorum"
    RECORD_CIRCULATION = "record_circulation"
    OUTCOME_NOTIFICATION = "outcome_notification"
    ICPC = "icpc"
    FURTHER_DISCUSSION = "further_discussion"
    RECONVENE = "reconvene"
    FINAL_DISCUSSION = "final_discussion"
    ACTION = "action"
    ACKNOWLEDGEMENT = "acknowledgement"
    OVERRIDE_REVIEW = "override_review"


class DueState(StrEnum):
    """How a due item stands (the `dueitem.state` column). Every deadline ends in exactly one of the
    ended states, by the act that meets it or by the chair's reason; never by closing a reminder."""

    OPEN = "open"
    MET = "met"  # its act happened in time
    LATE = "late"  # its act happened after the due time; the chair gives the reason
    MISSED = "missed"  # it will not happen; the chair gave the reason (or, for a chase, the bot did)
    CLOSED = "closed"  # the discussion was closed while it was open; the chair gave the reason
    WITHDRAWN = "withdrawn"  # what created it was undone before it mattered (a decision changed)


ENDED = frozenset(DueState) - {DueState.OPEN}
DUE_STATE_LABELS: dict[DueState, str] = {
    DueState.OPEN: "open",
    DueState.MET: "met",
    DueState.LATE: "late",
    DueState.MISSED: "missed",
    DueState.CLOSED: "closed with reason",
    DueState.WITHDRAWN: "no longer applies",
}


class Escalate(StrEnum):
    MANAGER = "manager"  # per procedure.reminders.escalate_to: the team manager or the duty place
    CHAIR = "chair"


@dataclass(frozen=True)
class Deadline:
    kind: DueKind
    met_by: Act  # the act that meets it
    how: str  # the act in words, for the docs and the record
    statutory: bool  # a timescale from the procedure: late or missed, the chair records the reason
    urgent: bool  # counted in hours: out of hours the out-of-hours team gets a copy
    escalate: Escalate | None
    chase: bool = False  # a chase rather than an obligation: it ends when its context ends


DEADLINES: tuple[Deadline, ...] = (
    Deadline(DueKind.MEETING, Act.START, "the discussion starts", True, True, Escalate.MANAGER),
    Deadline(DueKind.INVITATION, Act.ANSWER, "the invitee accepts or declines", False, True, Escalate.CHAIR,
             chase=True),
    Deadline(DueKind.QUORUM, Act.INVITE, "the quorum has accepted before the start", False, True, None,
             chase=True),
    Deadline(DueKind.RECORD_CIRCULATION, Act.SIGN_OFF,
             "the signed-off record is sent to everyone who took part", True, False, Escalate.MANAGER),
    Deadline(DueKind.OUTCOME_NOTIFICATION, Act.TELL_OUTCOME,
             "the referrer and every quorum agency that did not take part are told (by the bot at sign-off, "
             "or the chair records who told them, how and when)", True, False, Escalate.MANAGER),
    Deadline(DueKind.ICPC, Act.RECORD_ICPC,
             "the chair records the conference date, or that it is not required and why", True, False,
             Escalate.MANAGER),
    Deadline(DueKind.FURTHER_DISCUSSION, Act.FURTHER, "the further discussion is held", True, False,
             Escalate.MANAGER),
    Deadline(DueKind.RECONVENE, Act.FURTHER, "the reconvened discussion is held", True, False,
             Escalate.MANAGER),
    Deadline(DueKind.FINAL_DISCUSSION, Act.FURTHER,
             "the final discussion is held, with everyone from the first one invited", True, False,
             Escalate.MANAGER),
    Deadline(DueKind.ACTION, Act.ACTION_DONE, "its owner (or the chair) marks it done", True, False,
             Escalate.MANAGER),
    Deadline(DueKind.ACKNOWLEDGEMENT, Act.ACKNOWLEDGE, "the recipient acknowledges the record", False, False,
             Escalate.CHAIR, chase=True),
    Deadline(DueKind.OVERRIDE_REVIEW, Act.REVIEW_OVERRIDE, "the team manager reviews the override", False,
             False, None),
)  # fmt: skip

DEADLINE: dict[DueKind, Deadline] = {d.kind: d for d in DEADLINES}
