"""The playground's HTML renderer, with hand-made cards: escaping, every input kind, errors, kept values."""

from datetime import date, time
from html.parser import HTMLParser

from bot.playground.render import Ctx, card, field, form, inline, markdown
from dialogs.model import Button, Card, Form, Input, InputKind, Option, Target, TargetKind

CTX = Ctx(csrf="CSRF", back="/", mint=lambda kind, name, value: f"nonce{kind}.sig")
OPTIONS = (Option("a", "Apple"), Option("b", "Banana <b>"), Option("c", "Cherry"))


class Elements(HTMLParser):
    """Every start tag with its attributes, and the text, so tests look at structure, not spelling."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict]] = []
        self.text: list[str] = []
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data):
        self.text.append(data)

    def find(self, tag: str, **attrs) -> list[dict]:
        return [a for t, a in self.tags if t == tag and all(a.get(k) == v for k, v in attrs.items())]


def test_markdown_subset():
    assert inline("*bold* and _italic_") == "<strong>bold</strong> and <em>italic</em>"
    assert markdown("one\ntwo\n\nthree") == "<p>one<br>two</p><p>three</p>"
    assert markdown("Needed:\n- police\n- *health*") == (
        "<p>Needed:</p><ul><li>police</li><li><strong>health</strong></li></ul>"
    )


def test_markdown_leaves_identifiers_and_arithmetic_alone():
    assert inline("case_ref_1 and 2 * 3 * 4") == "case_ref_1 and 2 * 3 * 4"
    assert inline("snake_case_name") == "snake_case_name"


def test_everything_is_escaped_before_markup():
    html = markdown('<script>alert("x")</script> *<img src=x onerror=alert(1)>*\n- <b>&amp;</b>')
    assert "<script" not in html and "<img" not in html and "<b>" not in html
    assert "&lt;script&gt;" in html and "&amp;amp;" in html
    assert "<strong>&lt;img src=x onerror=alert(1)&gt;</strong>" in html


def test_card_escapes_title_facts_buttons_and_form():
    c = Card(
        target=Target(TargetKind.MAIN_POST, discussion_id=1),
        title="<i>Case</i> & co",
        text="Concern: <u>x</u>",
        facts=(("<Label>", "<value>"),),
        buttons=(Button("accept", 'Accept "now"', value='1"><script>', style="primary"),),
        form=Form("f<1>", "Title <t>", (Input("x", "X <y>", InputKind.SHORT_TEXT, value='"><script>'),)),
    )
    html = card(c, CTX)
    assert "<i>" not in html and "<u>" not in html and "<script>" not in html and "<Label>" not in html
    doc = Elements(html)
    assert doc.find("input", name="value")[0]["value"] == '1"><script>'  # round-trips exactly
    assert doc.find("input", name="in.x")[0]["value"] == '"><script>'
    assert doc.find("input", name="form_id")[0]["value"] == "f<1>"
    assert "<i>Case</i> & co" in "".join(doc.text)


def test_button_posts_action_value_and_its_own_token():
    doc = Elements(
        card(
            Card(
                Target(TargetKind.DIRECT, person_id=3),
                "Invite",
                buttons=(
                    Button("accept", "Accept", "7", "primary"),
                    Button("decline", "Decline", "7", "danger"),
                ),
            ),
            CTX,
        )
    )
    forms = doc.find("form", action="/act/button")
    assert len(forms) == 2
    assert [a["value"] for a in doc.find("input", name="action")] == ["accept", "decline"]
    assert {a["value"] for a in doc.find("input", name="token")} == {"noncebutton.sig"}
    assert doc.find("input", name="csrf")[0]["value"] == "CSRF"
    assert doc.find("button", **{"class": "btn btn-primary"}) and doc.find(
        "button", **{"class": "btn btn-danger"}
    )


def _one(inp: Input) -> Elements:
    return Elements(field(inp, "p"))


def test_short_and_long_text_keep_the_value_and_show_the_error_beside_it():
    doc = _one(
        Input(
            "name",
            "Name",
            InputKind.SHORT_TEXT,
            required=True,
            value="Kept <text>",
            error="Please keep this under 10 characters.",
            max_length=10,
        )
    )
    control = doc.find("input", name="in.name")[0]
    assert control["type"] == "text" and control["value"] == "Kept <text>" and "required" in control
    assert control["aria-invalid"] == "true"
    assert "p-name-error" in control["aria-describedby"]
    assert doc.find("p", id="p-name-error", role="alert")
    assert "Please keep this under 10 characters." in "".join(doc.text)
    assert "at most 10 characters" in "".join(doc.text)
    assert doc.find("label", **{"for": "p-name"})

    long = Elements(field(Input("c", "Concern", InputKind.LONG_TEXT, value="line 1\nline <2>"), "p"))
    assert long.find("textarea", name="in.c") and "line 1\nline <2>" in "".join(long.text)


def test_date_and_time_inputs_take_strings_or_python_values():
    assert _one(Input("d", "Date", InputKind.DATE, value="2026-03-14")).find("input", type="date")[0][
        "value"
    ] == ("2026-03-14")
    assert (
        _one(Input("d", "Date", InputKind.DATE, value=date(2026, 3, 14))).find("input")[0]["value"]
        == "2026-03-14"
    )
    assert (
        _one(Input("t", "Time", InputKind.TIME, value=time(9, 5))).find("input", type="time")[0]["value"]
        == "09:05"
    )
    assert _one(Input("t", "Time", InputKind.TIME)).find("input", type="time")[0]["value"] == ""


def test_choice_is_a_select_with_the_kept_option_selected():
    doc = _one(Input("fruit", "Fruit", InputKind.CHOICE, required=True, options=OPTIONS, value="b"))
    assert doc.find("select", name="in.fruit")
    options = doc.find("option")
    assert [o["value"] for o in options] == ["a", "b", "c"]  # a kept required choice needs no blank
    assert [o["value"] for o in options if "selected" in o] == ["b"]
    assert "Banana <b>" in "".join(doc.text)
    blank = _one(Input("fruit", "Fruit", InputKind.CHOICE, options=OPTIONS))
    assert [o["value"] for o in blank.find("option")] == ["", "a", "b", "c"]


def test_multi_choice_and_people_are_checkboxes_with_kept_ticks():
    doc = _one(
        Input(
            "fruit",
            "Fruit",
            InputKind.MULTI_CHOICE,
            options=OPTIONS,
            value=["a", "c"],
            error="Please choose from the list.",
        )
    )
    boxes = doc.find("input", type="checkbox", name="list.fruit")
    assert [b["value"] for b in boxes] == ["a", "b", "c"]
    assert [b["value"] for b in boxes if "checked" in b] == ["a", "c"]
    assert doc.find("fieldset") and doc.find("legend") and doc.find("p", role="alert")

    people = _one(
        Input(
            "who", "Invite", InputKind.PEOPLE, options=(Option("4", "Pat"), Option("9", "Hari")), value=["9"]
        )
    )
    boxes = people.find("input", type="checkbox", name="list.who")
    assert [(b["value"], "checked" in b) for b in boxes] == [("4", False), ("9", True)]
    assert all(people.find("label", **{"for": b["id"]}) for b in boxes)  # every tick box has its label


def test_yes_no_is_a_pair_of_radios_keeping_the_answer():
    doc = _one(Input("risk", "Immediate risk?", InputKind.YES_NO, required=True, value="no"))
    radios = doc.find("input", type="radio", name="in.risk")
    assert [(r["value"], "checked" in r, "required" in r) for r in radios] == [
        ("yes", False, True),
        ("no", True, True),
    ]
    assert [
        r["value"]
        for r in _one(Input("r", "R", InputKind.YES_NO, value=True)).find("input")
        if "checked" in r
    ] == ["yes"]


def test_form_carries_its_id_context_error_and_a_token_for_exactly_that_form():
    minted = []

    def mint(kind, name, value):
        minted.append((kind, name, value))
        return "abc123.sig"

    f = Form(
        "decide",
        "Decision",
        (Input("reasons", "Reasons", InputKind.LONG_TEXT, required=True),),
        submit_label="Record",
        context="12",
        error="Please correct the marked answers.",
    )
    doc = Elements(form(f, Ctx(csrf="C", back="/discussions/12", mint=mint)))
    assert minted == [("form", "decide", "12")]
    assert doc.find("form", action="/act/form", method="post")
    assert doc.find("input", name="context")[0]["value"] == "12"
    assert doc.find("input", name="back")[0]["value"] == "/discussions/12"
    assert doc.find("p", role="alert") and "Please correct the marked answers." in "".join(doc.text)
    assert doc.find("textarea", id="fabc123-reasons")  # ids unique per rendered form
    assert "Record" in "".join(doc.text)


def test_two_forms_with_the_same_input_ids_get_distinct_element_ids():
    counter = iter(range(100))
    ctx = Ctx(csrf="C", back="/", mint=lambda *a: f"n{next(counter)}.sig")
    f = Form("x", "X", (Input("a", "A", InputKind.YES_NO),))
    ids = [a["id"] for a in Elements(form(f, ctx) + form(f, ctx)).find("input", type="radio")]
    assert len(ids) == len(set(ids)) == 4
