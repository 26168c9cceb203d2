"""The known data of the census extract's tests (tests/test_census.py): a year of discussions built
through the real engine, the rows the census should get from it (dates counted by hand, bank holidays
included), one enquiry to break rules on, and the placeholders that make the extract a whole return.
"""

import uuid
from datetime import UTC, date, datetime

import pytest
from lxml import etree
from sqlalchemy import select, update

from dialogs.census import CensusRow, census_rows
from dialogs.engine import Dialogs
from dialogs.model import Ref, TargetKind
from storage import migrate
from storage.db import Database
from storage.models import Child, Decision, Discussion, Series
from tests.conftest import _pg, _run, pg_database
from tests.engine_helpers import Driver, form_of, make_driver, one
from tests.lifecycle_walks import PROCEDURE, accept_all, close_with, decided, items, signed_off, started
from tests.test_siblings import convene_siblings, decide_each, plan_and_sign

TZ, NATION = "Europe/London", "england-and-wales"
TODAY = date(2027, 4, 15)  # the extract is made after the census year 2027 ended


def at(y: int, m: int, d: int) -> datetime:
    """10:00 UTC: 10:00 in London in winter, 11:00 in summer; office hours either way."""
    return datetime(y, m, d, 10, 0, tzinfo=UTC)


def row(ref: str, start: str, target: str, held: str | None, not_required: bool) -> CensusRow:
    return CensusRow(
        ref,
        date.fromisoformat(start),
        date.fromisoformat(target),
        date.fromisoformat(held) if held else None,
        not_required,
    )


async def enquiry(drv: Driver, ref: str, when: datetime, icpc_on: str) -> int:
    """A discussion about `ref` held on `when`'s day that decides S47, planned and signed off."""
    drv.clock.at = when
    did = await started(drv, case_ref=ref, proposed_date=f"{when:%Y-%m-%d}", proposed_time="14:00")
    await decided(drv, did, "s47_joint")
    await signed_off(drv, did, icpc_on=icpc_on)
    return did


async def conference(drv: Driver, target: str, when: datetime, **fields: str) -> None:
    drv.clock.at = when
    cards = await drv.fill("chair", "icpc", target, **fields)
    assert one(cards, TargetKind.EPHEMERAL).text.startswith("Recorded:"), [c.text for c in cards]


# --- the known year ---------------------------------------------------------------------------------


async def build_year(db: Database) -> None:
    drv = await make_driver(db, at=at(2026, 3, 24))
    # Census year 2026. Both started Tue 24 Mar 2026; 15 working days over Easter (Good Friday 3 Apr,
    # Easter Monday 6 Apr): 25-27 Mar, 30 Mar-2 Apr, 7-10 Apr, 13-16 Apr -> Thu 16 Apr 2026. Their
    # conferences were settled after 31 March, so the 2026 return shows them as still awaited.
    held_late = await enquiry(drv, "LL-5001", at(2026, 3, 24), "2026-04-16")
    unneeded_late = await enquiry(drv, "LL-5002", at(2026, 3, 24), "2026-04-16")
    await conference(drv, str(held_late), at(2026, 4, 14), outcome="held", held_on="2026-04-14")
    await conference(drv, str(unneeded_late), at(2026, 4, 14), outcome="not_required", reason="No risk found")

    # Census year 2027. Three siblings on Tue 24 Nov 2026: only LL-3001's is an S47 enquiry. 15 working
    # days: 25-27 Nov, 30 Nov-4 Dec, 7-11 Dec, 14-15 Dec -> Tue 15 Dec 2026 (no bank holiday).
    drv.clock.at = at(2026, 11, 24)
    did, kids = await convene_siblings(drv)
    await decide_each(drv, did, kids)
    await plan_and_sign(drv, did, kids)
    # A further discussion of LL-3001's enquiry on Wed 25 Nov decides S47 again: still one enquiry.
    further_form = form_of(await drv.press("chair", "reconvene", did))
    cards = await drv.submit(
        "chair",
        "reconvene",
        further_form.context,
        children=[str(kids["LL-3001"].id)],
        format="meeting",
        proposed_date="2026-11-25",
        proposed_time="10:00",
        is_final="no",
    )
    second = one(cards, TargetKind.MAIN_POST).target.discussion_id
    drv.clock.at = at(2026, 11, 25)
    await accept_all(drv, cards)
    await drv.press("chair", "start", second)
    await decided(drv, second, "s47_single_agency")
    async with db.read() as s:
        query = select(Child.case_ref, Decision.outcome).join(Child, Child.id == Decision.child_id)
        decided_again = (await s.execute(query.where(Decision.discussion_id == second))).all()
    assert [tuple(r) for r in decided_again] == [("LL-3001", "s47_single_agency")]
    # S47 decided on Wed 25 Nov, then changed before sign-off: the enquiry never started.
    changed = await started(drv, case_ref="LL-6003", proposed_date="2026-11-25", proposed_time="14:00")
    await decided(drv, changed, "s47_joint")
    await decided(drv, changed, "no_s47")
    assert (await items(drv, changed))["icpc", ""].state == "withdrawn"
    # Another council's enquiry, Wed 25 Nov: 26-27 Nov, 30 Nov-4 Dec, 7-11 Dec, 14-16 Dec -> 16 Dec.
    north = Driver(Dialogs(db, PROCEDURE, council="north", now=drv.clock.now), drv.clock, dict(drv.actors))
    await enquiry(north, "LL-7001", at(2026, 11, 25), "2026-12-16")
    eldest = str(Ref(did, child_id=kids["LL-3001"].id))
    await conference(drv, eldest, at(2026, 12, 10), outcome="held", held_on="2026-12-10")

    # Thu 17 Dec 2026, over Christmas: Christmas Day Fri 25 Dec, Boxing Day (Sat 26) moved to Mon 28 Dec,
    # New Year's Day Fri 1 Jan. 18 Dec (1), 21-24 Dec (5), 29-31 Dec (8), 4-8 Jan (13), 11-12 Jan (15)
    # -> Tue 12 Jan 2027. Not required; the series is then closed.
    first_6001 = await enquiry(drv, "LL-6001", at(2026, 12, 17), "2027-01-12")
    await conference(drv, str(first_6001), at(2027, 1, 6), outcome="not_required", reason="No risk found")
    await close_with(drv, first_6001, "Enquiry complete")
    # Mon 11 Jan 2027: 12-15 Jan (4), 18-22 Jan (9), 25-29 Jan (14), 1 Feb (15) -> Mon 1 Feb 2027. Awaited.
    await enquiry(drv, "LL-6002", at(2027, 1, 11), "2027-02-01")
    # LL-6001 again, a new series on Tue 2 Feb 2027: a second enquiry. 3-5 Feb (3), 8-12 Feb (8),
    # 15-19 Feb (13), 22-23 Feb (15) -> Tue 23 Feb 2027; held Fri 19 Feb.
    again_6001 = await enquiry(drv, "LL-6001", at(2027, 2, 2), "2027-02-23")
    await conference(drv, str(again_6001), at(2027, 2, 19), outcome="held", held_on="2027-02-19")


YEAR_2027 = (
    row("LL-3001", "2026-11-24", "2026-12-15", "2026-12-10", False),
    row("LL-6001", "2026-12-17", "2027-01-12", None, True),
    row("LL-6001", "2027-02-02", "2027-02-23", "2027-02-19", False),
    row("LL-6002", "2027-01-11", "2027-02-01", None, False),
)
NORTH_2027 = (row("LL-7001", "2026-11-25", "2026-12-16", None, False),)
YEAR_2026 = (
    row("LL-5001", "2026-03-24", "2026-04-16", None, False),
    row("LL-5002", "2026-03-24", "2026-04-16", None, False),
)


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def year_db(request, tmp_path_factory):
    """The known year, built once per database kind: a function that opens it (in the test's loop)."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('census') / 'census.db'}"

        def opened() -> Database:
            return Database(url)

        schema = None
    else:
        schema = f"t_census_{uuid.uuid4().hex[:10]}"
        _run(_pg(f"CREATE SCHEMA {schema}"))

        def opened() -> Database:
            return pg_database(schema)

    async def setup() -> None:
        db = opened()
        try:
            await migrate.upgrade(db)
            await build_year(db)
        finally:
            await db.dispose()

    try:
        _run(setup())
        yield opened
    finally:
        if schema is not None:
            _run(_pg(f"DROP SCHEMA {schema} CASCADE"))


async def rows_of(db: Database, year: int, council: str | None, today: date = TODAY):
    async with db.read() as s:
        return await census_rows(s, PROCEDURE, year, TZ, NATION, council, today)


# --- one enquiry, to break the census rules on ---------------------------------------------------------


CASE = "LL-300001"  # lifecycle_walks' case; its S47 discussion on Tue 24 Nov 2026 -> target 15 Dec 2026


async def one_enquiry(db: Database) -> tuple[Driver, int]:
    drv = await make_driver(db)
    did = await started(drv)
    await decided(drv, did, "s47_joint")
    await signed_off(drv, did)
    return drv, did


async def set_series(db: Database, did: int, **values) -> None:
    async with db.session() as s:
        series_id = (await s.get(Discussion, did)).series_id
        await s.execute(update(Series).where(Series.id == series_id).values(**values))


# --- the return the extract is part of -----------------------------------------------------------------


def whole_message(fragment: bytes) -> etree._Element:
    """The fragment merged into a minimal census return: placeholders for what the bot does not hold
    (gender, ethnicity, referral date and source, ReferralNFA), each where the schema puts it."""
    message = etree.Element("Message")
    children = etree.SubElement(message, "Children")
    for child in etree.fromstring(fragment).findall("Child"):
        ids = child.find("ChildIdentifiers")
        etree.SubElement(ids, "GenderCurrent").text = "0"
        characteristics = etree.Element("ChildCharacteristics")
        etree.SubElement(characteristics, "Ethnicity").text = "NOBT"
        ids.addnext(characteristics)
        details = child.find("CINdetails")
        source = etree.Element("ReferralSource")
        source.text = "1A"
        details.insert(0, source)
        referred = etree.Element("CINreferralDate")
        referred.text = "2026-04-01"
        details.insert(0, referred)
        etree.SubElement(details, "ReferralNFA").text = "false"
        children.append(child)
    return message
