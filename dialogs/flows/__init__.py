"""The flows of a strategy discussion; importing this package registers their handlers."""

from dialogs.flows import attendance, convene, decision, record, reminders_glue, thread, views  # noqa: F401
