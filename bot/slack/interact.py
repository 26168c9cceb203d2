"""From Slack payloads to Turns, and the engine's cards back to the person who acted.

Each listener acks first (Slack wants an answer within 3 seconds) and its work runs on the bounded
workers. The one exception is a modal submission, answered in the ack (bot/slack/submissions.py).

Buttons and submissions carry a one-time nonce (see blocks.stamp) that becomes the Turn's event_id, so
the engine acts once on a double click. A turn that changed nothing (a button that only opened a form,
a form sent back with its errors) is forgotten again, so the same button or form can be used again.
"""

import json
import logging
from dataclasses import replace

from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.webhook.async_client import AsyncWebhookClient

from bot.background import Tasks, where
from bot.delivery import DeliveryError
from bot.slack import blocks, modals, record_files, report_file
from bot.slack.client import SlackDeliveryError, call
from bot.slack.interaction import FAILED, PLATFORM, SAVED, UNKNOWN_PERSON, Interaction, parse_command
from bot.slack.submissions import SUBMIT_BUDGET, Submissions
from bot.slack.surface import SlackSurface
from dialogs import directory
from dialogs.model import Actor, Card, Form, Result, Target, TargetKind, Turn, TurnKind
from dialogs.record_to_chair import version_ids
from dialogs.report_card import period

log = logging.getLogger(__name__)


class Interactions(Submissions):
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
        if version_ids(card) is not None:
            return record_files.problem(card, exc)
        if period(card) is not None:
            return report_file.problem(card, exc)
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
        return modals.metadata(
            f=form.id, c=form.context, ch=ix.channel, l=ix.link, t=ix.team, n=depth, k=blocks.nonce()
        )

    def _at(self, ix: Interaction, depth: int) -> str:
        """An answer modal's metadata: where it sits in Slack's stack, for the forms its buttons open."""
        return modals.metadata(ch=ix.channel, l=ix.link, t=ix.team, n=depth)

    async def open_form(self, card: Card, ix: Interaction, turn: Turn | None) -> None:
        note = f"From <{ix.link}|this message> (linked, not copied)." if ix.link else None
        try:
            if ix.view_id and ix.depth >= 1:
                if ix.depth < 3:
                    view = modals.form_view(
                        card, private_metadata=self._meta(card.form, ix, ix.depth + 1), note=note
                    )
                    await call(ix.client, "views.push", trigger_id=ix.trigger_id, view=view)
                else:  # the stack is full: replace the top view instead
                    view = modals.form_view(
                        card, private_metadata=self._meta(card.form, ix, ix.depth), note=note
                    )
                    await call(ix.client, "views.update", view_id=ix.view_id, view=view)
                return
            if not ix.trigger_id:
                raise SlackDeliveryError("views.open", "expired_trigger_id", retryable=False)
            view = modals.form_view(card, private_metadata=self._meta(card.form, ix, 1), note=note)
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
            text = "\n".join(lines) or None
            view = modals.info_view(title, cards, text=text)
            if ix.view_id and ix.depth >= 1 and ix.trigger_id and ix.depth < 3:
                pushed = modals.info_view(
                    title, cards, text=text, private_metadata=self._at(ix, ix.depth + 1)
                )
                await call(ix.client, "views.push", trigger_id=ix.trigger_id, view=pushed)
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
