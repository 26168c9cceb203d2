"""The flows of a strategy discussion; importing this package registers their handlers."""

from dialogs.flows import (  # noqa: F401
    attendance,
    children,
    circumstances,
    close,
    conference,
    convene,
    decision,
    due,
    further,
    plan,
    record,
    report,
    thread,
    views,
)
