"""From Slack payloads to Turns, and the engine's cards back to the person who acted.

Each listener acks first (Slack wants an answer within 3 seconds) and does the work in a tracked
background task. The one exception is a modal submission: its answer (field errors, the next form)
must travel in the ack, so the engine gets a short budget and, when it runs over, the modal shows
"Working on it" and is updated when the work is done. The budget covers everything the submission
needs, finding the person in the directory (perhaps asking Slack) included.

Buttons and submissions carry a one-time nonce (see blocks.stamp) that becomes the Turn's event_id, so
the engine acts once on a double click. A turn that changed nothing (a button that only opened a form,
a form sent back with its errors) is forgotten again, so the same button or form can be used again.
"""

import asyncio
import hashlib
import json
import logging
import re
from dataclasses import dataclass, field, replace

from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.webhook.async_client import AsyncWebhookClient

from bot.background import Tasks, where
from bot.delivery import DeliveryError
from bot.slack import blocks
from bot.slack.client import SlackDeliveryError, call
from bot.slack.surface import Origin, SlackSurface
from dialogs import directory
from dialogs.model import Actor, Card, Form, Result, Target, TargetKind, Turn, TurnKind

log = logging.getLogger(__name__)

PLATFORM = "slack"
COMMANDS = ("convene", "status", "due", "help")
SUBMIT_BUDGET = 2.0  # seconds the engine may take inside a modal submission's 3-second window

UNKNOWN_PERSON = (
    "Sorry, I do not know you yet, so I cannot show or change strategy discussions for you. "
    "Please ask your duty manager or the bot's administrator to add you to the directory; "
    "it takes a minute."
)
GUEST = "Sorry, guest accounts cannot take part in strategy discussions through Slack."
FAILED = "Sorry, something went wrong and nothing was changed. Please try again in a moment."
SAVED = "Your change was saved, but I could not show you my answer. Use *status* to see where things stand."
WORKING = "Working on it…"


@dataclass(frozen=True)
class Interaction:
    """Where and how a person acted, so that answers go back the way they came."""

    client: AsyncWebClient
    user: str
    team: str | None = None
    channel: str | None = None
    thread_ts: str | None = None
    trigger_id: str | None = None
    response_url: str | None = None
    view_id: str | None = None  # set when they acted inside a modal
    depth: int = 0  # how many modals are stacked (Slack allows 3)
    link: str | None = None  # the message a discussion is started from

    @property
    def origin(self) -> Origin:
        return Origin(team=self.team, channel=self.channel, link=self.link)


def reply_text(text: str) -> str:
    """A Slack message's text as plain text: links and mentions unwrapped, entities decoded."""
    text = re.sub(r"<(https?://[^|>]+)\|([^>]+)>", r"\2 (\1)", text or "")
    text = re.sub(r"<(https?://[^>]+)>", r"\1", text)
    text = re.sub(r"<[@#!]([^|>]+)(?:\|([^>]+))?>", lambda m: "@" + (m.group(2) or m.group(1)), text)
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def parse_command(text: str) -> tuple[str, str]:
    """`convene ABC123` -> ("convene", "ABC123"); anything unknown -> ("help", "")."""
    word, _, rest = (text or "").strip().partition(" ")
    word = word.lower()
    return (word, rest.strip()) if word in COMMANDS else ("help", "")


def form_event(meta: dict, values: dict) -> str | None:
    """A submission's event_id: the modal's nonce and what was submitted. Slack keeps the modal (and
    its nonce) when it shows field errors, so the corrected answer is a new event; the very same
    answer sent twice is not."""
    once = meta.get("k")
    if not once:
        return None
    digest = hashlib.sha256(json.dumps(values, sort_keys=True, default=str).encode()).hexdigest()[:16]
    return f"form:{once}:{digest}"


@dataclass
class Submitted:
    """What a modal submission came to: the engine's cards, or why no turn was run."""

    cards: list[Card] = field(default_factory=list)
    turn: Turn | None = None
    queued: tuple[int, ...] = ()  # the turn's cards in the outbox
    errors: dict[str, str] | None = None  # people picked who are not in the directory, by input id
    text: str | None = None  # the person is not known, or Slack refused to tell who they are


def form_errors(form: Form, present: set[str]) -> dict[str, str] | None:
    """Errors for `response_action: errors` (Slack keeps what was typed), or None when the form
    cannot be answered that way (an error for an input the modal does not have)."""
    errors = {i.id: blocks.clip(i.error, 2000) for i in form.inputs if i.error}
    if form.error and not errors and form.inputs:
        errors[form.inputs[0].id] = blocks.clip(form.error, 2000)
    if not errors or not set(errors) <= present:
        return None
    return errors


class Interactions:
    """The listeners' work: who is acting, what they asked, and showing the engine's answer."""

    def __init__(self, services, surface: SlackSurface, *, submit_budget: float = SUBMIT_BUDGET) -> None:
        self.services = services
        self.surface = surface
        self.tasks = Tasks("slack")
        self.submit_budget = submit_budget

    # --- who ----------------------------------------------------------------------------------

    async def actor(self, client: AsyncWebClient, user_id: str, team_id: str | None) -> Actor | None:
        async with self.services.db.read() as s:
            actor = await directory.resolve(s, PLATFORM, user_id, team_id or "")
        if actor is not None:
            return actor
        if not team_id:
            return None  # an id is only ever linked together with its workspace
        info = (await call(client, "users.info", user=user_id)).get("user") or {}
        if info.get("is_restricted") or info.get("is_ultra_restricted") or info.get("is_bot"):
            return None  # guests and apps are never added from their profile
        profile = info.get("profile") or {}
        rules = directory.parse_domain_rules(self.services.settings.directory_domain_rules)
        async with self.services.db.session() as s:
            return await directory.resolve_or_register(
                s,
                self.services.procedure,
                platform=PLATFORM,
                external_id=user_id,
                tenant=team_id,
                email=profile.get("email"),
                name=info.get("real_name") or profile.get("real_name") or info.get("name") or "",
                rules=rules,
            )

    async def people(self, users: dict[str, list[str]], team_id: str | None) -> tuple[dict, dict[str, str]]:
        """Slack users picked in a people input -> directory person ids; errors for unknown ones."""
        fields, errors = {}, {}
        for input_id, user_ids in users.items():
            ids = []
            async with self.services.db.read() as s:
                for user_id in user_ids:
                    actor = await directory.resolve(s, PLATFORM, user_id, team_id or "")
                    if actor is None:
                        errors[input_id] = (
                            f"<@{user_id}> is not in the directory yet; ask the administrator to add them."
                        )
                    else:
                        ids.append(str(actor.person_id))
            fields[input_id] = ids
        return fields, errors

    # --- running a turn -------------------------------------------------------------------------

    async def run(self, ix: Interaction, turn_of) -> None:
        """Resolve the actor, build the turn with `turn_of(actor)`, handle it and present the cards."""
        try:
            actor = await self.actor(ix.client, ix.user, ix.team)
            if actor is None:
                await self.tell(ix, [], [UNKNOWN_PERSON])
                return
            turn = replace(turn_of(actor), origin=ix.origin.to_dict())
            result = await self.services.dialogs.handle(turn)
        except SlackDeliveryError as exc:
            log.warning("slack: %s", exc)
            await self.tell(ix, [], [exc.explanation], quiet=True)
            return
        except Exception as exc:  # the turn's transaction did not commit: nothing was changed
            log.error("slack: a turn failed: %s", where(exc))
            await self.tell(ix, [], [FAILED], quiet=True)
            return
        try:
            await self.present(result, ix, turn)
        except SlackDeliveryError as exc:
            log.warning("slack: %s", exc)
            await self.tell(ix, [], [SAVED, exc.explanation], quiet=True)
        except Exception as exc:  # committed: never say "nothing was changed" now
            log.error("slack: showing a turn's answer failed: %s", where(exc))
            await self.tell(ix, [], [SAVED], quiet=True)

    async def present(self, result: Result, ix: Interaction, turn: Turn | None = None) -> None:
        answers = list(result.answers)
        form = next((c for c in answers if c.form is not None), None)
        notes = [c for c in answers if c.form is None]
        if form is not None:  # first, while Slack's trigger is fresh
            await self.open_form(form, ix, turn)
        problems = await self.send(result.queued)
        if notes or problems:
            await self.tell(ix, notes, problems)

    async def send(self, queued: tuple[int, ...]) -> list[str]:
        """Send a turn's queued cards now (bot.outbound); return what failed for good, in plain words.
        What has to wait (a platform's rate limit) is sent by the scheduler, in order."""
        report = await self.services.sender.send_now(queued)
        return [await self.problem(f.card, f.error) for _, f in sorted(report.failures.items())]

    async def problem(self, card: Card, exc: Exception) -> str:
        """What did not arrive, and what to do about it, for the person who acted."""
        target = card.target
        if not isinstance(exc, DeliveryError):
            return "A message could not be posted, because of an error on our side. It has been logged."
        if isinstance(exc, SlackDeliveryError) and exc.code not in ("users_not_found", "not_authed"):
            return f"A message could not be posted. {exc.explanation}"
        if target.kind == TargetKind.CHANNEL:
            team = "out-of-hours" if target.place == "out_of_hours" else "duty"
            return (
                f"The {team} team was not told in Slack, because no channel is set for it. Please tell "
                "them yourself, and ask your administrator to set SLACK_DUTY_CHANNEL or "
                "SLACK_OUT_OF_HOURS_CHANNEL."
            )
        if target.kind == TargetKind.DIRECT and target.person_id is not None:
            async with self.services.db.session() as s:
                person = await directory.get_person(s, target.person_id)
            name = blocks.mrkdwn(person.display_name) if person else "Someone"
            return (
                f"I could not send {name} a direct message: I cannot find them in Slack by the email "
                "address in the directory. Please tell them yourself, and ask your administrator to check "
                "the directory."
            )
        return "A message could not be posted, because the discussion has no channel or thread in Slack yet."

    # --- showing answers -------------------------------------------------------------------------

    def _meta(self, form: Form, ix: Interaction, depth: int) -> str:
        return blocks.metadata(
            f=form.id, c=form.context, ch=ix.channel, l=ix.link, t=ix.team, n=depth, k=blocks.nonce()
        )

    async def open_form(self, card: Card, ix: Interaction, turn: Turn | None) -> None:
        note = f"From <{ix.link}|this message> (linked, not copied)." if ix.link else None
        try:
            if ix.view_id and ix.depth >= 1:
                if ix.depth < 3:
                    view = blocks.form_view(
                        card, private_metadata=self._meta(card.form, ix, ix.depth + 1), note=note
                    )
                    await call(ix.client, "views.push", trigger_id=ix.trigger_id, view=view)
                else:  # the stack is full: replace the top view instead
                    view = blocks.form_view(
                        card, private_metadata=self._meta(card.form, ix, ix.depth), note=note
                    )
                    await call(ix.client, "views.update", view_id=ix.view_id, view=view)
                return
            if not ix.trigger_id:
                raise SlackDeliveryError("views.open", "expired_trigger_id", retryable=False)
            view = blocks.form_view(card, private_metadata=self._meta(card.form, ix, 1), note=note)
            await call(ix.client, "views.open", trigger_id=ix.trigger_id, view=view)
        except SlackDeliveryError as exc:
            if exc.code not in ("expired_trigger_id", "invalid_trigger_id") or turn is None:
                raise
            # Too slow for Slack's 3-second trigger: offer a button that asks again with a fresh one.
            value = json.dumps(
                {"k": turn.kind.value, "n": turn.name, "v": turn.value, "l": ix.link, "ch": ix.channel}
            )
            if len(value) > blocks.BUTTON_VALUE:
                raise
            body = blocks.again_blocks(f"*{blocks.mrkdwn(card.form.title)}*: press to open the form.", value)
            await self.ephemeral(ix, card.form.title, body)

    async def tell(
        self, ix: Interaction, cards: list[Card], lines: list[str], *, quiet: bool = False
    ) -> None:
        """Show an answer only the person sees: in the modal they are in, as an ephemeral message
        where they acted, or by direct message. `quiet`: never raise (used while reporting errors)."""
        try:
            title = next((c.title for c in cards if c.title), "Strategy discussion")
            view = blocks.info_view(title, cards, text="\n".join(lines) or None)
            if ix.view_id and ix.depth >= 1 and ix.trigger_id and ix.depth < 3:
                await call(ix.client, "views.push", trigger_id=ix.trigger_id, view=view)
                return
            if ix.trigger_id and not ix.response_url and not _channel(ix.channel):
                try:  # a global shortcut or the App Home: nowhere to reply but a modal
                    await call(ix.client, "views.open", trigger_id=ix.trigger_id, view=view)
                    return
                except SlackDeliveryError:
                    pass  # the trigger is spent or expired: a direct message below
            body: list[dict] = []
            for card in cards:
                body += blocks.message(card)[1]
            if lines:
                body += blocks.text_message("\n".join(lines))
            await self.ephemeral(ix, title, body[: blocks.MESSAGE_BLOCKS])
        except Exception as exc:
            if not quiet:
                raise
            log.warning("slack: could not tell the person: %s", type(exc).__name__)

    async def ephemeral(self, ix: Interaction, text: str, body: list[dict]) -> None:
        if ix.response_url:
            webhook = AsyncWebhookClient(ix.response_url)
            response = await webhook.send(
                text=text, blocks=body, response_type="ephemeral", replace_original=False
            )
            if response.status_code == 200:
                return
        if _channel(ix.channel):
            try:
                await call(
                    ix.client,
                    "chat.postEphemeral",
                    channel=ix.channel,
                    user=ix.user,
                    text=text,
                    blocks=body,
                    thread_ts=ix.thread_ts,
                )
                return
            except SlackDeliveryError as exc:
                if exc.retryable:
                    raise
        opened = await call(ix.client, "conversations.open", users=ix.user)
        await call(ix.client, "chat.postMessage", channel=opened["channel"]["id"], text=text, blocks=body)

    # --- the listeners' work -----------------------------------------------------------------

    async def command(self, ix: Interaction, text: str) -> None:
        name, value = parse_command(text)
        await self.run(
            ix, lambda a: Turn(actor=a, kind=TurnKind.COMMAND, name=name, value=value, channel=PLATFORM)
        )

    async def button(self, ix: Interaction, name: str, value: str) -> None:
        value, once = blocks.unstamp(value)
        event_id = f"button:{once}" if once else None
        await self.run(
            ix,
            lambda a: Turn(
                actor=a, kind=TurnKind.BUTTON, name=name, value=value, channel=PLATFORM, event_id=event_id
            ),
        )

    async def again(self, ix: Interaction, value: str) -> None:
        data = json.loads(value or "{}")
        ix = replace(ix, link=data.get("l"), channel=data.get("ch") or ix.channel)
        await self.run(
            ix,
            lambda a: Turn(
                actor=a, kind=TurnKind(data["k"]), name=data["n"], value=data["v"], channel=PLATFORM
            ),
        )

    async def submit(self, ack, ix: Interaction, view: dict) -> asyncio.Task:
        """A modal was submitted: answer in the ack when the work is quick enough. Everything, finding
        the person and the people they picked included, runs inside the budget, so the ack always
        leaves within Slack's 3 seconds; slower work shows "Working on it" and updates the modal later.
        Returns the engine's work, so that the caller can wait until the turn is committed (or has
        failed) before it counts the submission as handled."""
        meta = blocks.read_metadata(view.get("private_metadata"))
        fields, users = blocks.submitted_values((view.get("state") or {}).get("values") or {})
        present = {b.get("block_id") for b in view.get("blocks") or [] if b.get("type") == "input"}
        ix = replace(
            ix, channel=meta.get("ch") or ix.channel, link=meta.get("l"), team=ix.team or meta.get("t")
        )
        work = self.tasks.spawn(self._submitted(ix, meta, fields, users))
        done, _ = await asyncio.wait({work}, timeout=self.submit_budget)
        if not done:
            await ack(response_action="update", view=blocks.info_view("Strategy discussion", text=WORKING))
            self.tasks.spawn(self._finish_late(work, ix, meta))
            return work
        if work.exception() is not None:
            log.error("slack: a form failed: %s", where(work.exception()))
            await ack(response_action="errors", errors={next(iter(present)): FAILED} if present else {})
            return work
        result: Submitted = work.result()
        if result.text:
            await ack(
                response_action="update", view=blocks.info_view("Strategy discussion", text=result.text)
            )
            return work
        if result.errors:
            await ack(response_action="errors", errors=result.errors)
            return work
        cards, turn = result.cards, result.turn
        answers = [c for c in cards if c.target.kind == TargetKind.EPHEMERAL]
        form = next((c for c in answers if c.form is not None), None)
        notes = [c for c in answers if c.form is None]
        # The same form back with its errors keeps Slack's view (and what was typed in it); a form with
        # another context (a newer version, when the one sent was stale) replaces the view.
        same = form is not None and form.form.id == turn.name and form.form.context == turn.value
        errors = form_errors(form.form, present) if form is not None and same else None
        if errors:
            await ack(response_action="errors", errors=errors)
            if notes:  # said beside the errors (an offer with buttons): where they acted, or by DM
                self.tasks.spawn(
                    self.tell(replace(ix, view_id=None, depth=0, trigger_id=None), notes, [], quiet=True)
                )
        elif form is not None:
            depth = int(meta.get("n") or 1)
            view = blocks.form_view(form, private_metadata=self._meta(form.form, ix, depth))
            await ack(response_action="update", view=view)
        elif notes:
            await ack(response_action="update", view=blocks.info_view(notes[0].title or "Done", notes))
        else:
            await ack()
        self.tasks.spawn(self._send_and_report(result.queued, ix))
        return work

    async def _submitted(self, ix: Interaction, meta: dict, fields: dict, users: dict) -> Submitted:
        """Who submitted, whom they picked, and the engine's answer."""
        try:
            actor = await self.actor(ix.client, ix.user, ix.team)
        except SlackDeliveryError as exc:
            return Submitted(text=exc.explanation)
        if actor is None:
            return Submitted(text=UNKNOWN_PERSON)
        people, errors = await self.people(users, ix.team)
        if errors:
            return Submitted(errors=errors)
        values = fields | people
        turn = Turn(
            actor=actor,
            kind=TurnKind.FORM,
            name=meta.get("f", ""),
            value=meta.get("c", ""),
            fields=values,
            channel=PLATFORM,
            event_id=form_event(meta, values),
            origin=ix.origin.to_dict(),
        )
        result = await self.services.dialogs.handle(turn)
        return Submitted(cards=list(result.answers), turn=turn, queued=result.queued)

    async def _finish_late(self, work: asyncio.Task, ix: Interaction, meta: dict) -> None:
        try:
            result: Submitted = await work
        except Exception:
            await call(
                ix.client,
                "views.update",
                view_id=ix.view_id,
                view=blocks.info_view("Strategy discussion", text=FAILED),
            )
            raise
        if result.text or result.errors:
            # The modal already says "Working on it", so field errors cannot be shown beside the fields.
            text = result.text or "\n".join(
                [*result.errors.values(), "Nothing was changed; please try again."]
            )
            view = blocks.info_view("Strategy discussion", text=text)
            await call(ix.client, "views.update", view_id=ix.view_id, view=view)
            return
        cards = result.cards
        answers = [c for c in cards if c.target.kind == TargetKind.EPHEMERAL]
        form = next((c for c in answers if c.form is not None), None)
        notes = [c for c in answers if c.form is None]
        if form is not None:
            view = blocks.form_view(form, private_metadata=self._meta(form.form, ix, int(meta.get("n") or 1)))
        else:
            view = blocks.info_view(notes[0].title if notes and notes[0].title else "Done", notes)
        await call(ix.client, "views.update", view_id=ix.view_id, view=view)
        await self._send_and_report(result.queued, ix)

    async def _send_and_report(self, queued: tuple[int, ...], ix: Interaction) -> None:
        problems = await self.send(queued)
        if problems:  # the modal is closed or showing the answer: tell them where they acted, or by DM
            await self.tell(replace(ix, view_id=None, depth=0, trigger_id=None), [], problems, quiet=True)

    async def home(self, client: AsyncWebClient, user_id: str, team_id: str | None) -> None:
        """The App Home tab: what is due for the viewer and the discussions they take part in."""
        actor = await self.actor(client, user_id, team_id)
        if actor is None:
            empty = Card(target=Target(TargetKind.EPHEMERAL), title="", text=UNKNOWN_PERSON)
            view = blocks.home_view("you", [("Not in the directory yet", [empty])])
        else:
            due = await self.services.dialogs.handle(
                Turn(actor=actor, kind=TurnKind.COMMAND, name="due", channel=PLATFORM)
            )
            status = await self.services.dialogs.handle(
                Turn(actor=actor, kind=TurnKind.COMMAND, name="status", channel=PLATFORM)
            )
            only, mine = list(due.answers), list(status.answers)
            view = blocks.home_view(actor.name, [("Due for you", only), ("Your discussions", mine)])
        await call(client, "views.publish", user_id=user_id, view=view)


def _channel(channel_id: str | None) -> bool:
    """A channel (public C..., private G... or C...), as opposed to a direct message or nothing."""
    return bool(channel_id) and channel_id[0] in "CG"
