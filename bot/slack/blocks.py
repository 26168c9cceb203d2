"""Cards to Block Kit: messages, modals and the App Home tab, built with slack_sdk.models.

Every limit in PLATFORMS.md is kept here, by splitting long text and shortening labels, so a card
never fails on Slack's side. `to_dict()` on the models runs slack_sdk's own validators as well.
Phone-friendly: a header, short sections, facts as two-column fields, buttons; no number inputs.
"""

import json
import re
import secrets
from datetime import date, time

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    CheckboxesElement,
    ContextBlock,
    DatePickerElement,
    DividerBlock,
    HeaderBlock,
    InputBlock,
    MarkdownTextObject,
    Option,
    OptionGroup,
    PlainTextInputElement,
    PlainTextObject,
    RadioButtonsElement,
    SectionBlock,
    StaticMultiSelectElement,
    StaticSelectElement,
    TimePickerElement,
    UserMultiSelectElement,
)
from slack_sdk.models.views import View

from dialogs.model import Button, Card, Input, InputKind

MESSAGE_BLOCKS = 50
VIEW_BLOCKS = 100
SECTION_TEXT = 3000
FIELDS = 10
FIELD_TEXT = 2000
HEADER_TEXT = 150
MODAL_TEXT = 24  # title, submit and close
PRIVATE_METADATA = 3000
BUTTON_TEXT = 75
BUTTON_VALUE = 2000
OPTION_TEXT = 75
SELECT_OPTIONS = 100  # per select, or per option group
OPTION_GROUPS = 100
CHOICE_BUTTONS = 10  # checkboxes and radio buttons
ACTIONS_ELEMENTS = 25
TEXT_INPUT_MAX = 3000

ENGINE_ACTION = re.compile(r"^d:\d+:")  # action_id of a button that came from a Card
FORM_CALLBACK = "d:form"  # callback_id of every modal that holds a Form
INFO_CALLBACK = "d:info"  # a modal that only tells something
VALUE = "value"  # the action_id of the element inside each input block
# Slack's buttons and submissions carry no delivery id: each rendered button and form gets a one-time
# nonce, which becomes the Turn's event_id, so a double click or double submit acts once.
NONCE_BYTES = 16  # 22 characters
STAMPED = re.compile(r"^~([A-Za-z0-9_-]{22})~(.*)$", re.S)  # a button's value: ~<nonce>~<engine value>
NEUTRAL_PREVIEW = "Strategy discussion update"


def clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def mrkdwn(text: str) -> str:
    """The neutral markdown subset as Slack mrkdwn. *bold* and _italic_ are the same; "- " bullets
    become "•". &, < and > are escaped so that typed text can never mention @channel or a person."""
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return re.sub(r"(?m)^(\s*)- ", r"\1• ", text)


def chunks(text: str, limit: int) -> list[str]:
    """Split text into pieces of at most `limit` characters, at line ends where possible."""
    pieces: list[str] = []
    current = ""
    for line in text.split("\n"):
        while len(line) > limit:  # one very long line: cut it at a space
            cut = line.rfind(" ", 0, limit)
            cut = cut if cut > limit // 2 else limit
            if current:
                pieces.append(current)
                current = ""
            pieces.append(line[:cut])
            line = line[cut:].lstrip()
        candidate = f"{current}\n{line}" if current else line
        if len(candidate) > limit:
            pieces.append(current)
            current = line
        else:
            current = candidate
    if current.strip():
        pieces.append(current)
    return [p for p in pieces if p.strip()]


def nonce() -> str:
    return secrets.token_urlsafe(NONCE_BYTES)


def stamp(value: str) -> str:
    return f"~{nonce()}~{value}"


def unstamp(value: str) -> tuple[str, str | None]:
    """A button's value -> (the engine's value, its nonce); buttons sent before nonces have none."""
    found = STAMPED.match(value or "")
    return (found.group(2), found.group(1)) if found else (value or "", None)


def action_id(index: int, action: str) -> str:
    return f"d:{index}:{action}"


def engine_action(action_id_: str) -> str:
    """`d:3:accept` -> `accept`."""
    return action_id_.split(":", 2)[2]


# --- messages ---------------------------------------------------------------------------------


def card_blocks(card: Card, *, with_header: bool = True, limit: int = MESSAGE_BLOCKS) -> list[Block]:
    """A card's title, text, facts and buttons as blocks (a form is shown only in a modal)."""
    blocks: list[Block] = []
    if with_header and card.title:
        blocks.append(HeaderBlock(text=PlainTextObject(text=clip(card.title, HEADER_TEXT), emoji=False)))
    for piece in chunks(mrkdwn(card.text), SECTION_TEXT):
        blocks.append(SectionBlock(text=MarkdownTextObject(text=piece)))
    fields = [MarkdownTextObject(text=clip(f"*{mrkdwn(k)}*\n{mrkdwn(v)}", FIELD_TEXT)) for k, v in card.facts]
    for start in range(0, len(fields), FIELDS):
        blocks.append(SectionBlock(fields=fields[start : start + FIELDS]))
    blocks.extend(button_blocks(card.buttons))
    return fit(blocks, limit)


def button_blocks(buttons: tuple[Button, ...]) -> list[Block]:
    elements = [button(i, b) for i, b in enumerate(buttons)]
    return [
        ActionsBlock(elements=elements[start : start + ACTIONS_ELEMENTS])
        for start in range(0, len(elements), ACTIONS_ELEMENTS)
    ]


def button(index: int, b: Button) -> ButtonElement:
    value = stamp(b.value)
    if len(value) > BUTTON_VALUE:
        raise ValueError(f"button {b.action!r}: its value is longer than Slack allows ({BUTTON_VALUE})")
    return ButtonElement(
        text=PlainTextObject(text=clip(b.label, BUTTON_TEXT), emoji=False),
        action_id=action_id(index, b.action),
        value=value,
        style=b.style if b.style in ("primary", "danger") else None,
    )


def fit(blocks: list[Block], limit: int) -> list[Block]:
    """Keep within the block limit; say so when something had to be left out."""
    if len(blocks) <= limit:
        return blocks
    # Keep the buttons (the last actions blocks): they are how people act on the card.
    tail = [b for b in blocks if isinstance(b, ActionsBlock)]
    head = [b for b in blocks if not isinstance(b, ActionsBlock)][: limit - len(tail) - 1]
    note = ContextBlock(
        elements=[MarkdownTextObject(text="Shortened to fit Slack: the full text is in the record.")]
    )
    return head + [note] + tail


def message(card: Card) -> tuple[str, list[dict]]:
    """(notification text, blocks) for chat.postMessage / chat.update. The notification text is the
    card's preview (case reference and deadline only), never its body."""
    return notification_text(card), [b.to_dict() for b in card_blocks(card)]


def notification_text(card: Card) -> str:
    return clip(card.preview or NEUTRAL_PREVIEW, 3000)


def text_message(text: str, *, title: str | None = None) -> list[dict]:
    blocks: list[Block] = []
    if title:
        blocks.append(HeaderBlock(text=PlainTextObject(text=clip(title, HEADER_TEXT), emoji=False)))
    blocks += [SectionBlock(text=MarkdownTextObject(text=p)) for p in chunks(text, SECTION_TEXT)]
    return [b.to_dict() for b in fit(blocks, MESSAGE_BLOCKS)]


# --- modals -----------------------------------------------------------------------------------


def metadata(**values) -> str:
    """private_metadata: what a submission needs to be turned back into a Turn."""
    text = json.dumps({k: v for k, v in values.items() if v not in (None, "")}, separators=(",", ":"))
    if len(text) > PRIVATE_METADATA:
        raise ValueError("the form's context is too long for a Slack modal")
    return text


def read_metadata(text: str | None) -> dict:
    try:
        value = json.loads(text or "{}")
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def modal_title(title: str) -> str:
    return title if len(title) <= MODAL_TEXT else "Strategy discussion"


def form_view(card: Card, *, private_metadata: str, note: str | None = None) -> dict:
    """The card's form as a modal: the card's text and facts on top, one input block per input."""
    form = card.form
    assert form is not None
    blocks: list[Block] = []
    if len(form.title) > MODAL_TEXT or (card.title and card.title != form.title):
        blocks.append(HeaderBlock(text=PlainTextObject(text=clip(card.title or form.title, HEADER_TEXT))))
    if note:
        blocks.append(ContextBlock(elements=[MarkdownTextObject(text=clip(note, SECTION_TEXT))]))
    if form.error:
        blocks.append(
            SectionBlock(text=MarkdownTextObject(text=clip(f":warning: {mrkdwn(form.error)}", SECTION_TEXT)))
        )
    blocks += card_blocks(card, with_header=False, limit=VIEW_BLOCKS)
    for item in form.inputs:
        if item.error:
            text = clip(f":warning: {mrkdwn(item.error)}", SECTION_TEXT)
            blocks.append(ContextBlock(elements=[MarkdownTextObject(text=text)]))
        blocks.append(input_block(item))
    view = View(
        type="modal",
        callback_id=FORM_CALLBACK,
        title=PlainTextObject(text=modal_title(form.title)),
        submit=PlainTextObject(text=clip(form.submit_label, MODAL_TEXT)),
        close=PlainTextObject(text="Cancel"),
        private_metadata=private_metadata,
        blocks=blocks,
    )
    _check_view_blocks(blocks)
    return view.to_dict()


def info_view(title: str, cards: list[Card] | None = None, *, text: str | None = None) -> dict:
    """A modal that only shows something (an answer, an explanation): no submit button."""
    blocks: list[Block] = []
    if text:
        blocks += [SectionBlock(text=MarkdownTextObject(text=p)) for p in chunks(text, SECTION_TEXT)]
    for i, card in enumerate(cards or []):
        if i or text:
            blocks.append(DividerBlock())
        blocks += card_blocks(
            card, with_header=bool(card.title) and (i > 0 or card.title != title), limit=VIEW_BLOCKS
        )
    blocks = fit(blocks or [SectionBlock(text=MarkdownTextObject(text="Done."))], VIEW_BLOCKS)
    view = View(
        type="modal",
        callback_id=INFO_CALLBACK,
        title=PlainTextObject(text=modal_title(title)),
        close=PlainTextObject(text="Close"),
        blocks=blocks,
    )
    return view.to_dict()


def _check_view_blocks(blocks: list[Block]) -> None:
    if len(blocks) > VIEW_BLOCKS:
        raise ValueError(f"the form needs {len(blocks)} blocks; a Slack modal holds {VIEW_BLOCKS}")


def _options(item: Input, limit: int) -> list[Option]:
    if not item.options:
        raise ValueError(f"input {item.id!r} has no options to choose from")
    if len(item.options) > limit:
        raise ValueError(f"input {item.id!r} has {len(item.options)} options; Slack shows at most {limit}")
    return [
        Option(value=o.value, text=PlainTextObject(text=clip(o.label, OPTION_TEXT))) for o in item.options
    ]


def _select(item: Input) -> dict:
    """Options for a select menu. Up to 100 as they are; more (a council's whole directory) in
    alphabetical groups of 100, which Slack's select still lets people search by typing."""
    if len(item.options) <= SELECT_OPTIONS:
        options = _options(item, SELECT_OPTIONS)
        return {"options": options, "_all": options}
    ordered = sorted(item.options, key=lambda o: o.label.casefold())
    groups, everything = [], []
    for start in range(0, len(ordered), SELECT_OPTIONS):
        part = ordered[start : start + SELECT_OPTIONS]
        options = [Option(value=o.value, text=PlainTextObject(text=clip(o.label, OPTION_TEXT))) for o in part]
        label = f"{part[0].label[:1].upper()}–{part[-1].label[:1].upper()}"
        groups.append(OptionGroup(label=PlainTextObject(text=label), options=options))
        everything += options
    if len(groups) > OPTION_GROUPS:
        raise ValueError(f"input {item.id!r} has {len(item.options)} options; Slack shows at most 10,000")
    return {"option_groups": groups, "_all": everything}


def _initial(options: list[Option], values) -> list[Option]:
    wanted = [
        str(v) for v in (values if isinstance(values, list | tuple) else [values]) if v not in (None, "")
    ]
    return [o for o in options if o.value in wanted]


def _valid(value, parse) -> str | None:
    try:
        parse(str(value))
        return str(value)
    except (TypeError, ValueError):
        return None


def input_element(item: Input):
    """The Block Kit element for a neutral input kind."""
    kind = item.kind
    if kind in (InputKind.SHORT_TEXT, InputKind.LONG_TEXT):
        return PlainTextInputElement(
            action_id=VALUE,
            multiline=kind == InputKind.LONG_TEXT,
            initial_value=str(item.value) if item.value not in (None, "") else None,
            max_length=min(item.max_length, TEXT_INPUT_MAX) if item.max_length else None,
        )
    if kind == InputKind.DATE:
        initial = _valid(item.value, date.fromisoformat) if item.value else None
        return DatePickerElement(action_id=VALUE, initial_date=initial)
    if kind == InputKind.TIME:
        initial = _valid(item.value, time.fromisoformat) if item.value else None
        return TimePickerElement(action_id=VALUE, initial_time=initial[:5] if initial else None)
    if kind == InputKind.CHOICE:
        menu = _select(item)
        chosen = _initial(menu.pop("_all"), item.value)
        return StaticSelectElement(action_id=VALUE, initial_option=chosen[0] if chosen else None, **menu)
    if kind == InputKind.MULTI_CHOICE and len(item.options) <= CHOICE_BUTTONS:
        options = _options(item, CHOICE_BUTTONS)
        return CheckboxesElement(
            action_id=VALUE, options=options, initial_options=_initial(options, item.value) or None
        )
    if kind == InputKind.PEOPLE and not item.options:
        return UserMultiSelectElement(action_id=VALUE)  # anyone in the workspace: mapped to the directory
    if kind in (InputKind.MULTI_CHOICE, InputKind.PEOPLE):
        # PEOPLE options carry our directory's person ids, so the answer needs no lookup.
        menu = _select(item)
        chosen = _initial(menu.pop("_all"), item.value)
        return StaticMultiSelectElement(action_id=VALUE, initial_options=chosen or None, **menu)
    if kind == InputKind.YES_NO:
        labels = {o.value: o.label for o in item.options}
        options = [
            Option(value="yes", text=PlainTextObject(text=clip(labels.get("yes", "Yes"), OPTION_TEXT))),
            Option(value="no", text=PlainTextObject(text=clip(labels.get("no", "No"), OPTION_TEXT))),
        ]
        chosen = _initial(options, item.value)
        return RadioButtonsElement(
            action_id=VALUE, options=options, initial_option=chosen[0] if chosen else None
        )
    raise ValueError(f"no Slack element for input kind {kind!r}")


def input_block(item: Input) -> InputBlock:
    return InputBlock(
        block_id=item.id,
        label=PlainTextObject(text=clip(item.label, 2000)),
        element=input_element(item),
        optional=not item.required,
        hint=PlainTextObject(text=clip(item.hint, 2000)) if item.hint else None,
    )


def submitted_values(state: dict) -> tuple[dict, dict[str, list[str]]]:
    """A view's `state.values` as the fields of a FORM turn: strings, and lists for multi-valued
    inputs; and the Slack user ids picked in people inputs without options, by input id."""
    fields: dict = {}
    users: dict[str, list[str]] = {}
    for block_id, actions in (state or {}).items():
        element = (actions or {}).get(VALUE)
        if not isinstance(element, dict):
            continue
        kind = element.get("type")
        if kind == "plain_text_input":
            fields[block_id] = element.get("value") or ""
        elif kind == "datepicker":
            fields[block_id] = element.get("selected_date") or ""
        elif kind == "timepicker":
            fields[block_id] = element.get("selected_time") or ""
        elif kind in ("static_select", "radio_buttons"):
            fields[block_id] = (element.get("selected_option") or {}).get("value", "")
        elif kind in ("multi_static_select", "checkboxes"):
            fields[block_id] = [o.get("value", "") for o in element.get("selected_options") or []]
        elif kind == "multi_users_select":
            users[block_id] = list(element.get("selected_users") or [])
    return fields, users


# --- App Home ---------------------------------------------------------------------------------


def home_view(name: str, sections: list[tuple[str, list[Card]]]) -> dict:
    """The App Home tab: the viewer's due items and open discussions."""
    blocks: list[Block] = [HeaderBlock(text=PlainTextObject(text="Strategy discussions"))]
    blocks.append(ContextBlock(elements=[MarkdownTextObject(text=clip(f"For {mrkdwn(name)}", 2000))]))
    for heading, cards in sections:
        blocks.append(DividerBlock())
        blocks.append(SectionBlock(text=MarkdownTextObject(text=f"*{mrkdwn(heading)}*")))
        for card in cards:
            if card.title:
                blocks.append(
                    SectionBlock(text=MarkdownTextObject(text=clip(f"*{mrkdwn(card.title)}*", SECTION_TEXT)))
                )
            blocks += card_blocks(card, with_header=False, limit=VIEW_BLOCKS)
    blocks.append(
        ContextBlock(elements=[MarkdownTextObject(text="Type `/strategy help` for what I can do.")])
    )
    return View(type="home", blocks=fit(blocks, VIEW_BLOCKS)).to_dict()


# --- the bot's own messages (not from the engine) ---------------------------------------------

CONFIRM_ACTION = "slack:confirm"  # the chair vouches for an external professional
RECHECK_ACTION = "slack:recheck"  # the chair fixed the channel: check again and post
AGAIN_ACTION = "slack:again"  # Slack's trigger expired: run the same turn again with a fresh one

NEUTRAL_NOTICE = (
    "A strategy discussion is being arranged, but I will not post its details in this channel while "
    "it has members who are not part of the discussion. The chair has been told why."
)


def notice_blocks() -> list[dict]:
    return text_message(NEUTRAL_NOTICE)


def chair_alert_blocks(
    case_ref: str, channel: str, people: list[tuple[str, str, str, bool]], discussion_id: int
) -> list[dict]:
    """Tell the chair privately why details were held back. `people`: (Slack user id, reason, name,
    whether the chair may confirm them as an invited professional)."""
    lines = "\n".join(f"• <@{user}>: {mrkdwn(reason)}" for user, reason, _name, _ok in people)
    text = (
        f"I did not post the details of *{mrkdwn(case_ref)}* in <#{channel}>, because of who is in it:\n"
        f"{lines}\n\nRemove them from the channel (guests and other apps always have to go). If someone "
        "from another organisation is a professional you invited, confirm them below. Then press "
        "*Check again and post*."
    )
    blocks: list[Block] = [
        HeaderBlock(text=PlainTextObject(text=clip(f"Details held back: {case_ref}", HEADER_TEXT)))
    ]
    blocks += [SectionBlock(text=MarkdownTextObject(text=p)) for p in chunks(text, SECTION_TEXT)]
    buttons = [
        ButtonElement(
            text=PlainTextObject(text=clip(f"Confirm {name}", BUTTON_TEXT)),
            action_id=f"{CONFIRM_ACTION}:{i}",
            value=f"{discussion_id}|{user}",
        )
        for i, (user, _reason, name, ok) in enumerate(people)
        if ok
    ][: ACTIONS_ELEMENTS - 1]
    buttons.append(
        ButtonElement(
            text=PlainTextObject(text="Check again and post"),
            action_id=RECHECK_ACTION,
            value=str(discussion_id),
            style="primary",
        )
    )
    blocks.append(ActionsBlock(elements=buttons))
    return [b.to_dict() for b in fit(blocks, MESSAGE_BLOCKS)]


def again_blocks(text: str, value: str) -> list[dict]:
    blocks: list[Block] = [
        SectionBlock(text=MarkdownTextObject(text=clip(text, SECTION_TEXT))),
        ActionsBlock(
            elements=[
                ButtonElement(
                    text=PlainTextObject(text="Open it"), action_id=AGAIN_ACTION, value=value, style="primary"
                )
            ]
        ),
    ]
    return [b.to_dict() for b in blocks]


def link_blocks(link: str) -> list[dict]:
    """The message a discussion was started from, linked and never copied."""
    text = f"Started from <{link}|this message> (open it to read it; its text is not copied here)."
    return [ContextBlock(elements=[MarkdownTextObject(text=text)]).to_dict()]
