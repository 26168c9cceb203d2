"""Cards as HTML: pure functions from the neutral model to escaped markup.

Everything that comes from a card or a person is escaped first; only then is the small markdown
subset (*bold*, _italic_, line breaks, "- " bullets) turned into tags, so no text can add markup.
Every button and form posts back with a one-time token, which `mint` issues for what it will do.
"""

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, time
from html import escape
from typing import Any

from dialogs.model import Button, Card, Form, Input, InputKind, Option

# (kind, name, value) -> a one-time token that vouches for exactly that action.
Mint = Callable[[str, str, str], str]

# Form field names: scalar inputs post as "in.<id>", list inputs (any number of values) as "list.<id>".
SCALAR_PREFIX = "in."
LIST_PREFIX = "list."
LIST_KINDS = (InputKind.MULTI_CHOICE, InputKind.PEOPLE)
LISTS = "lists"  # the ids of a form's list inputs, so an empty one is sent as []
_YES_NO = (Option("yes", "Yes"), Option("no", "No"))


@dataclass(frozen=True)
class Ctx:
    """What every rendered control carries back: the session's CSRF token and the page to return to."""

    csrf: str
    back: str
    mint: Mint


def esc(value: Any) -> str:
    return escape("" if value is None else str(value), quote=True)


_BOLD = re.compile(r"(?<![\w*])\*(?=\S)([^*\n]+?)(?<=\S)\*(?![\w*])")
_ITALIC = re.compile(r"(?<![\w_])_(?=\S)([^_\n]+?)(?<=\S)_(?![\w_])")


def inline(text: str) -> str:
    """One line: escaped, then *bold* and _italic_ (only at word edges, so snake_case stays as it is)."""
    html = esc(text)
    html = _BOLD.sub(r"<strong>\1</strong>", html)
    return _ITALIC.sub(r"<em>\1</em>", html)


def markdown(text: str | None) -> str:
    """The markdown subset as HTML: paragraphs with line breaks, and "- " bullet lists."""
    blocks: list[str] = []
    lines: list[str] = []
    items: list[str] = []

    def flush() -> None:
        if lines:
            blocks.append("<p>" + "<br>".join(lines) + "</p>")
            lines.clear()
        if items:
            blocks.append("<ul>" + "".join(f"<li>{i}</li>" for i in items) + "</ul>")
            items.clear()

    for line in (text or "").replace("\r\n", "\n").split("\n"):
        stripped = line.strip()
        if stripped.startswith(("- ", "• ")):
            if lines:
                flush()
            items.append(inline(stripped[2:].strip()))
        elif not stripped:
            flush()
        else:
            if items:
                flush()
            lines.append(inline(stripped))
    flush()
    return "".join(blocks)


def _hidden(name: str, value: str) -> str:
    return f'<input type="hidden" name="{esc(name)}" value="{esc(value)}">'


def _common(ctx: Ctx, token: str) -> str:
    return _hidden("csrf", ctx.csrf) + _hidden("token", token) + _hidden("back", ctx.back)


def _style(style: str | None) -> str:
    return f" btn-{style}" if style in ("primary", "danger") else ""


def button(b: Button, ctx: Ctx) -> str:
    """A button is a small form of its own, so it works without any script."""
    token = ctx.mint("button", b.action, b.value)
    return (
        '<form method="post" action="/act/button" class="inline">'
        + _common(ctx, token)
        + _hidden("action", b.action)
        + _hidden("value", b.value)
        + f'<button type="submit" class="btn{_style(b.style)}">{esc(b.label)}</button></form>'
    )


def _text_value(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, time):
        return value.strftime("%H:%M")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, list | tuple | set):
        return ", ".join(str(v) for v in value)
    return str(value)


def _list_value(value: Any) -> set[str]:
    if value is None or value == "":
        return set()
    if isinstance(value, str):
        return {value}
    if isinstance(value, Iterable):
        return {str(v) for v in value}
    return {str(value)}


def _choices(inp: Input, dom_id: str, name: str, kind: str, chosen: set[str], described: str) -> str:
    """Radio buttons or checkboxes in a fieldset, the legend being the input's label."""
    boxes = []
    for n, opt in enumerate(inp.options):
        oid = f"{dom_id}-{n}"
        checked = " checked" if opt.value in chosen else ""
        required = " required" if inp.required and kind == "radio" else ""
        boxes.append(
            f'<label class="choice" for="{esc(oid)}"><input type="{kind}" id="{esc(oid)}" name="{esc(name)}"'
            f' value="{esc(opt.value)}"{checked}{required}{described}> {esc(opt.label)}</label>'
        )
    return "".join(boxes)


def field(inp: Input, dom_prefix: str) -> str:
    """One input as an HTML control with its label, hint, kept value and error beside it."""
    dom_id = f"{dom_prefix}-{inp.id}"
    is_list = inp.kind in LIST_KINDS
    name = (LIST_PREFIX if is_list else SCALAR_PREFIX) + inp.id
    hint_id, error_id = f"{dom_id}-hint", f"{dom_id}-error"
    hint = inp.hint or ""
    if inp.max_length and inp.kind in (InputKind.SHORT_TEXT, InputKind.LONG_TEXT):
        hint = f"{hint} (at most {inp.max_length} characters)".strip()
    described_ids = " ".join(i for i, present in ((hint_id, hint), (error_id, inp.error)) if present)
    described = f' aria-describedby="{esc(described_ids)}"' if described_ids else ""
    invalid = ' aria-invalid="true"' if inp.error else ""
    required = " required" if inp.required else ""
    marker = ' <span class="req" aria-hidden="true">*</span>' if inp.required else ""
    text = _text_value(inp.value)
    attrs = f'id="{esc(dom_id)}" name="{esc(name)}"{required}{described}{invalid}'

    grouped = inp.kind in (InputKind.MULTI_CHOICE, InputKind.PEOPLE, InputKind.YES_NO)
    if inp.kind == InputKind.SHORT_TEXT:
        control = f'<input type="text" {attrs} value="{esc(text)}">'
    elif inp.kind == InputKind.LONG_TEXT:
        control = f'<textarea {attrs} rows="4">{esc(text)}</textarea>'
    elif inp.kind == InputKind.DATE:
        control = f'<input type="date" {attrs} value="{esc(text)}">'
    elif inp.kind == InputKind.TIME:
        control = f'<input type="time" {attrs} value="{esc(text)}">'
    elif inp.kind == InputKind.CHOICE:
        options = ['<option value="">Choose…</option>'] if not text or not inp.required else []
        for opt in inp.options:
            selected = " selected" if opt.value == text else ""
            options.append(f'<option value="{esc(opt.value)}"{selected}>{esc(opt.label)}</option>')
        control = f"<select {attrs}>{''.join(options)}</select>"
    elif inp.kind == InputKind.YES_NO:
        yes_no = Input(id=inp.id, label=inp.label, kind=inp.kind, required=inp.required, options=_YES_NO)
        control = _choices(yes_no, dom_id, name, "radio", {text} if text else set(), described + invalid)
    else:  # MULTI_CHOICE and PEOPLE: any number of ticks
        control = _choices(inp, dom_id, name, "checkbox", _list_value(inp.value), described + invalid)
        if not inp.options:
            control = '<p class="hint">Nobody to choose from.</p>'

    hint_html = f'<p class="hint" id="{esc(hint_id)}">{esc(hint)}</p>' if hint else ""
    error_html = (
        f'<p class="error" id="{esc(error_id)}" role="alert">{esc(inp.error)}</p>' if inp.error else ""
    )
    css = "field has-error" if inp.error else "field"
    if grouped:
        return (
            f'<fieldset class="{css}"><legend>{esc(inp.label)}{marker}</legend>'
            f"{hint_html}{error_html}<div class='choices'>{control}</div></fieldset>"
        )
    return (
        f'<div class="{css}"><label for="{esc(dom_id)}">{esc(inp.label)}{marker}</label>'
        f"{hint_html}{error_html}{control}</div>"
    )


def form(f: Form, ctx: Ctx) -> str:
    token = ctx.mint("form", f.id, f.context)
    prefix = "f" + token.split(".")[0][:10]  # unique per rendering, so two forms never share ids
    error = f'<p class="error form-error" role="alert">{esc(f.error)}</p>' if f.error else ""
    inputs = "".join(field(i, prefix) for i in f.inputs)
    return (
        '<form method="post" action="/act/form" class="card-form">'
        + _common(ctx, token)
        + _hidden("form_id", f.id)
        + _hidden("context", f.context)
        # A browser sends nothing for a group of tick boxes left empty, which would look like an input
        # the form never had; named here, it reaches the engine as [] (as from Slack), so a refused
        # form comes back unticked as sent, not with its first ticks back (e.g. every child again).
        + "".join(_hidden(LISTS, i.id) for i in f.inputs if i.kind in LIST_KINDS)
        + f'<h4 class="form-title">{esc(f.title)}</h4>{error}{inputs}'
        + f'<button type="submit" class="btn btn-primary">{esc(f.submit_label)}</button></form>'
    )


def card(c: Card, ctx: Ctx, *, meta: str = "", extra: str = "") -> str:
    """A card as an <article>: title, text, facts, then its form and buttons."""
    parts = [f'<h3 class="card-title">{esc(c.title)}</h3>'] if c.title else []
    if meta:
        parts.append(f'<p class="meta">{esc(meta)}</p>')
    if c.text:
        parts.append(f'<div class="text">{markdown(c.text)}</div>')
    if c.facts:
        rows = "".join(
            f"<div><dt>{esc(label)}</dt><dd>{markdown(value)}</dd></div>" for label, value in c.facts
        )
        parts.append(f'<dl class="facts">{rows}</dl>')
    if c.form is not None:
        parts.append(form(c.form, ctx))
    if c.buttons:
        parts.append('<div class="buttons">' + "".join(button(b, ctx) for b in c.buttons) + "</div>")
    parts.append(extra)
    return f'<article class="card card-{esc(c.target.kind)}">{"".join(parts)}</article>'
