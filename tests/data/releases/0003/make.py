"""Build the database release 0003 leaves behind, for tests/test_upgrade_from_previous_release.py.

This release's own code writes every row (the directory, the dialogs engine, the reminders sweep, the
Slack stores), so the file holds what a council running this release really has. Run it from a
worktree of the commit named in README.md:

    .venv/bin/python -m tests.data.releases.0003.make tests/data/releases/0003/release.sqlite

All data is fictional, and every time comes from one fake clock (Tuesday 24 November 2026 10:00 UTC
onwards), so running it again gives the same rows.
"""

import asyncio
import sqlite3
import sys
from datetime import UTC, datetime
from pathlib import Path

from slack_sdk.oauth.installation_store.models.installation import Installation
from sqlalchemy import select

import storage.types
from bot.delivery import Router
from bot.scheduler import Scheduler
from bot.slack.stores import STATE_LIFETIME, DatabaseInstallationStore
from dialogs import directory
from dialogs.engine import Dialogs
from dialogs.flows.convene import FLAGS
from dialogs.model import TargetKind, TurnKind
from dialogs.procedure import load_procedure
from storage import migrate, refs
from storage.db import Database
from storage.models import DueItem, SlackOAuthState
from tests.engine_helpers import Clock, Driver, form_of

CLOCK = Clock(datetime(2026, 11, 24, 10, 0, tzinfo=UTC))  # a Tuesday, in office hours (GMT)
PROCEDURE = load_procedure()


class _FakeDatetime(datetime):
    """storage.types.utcnow() reads datetime.now(UTC): column defaults, the audit trail and the
    scheduler's leases take their time from it. Here it reads CLOCK instead."""

    @classmethod
    def now(cls, tz=None):
        return CLOCK.now().astimezone(tz) if tz else CLOCK.now().replace(tzinfo=None)


storage.types.datetime = _FakeDatetime

# key: name, agency, role, manager's key, email, platform identities (managers before their staff)
COUNCIL, TENANT = "T0COUNCIL1", "00000000-0000-4000-8000-000000000001"
PEOPLE = {
    "district": ("Dee District", "social_care", "district_manager", None, "dee.district@example.org", []),
    "team": ("Tam Team", "social_care", "team_manager", "district", "tam.team@example.org", ["S", "T"]),
    "chair": ("Dana Duty", "social_care", "duty_manager", "team", "dana.duty@example.org", ["S", "T", "P"]),
    "night": ("Nia Night", "social_care", "ooh_manager", "team", "nia.night@example.org", ["P"]),
    "social": ("Sol Social", "social_care", "social_worker", "chair", "sol.social@example.org", ["S"]),
    "sergeant": ("Mo Sergeant", "police", "police_manager", None, "mo.sergeant@police.example.org", ["T"]),
    "police": ("Pat Constable", "police", "police_officer", "sergeant", "pat@police.example.org", ["S", "T"]),
    "health": ("Hari Health", "health", "health_professional", None, "hari.health@nhs.example.org", ["T"]),
    "paed": ("Dr Pia Paeds", "health", "paediatrician", None, "pia.paeds@nhs.example.org", ["T"]),
    "locum": ("Dr Lee Locum", "health", "consultant", None, None, ["P"]),
    "referrer": ("Rae Referrer", "education", "referrer", None, "rae.referrer@school.example.org", ["S"]),
}


def identities(key: str, kinds: list[str]) -> list[tuple[str, str, str]]:
    ids = {
        "S": ("slack", f"U0{key.upper():0<8}", COUNCIL),
        "T": ("teams", f"29:aad-{key}-0001", TENANT),
        "P": ("playground", key, ""),
    }
    return [ids[k] for k in kinds]


CONVENE = dict.fromkeys(FLAGS, "no") | dict(category="physical", immediate_risk="no", format="meeting")
CONVENE |= dict(referring_agency="education", proposed_date="2026-11-24", proposed_time="15:00")
OUT_OF_HOURS = dict(immediate_risk="yes", referring_agency="police", format="call", proposed_time="21:00")
CHECKLIST = {f"item_{c.id}": f"Agreed: {c.label.lower()}." for c in PROCEDURE.s47_checklist}
CHECKLIST["item_observe_home"] = "N/A: no concern about the home conditions"
PLAN = dict(tell_parents="yes", tell_parents_how="Social worker visits today.", icpc_on="2026-12-14")
NO_S47 = dict(
    alternative="Complete the Child and Family Assessment.",
    services="Family support worker.",
    refer_again_when="Any further report of neglect.",
)
DECLINE = dict(
    reason="At another incident all day.", directions="Officer to attend and arrange an ABE interview."
)
RECONVENE = dict(format="meeting", proposed_date="2026-11-24")
SLACK_POST = "C0SDLL100002:1764000000.000100"  # channel:ts of the discussion's pinned post
TEAMS_CHAT = {"service_url": "https://smba.example.org/teams/", "conversation_id": "a:1fixture-health"}
SIGNOFF = dict(
    monitoring="Team manager reviews progress weekly in supervision.",
    unmet_reason="The paediatrician was in clinic; the chair will share the record.",
    notify_others="The chair phones them today.",
)


def main_post(cards) -> int:
    """The id of the discussion whose main post is among the cards."""
    return next(c.target.discussion_id for c in cards if c.target.kind == TargetKind.MAIN_POST)


class Fixture(Driver):
    """The test driver, with the clock one minute on before each turn."""

    async def turn(self, who, kind, name="", value="", **kw):
        self.clock.advance(minutes=1)
        cards = await super().turn(who, kind, name, value, **kw)
        bad = [i.error for c in cards if c.form for i in c.form.inputs if i.error]
        assert not bad, (name, bad)  # a form sent back with errors: this script is out of date
        return cards

    async def convene(self, case_ref: str, concern: str, who: str = "chair", **fields) -> int:
        return main_post(
            await self.submit(who, "convene", "", case_ref=case_ref, concern=concern, **CONVENE | fields)
        )

    async def invite(self, did: int, *keys: str, chair: str = "chair") -> dict[str, str]:
        """Invite people; returns each one's invitation (the value of their Accept button)."""
        cards = await self.submit(chair, "invite", did, people=[self.pid(k) for k in keys])
        return {k: self.button(cards, "accept", k) for k in keys}

    def pid(self, key: str) -> str:
        return str(self.actors[key].person_id)

    def button(self, cards, action: str, key: str) -> str:
        pid = self.actors[key].person_id
        return next(
            b.value for c in cards if c.target.person_id == pid for b in c.buttons if b.action == action
        )

    async def accept(self, invitations: dict[str, str], *keys: str) -> None:
        for key in keys:
            await self.press(key, "accept", invitations[key])

    async def say(self, key: str, did: int, text: str, channel: str = "playground", event: str | None = None):
        await self.turn(key, TurnKind.REPLY, discussion_id=did, text=text, channel=channel, event_id=event)

    async def decide(self, did: int, outcome: str, **fields) -> None:
        reasons = dict(reasons="Consistent account from two agencies.", risks="Further harm at home.")
        await self.submit("chair", "decide", did, outcome=outcome, **reasons | fields)

    async def sign_off(self, did: int):
        """Review the record, answer what the sign-off form asks, and sign it off."""
        form = form_of(await self.press("chair", "review", did))
        return await self.submit("chair", "signoff", did, **{i.id: SIGNOFF[i.id] for i in form.inputs})

    async def held(self, did: int, invitations: dict[str, str], *, outcome: str = "s47_joint"):
        """Accept, start, hear police and health, decide, plan if S47, sign off: the circulated cards."""
        await self.accept(invitations, *(k for k in ("police", "health") if k in invitations))
        await self.press("chair", "start", did)
        await self.say("police", did, "Police hold a report of a previous incident at the address.")
        await self.say("health", did, "Health visitor saw the child last week; weight on track.")
        await self.decide(did, outcome)
        await self.submit("chair", "plan", did, **CHECKLIST, **PLAN)
        return await self.sign_off(did)


async def directory_and_slack(db: Database, drv: Fixture) -> None:
    async with db.session() as s:
        for key, (name, agency, role, manager, email, kinds) in PEOPLE.items():
            person = await directory.add_person(
                s,
                PROCEDURE,
                name=name,
                email=email,
                agency=agency,
                role=role,
                identities=identities(key, kinds),
                manager_email=PEOPLE[manager][4] if manager else None,
            )
            drv.actors[key] = directory.actor_of(person)
        s.add(SlackOAuthState(state="fixture-oauth-state-0001", expires_at=CLOCK.now() + STATE_LIFETIME))
    installation = Installation(  # what Slack's OAuth flow hands over, with a token that is not real
        app_id="A0FIXTURE1",
        team_id=COUNCIL,
        team_name="Fictional Borough Council",
        user_id="U0TEAM0000",
        bot_token="xoxb-not-a-real-token",
        bot_id="B0FIXTURE1",
        bot_user_id="U0BOTFIXT1",
        bot_scopes=["commands", "chat:write", "im:write", "groups:write"],
        installed_at=CLOCK.now().timestamp(),
    )
    await DatabaseInstallationStore(db, "1111111111.2222222222").async_save(installation)


async def discussions(db: Database, drv: Fixture) -> dict:
    d, pid = {}, drv.pid
    # Convened: invitations out; the police never answer, health answers two days late (see reminders).
    d["convened"] = await drv.convene("LL-100001", "No heating at home for weeks.", category="neglect")
    d["late_invitation"] = (await drv.invite(d["convened"], "police", "health"))["health"]

    # In discussion: replies over Slack and Teams, one by phone entered by the chair, one corrected.
    did = d["in_discussion"] = await drv.convene("LL-100002", "Bruising to the upper arm seen at school.")
    await drv.accept(await drv.invite(did, "police", "health", "paed", "referrer"), "police", "health")
    await drv.press("chair", "start", did)
    await drv.say("police", did, "Known to police: one call-out in 2025.", "slack", "Ev0FIXTURE01")
    await drv.say("health", did, "GP saw the child last month; no concerns.", "teams", "fixture-teams-1")
    phone = dict(person=pid("paed"), stage="information", text="Bruises look like a grip; examine.")
    await drv.submit("chair", "phone", did, **phone)
    first = form_of(await drv.press("chair", "correct", did)).inputs[0].options[0].value
    moved = dict(contribution=first, stage="immediate_protection", text="", why="Immediate protection")
    await drv.submit("chair", "correct", did, **moved)
    channel, ts = SLACK_POST.split(":")
    async with db.session() as s:
        for kind, reference in (
            ("discussion_post", {"team": COUNCIL, "channel": channel, "ts": ts}),
            ("thread", {"channel": channel, "ts": ts}),
        ):
            await refs.save_ref(
                s, platform="slack", kind=kind, key=SLACK_POST, reference=reference, discussion_id=did
            )
        chat = TEAMS_CHAT | {"user_id": "29:aad-health-0001"}
        key = chat["conversation_id"]
        await refs.save_ref(
            s, platform="teams", kind="person", key=key, reference=chat, person_id=int(pid("health"))
        )

    # Decided, no S47.
    did = d["decided_no_s47"] = await drv.convene("LL-100003", "Child left alone overnight, aged 9.")
    await drv.accept(await drv.invite(did, "police", "health"), "police", "health")
    await drv.press("chair", "start", did)
    await drv.say("police", did, "No previous reports.")
    await drv.decide(did, "no_s47", **NO_S47)

    # Decided S47, the plan only partly answered.
    did = d["decided_s47"] = await drv.convene("LL-100004", "Says they were hit with a belt.")
    await drv.accept(await drv.invite(did, "police", "health"), "police", "health")
    await drv.press("chair", "start", did)
    await drv.decide(did, "s47_single_agency")
    await drv.submit("chair", "plan", did, **dict(list(CHECKLIST.items())[:5]))

    # Planned, with actions (one done).
    did = d["planned"] = await drv.convene("LL-100005", "Sibling says they are locked in a room.")
    await drv.accept(await drv.invite(did, "police", "health", "social"), "police", "health")
    await drv.press("chair", "start", did)
    await drv.decide(did, "s47_joint")
    await drv.submit("chair", "plan", did, **CHECKLIST, **PLAN)
    for owner, what, due in (
        ("police", "Joint visit", "2026-11-26"),
        ("social", "See the child", "2026-11-25"),
    ):
        cards = await drv.submit("chair", "add_action", did, description=what, owner=pid(owner), due_on=due)
    await drv.press("social", "action_done", drv.button(cards, "action_done", "social"))

    # Signed off and circulated (one acknowledgement); reconvened as discussion 2, then a final one.
    flags = dict(possible_injury="yes", medical_implications="yes")
    did = d["circulated"] = await drv.convene("LL-100006", "Unexplained fracture, baby of 4 months.", **flags)
    inv = await drv.invite(did, "police", "health", "sergeant", "paed", "referrer")
    await drv.accept(inv, "sergeant")
    await drv.submit("chair", "absent", did, person=pid("paed"), reason="In clinic.")
    cards = await drv.held(did, inv)
    await drv.press("police", "ack", drv.button(cards, "ack", "police"))
    cards = await drv.submit("chair", "reconvene", did, **RECONVENE, proposed_time="16:30", is_final="no")
    d["further"] = main_post(cards)
    await drv.held(d["further"], {k: drv.button(cards, "accept", k) for k in ("police", "health")})
    cards = await drv.submit(
        "chair", "reconvene", d["further"], **RECONVENE, proposed_time="17:30", is_final="yes"
    )
    d["final"] = main_post(cards)

    # Closed, with a reason: a duplicate for a case that has another discussion open.
    d["closed"] = await drv.convene("LL-100001", "Duplicate referral.")
    await drv.submit("chair", "close", d["closed"], reason="Convened in error: a duplicate.")

    # Single Assessment, with a reconvene date, signed off.
    did = d["single_assessment"] = await drv.convene("LL-100008", "Repeated missed health appointments.")
    await drv.accept(await drv.invite(did, "police", "health"), "police", "health")
    await drv.press("chair", "start", did)
    await drv.decide(did, "single_assessment", reconvene_on="2026-12-10")
    await drv.sign_off(did)

    # Closed after sign-off: the reason goes after the monitoring text.
    did = d["closed_after_sign_off"] = await drv.convene("LL-100007", "Left with an unsuitable carer.")
    await drv.accept(await drv.invite(did, "police", "health"), "police", "health")
    await drv.press("chair", "start", did)
    await drv.decide(did, "no_s47", **NO_S47)
    await drv.sign_off(did)
    await drv.submit("chair", "close", did, reason="Assessment complete: no further action.")

    # Closed in the middle of an S47 enquiry: its conference and further discussion were left open.
    did = d["closed_mid_enquiry"] = await drv.convene("LL-100011", "Injury to the face seen at nursery.")
    await drv.accept(await drv.invite(did, "police", "health"), "police", "health")
    await drv.press("chair", "start", did)
    await drv.decide(did, "s47_joint")
    await drv.submit("chair", "close", did, reason="The family moved to another council's area.")

    # Quorum not met: the police safeguarding manager declines, with directions.
    did = d["quorum_not_met"] = await drv.convene("LL-100009", "Burn on a hand.", possible_injury="yes")
    invitation = (await drv.invite(did, "sergeant", "health"))["sergeant"]
    await drv.press("sergeant", "decline", invitation)
    await drv.submit("sergeant", "decline", invitation, **DECLINE)

    # Out of hours: the out-of-hours manager convenes at 19:30.
    CLOCK.at = datetime(2026, 11, 24, 19, 30, tzinfo=UTC)
    did = d["out_of_hours"] = await drv.convene("LL-100010", "Found alone at night.", "night", **OUT_OF_HOURS)
    await drv.accept(await drv.invite(did, "police", chair="night"), "police")
    return d


class Sent:
    """A surface that takes every card, as Slack would."""

    name = "slack"

    async def can_reach(self, card) -> bool:
        return True

    async def deliver(self, card) -> None:
        return None


async def reminders(db: Database, drv: Fixture, d: dict) -> None:
    router = Router([Sent()])
    sweep = Scheduler(db, PROCEDURE, router, now=CLOCK.now, worker_id="fixture:1", send=False)
    for at in (datetime(2026, 11, 25, 0, 0), datetime(2026, 11, 25, 9, 0)):  # queued and sent
        CLOCK.at = at.replace(tzinfo=UTC)
        await sweep.tick()
        await sweep.drain()
    CLOCK.at = datetime(2026, 11, 26, 9, 0, tzinfo=UTC)  # Thursday: queued, not sent yet
    await sweep.tick()

    async with db.session() as s:
        rows = (await s.execute(select(DueItem))).scalars()
        items = {(i.discussion_id, i.kind, i.recipient_id): f"{i.discussion_id}:{i.id}" for i in rows}
    # The chair says why the referrer's acknowledgement is overdue: the signed record gets an addendum.
    missed = items[d["circulated"], "acknowledgement", drv.actors["referrer"].person_id]
    await drv.submit("chair", "due.missed_reason", missed, reason="The school was closed for a training day.")
    # An invitation answered two days after its deadline: the due item ends late.
    await drv.press("health", "accept", d["late_invitation"])
    # The police officer snoozes the reminder for their joint-visit action.
    snoozed = items[d["planned"], "action", drv.actors["police"].person_id]
    await drv.submit("police", "due.snooze", snoozed, until="tomorrow", reason="Visit booked for tomorrow.")


async def build(path: Path) -> None:
    for leftover in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        leftover.unlink(missing_ok=True)
    db = Database(f"sqlite:///{path}")
    try:
        await migrate.upgrade(db)
        drv = Fixture(Dialogs(db, PROCEDURE, now=CLOCK.now), CLOCK)
        await directory_and_slack(db, drv)
        await reminders(db, drv, await discussions(db, drv))
    finally:
        await db.dispose()
    con = sqlite3.connect(path)  # one small file: no write-ahead log, no free pages
    con.execute("PRAGMA journal_mode=DELETE")
    con.execute("VACUUM")
    con.close()


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: python -m tests.data.releases.0003.make OUT.sqlite")
    asyncio.run(build(Path(sys.argv[1])))
