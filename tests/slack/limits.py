"""Slack's Block Kit limits, checked independently of the bot's renderer, on what it actually sent.

Also parses every block and view back through slack_sdk.models, whose validators check what they know.
"""

from slack_sdk.models.blocks import Block
from slack_sdk.models.views import View

MESSAGE_BLOCKS, VIEW_BLOCKS = 50, 100


def _text(obj) -> str:
    return (obj or {}).get("text", "") if isinstance(obj, dict) else ""


def _element(el: dict, where: str) -> list[str]:
    problems = []
    kind = el.get("type")
    if kind == "number_input":
        problems.append(f"{where}: number inputs render badly on phones")
    if kind == "button":
        if len(_text(el.get("text"))) > 75:
            problems.append(f"{where}: button text over 75")
        if len(el.get("value") or "") > 2000:
            problems.append(f"{where}: button value over 2000")
    if len(el.get("action_id") or "") > 255:
        problems.append(f"{where}: action_id over 255")
    groups = el.get("option_groups") or []
    if len(groups) > 100 or any(
        len(g.get("options") or []) > 100 or len(_text(g.get("label"))) > 75 for g in groups
    ):
        problems.append(
            f"{where}: more than 100 option groups, 100 options in a group, or a long group label"
        )
    if groups and el.get("options"):
        problems.append(f"{where}: options and option_groups together")
    options = (el.get("options") or []) + [o for g in groups for o in g.get("options") or []]
    if kind in ("checkboxes", "radio_buttons") and len(options) > 10:
        problems.append(f"{where}: {kind} with more than 10 options")
    if kind in ("static_select", "multi_static_select") and len(el.get("options") or []) > 100:
        problems.append(f"{where}: select with more than 100 options")
    for o in options:
        if len(_text(o.get("text"))) > 75 or len(o.get("value") or "") > 150:
            problems.append(f"{where}: option text over 75 or value over 150")
    if kind == "plain_text_input" and (el.get("max_length") or 0) > 3000:
        problems.append(f"{where}: text input max_length over 3000")
    return problems


def block_problems(blocks: list[dict], where: str, limit: int) -> list[str]:
    problems = []
    if len(blocks) > limit:
        problems.append(f"{where}: {len(blocks)} blocks (limit {limit})")
    ids = [b["block_id"] for b in blocks if b.get("block_id")]
    if len(ids) != len(set(ids)):
        problems.append(f"{where}: repeated block_id")
    for i, b in enumerate(blocks):
        at = f"{where} block {i}"
        kind = b.get("type")
        if kind == "header" and len(_text(b.get("text"))) > 150:
            problems.append(f"{at}: header over 150")
        if kind == "section":
            if len(_text(b.get("text"))) > 3000:
                problems.append(f"{at}: section text over 3000")
            fields = b.get("fields") or []
            if len(fields) > 10 or any(len(_text(f)) > 2000 for f in fields):
                problems.append(f"{at}: more than 10 fields or a field over 2000")
        if kind == "actions":
            elements = b.get("elements") or []
            if len(elements) > 25:
                problems.append(f"{at}: more than 25 elements")
            action_ids = [e.get("action_id") for e in elements]
            if len(action_ids) != len(set(action_ids)):
                problems.append(f"{at}: repeated action_id")
            for e in elements:
                problems += _element(e, at)
        if kind == "context" and len(b.get("elements") or []) > 10:
            problems.append(f"{at}: context with more than 10 elements")
        if kind == "input":
            if len(_text(b.get("label"))) > 2000:
                problems.append(f"{at}: label over 2000")
            problems += _element(b.get("element") or {}, at)
        try:
            Block.parse(b).to_dict()  # slack_sdk's own validators
        except Exception as exc:
            problems.append(f"{at}: slack_sdk refuses it: {exc}")
    return problems


def view_problems(view: dict, where: str) -> list[str]:
    problems = block_problems(view.get("blocks") or [], where, VIEW_BLOCKS)
    for part in ("title", "submit", "close"):
        if len(_text(view.get(part))) > 24:
            problems.append(f"{where}: {part} over 24")
    if len(view.get("private_metadata") or "") > 3000:
        problems.append(f"{where}: private_metadata over 3000")
    if view.get("type") == "modal" and not _text(view.get("title")):
        problems.append(f"{where}: a modal needs a title")
    try:
        View(**view).to_dict()
    except Exception as exc:
        problems.append(f"{where}: slack_sdk refuses the view: {exc}")
    return problems
