"""The benchmarks' PostgreSQL: a schema of their own on the tests' server, dropped afterwards."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

POSTGRES_URL = os.environ.get("TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")


@asynccontextmanager
async def postgres_schema(url: str, prefix: str) -> AsyncIterator[dict[str, Any]]:
    """A new schema on the server at `url`; yields the connect_args that put it first on the search
    path. The project's code is imported here, not above, so `bench/turns.py --code` can choose it."""
    from sqlalchemy import text

    from storage.db import Database

    schema = f"{prefix}_{uuid.uuid4().hex[:8]}"
    admin = Database(url)
    try:
        async with admin.engine.begin() as conn:
            await conn.execute(text(f"CREATE SCHEMA {schema}"))
        yield {"server_settings": {"search_path": schema}}
    finally:
        async with admin.engine.begin() as conn:
            await conn.execute(text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
        await admin.dispose()
