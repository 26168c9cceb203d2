"""Cards to Block Kit: messages and the App Home tab, built with slack_sdk.models (modals: modals.py).

Every limit in PLATFORMS.md is kept here, by splitting long text and shortening labels, so a card
never fails on Slack's side. `to_dict()` on the models runs slack_sdk's own validators as well.
Phone-friendly: a header, short sections, facts as two-column fields, buttons; no number inputs.
"""

import re
import secrets

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    ContextBlock,
    DividerBlock,
    HeaderBlock,
    MarkdownTextObject,
    PlainTextObject,
    SectionBlock,
)
from slack_sdk.models.views import View

from dialogs.model import Button, Card

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
