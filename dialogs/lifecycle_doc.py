"""docs/lifecycle.md, generated from the lifecycle table (dialogs/lifecycle.py) and the procedure file.

    python -m dialogs.lifecycle_doc > docs/lifecycle.md

A test compares the file with what this writes, so the picture and the table never drift apart.
"""

from __future__ import annotations

from dialogs.lifecycle import (
    AUTOMATIC_CLOSE,
    CLOSED_STATES,
    DEADLINES,
    RULE,
    RULES,
    STATE_LABELS,
    WHO_LABELS,
    Act,
    Escalate,
    State,
)
from dialogs.procedure import AGENDA_STAGE_IDS, Procedure, load_procedure

FURTHER = "further"  # the diagram's name for the new discussion a further one opens
ESCALATES_TO: dict[Escalate | None, str] = {
    None: "nobody",
    Escalate.MANAGER: "the chair's team manager, or the duty team",
    Escalate.CHAIR: "the chair",
}


def _diagram(procedure: Procedure) -> list[str]:
    out = ["```mermaid", "stateDiagram-v2"]
    for state in State:
        out.append(f'    state "{STATE_LABELS[state]}" as {state.value}')
    out.append(f'    state "a further or final discussion: a new one in the series" as {FURTHER}')
    stages = [s for s in procedure.agenda]
    decision_at = [s.id for s in stages].index(AGENDA_STAGE_IDS[3])
    for state, inside in (
        (State.IN_PROGRESS, stages[1 : decision_at + 1]),
        (State.DECIDED, stages[decision_at:]),
    ):
        out.append(f"    state {state.value} {{")
        ids = [f"{state.value}_{s.id}" for s in inside]
        for s, sid in zip(inside, ids, strict=True):
            out.append(f'        state "{s.title}" as {sid}')
        out.append(f"        [*] --> {ids[0]}")
        out += [
            f"        {a} --> {b}: {RULE[Act.NEXT_STAGE].label}" for a, b in zip(ids, ids[1:], strict=False)
        ]
        out.append("    }")
    for rule in RULES:
        if rule.act == Act.FURTHER:
            out += [f"    {s.value} --> {FURTHER}: {rule.label}" for s in _ordered(rule.states)]
            continue
        sources = ["[*]"] if not rule.states else [s.value for s in _ordered(rule.states)]
        for source in sources:
            for target in rule.moves_to:
                out.append(f"    {source} --> {target.value}: {rule.label}")
    before, after, why = AUTOMATIC_CLOSE
    out.append(f"    {before.value} --> {after.value}: {why} (by itself)")
    out += [f"    {s.value} --> [*]" for s in _ordered(CLOSED_STATES)]
    out.append("```")
    return out


def _ordered(states: frozenset[State]) -> list[State]:
    return [s for s in State if s in states]


def _acts_table() -> list[str]:
    states = list(State)
    out = [
        "| Act | Who | " + " | ".join(STATE_LABELS[s] for s in states) + " | Note |",
        "|---|---|" + "---|" * len(states) + "---|",
    ]
    for rule in RULES:
        marks = " | ".join("yes" if s in rule.states else "" for s in states)
        if not rule.states:
            marks = " | ".join("(creates one)" if i == 0 else "" for i in range(len(states)))
        out.append(f"| {rule.label} | {WHO_LABELS[rule.who]} | {marks} | {rule.note} |")
    return out


def _deadlines_table(procedure: Procedure) -> list[str]:
    out = [
        "| Deadline | Met by | The chair's reason when late or missed | Escalates to |",
        "|---|---|---|---|",
    ]
    for d in DEADLINES:
        kind = "a chase: ends by itself with the bot's reason" if d.chase else ""
        reason = "yes" if d.statutory else (kind or "no")
        escalate = ESCALATES_TO[d.escalate]
        out.append(f"| {procedure.deadline_label(d.kind)} | {d.how} | {reason} | {escalate} |")
    return out


def render(procedure: Procedure) -> str:
    lines = [
        "# The life of a strategy discussion",
        "",
        "Generated from `dialogs/lifecycle.py` and the shipped procedure file by "
        "`python -m dialogs.lifecycle_doc > docs/lifecycle.md`; a test fails when this page and the "
        "table differ. The stages inside *in progress* and *decided* are the procedure file's agenda.",
        "",
        *_diagram(procedure),
        "",
        "## What can be done in each state, and by whom",
        "",
        "Anything else is refused with a message saying what can be done now.",
        "",
        *_acts_table(),
        "",
        "## Deadlines and the act that meets each",
        "",
        "Each deadline ends in exactly one way: **met** (its act happened in time), **late** (its act "
        "happened after the due time; the chair gives the reason), **missed** (it will not happen; the "
        "chair gives the reason), or **closed with reason** (the discussion was closed while it was open). "
        "A snooze moves the reminders, never the deadline; reminders and escalations stop the moment it "
        "ends. The record, the discussion's post and the morning handover show how each one ended.",
        "",
        *_deadlines_table(procedure),
        "",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    print(render(load_procedure()), end="")
