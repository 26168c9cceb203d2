"""One whole discussion in real headless Chromium against the real server, checked in the record."""

import re
import sqlite3

from playwright.sync_api import expect

from tests.playground import journey
from tests.playground.chromium import chromium, served


def test_a_whole_discussion_in_chromium(tmp_path):
    with served(tmp_path) as base, chromium() as browser:
        dm = journey.person(browser, base, journey.DUTY_MANAGER)
        police = journey.person(browser, base, journey.POLICE)
        health = journey.person(browser, base, journey.HEALTH, width=390, height=844)  # on a phone

        journey.office_hours(dm)
        journey.convene(dm)
        journey.invite(dm, journey.POLICE, journey.HEALTH)
        journey.accept(police)
        journey.accept(health)
        journey.start(dm)
        journey.reply(police, "Known to police: a domestic incident at the address in 2025.")
        journey.reply(health, "Seen by the GP last month; no injuries were noted then.")
        journey.decide(dm)
        journey.plan(dm)
        journey.sign_off(dm)
        journey.acknowledge(police)
        journey.acknowledge(health)

        journey.to_channel(dm)
        post = journey.main_post(dm)
        expect(post).to_contain_text("record signed off and circulated")
        expect(post).to_contain_text(re.compile(r"Out of hours\s*no\s*Stage"))
        expect(post).to_contain_text("Pat Constable (police officer) (record): sent")
        assert (
            post.inner_text().count("acknowledged") >= 2 and "not yet acknowledged" not in post.inner_text()
        )
        # Nothing ever needed a horizontal scroll on the phone.
        assert health.evaluate("document.documentElement.scrollWidth <= window.innerWidth")

    with sqlite3.connect(tmp_path / "playground.db") as db:
        (state,) = db.execute("SELECT state FROM discussion WHERE case_ref = ?", (journey.CASE,)).fetchone()
        (body,) = db.execute("SELECT body FROM recordversion").fetchone()
        contributions = db.execute("SELECT agency, text FROM contribution ORDER BY id").fetchall()
        acks = db.execute("SELECT acknowledged_at IS NOT NULL FROM circulation").fetchall()
    assert state == "signed_off"  # its conference and further discussion are still to come
    assert contributions == [
        ("police", "Known to police: a domestic incident at the address in 2025."),
        ("health", "Seen by the GP last month; no injuries were noted then."),
    ]
    for expected in (
        f"Record of strategy discussion: {journey.CASE}",
        "Known to police: a domestic incident",
        "Unexplained bruising; the threshold for S47 is met.",
        "Agreed in the discussion (item 1).",
        "The team manager reviews it weekly.",
    ):
        assert expected in body, expected
    assert acks == [(1,), (1,)]
