"""The record as JSON, and the JSON Schema a council's integration team maps to its own system.

Both come from the typed record (dialogs/record_model.py) through pydantic, so the schema cannot
drift from what is exported. docs/record.schema.json is generated from here
(`python -m dialogs.record_json > docs/record.schema.json`); a test fails when the two differ.
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import TypeAdapter

from dialogs.record_model import SCHEMA_VERSION, Record

ADAPTER: TypeAdapter[Record] = TypeAdapter(Record)
SCHEMA_ID = f"urn:strategy-discussion:record:{SCHEMA_VERSION}"


def to_json(record: Record) -> bytes:
    """The record as UTF-8 JSON: times with their UTC offset, dates as YYYY-MM-DD, text as typed."""
    return ADAPTER.dump_json(record, indent=2)


def schema() -> dict[str, Any]:
    out: dict[str, Any] = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": SCHEMA_ID,
        "description": "One child's record of a child-protection strategy discussion (England). "
        f"Schema version {SCHEMA_VERSION}: a new minor version only adds optional fields.",
    }
    out |= ADAPTER.json_schema(mode="serialization")
    out["title"] = "Record of strategy discussion"
    return out


if __name__ == "__main__":
    print(json.dumps(schema(), indent=2))
