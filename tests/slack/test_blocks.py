"""Cards, forms and the App Home as Block Kit: built with slack_sdk.models and within Slack's limits."""

import json

import pytest

from bot.slack import blocks, modals
from dialogs.model import Button, Card, Form, Input, InputKind, Option, Target, TargetKind
from tests.conftest import CONFORMANCE
from tests.slack import limits
from tests.slack.conftest import state_of

MAIN = Target(TargetKind.MAIN_POST, discussion_id=1)
SECRET = "Child disclosed bruising to teacher"  # case detail: must never reach a notification


def _types(body: list[dict]) -> list[str]:
    return [b["type"] for b in body]


def test_card_becomes_header_text_fields_and_buttons():
    card = Card(
        target=MAIN,
        title="Strategy discussion: ABC-123",
        text=f"*Concern*\n{SECRET}\n- first point\n- second point",
        facts=(("Chair", "Dana Duty"), ("Meeting by", "Tue 14:00")),
        buttons=(Button("accept", "Accept", "7", "primary"), Button("decline", "Decline", "7", "danger")),
        preview="ABC-123: meeting by Tue 14:00",
    )
    text, body = blocks.message(card)
    assert text == "ABC-123: meeting by Tue 14:00"  # the notification shows the preview only
    assert SECRET not in text
    assert _types(body) == ["header", "section", "section", "actions"]
    assert body[0]["text"] == {"type": "plain_text", "text": "Strategy discussion: ABC-123", "emoji": False}
    assert body[1]["text"]["type"] == "mrkdwn"
    assert "• first point\n• second point" in body[1]["text"]["text"]
    assert body[2]["fields"][0]["text"] == "*Chair*\nDana Duty"
    accept, decline = body[3]["elements"]
    assert (accept["action_id"], blocks.unstamp(accept["value"])[0], accept["style"]) == (
        "d:0:accept",
        "7",
        "primary",
    )
    assert (decline["action_id"], decline["style"]) == ("d:1:decline", "danger")
    # Each button carries its own one-time nonce (the Turn's event_id), so a double click acts once.
    nonces = {blocks.unstamp(accept["value"])[1], blocks.unstamp(decline["value"])[1]}
    assert None not in nonces and len(nonces) == 2
    assert blocks.unstamp("7") == ("7", None)  # a button sent before nonces still works
    assert (
        blocks.ENGINE_ACTION.match(accept["action_id"])
        and blocks.engine_action(accept["action_id"]) == "accept"
    )
    assert limits.block_problems(body, "card", limits.MESSAGE_BLOCKS) == []


def test_a_card_without_preview_notifies_neutrally():
    text, _ = blocks.message(Card(target=MAIN, title=f"About {SECRET}", text=SECRET))
    assert text == blocks.NEUTRAL_PREVIEW


def test_typed_text_cannot_mention_channel_or_people():
    card = Card(target=MAIN, title="t", text="<!channel> look & see <@U123> <https://evil.example|click>")
    _, body = blocks.message(card)
    shown = body[1]["text"]["text"]
    assert "<" not in shown and ">" not in shown
    assert shown.startswith("&lt;!channel&gt; look &amp; see &lt;@U123&gt;")


def test_long_cards_are_split_and_shortened_within_limits():
    long_line = "word " * 1500  # 7,500 characters on one line
    facts = tuple((f"Fact {i}", "v" * 2500) for i in range(23))
    card = Card(
        target=MAIN,
        title="T" * 400,
        text="\n".join([long_line] + [f"line {i} " + "x" * 200 for i in range(800)]),
        facts=facts,
        buttons=tuple(Button(f"a{i}", f"Button {i} " + "b" * 100, str(i)) for i in range(30)),
    )
    _, body = blocks.message(card)
    assert len(body) == limits.MESSAGE_BLOCKS
    assert limits.block_problems(body, "long card", limits.MESSAGE_BLOCKS) == []
    assert body[0]["text"]["text"].endswith("…") and len(body[0]["text"]["text"]) == 150
    # The buttons survive shortening, split into actions blocks of at most 25.
    actions = [b for b in body if b["type"] == "actions"]
    assert [len(a["elements"]) for a in actions] == [25, 5]
    assert any(b["type"] == "context" and "Shortened" in b["elements"][0]["text"] for b in body)


def test_no_text_is_lost_when_it_fits():
    text = "\n".join(f"paragraph {i}: " + "y" * 900 for i in range(10))  # about 9,000 characters
    _, body = blocks.message(Card(target=MAIN, title="Record", text=text))
    shown = "\n".join(b["text"]["text"] for b in body if b["type"] == "section")
    assert shown == text
    assert all(len(b["text"]["text"]) <= 3000 for b in body if b["type"] == "section")


def _form() -> Form:
    people = tuple(Option(str(i), f"Person {i}") for i in (11, 12, 13))
    return Form(
        id="convene",
        title="Convene a strategy discussion",
        submit_label="Convene",
        context="42",
        inputs=(
            Input(
                "case_ref",
                "Case reference",
                InputKind.SHORT_TEXT,
                required=True,
                max_length=64,
                value="ABC-1",
            ),
            Input(
                "concern",
                "The concern",
                InputKind.LONG_TEXT,
                required=True,
                max_length=5000,
                hint="No names needed",
            ),
            Input("day", "Date", InputKind.DATE, value="2026-03-29"),
            Input("at", "Time", InputKind.TIME, value="14:30"),
            Input(
                "category",
                "Category",
                InputKind.CHOICE,
                options=(Option("neglect", "Neglect"), Option("physical", "Physical abuse")),
                value="neglect",
            ),
            Input(
                "flags",
                "Flags",
                InputKind.MULTI_CHOICE,
                options=(Option("injury", "Possible injury"), Option("medical", "Medical")),
                value=["medical"],
            ),
            Input(
                "many",
                "Agencies",
                InputKind.MULTI_CHOICE,
                options=tuple(Option(f"a{i}", f"Agency {i}") for i in range(12)),
            ),
            Input("invitees", "Invite", InputKind.PEOPLE, options=people, value=["12"]),
            Input("anyone", "Someone else", InputKind.PEOPLE),
            Input(
                "risk", "Immediate risk?", InputKind.YES_NO, required=True, value="no", error="Please answer"
            ),
        ),
    )


def test_every_input_kind_has_its_element():
    card = Card(target=Target(TargetKind.EPHEMERAL), title="Convene a strategy discussion", form=_form())
    view = modals.form_view(card, private_metadata=modals.metadata(f="convene", c="42"))
    assert limits.view_problems(view, "modal") == []
    assert view["title"]["text"] == "Strategy discussion"  # 29 characters do not fit a modal title
    assert view["blocks"][0] == {
        "type": "header",
        "text": {"type": "plain_text", "text": "Convene a strategy discussion"},
    }
    inputs = {b["block_id"]: b for b in view["blocks"] if b["type"] == "input"}
    element = {k: v["element"] for k, v in inputs.items()}
    assert {k: e["type"] for k, e in element.items()} == {
        "case_ref": "plain_text_input",
        "concern": "plain_text_input",
        "day": "datepicker",
        "at": "timepicker",
        "category": "static_select",
        "flags": "checkboxes",
        "many": "multi_static_select",
        "invitees": "multi_static_select",
        "anyone": "multi_users_select",
        "risk": "radio_buttons",
    }
    assert element["concern"]["multiline"] is True and element["concern"]["max_length"] == 3000
    assert element["case_ref"]["initial_value"] == "ABC-1"
    assert element["day"]["initial_date"] == "2026-03-29" and element["at"]["initial_time"] == "14:30"
    assert element["category"]["initial_option"]["value"] == "neglect"
    assert [o["value"] for o in element["flags"]["initial_options"]] == ["medical"]
    # People are offered by our directory's person ids, so a submission needs no lookup.
    assert [o["value"] for o in element["invitees"]["options"]] == ["11", "12", "13"]
    assert [o["value"] for o in element["risk"]["options"]] == ["yes", "no"]
    assert inputs["case_ref"]["optional"] is False and inputs["day"]["optional"] is True
    assert inputs["concern"]["hint"]["text"] == "No names needed"
    # An error from the engine is shown next to its input.
    risk_at = [b.get("block_id") for b in view["blocks"]].index("risk")
    assert (
        view["blocks"][risk_at - 1]["type"] == "context"
        and "Please answer" in view["blocks"][risk_at - 1]["elements"][0]["text"]
    )
    assert json.loads(view["private_metadata"]) == {"f": "convene", "c": "42"}


def test_submitted_values_come_back_as_turn_fields():
    card = Card(target=Target(TargetKind.EPHEMERAL), title="x", form=_form())
    view = modals.form_view(card, private_metadata="{}")
    state = state_of(
        view, {"concern": "A concern", "many": ["a1", "a3"], "anyone": ["U0POLICE"], "day": "", "risk": "yes"}
    )
    fields, users = modals.submitted_values(state)
    assert fields == {
        "case_ref": "ABC-1",
        "concern": "A concern",
        "day": "",
        "at": "14:30",
        "category": "neglect",
        "flags": ["medical"],
        "many": ["a1", "a3"],
        "invitees": ["12"],
        "risk": "yes",
    }
    assert users == {"anyone": ["U0POLICE"]}


def test_a_whole_directory_is_offered_in_searchable_groups():
    people = tuple(Option(str(i), f"{chr(65 + i % 26)}erson {i}") for i in range(260))
    card = Card(
        target=Target(TargetKind.EPHEMERAL),
        title="Invite",
        form=Form(
            id="invite",
            title="Invite",
            inputs=(
                Input("people", "Who", InputKind.PEOPLE, options=people, value=["7", "200"]),
                Input("owner", "Owner", InputKind.CHOICE, options=people, value="42"),
            ),
        ),
    )
    view = modals.form_view(card, private_metadata="{}")
    assert limits.view_problems(view, "big directory") == []
    picker, owner = (b["element"] for b in view["blocks"] if b["type"] == "input")
    assert "options" not in picker and [len(g["options"]) for g in picker["option_groups"]] == [100, 100, 60]
    offered = [o["value"] for g in picker["option_groups"] for o in g["options"]]
    assert sorted(offered, key=int) == [str(i) for i in range(260)]  # nobody left out
    assert [g["label"]["text"] for g in picker["option_groups"]] == ["A–J", "K–T", "U–Z"]
    assert sorted(o["value"] for o in picker["initial_options"]) == ["200", "7"]
    assert owner["type"] == "static_select" and owner["initial_option"]["value"] == "42"
    fields, _ = modals.submitted_values(state_of(view, {"people": ["3", "250"]}))
    assert fields["people"] == ["3", "250"] and fields["owner"] == "42"


def test_forms_that_cannot_fit_a_modal_are_refused_loudly():
    too_many = Form(
        id="f",
        title="t",
        inputs=(
            Input("c", "C", InputKind.CHOICE, options=tuple(Option(str(i), str(i)) for i in range(10_001))),
        ),
    )
    with pytest.raises(ValueError, match="at most 10,000"):
        modals.form_view(
            Card(target=Target(TargetKind.EPHEMERAL), title="t", form=too_many), private_metadata="{}"
        )
    eleven = Input("m", "M", InputKind.MULTI_CHOICE, options=tuple(Option(str(i), str(i)) for i in range(11)))
    assert modals.input_element(eleven).type == "multi_static_select"  # too many for checkboxes
    with pytest.raises(ValueError, match="too long"):
        modals.metadata(f="f", c="x" * 3000)


def test_home_view_and_info_view_are_valid():
    due = [Card(target=Target(TargetKind.EPHEMERAL), title="ABC-1: record due", facts=(("Due", "Wed"),))]
    home = blocks.home_view("Dana <Duty>", [("Due for you", due), ("Your discussions", [])])
    assert home["type"] == "home" and "submit" not in home
    assert limits.view_problems(home, "home") == []
    assert "Dana &lt;Duty&gt;" in home["blocks"][1]["elements"][0]["text"]
    info = modals.info_view("Done", due)
    assert limits.view_problems(info, "info") == [] and "submit" not in info


def test_chair_alert_offers_confirmation_only_for_outsiders():
    body = blocks.chair_alert_blocks(
        "ABC-1",
        "C0TEAM",
        [
            ("U1", "a guest account", "Gus Guest", False),
            ("U2", "from another organisation", "Pat Police", True),
        ],
        9,
    )
    assert limits.block_problems(body, "alert", limits.MESSAGE_BLOCKS) == []
    labels = [(e["text"]["text"], e["action_id"], e["value"]) for e in body[-1]["elements"]]
    assert labels == [
        ("Confirm Pat Police", "slack:confirm:1", "9|U2"),
        ("Check again and post", "slack:recheck", "9"),
    ]


def test_skeleton_payloads_with_every_known_field_are_tolerated():
    """The Java SDK's shape samples carry every field Slack has sent; none of them trips the parser."""
    skeleton = json.loads(
        (CONFORMANCE / "slack/java-sdk-shape-samples/ViewSubmissionPayload.json").read_text()
    )
    assert modals.submitted_values(skeleton["view"]["state"].get("values") or {}) == ({}, {})
    assert modals.read_metadata(skeleton["view"]["private_metadata"]) == {}
    assert modals.read_metadata("not json") == {} and modals.read_metadata('"a string"') == {}
