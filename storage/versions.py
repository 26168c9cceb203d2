"""Row versions: every form carries the version of the row it edits, so a stale form is refused.

A row of a versioned table (participant, contribution, decision, plan) gets `version + 1` whenever a
flush writes a real change to it, whoever made the change: no flow has to remember to bump it.
"""

from typing import Any

from sqlalchemy import event
from sqlalchemy.orm import Session

from storage.models import Contribution, Decision, Participant, Plan

VERSIONED = (Participant, Contribution, Decision, Plan)


@event.listens_for(Session, "before_flush")
def _bump_versions(session: Session, _flush_context: Any, _instances: Any) -> None:
    for row in session.dirty:
        if isinstance(row, VERSIONED) and session.is_modified(row, include_collections=False):
            row.version = (row.version or 0) + 1
