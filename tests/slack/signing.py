"""Requests signed as Slack signs them: v0, HMAC-SHA256 of `v0:{timestamp}:{raw body}`."""

import hashlib
import hmac
import json
import time
from urllib.parse import urlencode

SECRET = "8f742231b10e8888abcd99yyyzzz85a5"


def signature(secret: str, timestamp: str, body: str) -> str:
    digest = hmac.new(secret.encode(), f"v0:{timestamp}:{body}".encode(), hashlib.sha256).hexdigest()
    return f"v0={digest}"


def signed_headers(
    body: str, *, secret: str = SECRET, timestamp: int | None = None, content_type: str
) -> dict:
    ts = str(int(time.time()) if timestamp is None else timestamp)
    return {
        "Content-Type": content_type,
        "X-Slack-Request-Timestamp": ts,
        "X-Slack-Signature": signature(secret, ts, body),
    }


def payload_body(payload: dict) -> str:
    """Interactivity (block_actions, view_submission, shortcuts): one form field `payload` of JSON."""
    return urlencode({"payload": json.dumps(payload)})


def form_body(fields: dict) -> str:
    """Slash commands: plain form fields."""
    return urlencode(fields)


FORM = "application/x-www-form-urlencoded"
JSON = "application/json"
