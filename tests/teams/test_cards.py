"""Neutral Cards as Adaptive Cards 1.5, and what their actions send back."""

import json

import pytest

from bot.teams.cards import fit, fit_one, markdown, neutral, read_submission, render, sign_origin, size_of
from dialogs.model import Button, Card, Form, Input, InputKind, Option, Target, TargetKind, TurnKind
from tests.teams.conftest import actions
from tests.teams.connector import card_problems

PEOPLE = tuple(Option(str(i), f"Person {i}") for i in range(1, 9))
EVERY_INPUT = Form(
    "everything",
    "A form with every kind of input",
    (
        Input(
            "ref",
            "Case reference",
            InputKind.SHORT_TEXT,
            required=True,
            max_length=64,
            value="LL-1",
            hint="No names.",
            error="Letters and digits only.",
        ),
        Input("concern", "The concern", InputKind.LONG_TEXT, required=True, value="Typed before the error"),
        Input("day", "Date", InputKind.DATE, value="2026-11-24"),
        Input("at", "Time", InputKind.TIME, value="14:00"),
        Input("risk", "Immediate risk?", InputKind.YES_NO, required=True, value="no"),
        Input("category", "Category", InputKind.CHOICE, options=PEOPLE[:3], value="2"),
        Input("agency", "Agency", InputKind.CHOICE, options=PEOPLE),
        Input("flags", "Flags", InputKind.MULTI_CHOICE, options=PEOPLE[:4], value=["1", "3"]),
        Input("people", "Invite", InputKind.PEOPLE, options=PEOPLE, value=["2", "5"]),
    ),
    submit_label="Send",
    context="7:x",
    error="Please correct the two fields below.",
)


def card(**kw) -> Card:
    return Card(target=Target(TargetKind.EPHEMERAL, person_id=1), **({"title": "Title", "text": "Text"} | kw))


def by_id(content: dict) -> dict:
    return {item["id"]: item for item in content["body"] if "id" in item}


def test_every_kind_of_input_renders_as_valid_adaptive_card_1_5():
    content = render(card(form=EVERY_INPUT, facts=(("State", "convened"),)), origin="19:channel")
    assert card_problems(content) == []
    assert content["version"] == "1.5" and content["msteams"] == {"width": "full"}
    inputs = by_id(content)
    assert {k: v["type"] for k, v in inputs.items()} == {
        "ref": "Input.Text",
        "concern": "Input.Text",
        "day": "Input.Date",
        "at": "Input.Time",
        "risk": "Input.ChoiceSet",
        "category": "Input.ChoiceSet",
        "agency": "Input.ChoiceSet",
        "flags": "Input.ChoiceSet",
        "people": "Input.ChoiceSet",
    }
    assert inputs["concern"]["isMultiline"] and "isMultiline" not in inputs["ref"]
    assert inputs["ref"]["isRequired"] and inputs["ref"]["maxLength"] == 64
    assert (inputs["category"]["style"], inputs["agency"]["style"]) == ("expanded", "compact")
    assert inputs["people"]["isMultiSelect"] and not inputs["category"].get("isMultiSelect")
    assert [c["value"] for c in inputs["risk"]["choices"]] == ["yes", "no"]
    # What was entered comes back: nothing typed is lost when a form is returned with errors.
    assert (inputs["concern"]["value"], inputs["day"]["value"], inputs["at"]["value"]) == (
        "Typed before the error",
        "2026-11-24",
        "14:00",
    )
    assert (inputs["risk"]["value"], inputs["people"]["value"], inputs["flags"]["value"]) == (
        "no",
        "2,5",
        "1,3",
    )
    texts = [b for b in content["body"] if b["type"] == "TextBlock"]
    assert {"text": "Letters and digits only.", "color": "Attention"}.items() <= next(
        t for t in texts if t["text"] == "Letters and digits only."
    ).items()
    assert any(t["text"] == "Please correct the two fields below." for t in texts)
    assert any(t["text"] == "No names." and t["isSubtle"] for t in texts)


def test_every_action_is_an_execute_with_a_submit_fallback_carrying_the_same_data():
    content = render(
        card(form=EVERY_INPUT, buttons=(Button("start", "Start", "7", "primary"),)), origin="19:c"
    )
    submit, start = actions(content)
    for a in (submit, start):
        assert a["type"] == "Action.Execute" and a["fallback"]["type"] == "Action.Submit"
        assert a["fallback"]["data"] == a["data"] and a["fallback"]["title"] == a["title"]
        assert "style" not in a  # Teams does not support positive/destructive styles
    assert submit["associatedInputs"] == "auto" and start["associatedInputs"] == "none"
    once = {a["data"].pop("_sd_once") for a in (submit, start)}
    assert len(once) == 2 and all(len(n) >= 8 for n in once)  # a nonce of its own for each action
    assert submit["data"] == {
        "_sd": "form",
        "_sd_name": "everything",
        "_sd_value": "7:x",
        "_sd_multi": ["flags", "people"],
        "_sd_origin": "19:c",
        "_sd_sig": sign_origin("form", "everything", "7:x", "19:c"),
    }
    assert start["data"] == {"_sd": "button", "_sd_name": "start", "_sd_value": "7"}


def test_each_rendering_of_a_card_has_fresh_nonces_and_they_come_back():
    form_card = card(form=EVERY_INPUT, buttons=(Button("start", "Start", "7"),))
    first, again = actions(render(form_card)), actions(render(form_card))
    assert {a["data"]["_sd_once"] for a in first}.isdisjoint(a["data"]["_sd_once"] for a in again)
    for a in first:
        assert read_submission(a["data"]).nonce == a["data"]["_sd_once"]


def test_a_changed_origin_is_refused():
    submit = actions(render(card(form=EVERY_INPUT), origin="19:asked-here@thread.tacv2"))[0]["data"]
    assert read_submission(submit).origin == "19:asked-here@thread.tacv2"
    elsewhere = submit | {"_sd_origin": "19:everyone@thread.tacv2"}
    assert read_submission(elsewhere) is None
    assert read_submission(submit | {"_sd_value": "8:x"}) is None  # the signature names its form too
    unsigned = {"_sd": "button", "_sd_name": "reconvene", "_sd_value": "7", "_sd_origin": "19:x"}
    assert read_submission(unsigned) is None


def test_more_buttons_than_teams_shows_in_a_row_go_into_rows_of_six():
    content = render(card(buttons=tuple(Button(f"b{i}", f"B{i}", str(i)) for i in range(8))))
    assert "actions" not in content
    rows = [b["actions"] for b in content["body"] if b["type"] == "ActionSet"]
    assert [len(r) for r in rows] == [6, 2] and card_problems(content) == []


def test_what_an_action_sends_back_becomes_the_turn():
    inputs = {"ref": "LL-2", "people": "2,5", "flags": "", "risk": "yes", "msteams": {"type": "x"}}
    data = {
        "_sd": "form",
        "_sd_name": "everything",
        "_sd_value": "7:x",
        "_sd_multi": ["flags", "people"],
        "_sd_origin": "19:c",
        "_sd_sig": sign_origin("form", "everything", "7:x", "19:c"),
    }
    got = read_submission(
        data | inputs
    )  # the same from Action.Execute's action.data and Action.Submit's value
    assert (got.kind, got.name, got.value, got.origin) == (TurnKind.FORM, "everything", "7:x", "19:c")
    assert got.fields == {"ref": "LL-2", "people": ["2", "5"], "flags": [], "risk": "yes"}
    button = read_submission({"_sd": "button", "_sd_name": "accept", "_sd_value": "7:3"})
    assert (button.kind, button.name, button.value, button.fields) == (TurnKind.BUTTON, "accept", "7:3", {})
    for foreign in ({"key": "value"}, {"_sd": "form"}, {"_sd": "other", "_sd_name": "x"}, "text", None):
        assert read_submission(foreign) is None


@pytest.mark.parametrize(
    "neutral_text, teams_text",
    [
        ("*Decision:* S47", "**Decision:** S47"),
        ("_italic_ and *bold*", "_italic_ and **bold**"),
        ("line one\nline two", "line one\n\nline two"),
        ("*Required*\n- [x] Police\n- [ ] Health", "**Required**\n\n- [x] Police\n- [ ] Health"),
        ("2 * 3 * 4", "2 * 3 * 4"),
    ],
)
def test_the_neutral_markdown_becomes_teams_markdown(neutral_text, teams_text):
    assert markdown(neutral_text) == teams_text


def test_a_long_card_is_split_and_a_card_updated_in_place_is_shortened_each_under_80_kb():
    text = "\n".join(f"Paragraph {i}: " + "é" * 300 for i in range(400))  # about 250 KB in UTF-8
    long_card = card(text=text, buttons=(Button("ack", "Acknowledge", "1"),), facts=(("Case", "LL-1"),))
    assert size_of(render(long_card)) > 200_000
    parts = fit(long_card)
    assert len(parts) > 3 and all(size_of(p) < 80_000 and card_problems(p) == [] for p in parts)
    assert [bool(p.get("actions")) for p in parts] == [False] * (len(parts) - 1) + [True]
    assert "".join(p["body"][1]["text"] for p in parts).count("Paragraph") == 400
    one = fit_one(long_card)
    assert size_of(one) < 80_000 and "Shortened to fit in Teams" in json.dumps(one, ensure_ascii=False)
    assert one.get("actions")


def test_the_neutral_notice_carries_no_case_details():
    detailed = card(
        title="Strategy discussion LL-1",
        text="Bruising seen at school",
        facts=(("Concern", "Bruising"),),
        preview="Strategy discussion LL-1",
        key="discussion:1",
        buttons=(Button("start", "Start", "1"),),
    )
    notice = neutral(detailed)
    rendered = json.dumps(render(notice))
    assert "Bruising" not in rendered and "LL-1" in rendered and notice.key == "discussion:1"
    assert not notice.buttons and not notice.facts


def test_origin_signatures_hold_across_server_copies_sharing_the_app_password():
    from bot.teams import cards

    before = cards._ORIGIN_KEY
    try:
        cards.use_shared_key("app-password")
        first_copy = cards.sign_origin("form", "convene", "", "19:channel@thread.tacv2")
        cards._ORIGIN_KEY = b"another process's random key"
        cards.use_shared_key("app-password")
        assert cards.sign_origin("form", "convene", "", "19:channel@thread.tacv2") == first_copy
        cards.use_shared_key("another-password")
        assert cards.sign_origin("form", "convene", "", "19:channel@thread.tacv2") != first_copy
    finally:
        cards._ORIGIN_KEY = before
