"""Card <-> a JSON-safe dict, so a card can wait in the outbox table and come back unchanged."""

from dataclasses import asdict
from typing import Any

from dialogs.model import Button, Card, Form, Input, InputKind, Option, Target, TargetKind


def card_to_dict(card: Card) -> dict[str, Any]:
    # asdict keeps enums as StrEnum values (JSON writes them as plain strings) and tuples as tuples
    # (JSON writes them as lists); card_from_dict turns both back.
    return {k: _jsonable(v) for k, v in asdict(card).items()}


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, str):
        return str(value)  # a StrEnum becomes its plain value
    return value


def card_from_dict(data: dict[str, Any]) -> Card:
    return Card(
        target=_target(data["target"]),
        title=data["title"],
        text=data.get("text", ""),
        facts=tuple((label, value) for label, value in data.get("facts", ())),
        form=_form(data["form"]) if data.get("form") else None,
        buttons=tuple(Button(**b) for b in data.get("buttons", ())),
        key=data.get("key"),
        preview=data.get("preview", ""),
    )


def _target(data: dict[str, Any]) -> Target:
    return Target(
        kind=TargetKind(data["kind"]),
        discussion_id=data.get("discussion_id"),
        person_id=data.get("person_id"),
        place=data.get("place"),
    )


def _form(data: dict[str, Any]) -> Form:
    return Form(
        id=data["id"],
        title=data["title"],
        inputs=tuple(_input(i) for i in data.get("inputs", ())),
        submit_label=data.get("submit_label", "Submit"),
        context=data.get("context", ""),
        error=data.get("error"),
    )


def _input(data: dict[str, Any]) -> Input:
    return Input(
        id=data["id"],
        label=data["label"],
        kind=InputKind(data["kind"]),
        required=data.get("required", False),
        options=tuple(Option(**o) for o in data.get("options", ())),
        value=data.get("value"),
        max_length=data.get("max_length"),
        hint=data.get("hint"),
        error=data.get("error"),
    )
