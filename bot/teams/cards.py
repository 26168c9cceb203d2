"""Neutral Cards as Adaptive Cards 1.5 for Teams, and card submissions back into Turn parts.

Every action is an `Action.Execute` (Universal Actions) with an `Action.Submit` fallback carrying the
same data, and the bot accepts both: Execute is unreliable on phones, so a Submit must always work.
The data names what was pressed (`_sd`, `_sd_name`, `_sd_value`); a form's inputs arrive beside it.

- `_sd_once`: a nonce fresh for each rendered action, the Turn's event id, so a double click (each
  click is a new Teams activity with a new id) is handled once.
- `_sd_origin`: the channel a form was asked for in (the discussion it convenes is posted there). The
  client sends it back, so it is signed (`_sd_sig`, an HMAC) and a changed one is refused. The key
  derives from MICROSOFT_APP_PASSWORD when set (shared by every server copy, stable across restarts);
  otherwise (certificate or local development) it is made at each start.
"""

import hashlib
import hmac
import json
import re
import secrets
from dataclasses import dataclass, field, replace
from typing import Any

from microsoft_teams.cards import (
    ActionSet,
    AdaptiveCard,
    Choice,
    ChoiceSetInput,
    DateInput,
    ExecuteAction,
    Fact,
    FactSet,
    SubmitAction,
    TeamsCardProperties,
    TextBlock,
    TextInput,
    TimeInput,
)

from dialogs.model import Button, Card, Form, Input, InputKind, Option, TurnKind

CONTENT_TYPE = "application/vnd.microsoft.card.adaptive"
SCHEMA = "http://adaptivecards.io/schemas/adaptive-card.json"
MAX_CARD_BYTES = 80_000  # Teams refuses messages over about 100 KB; stay well under
MAX_ACTIONS = 6  # Teams' host config shows at most six actions in a row
YES_NO = (Option("yes", "Yes"), Option("no", "No"))

_ORIGIN_KEY = secrets.token_bytes(32)  # until use_shared_key: see the module docstring


def use_shared_key(secret: str) -> None:
    """Sign origins under a key derived from a secret every server copy shares (the app password),
    so a card rendered by one copy can be submitted to another, and survives a restart."""
    global _ORIGIN_KEY
    _ORIGIN_KEY = hmac.new(secret.encode(), b"strategy-bot teams card origin", hashlib.sha256).digest()


_BOLD = re.compile(r"(?<![*\w])\*(?=\S)([^*\n]+?)(?<=\S)\*(?![*\w])")


@dataclass(frozen=True)
class Submission:
    """What a card action sent back: the parts of a BUTTON or FORM Turn, and where a form came from."""

    kind: TurnKind
    name: str
    value: str
    fields: dict[str, Any] = field(default_factory=dict)
    origin: str = ""  # the channel or chat where the command that opened the form was given
    nonce: str = ""  # the rendered action's one-time nonce ("" on cards from before nonces)


def markdown(text: str) -> str:
    """The neutral markdown subset (*bold*, _italic_, "- " bullets, line breaks) in Teams' dialect."""
    text = _BOLD.sub(r"**\1**", text)
    lines = text.split("\n")
    out = lines[:1]
    for before, line in zip(lines, lines[1:], strict=False):
        # A single newline does not break a line in a TextBlock, except between list items.
        out.append("\n" if before.startswith("- ") and line.startswith("- ") else "\n\n")
        out.append(line)
    return re.sub(r"\n{3,}", "\n\n", "".join(out)).strip()


def render(card: Card, *, origin: str = "") -> dict:
    """The Adaptive Card (as JSON-ready dict) for a neutral Card. `origin` rides along in form data."""
    body: list = []
    title = card.title or (card.form.title if card.form else "")
    if title:
        body.append(TextBlock(text=title, weight="Bolder", size="Medium", wrap=True, style="heading"))
    if card.text:
        body.append(TextBlock(text=markdown(card.text), wrap=True))
    if card.facts:
        body.append(FactSet(facts=[Fact(title=k, value=v) for k, v in card.facts]))
    actions = []
    if card.form is not None:
        if card.title and card.form.title and card.form.title != card.title:
            body.append(TextBlock(text=card.form.title, weight="Bolder", wrap=True))
        body.extend(_form_body(card.form))
        actions.append(_form_action(card.form, origin))
    actions.extend(_button_action(b, with_inputs=False) for b in card.buttons)
    if len(actions) <= MAX_ACTIONS:
        top = actions
    else:  # more than fit in one row: the rest go in rows of their own below the body
        top = []
        for i in range(0, len(actions), MAX_ACTIONS):
            body.append(ActionSet(actions=actions[i : i + MAX_ACTIONS]))
    adaptive = AdaptiveCard(
        version="1.5",
        body=body or [TextBlock(text=" ", wrap=True)],
        actions=top or None,
        msteams=TeamsCardProperties(width="full"),
    )
    return {"$schema": SCHEMA} | adaptive.model_dump(by_alias=True, exclude_none=True, mode="json")


def size_of(content: dict) -> int:
    """Bytes of the card as it goes over the wire (UTF-8 JSON)."""
    return len(json.dumps(content, ensure_ascii=False, separators=(",", ":")).encode())


def fit(card: Card, *, origin: str = "", limit: int = MAX_CARD_BYTES) -> list[dict]:
    """One or more Adaptive Cards, each under `limit` bytes.

    A long text is split over several cards ("part 1 of 3", ...), the last one carrying the facts,
    the form and the buttons. A card that is to be updated in place must stay one card: see `fit_one`.
    """
    content = render(card, origin=origin)
    if size_of(content) <= limit or not card.text:
        return [content]
    tail = replace(card, text="")
    room = limit - size_of(render(tail, origin=origin)) - 500
    chunks = _chunks(card.text, max(room // 3, 1000))  # a character can take up to 3 bytes in UTF-8
    parts = [replace(card, text=c, facts=(), form=None, buttons=()) for c in chunks[:-1]]
    parts.append(replace(card, text=chunks[-1]))
    n = len(parts)
    return [
        render(replace(p, title=f"{card.title} (part {i} of {n})".strip()), origin=origin)
        for i, p in enumerate(parts, 1)
    ]


def fit_one(card: Card, *, origin: str = "", limit: int = MAX_CARD_BYTES) -> dict:
    """A single card under `limit`: a text too long for it is shortened, saying so."""
    content = render(card, origin=origin)
    text = card.text
    while size_of(content) > limit and text:
        text = text[: len(text) * 3 // 4]
        note = "\n\n_(Shortened to fit in Teams: the full text is in the record.)_"
        content = render(replace(card, text=text + note), origin=origin)
    return content


def _chunks(text: str, size: int) -> list[str]:
    chunks, rest = [], text
    while len(rest) > size:
        cut = rest.rfind("\n", 0, size)
        cut = cut if cut > size // 2 else size
        chunks.append(rest[:cut])
        rest = rest[cut:].lstrip("\n")
    return [*chunks, rest]


# --- forms and buttons -------------------------------------------------------------------------


def _form_body(form: Form) -> list:
    items: list = []
    if form.error:
        items.append(TextBlock(text=form.error, color="Attention", wrap=True, weight="Bolder"))
    for inp in form.inputs:
        items.append(_input(inp))
        if inp.hint:
            items.append(TextBlock(text=inp.hint, is_subtle=True, size="Small", wrap=True, spacing="None"))
        if inp.error:
            items.append(TextBlock(text=inp.error, color="Attention", wrap=True, spacing="None"))
    return items


def _input(inp: Input):
    common = {"id": inp.id, "label": inp.label, "is_required": inp.required or None}
    if inp.required:
        common["error_message"] = "Please fill this in." if _is_text(inp) else "Please answer this."
    value = inp.value
    match inp.kind:
        case InputKind.SHORT_TEXT | InputKind.LONG_TEXT:
            return TextInput(
                **common,
                is_multiline=inp.kind == InputKind.LONG_TEXT or None,
                max_length=inp.max_length,
                value=None if value in (None, "") else str(value),
            )
        case InputKind.DATE:
            return DateInput(**common, value=str(value) if value else None)
        case InputKind.TIME:
            return TimeInput(**common, value=str(value) if value else None)
        case InputKind.YES_NO:
            return _choice_set(common, inp.options or YES_NO, value, multi=False, expanded=True)
        case InputKind.CHOICE:
            return _choice_set(common, inp.options, value, multi=False, expanded=len(inp.options) <= 5)
        case InputKind.MULTI_CHOICE | InputKind.PEOPLE:
            return _choice_set(common, inp.options, value, multi=True, expanded=len(inp.options) <= 6)
    raise ValueError(f"no Teams input for {inp.kind}")


def _is_text(inp: Input) -> bool:
    return inp.kind in (InputKind.SHORT_TEXT, InputKind.LONG_TEXT)


def _choice_set(common: dict, options, value, *, multi: bool, expanded: bool) -> ChoiceSetInput:
    if isinstance(value, list | tuple):
        value = ",".join(str(v) for v in value)
    return ChoiceSetInput(
        **common,
        choices=[Choice(title=o.label, value=o.value) for o in options],
        is_multi_select=multi or None,
        style="expanded" if expanded else "compact",
        wrap=True,
        value=None if value in (None, "") else str(value),
    )


def _form_action(form: Form, origin: str) -> ExecuteAction:
    multi = [i.id for i in form.inputs if i.kind in (InputKind.MULTI_CHOICE, InputKind.PEOPLE)]
    data: dict[str, Any] = {"_sd": "form", "_sd_name": form.id, "_sd_value": form.context}
    if multi:
        data["_sd_multi"] = multi
    if origin:
        data["_sd_origin"] = origin
        data["_sd_sig"] = sign_origin("form", form.id, form.context, origin)
    data["_sd_once"] = secrets.token_urlsafe(8)
    return _execute(form.submit_label, "form", data, with_inputs=True)


def _button_action(button: Button, *, with_inputs: bool) -> ExecuteAction:
    data = {
        "_sd": "button",
        "_sd_name": button.action,
        "_sd_value": button.value,
        "_sd_once": secrets.token_urlsafe(8),
    }
    return _execute(button.label, "button", data, with_inputs=with_inputs)


def sign_origin(kind: str, name: str, value: str, origin: str) -> str:
    """The HMAC binding a form's origin to that form, under this process's key."""
    message = "\x1f".join(("origin", kind, name, value, origin)).encode()
    return hmac.new(_ORIGIN_KEY, message, hashlib.sha256).hexdigest()[:32]


def _execute(title: str, verb: str, data: dict, *, with_inputs: bool) -> ExecuteAction:
    inputs = "auto" if with_inputs else "none"
    # Positive/destructive styles are not supported in Teams, so no style is set.
    return ExecuteAction(
        title=title,
        verb=verb,
        data=data,
        associated_inputs=inputs,
        fallback=SubmitAction(title=title, data=data, associated_inputs=inputs),
    )


# --- submissions --------------------------------------------------------------------------------


def is_ours(data: Any) -> bool:
    """Whether card data claims to come from one of our cards (valid or not)."""
    return isinstance(data, dict) and data.get("_sd") in ("button", "form")


def read_submission(data: Any) -> Submission | None:
    """The Turn parts in an Action.Submit value or an Action.Execute `action.data`; None if not ours,
    or if its origin is not one this process signed for it (changed, or from before a restart)."""
    if not is_ours(data):
        return None
    name = data.get("_sd_name")
    if not isinstance(name, str) or not name:
        return None
    value = str(data.get("_sd_value") or "")
    origin = str(data.get("_sd_origin") or "")
    expected = sign_origin(data["_sd"], name, value, origin)
    if origin and not hmac.compare_digest(expected, str(data.get("_sd_sig") or "")):
        return None
    nonce = data.get("_sd_once")
    nonce = nonce if isinstance(nonce, str) and 0 < len(nonce) <= 64 else ""
    if data["_sd"] == "button":
        return Submission(TurnKind.BUTTON, name, value, origin=origin, nonce=nonce)
    multi = data.get("_sd_multi") if isinstance(data.get("_sd_multi"), list) else []
    fields: dict[str, Any] = {}
    for key, raw in data.items():
        if key.startswith("_sd") or key == "msteams":
            continue
        if key in multi:
            parts = raw if isinstance(raw, list) else str(raw or "").split(",")
            fields[key] = [str(p).strip() for p in parts if str(p).strip()]
        elif isinstance(raw, str | int | float | bool):
            fields[key] = str(raw)
    return Submission(TurnKind.FORM, name, value, fields, origin=origin, nonce=nonce)


def neutral(card: Card) -> Card:
    """What stands in for case details where not everyone present may see them."""
    text = "The details are shared only with the people taking part in this strategy discussion."
    if card.preview:
        text = f"{card.preview}\n\n{text}"
    return Card(
        target=card.target, title="Strategy discussion", text=text, key=card.key, preview=card.preview
    )
