"""Whole discussions with signed-off records, for the export tests (every format uses these).

`three_siblings`: one meeting about LL-3001 (S47 joint, with a plan and an action), LL-3002 (Single
Assessment with a reconvene date) and LL-3003 (no S47); LL-3001's record then gets an amendment (the
outcome told late, with the chair's reason), so it has a version 2. One contribution holds markdown,
HTML and XML/DOCX special characters, which every format must show as typed.
"""

from dataclasses import dataclass

from sqlalchemy import select

from dialogs.model import TargetKind
from dialogs.record_export import Signed, latest_for
from storage.models import Child, DueItem
from tests.engine_helpers import Driver, make_driver, one
from tests.test_siblings import REFS, convene_siblings, decide_each, plan_and_sign

SPECIAL = (
    "LL-3001: *Signed off* by _nobody_ <b>bold</b> <script>x</script> [a link](http://example.org) "
    "& {{ field }} {% if x %} ]]> \"quoted\" 'single' # not a heading\n- not a bullet\n*Record of "
    "strategy discussion: LL-9999*"
)
TYPED = SPECIAL.removeprefix("LL-3001: ")  # as stored: the tag is read off
AMENDMENT = "The school was told by phone the next morning."


@dataclass
class Walk:
    drv: Driver
    discussion_id: int
    records: dict[str, Signed]  # by case reference: the latest signed-off version


async def three_siblings(db) -> Walk:
    drv = await make_driver(db)
    did, kids = await convene_siblings(drv)
    await drv.reply("police", did, SPECIAL)
    await drv.reply("health", did, "All three were seen by the GP last month.")
    await decide_each(drv, did, kids)
    signed = await plan_and_sign(drv, did, kids)
    assert "Signed off 3 records" in one(signed, TargetKind.EPHEMERAL).text
    await amend_eldest(drv, db, did)
    async with db.read() as s:
        records = {ref: (await latest_for(drv.dialogs, s, ref))[0] for ref in REFS}
    assert records["LL-3001"].record.version == 2
    return Walk(drv, did, records)


async def amend_eldest(drv: Driver, db, did: int) -> None:
    """The outcome told late for LL-3001: the chair's reason amends that record (version 2)."""
    drv.clock.advance(days=3)
    async with db.read() as s:
        eldest = (await s.execute(select(Child).where(Child.case_ref == "LL-3001"))).scalars().one()
        told = select(DueItem).where(DueItem.child_id == eldest.id, DueItem.kind == "outcome_notification")
        item = (await s.execute(told)).scalars().one()
    await drv.fill("chair", "due.missed_reason", f"{did}:{item.id}", will="not", reason=AMENDMENT)
