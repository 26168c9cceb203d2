"""Turns about due items (snooze, missed-deadline reasons) belong to dialogs.reminders."""

from dialogs.flows.registry import Handler, _handlers
from dialogs.model import TurnKind


async def _delegate(ctx):
    from dialogs import reminders

    return await reminders.handle_due_turn(ctx, ctx.turn)


for _kind in (TurnKind.BUTTON, TurnKind.FORM):
    for _name in ("due.snooze", "due.missed_reason"):
        _handlers[(_kind, _name)] = Handler(_delegate, "anyone")  # reminders checks the recipient itself
