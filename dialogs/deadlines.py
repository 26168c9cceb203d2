"""Due items computed from the procedure whenever a discussion changes (being written: issue 4)."""

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from dialogs.procedure import Procedure
from storage.models import Discussion


async def refresh_due_items(
    session: AsyncSession,
    procedure: Procedure,
    discussion: Discussion,
    *,
    nation: str,
    tz: str,
    now: datetime,
) -> None:
    """Create, move or close the discussion's due items so they match its state."""
