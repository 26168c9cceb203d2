"""Which handler answers a turn, and the lifecycle rule (dialogs/lifecycle.py) it is held to."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from dialogs.engine import Ctx
from dialogs.lifecycle import RULE, STATE_LABELS, Act, State, Who, not_now
from dialogs.model import Card, Turn, TurnKind
from dialogs.validate import DialogError

Fn = Callable[[Ctx], Awaitable[list[Card]]]


@dataclass(frozen=True)
class Handler:
    fn: Fn
    act: Act | None  # None: not about one discussion (help, the lists of one's own discussions)

    async def check(self, ctx: Ctx) -> None:
        """Refuse, politely, an act by someone it is not for, or in a state the table does not allow."""
        if self.act is None:
            return
        rule = RULE[self.act]
        relations = await ctx.relations(reviewer=rule.who in (Who.REVIEWER, Who.MEMBER))
        replying = self.act == Act.CONTRIBUTE  # a reply in the thread gets its own words
        if rule.who not in relations:
            raise DialogError(not_recorded(ctx.d.case_ref) if replying else _not_yours(rule.who, ctx))
        if rule.states and ctx.discussion is not None and ctx.state not in rule.states:
            if replying:
                raise DialogError(not_recorded(ctx.d.case_ref, ctx.state))
            raise DialogError(not_now(self.act, ctx.state, ctx.d.case_ref, relations))


def not_recorded(case_ref: str, state: State | None = None) -> str:
    """Why a reply in a discussion's thread was not stored."""
    if state is None:
        return (
            f"Your message in the {case_ref} thread was not recorded: only people taking part in this "
            "strategy discussion can contribute. If you should be, ask the chair to invite you."
        )
    return (
        f"Your message in the {case_ref} thread was not added to the record: the discussion is "
        f"{STATE_LABELS[state]}. Please send further information to the chair."
    )


def _not_yours(who: Who, ctx: Ctx) -> str:
    if who == Who.CONVENER:
        return (
            "Only a duty manager, team manager or out-of-hours manager can convene a strategy "
            "discussion. Please ask your manager."
        )
    if who == Who.CHAIR:
        return f"Only the chair of {ctx.d.case_ref} can do that."
    if who == Who.REVIEWER:
        return f"Only the chair's team manager can review the decision on {ctx.d.case_ref}."
    return f"You are not taking part in the discussion about {ctx.d.case_ref}, so I cannot do that."


_handlers: dict[tuple[TurnKind, str], Handler] = {}


def on(kind: TurnKind, name: str, act: Act | None) -> Callable[[Fn], Fn]:
    def register(fn: Fn) -> Fn:
        _handlers[(kind, name)] = Handler(fn, act)
        return fn

    return register


def find(turn: Turn) -> Handler | None:
    from dialogs import flows  # noqa: F401  (importing the package registers every flow)

    if turn.kind == TurnKind.REPLY:
        return _handlers.get((TurnKind.REPLY, ""))
    if turn.kind == TurnKind.COMMAND and (turn.kind, turn.name) not in _handlers:
        return _handlers.get((TurnKind.COMMAND, "help"))
    return _handlers.get((turn.kind, turn.name))
