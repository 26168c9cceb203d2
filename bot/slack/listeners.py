"""The Bolt listeners: each acks (Bolt has stored what must not be lost first: bot/slack/app.py), then
hands its work to the bounded workers; the work turns the payload into an Interaction and a Turn
(bot/slack/interact.py)."""

import asyncio
import logging
import re
from dataclasses import replace

from slack_sdk.web.async_client import AsyncWebClient

from bot.background import where
from bot.inbox import Item
from bot.slack import blocks, modals
from bot.slack.client import SlackDeliveryError
from bot.slack.inbound import THREAD_REPLY, no_ack
from bot.slack.interaction import PLATFORM, UNKNOWN_PERSON, Interaction, reply_text
from bot.slack.settings import (
    COMMAND,
    CONVENE_SHORTCUT,
    MESSAGE_SHORTCUT,
)
from dialogs.model import Turn, TurnKind

log = logging.getLogger(__name__)

ONLY_THE_CHAIR = "Only the chair of the discussion can confirm who may see it, or check again and post."


class Listeners:
    """SlackApp's listeners and their work (a part of SlackApp: it uses its bolt, work, surface,
    inbox and services)."""

    # --- listeners: each acks, then works in the background --------------------------------------

    def _register(self) -> None:
        b = self.bolt
        b.command(COMMAND)(self.on_command)
        b.shortcut(CONVENE_SHORTCUT)(self.on_shortcut)
        b.shortcut(MESSAGE_SHORTCUT)(self.on_message_shortcut)
        b.action(blocks.ENGINE_ACTION)(self.on_button)
        b.action(re.compile(rf"^{re.escape(blocks.CONFIRM_ACTION)}:\d+$"))(self.on_confirm)
        b.action(blocks.RECHECK_ACTION)(self.on_recheck)
        b.action(blocks.AGAIN_ACTION)(self.on_again)
        b.view(blocks.FORM_CALLBACK)(self.on_submit)
        b.event("message")(self.on_message)
        b.event("app_home_opened")(self.on_home)

    @staticmethod
    def _team(body: dict, context) -> str | None:
        """The workspace, or for an organisation-wide install without one, the organisation."""
        return (
            context.get("team_id")
            or (body.get("team") or {}).get("id")
            or body.get("team_id")
            or context.get("enterprise_id")
        )

    def _interaction(self, body: dict, context, client: AsyncWebClient) -> Interaction:
        """Where a shortcut, button or submission came from."""
        container = body.get("container") or {}
        view = body.get("view") or {}
        in_modal = view.get("type") == "modal"
        meta = modals.read_metadata(view.get("private_metadata")) if in_modal else {}
        return Interaction(
            client=client,
            user=(body.get("user") or {}).get("id") or body.get("user_id", ""),
            team=self._team(body, context),
            channel=(body.get("channel") or {}).get("id") or container.get("channel_id") or meta.get("ch"),
            thread_ts=container.get("thread_ts"),
            trigger_id=body.get("trigger_id"),
            response_url=body.get("response_url") or None,
            view_id=view.get("id") if in_modal else None,
            depth=int(meta.get("n") or 1) if in_modal else 0,
            link=meta.get("l"),
        )

    async def on_command(self, ack, body, context, client) -> None:
        await ack()
        self._queue(context, self._work_for("command", body, context, client))

    async def on_shortcut(self, ack, body, context, client) -> None:
        await ack()
        self._queue(context, self._work_for("shortcut", body, context, client))

    async def on_message_shortcut(self, ack, body, context, client) -> None:
        await ack()
        self._queue(context, self._work_for("message_action", body, context, client))

    async def _from_message(self, body, context, client) -> None:
        ix = self._interaction(body, context, client)
        message_ts = (body.get("message") or {}).get("ts") or body.get("message_ts")
        try:
            found = await client.chat_getPermalink(channel=ix.channel, message_ts=message_ts)
            link = found.get("permalink")
        except Exception as exc:  # the link is a convenience: convene without it
            log.warning("slack: no permalink for the shortcut's message (%s)", type(exc).__name__)
            link = None
        await self.work.command(replace(ix, link=link), "convene")

    async def on_button(self, ack, body, context, client) -> None:
        await ack()
        self._queue(context, self._work_for("block_actions", body, context, client))

    async def _button(self, body, context, client) -> None:
        ix = self._interaction(body, context, client)
        action = (body.get("actions") or [{}])[0]
        name = blocks.engine_action(action.get("action_id", ""))
        # The button's value names the discussion ("<id>[:<subject>]"); the engine reads it from there.
        await self.work.button(ix, name, action.get("value") or "")

    async def on_confirm(self, ack, body, context, client) -> None:
        await ack()
        self._queue(context, self._work_for("block_actions", body, context, client))

    async def _confirm(self, body, context, client) -> None:
        ix = self._interaction(body, context, client)
        discussion, _, user = ((body.get("actions") or [{}])[0].get("value") or "").partition("|")
        actor = await self.work.actor(client, ix.user, ix.team)
        if actor is None or not discussion.isdigit():
            await self.work.tell(ix, [], [ONLY_THE_CHAIR])
            return
        if not await self.surface.confirm(int(discussion), user, actor.person_id):
            await self.work.tell(ix, [], [ONLY_THE_CHAIR])
            return
        await self._recheck_and_report(
            ix, int(discussion), f"Confirmed <@{user}> as an invited professional."
        )

    async def on_recheck(self, ack, body, context, client) -> None:
        await ack()
        self._queue(context, self._work_for("block_actions", body, context, client))

    async def _recheck(self, body, context, client) -> None:
        ix = self._interaction(body, context, client)
        value = (body.get("actions") or [{}])[0].get("value") or ""
        discussion = int(value) if value.isdigit() else 0
        try:
            actor = await self.work.actor(client, ix.user, ix.team)
        except SlackDeliveryError as exc:
            await self.work.tell(ix, [], [exc.explanation], quiet=True)
            return
        if actor is None or await self.surface.chair_of(discussion) != actor.person_id:
            await self.work.tell(ix, [], [ONLY_THE_CHAIR], quiet=True)
            return
        await self._recheck_and_report(ix, discussion, None)

    async def _recheck_and_report(self, ix: Interaction, discussion_id: int, done: str | None) -> None:
        try:
            verdict = await self.surface.recheck(discussion_id)
        except SlackDeliveryError as exc:
            await self.work.tell(ix, [], [exc.explanation], quiet=True)
            return
        lines = [done] if done else []
        if verdict is None:
            lines.append("There is nothing waiting to be posted for that discussion.")
        elif verdict.safe:
            lines.append("Everyone in the channel may see the discussion: I have posted the details.")
        else:
            lines.append("Some members still may not see the discussion, so the details stay held back.")
        await self.work.tell(ix, [], lines, quiet=True)

    async def on_again(self, ack, body, context, client) -> None:
        await ack()
        self._queue(context, self._work_for("block_actions", body, context, client))

    async def on_submit(self, ack, body, context, client) -> None:
        # Answered inside the ack (field errors, the next form), within its budget; stored first.
        item: Item | None = context.get("inbox_item")
        if item is not None:
            self.inbox.in_hand.add(item.id)
        try:
            ix = self._interaction(body, context, client)
            turn = await self.work.submit(ack, ix, body.get("view") or {})
            # Answered already; handled once the turn has committed (or failed, which the person was
            # told): a process that dies before then leaves the row for the sweep.
            await asyncio.wait({turn})
        finally:
            if item is not None:
                self.inbox.in_hand.discard(item.id)
        if item is not None:
            await self.inbox.done(item)

    async def on_message(self, body, event, context, client) -> None:
        # Only people's replies in a thread (stored by _store_first); not edits, joins, bots or posts.
        if context.get("inbox_item") is not None:
            self._queue(context, self._work_for(THREAD_REPLY, body, context, client))

    async def _submit_again(self, ix: Interaction, view: dict) -> None:
        """A stored submission the sweep runs again: done once its turn has committed."""
        await asyncio.wait({await self.work.submit(no_ack, ix, view)})

    async def _reply(self, body, context, client) -> None:
        """A reply in a thread: a contribution when the thread is a discussion's. Failures raise, so the
        inbox tries again and in the end tells the author and the chair."""
        event = body.get("event") or {}
        discussion_id = await self.surface.discussion_for_thread(event.get("channel", ""), event["thread_ts"])
        if discussion_id is None:
            return  # a thread that is not a discussion's: nothing to record
        ix = Interaction(
            client=client,
            user=event["user"],
            team=self._team(body, context),
            channel=event.get("channel"),
            thread_ts=event["thread_ts"],
        )
        actor = await self.work.actor(client, ix.user, ix.team)
        if actor is None:  # not in the directory: nothing to record, and they are told why
            try:
                await self.work.tell(ix, [], [UNKNOWN_PERSON])
            except SlackDeliveryError as exc:
                log.warning("slack: could not tell an unknown person why their reply was not kept: %s", exc)
            return
        turn = Turn(
            actor=actor,
            kind=TurnKind.REPLY,
            text=reply_text(event.get("text", "")),
            discussion_id=discussion_id,
            channel=PLATFORM,
            event_id=body.get("event_id"),
            origin=ix.origin.to_dict(),
        )
        result = await self.services.dialogs.handle(turn)
        try:  # recorded: what follows is telling people, which must not make it be recorded again
            await self.work.present(result, ix, turn)
        except Exception as exc:
            log.error("slack: a reply was recorded but its answer failed: %s", where(exc))

    async def on_home(self, event, body, context, client) -> None:
        if event.get("tab") == "home" and not self.work.tasks.submit(
            lambda: self._home(event, body, context, client)
        ):
            log.warning(
                "slack: the work queue is full (%d waiting): an App Home tab was not refreshed",
                self.work.tasks.queue.qsize(),
            )

    async def _home(self, event, body, context, client) -> None:
        try:
            await self.work.home(client, event["user"], self._team(body, context))
        except Exception as exc:
            log.error("slack: could not publish the App Home tab: %s", where(exc))
