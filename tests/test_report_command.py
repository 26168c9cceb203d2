"""The `report` command on the engine: managers get this month's headline and the figures file's
card (queued in the outbox); everyone else is told politely that the figures are for managers."""

from datetime import date

from sqlalchemy import select

from dialogs.model import TargetKind
from dialogs.report_card import period
from storage.models import AuditEvent, Outbox
from tests.engine_helpers import make_driver, one
from tests.lifecycle_walks import decided, give_the_chair_a_manager, started

REFUSED = "The figures are for team managers and district managers. Please ask your manager if you need them."


async def test_a_manager_gets_the_headline_and_the_file_card(db):
    drv = await make_driver(db)
    await give_the_chair_a_manager(drv)
    did = await started(drv)
    await decided(drv, did)
    cards = await drv.command("manager", "report")
    answer = one(cards, TargetKind.EPHEMERAL)
    assert answer.title == "Strategy discussions, 1 to 24 Nov 2026"
    # One discussion, one child: small numbers are shown as "fewer than 6", never as digits.
    assert "Discussions held: fewer than 6" in answer.text
    assert "S47 enquiry (joint with police, within a Single Assessment): fewer than 6" in answer.text
    assert "Decisions without the quorum: 0" in answer.text
    assert answer.text.endswith(
        'Counts from 1 to 5 show as "fewer than 6"; other counts are rounded to the nearest 5, so figures '
        "may not add up. The file follows."
    )
    card = one(cards, TargetKind.DIRECT)
    assert card.target.person_id == drv.actors["manager"].person_id
    assert period(card) == (date(2026, 11, 1), date(2026, 11, 24))
    assert drv.result.changed and len(drv.result.queued) == 1
    async with db.read() as s:
        queued = (await s.execute(select(Outbox).where(Outbox.id == drv.result.queued[0]))).scalar_one()
        assert queued.card_key == card.key and queued.recipient_key == f"person:{card.target.person_id}"
        entry = (
            await s.execute(select(AuditEvent).where(AuditEvent.action == "report.requested"))
        ).scalar_one()
        assert entry.detail == {"start": "2026-11-01", "end": "2026-11-24"}
        assert entry.actor == f"person:{drv.actors['manager'].person_id}"


async def test_anyone_else_is_told_the_figures_are_for_managers(db):
    drv = await make_driver(db)
    await started(drv)
    for who in ("chair", "police", "outsider"):  # a duty manager, a police officer, a social worker
        cards = await drv.command(who, "report")
        assert [c.target.kind for c in cards] == [TargetKind.EPHEMERAL]
        assert cards[0].text == REFUSED
        assert not drv.result.queued
    async with db.read() as s:
        assert (
            await s.execute(select(AuditEvent).where(AuditEvent.action == "report.requested"))
        ).first() is None


def test_the_headline_rounds_counts_and_works_shares_out_from_them():
    """The figures of tests/test_report_files.py: counts to the nearest 5 (never below 10), a hidden
    count standing for 5 in a total or share; with every count shown, the exact figures."""
    from dialogs.flows.report import headline
    from dialogs.report_model import NO_SUPPRESSION, Suppress
    from tests.test_report_files import KNOWN

    text = headline(KNOWN, Suppress(6, 5)).splitlines()
    assert text[0] == "- Discussions held: 40 (out of hours: not shown), about 50 children"  # 40, 52
    assert text[1] == "- Strategy discussion to be held: met on time 86% of 35"  # 30 of 30 + 4
    assert text[3] == (  # 19 of 12 + 7 + 2 + 0: 10 + 10 of 10 + 10 + 5
        "- Conferences within 15 working days of the S47 start: 80% of 25 held (England: 81%); "
        "awaited fewer than 6"
    )
    exact = headline(KNOWN, NO_SUPPRESSION).splitlines()
    assert exact[1] == "- Strategy discussion to be held: met on time 88% of 34"
    assert exact[3].startswith("- Conferences within 15 working days of the S47 start: 90% of 21 held")
    assert exact[-1] == "- Decisions without the quorum: 7"  # no note: nothing hidden or rounded
    assert headline(KNOWN, Suppress(0, 5)).endswith(
        "Counts are rounded to the nearest 5, so figures may not add up. The file follows."
    )
