"""Reading submitted form values: typed, with a polite message per field, and nothing thrown away.

`Fields` collects errors instead of stopping at the first, so a person sees every problem at once
and the form comes back with what they typed.
"""

import re
from dataclasses import replace
from datetime import date, time
from typing import Any

from dialogs.model import Card, Form, Target, TargetKind

MAX_SHORT = 200
MAX_LONG = 3000  # fits a Slack section and a Teams text block


class DialogError(Exception):
    """Something the person asked cannot be done; the message is shown to them as it is."""


class Stale(Exception):
    """A form shown before what it edits last changed (a second tab, a stale phone, a redelivered
    submission). Nothing of it is saved: the person gets the form with the current values, and what
    they typed is shown beside it so that nothing is lost."""

    def __init__(self, current: Form, typed: dict[str, Any], shown: str = "") -> None:
        super().__init__("stale form")
        self.current, self.typed, self.shown = current, typed, shown  # shown: what the form is about now

    def answer(self, person_id: int) -> Card:
        lines = []
        for i in self.current.inputs:
            value = self.typed.get(i.id)
            values = value if isinstance(value, list) else [value]
            shown = [_shown(i.options, v) for v in values if v not in (None, "")]
            if shown:
                lines.append(f"- *{i.label}*: {', '.join(shown)}")
        text = (
            "This changed after the form was shown to you, so nothing you sent was saved. "
            "The form now shows the current values; change them and send it again if you still need to."
        )
        if self.shown:
            text += "\n\n" + self.shown
        if lines:
            text += "\n\n*What you entered*, so that nothing is lost:\n" + "\n".join(lines)
        form = replace(self.current, error="Changed since you opened it: check the current values.")
        return Card(
            target=Target(TargetKind.EPHEMERAL, person_id=person_id),
            title="This has changed since you opened it",
            text=text,
            form=form,
        )


def _shown(options: tuple[Any, ...], value: Any) -> str:
    return next((o.label for o in options if o.value == str(value)), str(value))


class Fields:
    def __init__(self, raw: dict[str, Any]) -> None:
        self.raw = raw
        self.errors: dict[str, str] = {}

    def _str(self, key: str) -> str:
        value = self.raw.get(key)
        if isinstance(value, list):
            value = value[0] if value else ""
        return "" if value is None else str(value).strip()

    def text(self, key: str, *, required: bool = False, max_length: int = MAX_LONG) -> str | None:
        value = self._str(key)
        if not value:
            if required:
                self.errors[key] = "Please fill this in."
            return None
        if len(value) > max_length:
            self.errors[key] = f"Please keep this under {max_length} characters (it has {len(value)})."
        return value

    def choice(self, key: str, allowed: set[str] | list[str], *, required: bool = False) -> str | None:
        value = self._str(key)
        if not value:
            if required:
                self.errors[key] = "Please choose one."
            return None
        if value not in allowed:
            self.errors[key] = "Please choose one of the options."
            return None
        return value

    def choices(self, key: str, allowed: set[str], *, required: bool = False) -> list[str]:
        raw = self.raw.get(key) or []
        values = [str(v) for v in (raw if isinstance(raw, list) else [raw]) if str(v).strip()]
        if not values and required:
            self.errors[key] = "Please choose at least one."
        if any(v not in allowed for v in values):
            self.errors[key] = "Please choose from the list."
            return []
        return values

    def yes_no(self, key: str, *, required: bool = False, default: bool | None = None) -> bool | None:
        value = self._str(key).lower()
        if value in ("yes", "true", "on", "1"):
            return True
        if value in ("no", "false", "off", "0"):
            return False
        if required and default is None:
            self.errors[key] = "Please answer yes or no."
        return default

    def date(self, key: str, *, required: bool = False, not_before: date | None = None) -> date | None:
        value = self._str(key)
        if not value:
            if required:
                self.errors[key] = "Please give a date."
            return None
        try:
            parsed = date.fromisoformat(value)
        except ValueError:
            self.errors[key] = "Please give a real date (YYYY-MM-DD)."
            return None
        if not_before and parsed < not_before:
            self.errors[key] = f"That date has passed; please give {not_before:%d %B %Y} or later."
        return parsed

    def time(self, key: str, *, required: bool = False) -> time | None:
        value = self._str(key)
        if not value:
            if required:
                self.errors[key] = "Please give a time."
            return None
        if not re.fullmatch(r"\d{1,2}:\d{2}(:\d{2})?", value):
            self.errors[key] = "Please give a time as HH:MM."
            return None
        try:
            return time.fromisoformat(value if len(value.split(":")[0]) == 2 else "0" + value)
        except ValueError:
            self.errors[key] = "Please give a real time (00:00 to 23:59)."
            return None

    def error(self, key: str, message: str) -> None:
        self.errors.setdefault(key, message)

    @property
    def ok(self) -> bool:
        return not self.errors


def refill(form: Form, raw: dict[str, Any], errors: dict[str, str], message: str | None = None) -> Form:
    """The same form with what was typed put back and each field's problem beside it."""
    inputs = tuple(replace(i, value=raw.get(i.id, i.value), error=errors.get(i.id)) for i in form.inputs)
    summary = message or ("Please check the fields marked below." if errors else None)
    return replace(form, inputs=inputs, error=summary)
