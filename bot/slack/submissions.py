"""Modal submissions: the one answer that must travel in the ack (field errors, the next form), so the
engine gets a short budget and, when it runs over, the modal shows "Working on it" and is updated when
the work is done. The budget covers everything the submission needs, finding the person in the
directory (perhaps asking Slack) included. A submission's event id is the modal's nonce and what was
submitted, so the very same answer sent twice acts once."""

import asyncio
import hashlib
import json
import logging
from dataclasses import dataclass, field, replace

from bot.background import where
from bot.slack import blocks, modals
from bot.slack.client import SlackDeliveryError, call
from bot.slack.interaction import FAILED, PLATFORM, UNKNOWN_PERSON, WORKING, Interaction
from dialogs.model import Card, Form, TargetKind, Turn, TurnKind

log = logging.getLogger(__name__)

SUBMIT_BUDGET = 2.0  # seconds the engine may take inside a modal submission's 3-second window


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


class Submissions:
    """Interactions' modal submissions (a part of Interactions: it uses its actor, people, tell,
    send, tasks and services)."""

    async def submit(self, ack, ix: Interaction, view: dict) -> asyncio.Task:
        """A modal was submitted: answer in the ack when the work is quick enough. Everything, finding
        the person and the people they picked included, runs inside the budget, so the ack always
        leaves within Slack's 3 seconds; slower work shows "Working on it" and updates the modal later.
        Returns the engine's work, so that the caller can wait until the turn is committed (or has
        failed) before it counts the submission as handled."""
        meta = modals.read_metadata(view.get("private_metadata"))
        fields, users = modals.submitted_values((view.get("state") or {}).get("values") or {})
        present = {b.get("block_id") for b in view.get("blocks") or [] if b.get("type") == "input"}
        ix = replace(
            ix, channel=meta.get("ch") or ix.channel, link=meta.get("l"), team=ix.team or meta.get("t")
        )
        work = self.tasks.spawn(self._submitted(ix, meta, fields, users))
        done, _ = await asyncio.wait({work}, timeout=self.submit_budget)
        if not done:
            await ack(response_action="update", view=modals.info_view("Strategy discussion", text=WORKING))
            self.tasks.spawn(self._finish_late(work, ix, meta))
            return work
        if work.exception() is not None:
            log.error("slack: a form failed: %s", where(work.exception()))
            await ack(response_action="errors", errors={next(iter(present)): FAILED} if present else {})
            return work
        result: Submitted = work.result()
        if result.text:
            await ack(
                response_action="update", view=modals.info_view("Strategy discussion", text=result.text)
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
            view = modals.form_view(form, private_metadata=self._meta(form.form, ix, depth))
            await ack(response_action="update", view=view)
        elif notes:
            depth = int(meta.get("n") or 1)
            answer = modals.info_view(notes[0].title or "Done", notes, private_metadata=self._at(ix, depth))
            await ack(response_action="update", view=answer)
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
                view=modals.info_view("Strategy discussion", text=FAILED),
            )
            raise
        if result.text or result.errors:
            # The modal already says "Working on it", so field errors cannot be shown beside the fields.
            text = result.text or "\n".join(
                [*result.errors.values(), "Nothing was changed; please try again."]
            )
            view = modals.info_view("Strategy discussion", text=text)
            await call(ix.client, "views.update", view_id=ix.view_id, view=view)
            return
        cards = result.cards
        answers = [c for c in cards if c.target.kind == TargetKind.EPHEMERAL]
        form = next((c for c in answers if c.form is not None), None)
        notes = [c for c in answers if c.form is None]
        if form is not None:
            view = modals.form_view(form, private_metadata=self._meta(form.form, ix, int(meta.get("n") or 1)))
        else:
            title = notes[0].title if notes and notes[0].title else "Done"
            view = modals.info_view(title, notes, private_metadata=self._at(ix, int(meta.get("n") or 1)))
        await call(ix.client, "views.update", view_id=ix.view_id, view=view)
        await self._send_and_report(result.queued, ix)

    async def _send_and_report(self, queued: tuple[int, ...], ix: Interaction) -> None:
        problems = await self.send(queued)
        if problems:  # the modal is closed or showing the answer: tell them where they acted, or by DM
            await self.tell(replace(ix, view_id=None, depth=0, trigger_id=None), [], problems, quiet=True)
