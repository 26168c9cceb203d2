"""What arrives from Slack that must be stored before it is acknowledged (bot/slack/app.py stores it in
the inbox, docs/durability.md says why), and the words for a stored reply that could not be added."""

import hashlib
import json
import re

from bot.slack import blocks
from bot.slack.settings import COMMAND, CONVENE_SHORTCUT, MESSAGE_SHORTCUT

NOT_ADDED = (
    "Sorry <@{user}>: your reply in this thread{case} could not be added to the discussion's record, "
    "because of a problem on our side. Please post it again, or tell the chair{chair}."
)  # in the thread, by case reference only: never the reply's text
THREAD_REPLY, UNSTORED = "reply", None


def thread_reply(event: dict) -> bool:
    """A person's reply in a thread: not an edit, a join, a bot or a top-level message."""
    if event.get("type") != "message" or event.get("bot_id"):
        return False
    if event.get("subtype") not in (None, "thread_broadcast"):
        return False
    thread_ts, ts = event.get("thread_ts"), event.get("ts")
    return bool(thread_ts and thread_ts != ts and event.get("user"))


def _ours(kind: str, body: dict) -> bool:
    """An interaction this app listens for (another app's command or button is Bolt's 404)."""
    if kind == "command":
        return body.get("command") == COMMAND
    if kind in ("shortcut", "message_action"):
        return body.get("callback_id") in (CONVENE_SHORTCUT, MESSAGE_SHORTCUT)
    if kind == "view_submission":
        return (body.get("view") or {}).get("callback_id") == blocks.FORM_CALLBACK
    if kind == "block_actions":
        action_id = ((body.get("actions") or [{}])[0] or {}).get("action_id") or ""
        return bool(
            blocks.ENGINE_ACTION.match(action_id)
            or re.fullmatch(rf"{re.escape(blocks.CONFIRM_ACTION)}:\d+", action_id)
            or action_id in (blocks.RECHECK_ACTION, blocks.AGAIN_ACTION)
        )
    return False


def inbound(body: dict) -> tuple[str, str] | None:
    """(kind, key) of a request to store in the inbox before it is acknowledged, or None when there is
    nothing in it to lose. The key is the Events API's event_id (the same on every retry of the event),
    or for an interaction its trigger_id (one per delivery: a double click is two, and the engine's
    nonce de-duplication answers the second "already done", as before)."""
    if body.get("type") == "event_callback":
        if thread_reply(body.get("event") or {}) and body.get("event_id"):
            return THREAD_REPLY, f"event:{body['event_id']}"
        return UNSTORED
    if "command" in body and "type" not in body:
        kind = "command"
    else:
        kind = str(body.get("type") or "")
    if kind not in ("command", "shortcut", "message_action", "block_actions", "view_submission"):
        return UNSTORED
    if not _ours(kind, body):
        return UNSTORED
    once = body.get("trigger_id")
    if not once:  # not seen from Slack, but never store without a stable key
        once = hashlib.sha256(json.dumps(body, sort_keys=True, default=str).encode()).hexdigest()
    return kind, f"{kind}:{once}"


async def no_ack(*_args, **_kwargs) -> None:
    """A modal's ack when its submission is replayed from the inbox: Slack's window is long gone."""
