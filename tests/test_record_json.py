"""The record exported as JSON: valid against the published schema, with what people typed as typed."""

import json

import jsonschema

from dialogs import record_json
from dialogs.record_text import render
from tests.conftest import REPO
from tests.records import AMENDMENT, TYPED, three_siblings

SCHEMA = json.loads((REPO / "docs" / "record.schema.json").read_text())


def test_the_published_schema_is_generated_from_the_record():
    assert SCHEMA == record_json.schema(), (
        "docs/record.schema.json is stale: python -m dialogs.record_json > docs/record.schema.json"
    )
    jsonschema.Draft202012Validator.check_schema(SCHEMA)


async def test_every_record_of_a_sibling_meeting_validates_and_holds_its_own_decision(db):
    walk = await three_siblings(db)
    exported = {ref: json.loads(record_json.to_json(s.record)) for ref, s in walk.records.items()}
    for data in exported.values():
        jsonschema.validate(data, SCHEMA)
        assert data["schema"] == "1.0" and data["signed_off_by"] == "Dana Duty"
        assert {a["took_part"] for a in data["attendance"]} <= {"meeting", "chat", "phone", "invited"}
        assert data["started_at"].endswith(("Z", "+00:00")) and data["minutes"] is not None
    eldest, middle, youngest = (exported[r] for r in ("LL-3001", "LL-3002", "LL-3003"))
    assert (
        eldest["decision"]["outcome"],
        middle["decision"]["outcome"],
        youngest["decision"]["outcome"],
    ) == (
        "s47_joint",
        "single_assessment",
        "no_s47",
    )
    assert eldest["plan"] and middle["plan"] is None and middle["decision"]["reconvene_on"] == "2026-12-15"
    assert eldest["conference"]["target"] and youngest["conference"] is None
    assert eldest["conference"]["s47_start_on"] == "2026-11-24"  # the census's S47 start
    # The procedure's ids beside its labels, for integration mappings a renamed label must not break.
    assert eldest["category_id"] == "physical"
    assert {a["agency_id"] for a in eldest["attendance"]} == {"social_care", "police", "health"}
    # What parents and child are told: from the plan for S47, from the decision otherwise (or not said).
    assert eldest["parents_told"] == "Told now: Social worker visits today."
    assert youngest["parents_told"] == "Mother told by the social worker, by phone, today."
    assert middle["parents_told"] is None
    assert [c["name"] for c in eldest["circulation"]] == ["Pat Police", "Morgan Manager", "Harper Health"]
    # The amended record is version 2 and lists both versions, with what the second changed.
    assert eldest["version"] == 2 and [v["version"] for v in eldest["versions"]] == [1, 2]
    assert AMENDMENT in eldest["versions"][1]["change"] and middle["versions"][0]["change"] == "signed off"
    # A contribution tagged to LL-3001 only, full of special characters, is there as typed, and only there.
    assert [c["text"] for c in eldest["contributions"] if c["text"] == TYPED] == [TYPED]
    assert all(TYPED not in json.dumps(x) for x in (middle, youngest))


async def test_typed_text_cannot_forge_the_records_own_lines_in_the_chat_text(db):
    walk = await three_siblings(db)
    text = render(walk.records["LL-3001"].record)
    lines = text.split("\n")
    assert lines.count("*Record of strategy discussion: LL-3001*") == 1
    assert not any(
        line.startswith(("*Record of strategy discussion: LL-9999", "- not a bullet")) for line in lines
    )
    assert "*\u200bSigned off*\u200b" in text  # shown as typed, but not bold


async def test_a_signed_version_exports_what_was_signed_not_what_happened_since(db):
    """LL-3001's record (version 2) is exported as signed even after its action was marked done;
    circulation and the list of versions are today's."""
    from sqlalchemy import select

    from dialogs.record_export import latest_for
    from storage.models import Action

    walk = await three_siblings(db)
    async with db.session() as s:
        action = (await s.execute(select(Action))).scalars().one()
        action.status = "done"  # after the sign-off (LL-3001's action; LL-3001 was amended since)
    async with db.read() as s:
        eldest = (await latest_for(walk.drv.dialogs, s, "LL-3001"))[0].record
    assert eldest.version == 2 and [a.status for a in eldest.actions] == ["open"]  # as version 2 signed it
    assert [v.change for v in eldest.versions][0] == "signed off"
    assert eldest.versions[1].change.startswith("Addendum ") and AMENDMENT in eldest.versions[1].change


def test_typed_links_and_leading_bullets_are_inert_in_the_chat_text():
    from dialogs.record_text import inert

    shown = inert("- [click](https://example.org)\n# heading", line_start=True)
    assert "[click](" not in shown and not shown.startswith("-") and "\n#" not in shown
    assert inert("Agreed (item 1): 10 > 9 # yes") == "Agreed (item 1): 10 > 9 # yes"  # mid-line: as typed
    assert shown.replace("\u200b", "").replace("\n    ", "\n") == "- [click](https://example.org)\n# heading"
