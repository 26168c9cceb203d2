"""Field shorthands shared by the tables: UTC timestamps and long text."""

from typing import Any

from sqlalchemy import Text
from sqlmodel import Field

from storage.types import UTCDateTime, utcnow


def ts(**kw: Any) -> Any:
    return Field(sa_type=UTCDateTime, **kw)


def now() -> Any:
    return Field(default_factory=utcnow, sa_type=UTCDateTime)


def text(**kw: Any) -> Any:
    return Field(sa_type=Text, **kw)
