"""Which handler answers a turn, and who may use it."""

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from dialogs.model import Turn, TurnKind
from dialogs.validate import DialogError

# who: anyone | convener (may convene by role) | chair (of this discussion) | participant (invited to
# this discussion, or its chair) | member (a participant, or a manager who may convene)
WHO = ("anyone", "convener", "chair", "participant", "member")


@dataclass(frozen=True)
class Handler:
    fn: Callable[..., Awaitable[list]]
    who: str

    async def check(self, ctx) -> None:
        if self.who == "anyone":
            return
        if self.who == "convener":
            if ctx.actor.role not in ctx.procedure.convener_roles():
                raise DialogError(
                    "Only a duty manager, team manager or out-of-hours manager can convene a strategy "
                    "discussion. Please ask your manager."
                )
            return
        if ctx.is_chair:
            return
        if self.who == "chair":
            raise DialogError(f"Only the chair of {ctx.d.case_ref} can do that.")
        mine = await ctx.participant(ctx.actor.person_id)
        if mine is not None:
            return
        if self.who == "member" and ctx.actor.role in ctx.procedure.convener_roles():
            return
        raise DialogError(
            f"You are not taking part in the discussion about {ctx.d.case_ref}, so I cannot do that."
        )


_handlers: dict[tuple[TurnKind, str], Handler] = {}


def on(kind: TurnKind, name: str, who: str = "anyone"):
    assert who in WHO, who

    def register(fn):
        _handlers[(kind, name)] = Handler(fn, who)
        return fn

    return register


def find(turn: Turn) -> Handler | None:
    from dialogs import flows  # noqa: F401  (importing the package registers every flow)

    if turn.kind == TurnKind.REPLY:
        return _handlers.get((TurnKind.REPLY, ""))
    if turn.kind == TurnKind.COMMAND and (turn.kind, turn.name) not in _handlers:
        return _handlers.get((TurnKind.COMMAND, "help"))
    return _handlers.get((turn.kind, turn.name))
