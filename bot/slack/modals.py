"""Forms and notes as Slack modals: a Card's Form as input blocks within Block Kit's limits (each Input
kind to its element), the values Slack sends back, and the modal's private metadata."""

import json
from datetime import date, time

from slack_sdk.models.blocks import (
    Block,
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

from bot.slack.blocks import (
    CHOICE_BUTTONS,
    FORM_CALLBACK,
    HEADER_TEXT,
    INFO_CALLBACK,
    MODAL_TEXT,
    OPTION_GROUPS,
    OPTION_TEXT,
    PRIVATE_METADATA,
    SECTION_TEXT,
    SELECT_OPTIONS,
    TEXT_INPUT_MAX,
    VALUE,
    VIEW_BLOCKS,
    card_blocks,
    chunks,
    clip,
    fit,
    mrkdwn,
)
from dialogs.model import Card, Input, InputKind

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


def info_view(
    title: str,
    cards: list[Card] | None = None,
    *,
    text: str | None = None,
    private_metadata: str | None = None,
) -> dict:
    """A modal that only shows something (an answer, an explanation): no submit button. An answer
    that replaces a form in a stack keeps the stack's depth (and channel) in `private_metadata`: its
    buttons (e.g. "Decide for the others", one sibling after another) push the next form onto the
    same stack, and without the depth a fourth push would be refused by Slack (push_limit_reached)."""
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
        private_metadata=private_metadata,
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
