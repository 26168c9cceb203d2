"""Only requests Slack signed get in: unsigned, wrongly signed or stale ones get 401 and change nothing."""

import json
import time

import pytest
from sqlalchemy import func, select

from storage.models import AuditEvent, InboundEvent
from tests.conftest import CONFORMANCE
from tests.slack import signing

SAMPLES = CONFORMANCE / "slack"


async def _counts(db) -> tuple[int, int]:
    async with db.session() as s:
        audit = (await s.execute(select(func.count()).select_from(AuditEvent))).scalar_one()
        events = (await s.execute(select(func.count()).select_from(InboundEvent))).scalar_one()
    return audit, events


async def test_url_verification_sample_answers_the_challenge(slack):
    body = (SAMPLES / "url_verification.json").read_text()
    sent = await slack.post(body, signing.JSON)
    assert sent.status == 200
    assert sent.json() == {"challenge": json.loads(body)["challenge"]}


def _cases(body: str) -> dict[str, dict]:
    now = int(time.time())
    good = signing.signed_headers(body, content_type=signing.FORM)
    return {
        "unsigned": {"Content-Type": signing.FORM},
        "no timestamp": {"Content-Type": signing.FORM, "X-Slack-Signature": good["X-Slack-Signature"]},
        "wrong secret": signing.signed_headers(body, secret="not-the-secret", content_type=signing.FORM),
        "tampered body": signing.signed_headers(body.replace("help", "convene"), content_type=signing.FORM),
        "six minutes old": signing.signed_headers(body, timestamp=now - 6 * 60, content_type=signing.FORM),
        "six minutes ahead": signing.signed_headers(body, timestamp=now + 6 * 60, content_type=signing.FORM),
        "garbage signature": {**good, "X-Slack-Signature": "v0=" + "0" * 64},
        "other scheme": {**good, "X-Slack-Signature": good["X-Slack-Signature"].replace("v0=", "v1=")},
    }


@pytest.mark.parametrize(
    "case",
    [
        "unsigned",
        "no timestamp",
        "wrong secret",
        "tampered body",
        "six minutes old",
        "six minutes ahead",
        "garbage signature",
        "other scheme",
    ],
)
async def test_bad_signatures_get_401_and_change_nothing(slack, case):
    body = signing.form_body(
        {
            "command": "/strategy",
            "text": "help",
            "user_id": "U0DUTY",
            "team_id": "T0COUNCIL",
            "channel_id": "C0DUTY",
            "trigger_id": "1.2.3",
            "response_url": slack.standin.response_url(),
        }
    )
    before = await _counts(slack.services.db)
    sent = await slack.raw(body, _cases(body)[case])
    await slack.settle()
    assert sent.status == 401
    assert slack.standin.calls == [] and slack.standin.webhooks == []
    assert await _counts(slack.services.db) == before


async def test_a_bad_signature_on_an_event_changes_nothing(slack):
    body = (SAMPLES / "event_callback_message_thread_reply.json").read_text()
    headers = signing.signed_headers(body, content_type=signing.JSON, timestamp=int(time.time()) - 301)
    sent = await slack.raw(body, headers)
    await slack.settle()
    assert sent.status == 401
    assert await _counts(slack.services.db) == (0, 0)
    assert slack.standin.calls == []


async def test_a_request_signed_four_minutes_ago_is_accepted(slack):
    body = (SAMPLES / "url_verification.json").read_text()
    sent = await slack.post(body, signing.JSON, timestamp=int(time.time()) - 4 * 60)
    assert sent.status == 200
