"""Build the database release 0007 leaves behind, for tests/test_upgrade_from_previous_release.py.

This release's own code writes every row: the directory, the dialogs engine (every turn queues its
cards in the outbox), the scheduler's sweeps (reminders, the duty handover, the outbox sender, the
audit anchors), the Slack inbox and the Slack and Teams stores. So the file holds what a council
running this release really has. Run it from a worktree of the commit named in README.md:

    .venv/bin/python -m tests.data.releases.0007.make tests/data/releases/0007/release.sqlite

All data is fictional, and every time comes from one fake clock (Tuesday 24 November 2026 10:00 UTC
onwards), so running it again gives the same rows.
"""

import asyncio
import random
import sqlite3
import sys
import types
from collections import Counter
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from slack_sdk.oauth.installation_store.models.installation import Installation
from sqlalchemy import func, select, text

import bot.slack.stores
import storage.types
from bot.background import Tasks
from bot.config import Settings
from bot.delivery import DeliveryError, Router
from bot.inbox import Inbox, Item
from bot.outbound import OutboxSender
from bot.scheduler import Scheduler
from bot.slack.inbound import inbound
from bot.slack.keyed import card_key
from bot.slack.stored import CARD, Refs
from bot.slack.stores import DatabaseInstallationStore, DatabaseStateStore
from bot.slack.surface import Origin as SlackOrigin
from bot.teams.conversations import Origin as TeamsOrigin
from bot.teams.conversations import Place, remember
from dialogs import directory
from dialogs.engine import Dialogs
from dialogs.model import Card, TargetKind, Turn, TurnKind
from dialogs.procedure import load_procedure
from storage import audit, migrate, refs
from storage.db import Database
from storage.models import DueItem, Person
from tests.engine_helpers import Clock, Driver, form_of

CLOCK = Clock(datetime(2026, 11, 24, 10, 0, tzinfo=UTC))  # a Tuesday, in office hours (GMT)
PROCEDURE = load_procedure()


class _FakeDatetime(datetime):
    """storage.types.utcnow() reads datetime.now(UTC): column defaults, the audit trail, the leases of
    the scheduler, the outbox sender and the inbox take their time from it. Here it reads CLOCK."""

    @classmethod
    def now(cls, tz=None):
        return CLOCK.now().astimezone(tz) if tz else CLOCK.now().replace(tzinfo=None)


storage.types.datetime = _FakeDatetime
# The OAuth state store draws its state at random: here it is always the same fictional one.
bot.slack.stores.secrets = types.SimpleNamespace(token_urlsafe=lambda n=32: "fixture-oauth-state-0001")
random.seed(7)  # the outbox sender's back-off jitter

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


def slack_id(key: str) -> str:
    return f"U0{key.upper():0<8}"


def identities(key: str, kinds: list[str]) -> list[tuple[str, str, str]]:
    ids = {
        "S": ("slack", slack_id(key), COUNCIL),
        "T": ("teams", f"29:aad-{key}-0001", TENANT),
        "P": ("playground", key, ""),
    }
    return [ids[k] for k in kinds]


NOT_KNOWN = {f"c_{c.id}": "no" for c in PROCEDURE.circumstances}
CONVENE = NOT_KNOWN | dict(category="physical", immediate_risk="no", format="meeting", out_of_hours="auto")
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
RECONVENE = dict(format="meeting", proposed_date="2026-11-24", out_of_hours="auto")
SLACK_CHANNEL, SLACK_TS = "C0SDLL200002", "1764000000.000100"  # the discussion's private channel and post
TEAMS_URL = "https://smba.example.org/teams/"
SIGNOFF = dict(
    monitoring="Team manager reviews progress weekly in supervision.",
    notify_others="The chair phones the school today.",
)


def origin_of(channel: str, key: str, person_id: int) -> dict:
    """Turn.origin as each surface makes it (where the person acted)."""
    if channel == "slack":
        return SlackOrigin(team=COUNCIL, channel=SLACK_CHANNEL).to_dict()
    if channel == "teams":
        place = Place(TEAMS_URL, f"a:1fixture-{key}", "personal", TENANT, bot_id="28:fixture-bot")
        return TeamsOrigin(place=place, user_id=f"29:aad-{key}-0001", person_id=person_id).to_dict()
    return {"surface": "playground"}


def main_post(cards) -> int:
    """The id of the discussion whose main post is among the cards."""
    return next(c.target.discussion_id for c in cards if c.target.kind == TargetKind.MAIN_POST)


class Fixture(Driver):
    """The test driver, with the clock one minute on before each turn, the channel the person is on,
    and each Slack or Teams turn's cards sent at once (as those surfaces do); playground turns' cards
    wait for the scheduler's next sweep."""

    channel = "playground"
    sender: OutboxSender

    @contextmanager
    def via(self, channel: str):
        self.channel = channel
        try:
            yield
        finally:
            self.channel = "playground"

    async def turn(self, who, kind, name="", value="", **kw):
        self.clock.advance(minutes=1)
        channel = kw.setdefault("channel", self.channel)
        kw.setdefault("origin", origin_of(channel, who, self.actors[who].person_id))
        cards = await super().turn(who, kind, name, value, **kw)
        bad = [i.error for c in cards if c.form for i in c.form.inputs if i.error]
        assert not bad, (name, bad)  # a form sent back with errors: this script is out of date
        if channel != "playground" and self.result.queued:
            await self.sender.send_now(self.result.queued)
        return cards

    def refused(self) -> str:
        return " / ".join(c.text for c in self.result.answers)

    async def submit(self, who, form, context, **fields):
        cards = await super().submit(who, form, context, **fields)
        assert self.result.changed, (form, self.refused())  # refused: this script is out of date
        return cards

    async def act(self, who, action, value):
        """A button that changes something (not one that opens a form)."""
        cards = await self.press(who, action, value)
        assert self.result.changed, (action, self.refused())
        return cards

    async def convene(self, case_ref: str, concern: str, who: str = "chair", **fields) -> int:
        return main_post(
            await self.submit(who, "convene", "", case_ref=case_ref, concern=concern, **CONVENE | fields)
        )

    async def invite(self, did: int, *keys: str, chair: str = "chair", **why) -> dict[str, str]:
        """Invite people; returns each one's invitation (the value of their Accept button)."""
        cards = await self.fill(chair, "invite", did, people=[self.pid(k) for k in keys], **why)
        return {k: self.button(cards, "accept", k) for k in keys}

    def pid(self, key: str) -> str:
        return str(self.actors[key].person_id)

    def button(self, cards, action: str, key: str) -> str:
        pid = self.actors[key].person_id
        return next(
            b.value for c in cards if c.target.person_id == pid for b in c.buttons if b.action == action
        )

    @staticmethod
    def option(form, input_id: str, person_id: str) -> str:
        """The option of a participant choice ("<person id>.<row version>")."""
        inputs = {i.id: i for i in form.inputs}
        return next(o.value for o in inputs[input_id].options if o.value.partition(".")[0] == person_id)

    async def accept(self, invitations: dict[str, str], *keys: str) -> None:
        for key in keys:
            await self.act(key, "accept", invitations[key])

    async def say(self, key: str, did: int, text: str, channel: str = "playground", event: str | None = None):
        await self.turn(key, TurnKind.REPLY, discussion_id=did, text=text, channel=channel, event_id=event)
        assert self.result.changed, self.refused()

    async def start(self, did: int) -> None:
        await self.act("chair", "start", did)

    async def decide(self, did: int, outcome: str, **fields):
        reasons = dict(reasons="Consistent account from two agencies.", risks="Further harm at home.")
        return await self.fill("chair", "decide", did, outcome=outcome, **reasons | fields)

    async def plan(self, did: int, **fields):
        return await self.fill("chair", "plan", did, **fields)

    async def sign_off(self, did: int):
        """Review the record, answer what the sign-off form asks, and sign it off."""
        form = form_of(await self.press("chair", "review", did))
        return await self.submit(
            "chair", "signoff", form.context, **{i.id: SIGNOFF[i.id] for i in form.inputs}
        )

    async def close(self, did: int, reason: str, why_open: str):
        """Close, with `reason`, and `why_open` for every deadline still open."""
        form = form_of(await self.press("chair", "close", did))
        fields = {i.id: (reason if i.id == "reason" else why_open) for i in form.inputs}
        return await self.submit("chair", "close", form.context, **fields)

    async def held(self, did: int, invitations: dict[str, str], *accepting: str, **decision):
        """Accept, start, hear police and health, decide S47, plan, sign off: the circulated cards."""
        await self.accept(invitations, *accepting)
        await self.start(did)
        await self.say("police", did, "Police hold a report of a previous incident at the address.")
        await self.say("health", did, "Health visitor saw the child last week; weight on track.")
        await self.decide(did, "s47_joint", **decision)
        await self.plan(did, **CHECKLIST, **PLAN)
        return await self.sign_off(did)

    async def due_item(self, did: int, kind: str, recipient: str | None = None) -> str:
        """A due item as its reminder's buttons name it ("<discussion>:<item>")."""
        async with self.dialogs.db.read() as s:
            query = select(DueItem).where(DueItem.discussion_id == did, DueItem.kind == kind)
            if recipient is not None:
                query = query.where(DueItem.recipient_id == self.actors[recipient].person_id)
            item = (await s.execute(query)).scalars().one()
        return f"{did}:{item.id}"


# --- where the cards go ------------------------------------------------------------------------------


class Surface:
    """A surface that takes every card, as Slack or Teams would, but for the ones `refuse` fails."""

    def __init__(self, name: str, refuse=None) -> None:
        self.name, self.refuse = name, refuse

    async def can_reach(self, card: Card, origin=None) -> bool:
        return True

    async def deliver(self, card: Card, origin=None) -> None:
        error = self.refuse(card) if self.refuse else None
        if error is not None:
            raise error


def surfaces(actors) -> Router:
    rate_limited: set[tuple[str, str]] = set()

    def slack(card: Card) -> DeliveryError | None:
        # The out-of-hours channel is busy: Slack asks each post in it to wait once (a 429).
        if card.target.kind == TargetKind.CHANNEL and card.target.place == "out_of_hours":
            if (card.title, card.text) not in rate_limited:
                rate_limited.add((card.title, card.text))
                return DeliveryError("slack: 429 ratelimited", retryable=True, retry_after=30)
        return None

    def teams(card: Card) -> DeliveryError | None:
        # The paediatrician never installed the Teams app: a direct message to them fails for good.
        if card.target.kind == TargetKind.DIRECT and card.target.person_id == actors["paed"].person_id:
            return DeliveryError(
                "teams: 403 Forbidden (the app is not installed for this user)", retryable=False
            )
        return None

    return Router([Surface("slack", slack), Surface("teams", teams), Surface("playground")])


# --- the directory, Slack's OAuth and where the bot writes -------------------------------------------


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
    await DatabaseStateStore(db).async_issue()  # an install in progress
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


async def where_the_bot_writes(db: Database, drv: Fixture, did: int, invitation: Card) -> None:
    """What the Slack surface keeps for a discussion posted in its private channel (the held list,
    the post and its thread, a keyed card's message), and a Teams personal chat."""
    slack = Refs(db)
    reference = {"team": COUNCIL, "channel": SLACK_CHANNEL, "private": True}
    await slack.start_held(did, reference | {"ts": None})
    posted = reference | {"ts": SLACK_TS, "invited": [slack_id("police"), slack_id("referrer")]}
    await slack.save_posted(did, SLACK_CHANNEL, SLACK_TS, posted)
    key = card_key(invitation)
    assert key is not None
    dm = {"channel": "D0POLICE01", "ts": "1764000000.000200"}
    await slack.save(CARD, key, dm, discussion_id=did, person_id=invitation.target.person_id)
    place = Place(TEAMS_URL, "a:1fixture-health", "personal", TENANT, bot_id="28:fixture-bot")
    async with db.session() as s:
        await remember(s, place, user_id="29:aad-health-0001", person_id=drv.actors["health"].person_id)


# --- the Slack inbox -----------------------------------------------------------------------------------


class SlackInbox:
    """Slack's requests stored before they are answered (bot.inbox), then worked on by the workers."""

    def __init__(self, db: Database, drv: Fixture) -> None:
        self.db, self.drv = db, drv
        settings = Settings(_env_file=None, inbox_max_attempts=2, inbox_retry_seconds=60)
        self.tasks = Tasks("slack", workers=1, queue_size=10)
        self.inbox = Inbox("slack", db, settings, self.tasks, replay=self.replay, gave_up=self.gave_up)
        self.inbox.worker = "slack:fixture:1"  # not the host, the process id and a random part
        self.given_up: list[int] = []

    @staticmethod
    def reply_body(event_id: str, user: str, text: str, ts: str) -> dict:
        event = dict(type="message", user=user, text=text, ts=ts, thread_ts=SLACK_TS, channel=SLACK_CHANNEL)
        return dict(type="event_callback", team_id=COUNCIL, event_id=event_id, event=event)

    async def store(self, body: dict) -> Item:
        what = inbound(body)
        assert what is not None
        kind, key = what
        stored = await self.inbox.store(kind, key, body)
        assert stored.new
        return Item(stored.id, kind, body)

    async def receive(self, body: dict) -> None:
        """Stored, answered, then processed by a worker (marked done, or left to retry)."""
        item = await self.store(body)
        self.inbox.submit(item, lambda: self.reply(body))
        await self.tasks.drain()

    async def replay(self, item: Item) -> None:
        await self.reply(item.payload)

    async def gave_up(self, item: Item) -> None:
        self.given_up.append(item.id)  # the Slack app tells the author in the thread: nothing stored

    async def reply(self, body: dict) -> None:
        """What the Slack app does with a thread reply (bot.slack.listeners): the discussion from the
        thread, the author from the directory, then the engine's turn."""
        event = body["event"]
        async with self.db.read() as s:
            thread = await refs.find_by_key(
                s, platform="slack", kind="thread", key=f"{event['channel']}:{event['thread_ts']}"
            )
            actor = await directory.resolve(s, "slack", event["user"], body["team_id"])
        if thread is None:
            return
        if actor is None:  # the Slack app would look the author up by their profile: it failed
            raise LookupError("the author's Slack profile could not be read")
        self.drv.clock.advance(minutes=1)
        turn = Turn(
            actor=actor,
            kind=TurnKind.REPLY,
            text=event["text"],
            discussion_id=thread.discussion_id,
            channel="slack",
            event_id=body["event_id"],
            origin=origin_of("slack", "", actor.person_id),
        )
        result = await self.drv.dialogs.handle(turn)
        assert result.changed
        await self.drv.sender.send_now(result.queued)


# --- the discussions -----------------------------------------------------------------------------------


async def discussions(db: Database, drv: Fixture, inbox: SlackInbox) -> dict:
    d, pid = {}, drv.pid
    # Convened: invitations out; the police never answer, health answers a day late (see wednesday).
    d["convened"] = await drv.convene("LL-200001", "No heating at home for weeks.", category="neglect")
    d["late_invitation"] = (await drv.invite(d["convened"], "police", "health"))["health"]

    # In progress: some circumstances not known yet; replies over Slack (through the inbox) and
    # Teams, one by phone entered by the chair, one moved to another stage.
    unknown = dict(c_hospital_involvement="unknown", c_complex="unknown")
    did = d["in_progress"] = await drv.convene(
        "LL-200002", "Bruising to the upper arm seen at school.", **unknown
    )
    inv = await drv.invite(did, "police", "health", "paed", "referrer")
    police = drv.actors["police"].person_id
    await where_the_bot_writes(
        db, drv, did, next(c for c in drv.result.cards if c.target.person_id == police)
    )
    with drv.via("slack"):
        await drv.accept(inv, "police")
    with drv.via("teams"):
        await drv.accept(inv, "health")
    await drv.start(did)
    await inbox.receive(
        inbox.reply_body(
            "Ev0FIXTURE01", slack_id("police"), "Known to police: one call-out in 2025.", "1764000100.000300"
        )
    )
    await drv.say("health", did, "GP saw the child last month; no concerns.", "teams", "fixture-teams-1")
    form = form_of(await drv.press("chair", "phone", did))
    phone = dict(person=drv.option(form, "person", pid("paed")), stage="information")
    phone |= dict(text="Bruises look like a grip; examine.", why="Joined by phone from clinic")
    await drv.submit("chair", "phone", form.context, **phone)
    form = form_of(await drv.press("chair", "correct", did))
    first = form.inputs[0].options[0].value
    moved = dict(contribution=first, stage="immediate_protection", text="", why="Immediate protection")
    await drv.submit("chair", "correct", form.context, **moved)
    # Someone Slack would not tell the bot about replies in the thread: tried, then given up.
    stranger = inbox.reply_body(
        "Ev0FIXTURE02", "U0STRANGER", "Forwarded from the school office.", "1764000200.000400"
    )
    await inbox.receive(stranger)

    # Decided no S47: first S47, then changed (its conference and further discussion withdrawn).
    did = d["decided_no_s47"] = await drv.convene("LL-200003", "Child left alone overnight, aged 9.")
    await drv.accept(await drv.invite(did, "police", "health"), "police", "health")
    await drv.start(did)
    await drv.say("police", did, "No previous reports.")
    await drv.decide(did, "s47_single_agency")
    await drv.decide(did, "no_s47", **NO_S47)

    # Decided S47, the plan only partly answered (its conference is found not required on Thursday).
    did = d["decided_s47"] = await drv.convene("LL-200004", "Says they were hit with a belt.")
    await drv.accept(await drv.invite(did, "police", "health"), "police", "health")
    await drv.start(did)
    await drv.decide(did, "s47_single_agency")
    answered = list(CHECKLIST.items())
    await drv.plan(did, **dict(answered[:3]))  # over two sittings
    await drv.plan(did, **dict(answered[3:5]))

    # Decided with a complete plan and actions: one done, one to snooze, one that will not happen.
    did = d["planned"] = await drv.convene("LL-200005", "Sibling says they are locked in a room.")
    await drv.accept(await drv.invite(did, "police", "health", "social"), "police", "health", "social")
    await drv.start(did)
    await drv.decide(did, "s47_joint")
    await drv.plan(did, **CHECKLIST, **PLAN)
    for owner, what, due in (
        ("police", "Joint visit", "2026-11-26"),
        ("health", "Health visitor to visit the home", "2026-11-25"),
        ("social", "See the child", "2026-11-25"),
    ):
        cards = await drv.fill("chair", "add_action", did, description=what, owner=pid(owner), due_on=due)
    await drv.act("social", "action_done", drv.button(cards, "action_done", "social"))

    # Signed off and circulated without the paediatrician (an override, reviewed by the team manager;
    # one acknowledgement); reconvened as further discussion 2 (signed off), then a final one.
    flags = dict(c_possible_injury="yes", c_medical_implications="yes")
    did = d["circulated"] = await drv.convene("LL-200006", "Unexplained fracture, baby of 4 months.", **flags)
    inv = await drv.invite(did, "police", "health", "sergeant", "paed", "referrer")
    await drv.accept(inv, "sergeant")
    form = form_of(await drv.press("chair", "absent", did))
    await drv.submit(
        "chair", "absent", form.context, person=drv.option(form, "person", pid("paed")), reason="In clinic."
    )
    override = dict(override_reason="The paediatrician's findings were shared in writing before the meeting.")
    cards = await drv.held(did, inv, "police", "health", **override)
    await drv.act("police", "ack", drv.button(cards, "ack", "police"))
    await drv.act("team", "review_override", did)
    cards = await drv.fill("chair", "reconvene", did, **RECONVENE, proposed_time="16:30", is_final="no")
    d["further"] = main_post(cards)
    invited = {k: drv.button(cards, "accept", k) for k in ("police", "health", "sergeant", "paed")}
    await drv.held(d["further"], invited, "police", "health", "sergeant", "paed")
    cards = await drv.fill(
        "chair", "reconvene", d["further"], **RECONVENE, proposed_time="17:30", is_final="yes"
    )
    d["final"] = main_post(cards)

    # Closed with a reason: convened in error, a duplicate under a mistyped reference.
    did = d["closed_in_error"] = await drv.convene("LL-200013", "Duplicate referral (see LL-200001).")
    await drv.invite(did, "police")
    await drv.close(did, "Convened in error: a duplicate of LL-200001.", "Not needed: convened in error.")

    # Single Assessment, with a reconvene date, signed off; the school (not invited) is told later.
    did = d["single_assessment"] = await drv.convene("LL-200008", "Repeated missed health appointments.")
    await drv.accept(await drv.invite(did, "police", "health"), "police", "health")
    await drv.start(did)
    await drv.decide(did, "single_assessment", reconvene_on="2026-12-10")
    await drv.sign_off(did)

    # Closed by itself at sign-off: no S47, nothing left open but the acknowledgements.
    did = d["closed"] = await drv.convene(
        "LL-200007", "Left with an unsuitable carer.", referring_agency="health"
    )
    inv = await drv.invite(did, "police", "health")
    await drv.accept(inv, "police", "health")
    await drv.start(did)
    await drv.decide(did, "no_s47", **NO_S47)
    cards = await drv.sign_off(did)
    await drv.act("health", "ack", drv.button(cards, "ack", "health"))

    # Closed in the middle of an S47 enquiry: its record, conference and further discussion left open.
    did = d["closed_mid_enquiry"] = await drv.convene("LL-200011", "Injury to the face seen at nursery.")
    await drv.accept(await drv.invite(did, "police", "health", "social"), "police", "health")
    await drv.start(did)
    await drv.decide(did, "s47_joint")
    await drv.close(
        did, "The family moved to another council's area.", "The receiving council takes the enquiry over."
    )

    # Quorum not met, convened over Teams: the police safeguarding manager declines with directions,
    # no other officer comes, and the chair decides anyway; the team manager has not reviewed it yet.
    # (The paediatrician's invitation cannot be delivered in Teams: that outbox row failed.)
    with drv.via("teams"):
        did = d["quorum_not_met"] = await drv.convene("LL-200009", "Burn on a hand.", c_possible_injury="yes")
        inv = await drv.invite(did, "sergeant", "health", "paed")
    await drv.fill("sergeant", "decline", inv["sergeant"], **DECLINE)
    await drv.accept(inv, "health")
    await drv.start(did)
    await drv.say("health", did, "Burn consistent with a hot drink, but the account changed.")
    await drv.decide(
        did, "s47_single_agency", override_reason="Police gave directions; no officer is free today."
    )

    # A meeting set after the 24-hour deadline, with the reason; held on Wednesday (see wednesday).
    late = dict(
        proposed_date="2026-11-25", proposed_time="14:00", late_reason="The paediatrician is free only then."
    )
    did = d["late_meeting"] = await drv.convene("LL-200012", "Bite mark on the shoulder.", **late)
    d["late_invitations"] = await drv.invite(did, "police", "health", "paed")
    await drv.accept(d["late_invitations"], "police", "health")

    # Out of hours: the out-of-hours manager convenes at 19:30.
    CLOCK.at = datetime(2026, 11, 24, 19, 30, tzinfo=UTC)
    did = d["out_of_hours"] = await drv.convene("LL-200010", "Found alone at night.", "night", **OUT_OF_HOURS)
    await drv.accept(await drv.invite(did, "police", chair="night"), "police")
    return d


async def sweep(scheduler: Scheduler, at: datetime, *, send: bool = True) -> None:
    """The scheduler's sweep at `at`: what fell due queued, the handover, the audit chains anchored,
    and (with `send`) the outbox sent."""
    CLOCK.at = at
    await scheduler.tick()
    if send:
        await scheduler.drain()


async def wednesday(db: Database, drv: Fixture, d: dict, scheduler: Scheduler, inbox: SlackInbox) -> None:
    await sweep(scheduler, datetime(2026, 11, 25, 0, 0, tzinfo=UTC))  # out of hours: reminders, no handover
    # The failed Slack reply is tried again by the inbox's sweep, and given up.
    await inbox.inbox.sweep()
    await inbox.tasks.drain()
    assert inbox.given_up, "the stranger's reply should have been given up"
    # 09:00: the handover and the morning's reminders are queued; health answers its invitation (a
    # day late) before they go, so the out-of-hours channel's copies of the midnight reminders about
    # it, which Slack asked to wait, are dropped.
    await sweep(scheduler, datetime(2026, 11, 25, 9, 0, tzinfo=UTC), send=False)
    await drv.act("health", "accept", d["late_invitation"])
    await scheduler.drain()
    # The meeting of LL-200001 is overdue: the chair says why, and that it will still be held.
    CLOCK.at = datetime(2026, 11, 25, 11, 0, tzinfo=UTC)
    meeting = await drv.due_item(d["convened"], "meeting")
    await drv.fill(
        "chair", "due.missed_reason", meeting, will="still", reason="The police can attend only on Thursday."
    )
    await sweep(scheduler, datetime(2026, 11, 25, 12, 0, tzinfo=UTC))
    # The late meeting is held at the time the chair set.
    CLOCK.at = datetime(2026, 11, 25, 14, 0, tzinfo=UTC)
    did = d["late_meeting"]
    await drv.start(did)
    await drv.say("police", did, "The address is known for domestic abuse call-outs.")
    # Another reply in LL-200002's Slack thread, through the inbox.
    said = "Officer spoke to the school: the bruising was first seen on Monday."
    await inbox.receive(inbox.reply_body("Ev0FIXTURE03", slack_id("police"), said, "1764079300.000100"))


async def thursday(db: Database, drv: Fixture, d: dict, scheduler: Scheduler, inbox: SlackInbox) -> None:
    # 09:00: reminders and the handover queued, not sent yet; what follows stays in the outbox too.
    await sweep(scheduler, datetime(2026, 11, 26, 9, 0, tzinfo=UTC), send=False)
    # The health visitor's action will not happen: the chair says why (it ends missed).
    action = await drv.due_item(d["planned"], "action", "health")
    reason = "The family moved; the new area's health visitor takes it on."
    await drv.fill("chair", "due.missed_reason", action, will="not", reason=reason)
    # The police officer snoozes the reminder for their joint visit.
    joint_visit = await drv.due_item(d["planned"], "action", "police")
    await drv.fill("police", "due.snooze", joint_visit, until="tomorrow", reason="Visit booked for tomorrow.")
    # The school is told the outcome of LL-200008 by phone, a day late; the reason joins the record.
    told = dict(
        agency="education", told_by="Dana Duty", how="phone", told_date="2026-11-26", told_time="09:00"
    )
    cards = await drv.fill("chair", "tell_outcome", d["single_assessment"], **told)
    late = next(c for c in cards if c.key and c.key.startswith("late:"))
    why = "The school was closed for a training day on Wednesday."
    await drv.fill("chair", "due.missed_reason", late.buttons[0].value, reason=why)
    # The conference of LL-200006 was held; LL-200004's enquiry found none is needed.
    await drv.fill("chair", "icpc", d["further"], outcome="held", held_on="2026-11-26")
    why = "The enquiry found the injury accidental: no conference is needed."
    await drv.fill("chair", "icpc", d["decided_s47"], outcome="not_required", reason=why)
    # A reply stored by Slack's request, not yet worked on when the process stopped.
    await inbox.store(
        inbox.reply_body(
            "Ev0FIXTURE04", slack_id("police"), "Officer visited; child seen.", "1764100000.000500"
        )
    )


async def build(path: Path) -> None:
    for leftover in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        leftover.unlink(missing_ok=True)
    db = Database(f"sqlite:///{path}")
    try:
        await migrate.upgrade(db)
        drv = Fixture(Dialogs(db, PROCEDURE, now=CLOCK.now), CLOCK)
        await directory_and_slack(db, drv)
        drv.sender = OutboxSender(db, surfaces(drv.actors), worker_id="fixture:1", lanes=1)
        scheduler = Scheduler(
            db,
            PROCEDURE,
            drv.sender.router,
            now=CLOCK.now,
            worker_id="fixture:1",
            send=False,
            sender=drv.sender,
        )
        inbox = SlackInbox(db, drv)
        d = await discussions(db, drv, inbox)
        await wednesday(db, drv, d, scheduler, inbox)
        await thursday(db, drv, d, scheduler, inbox)
        await inbox.tasks.close()
        async with db.read() as s:
            trail = await audit.verify(s)
        assert trail.ok, trail
        await report(db)
    finally:
        await db.dispose()
    con = sqlite3.connect(path)  # one small file: no write-ahead log, no free pages
    con.execute("PRAGMA journal_mode=DELETE")
    con.execute("VACUUM")
    con.close()


async def report(db: Database) -> None:
    """Rows per table, and how the ones with a state stand (for README.md)."""
    async with db.read() as s:
        tables = (
            await s.execute(text("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name"))
        ).scalars()
        for table in tables:
            n = (await s.execute(text(f'SELECT count(*) FROM "{table}"'))).scalar()
            print(f"{table}: {n}")
        for table, column in (
            ("discussion", "state"),
            ("participant", "status"),
            ("dueitem", "state"),
            ("outbox", "status"),
            ("outbox", "kind"),
            ("inbox", "status"),
            ("circulation", "kind"),
            ("auditevent", "chain"),
        ):
            rows = await s.execute(text(f'SELECT "{column}", count(*) FROM "{table}" GROUP BY 1 ORDER BY 1'))
            counts = Counter({str(k): v for k, v in rows.all()})
            print(f"{table}.{column}: {dict(sorted(counts.items()))}")
        people = (await s.execute(select(func.count()).select_from(Person))).scalar()
        assert people == len(PEOPLE)


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: python -m tests.data.releases.0007.make OUT.sqlite")
    asyncio.run(build(Path(sys.argv[1])))
