"""What the playground's forms send and get back: the submitted fields, a form given back holding what
was typed, the clock control's steps, and the page shown when nothing could be saved."""

import html
import re
from dataclasses import replace
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from bot.playground.render import LIST_PREFIX, LISTS, SCALAR_PREFIX
from dialogs import clock
from dialogs.model import Card, Target, TargetKind

BACK = re.compile(r"^/(discussions/\d{1,12})?$")
NOT_SAVED = (
    "Sorry: the playground cannot reach its database just now, so what you sent was NOT saved. "
    "Please wait a moment and send it again."
)
_NOT_TYPED = {
    "csrf",
    "token",
    "back",
    "form_id",
    "context",
    "discussion_id",
    "action",
    "value",
    "name",
    "who",
    LISTS,
}


def notice(text: str, title: str = "") -> Card:
    return Card(target=Target(TargetKind.EPHEMERAL), title=title, text=text)


def not_saved_page(data) -> str:
    """The 503 page: plain words, what was typed (escaped) to copy, and the way back."""
    typed = [
        (str(k), str(v)) for k, v in data.items() if k not in _NOT_TYPED and isinstance(v, str) and v.strip()
    ]
    back = str(data.get("back", "/"))
    back = back if BACK.match(back) else "/"
    kept = "".join(
        f"<dt>{html.escape(k)}</dt><dd><textarea readonly rows=4 cols=60>{html.escape(v)}</textarea></dd>"
        for k, v in typed
    )
    return (
        "<!doctype html><html lang=en><head><meta charset=utf-8><title>Not saved</title>"
        '<link rel=stylesheet href="/static/playground.css"></head><body><main>'
        f"<h1>Not saved</h1><p>{html.escape(NOT_SAVED)}</p>"
        + (f"<p>What you typed, to copy and send again:</p><dl>{kept}</dl>" if kept else "")
        + f'<p><a href="{html.escape(back)}">Back to the page</a></p></main></body></html>'
    )


def keep_typed(card: Card, fields: dict, error: str) -> Card:
    """The card's form holding the submitted values (typed text is never lost), with `error` on top."""
    form = card.form
    inputs = tuple(replace(i, value=fields.get(i.id, i.value), error=None) for i in form.inputs)
    return replace(card, form=replace(form, inputs=inputs, error=error))


def plain_text(value) -> str:
    """Browsers send line breaks in a textarea as CRLF; the engine and the record use LF."""
    return str(value).replace("\r\n", "\n").replace("\r", "\n")


def form_fields(data) -> dict:
    """Submitted inputs by id: "in.<id>" as one string, "list.<id>" as a list of every value sent (an
    empty list for a list input named in "lists" of which nothing was ticked)."""
    fields: dict = {}
    for key in data.keys():
        if key.startswith(SCALAR_PREFIX):
            fields[key.removeprefix(SCALAR_PREFIX)] = plain_text(data.get(key, ""))
        elif key.startswith(LIST_PREFIX):
            fields[key.removeprefix(LIST_PREFIX)] = [str(v) for v in data.getall(key)]
    for input_id in data.getall(LISTS, []):  # tick boxes the form has, none of them ticked
        fields.setdefault(str(input_id), [])
    return fields


def clock_step(step: str, to: str, now: datetime, tz: str) -> timedelta:
    """How far to move the clock forward; ValueError (shown to the person) for a time not ahead."""
    zone = ZoneInfo(tz)
    if step == "hour":
        return timedelta(hours=1)
    if step == "day":
        return timedelta(days=1)
    if step == "morning":
        local = now.astimezone(zone)
        day = local.date() if local.time() < time(9) else local.date() + timedelta(days=1)
        return clock.localize(datetime.combine(day, time(9)), tz) - now
    if step == "custom":
        try:
            target = clock.localize(datetime.strptime(to.strip(), "%Y-%m-%dT%H:%M"), tz)
        except ValueError as exc:
            if "does not exist" in str(exc):
                raise ValueError(
                    f"{to.replace('T', ' ')} does not exist in {tz}: the clocks go forward then."
                ) from None
            raise ValueError("Please give a date and time, e.g. 2026-03-14 09:00.") from None
        if target <= now:
            local = now.astimezone(zone)
            raise ValueError(f"The clock only moves forward: choose a time after {local:%a %d %b %Y, %H:%M}.")
        return target - now
    raise ValueError("Please choose how far to move the clock.")
