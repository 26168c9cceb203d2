"""Further and final discussions: a new discussion in the case's series, with the same people.

None follows the final one. The final discussion starts only once every agency that took part in
the first discussion has someone invited to it.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlmodel import col

from dialogs import clock
from dialogs.engine import Ctx
from dialogs.flows.attendance import invite_one
from dialogs.flows.convene import (
    chair_of,
    concern_text,
    convene_form,
    may_chair,
    needs_meeting,
    out_of_hours_notice,
    read_hours,
    read_when,
    series_discussions,
)
from dialogs.flows.registry import on
from dialogs.flows.thread import stage_card
from dialogs.lifecycle import CLOSED_STATES, STATE_LABELS, Act, State
from dialogs.model import Button, Card, TurnKind
from dialogs.quorum import COLUMNS, PRESENT
from dialogs.validate import DialogError, Fields, refill
from storage.models import Discussion, Participant


def why_no_further(d: Discussion, series: list[Discussion]) -> str | None:
    """Why no further discussion may follow `d`, if it may not (the post offers one only if it may)."""
    if any(x.is_final and x.started_at is not None for x in series):
        return f"The final discussion of {d.case_ref} has been held: no further discussion follows it."
    later = [x for x in series if x.number > d.number and x.state not in CLOSED_STATES]
    if later:  # a final one convened in error and closed unheld does not count
        return (
            f"Discussion {later[0].number} of {d.case_ref} is already convened "
            f"({STATE_LABELS[State(later[0].state)]}): use that one."
        )
    return None


async def _check_further(ctx: Ctx) -> list[Discussion]:
    """The series, if a further discussion may follow this one; otherwise why not."""
    found = await series_discussions(ctx, ctx.d.series_id)
    why = why_no_further(ctx.d, found)
    if why:
        raise DialogError(why)
    return found


@on(TurnKind.BUTTON, "reconvene", Act.FURTHER)
async def ask_further(ctx: Ctx) -> list[Card]:
    await _check_further(ctx)
    return [ctx.reply("", form=convene_form(ctx, further_of=ctx.d))]


@on(TurnKind.FORM, "reconvene", Act.FURTHER)
async def further(ctx: Ctx) -> list[Card]:
    """A further (or the final) discussion: same case and people, numbered on from this one."""
    found = await _check_further(ctx)
    previous, f = ctx.d, Fields(ctx.turn.fields)
    fmt = f.choice("format", {x.id for x in ctx.procedure.formats}, required=True)
    is_final = bool(f.yes_no("is_final", default=False))
    proposed, _ = read_when(ctx, f, first=False)
    ooh, detected, hours_reason = read_hours(ctx, f, proposed)
    if proposed is not None and (why := may_chair(ctx, ooh)):
        f.error("proposed_time", why)
    if fmt and fmt != "meeting" and needs_meeting(ctx, found):
        f.error("format", "This case required a meeting (not calls), so every discussion of it does.")
    if not f.ok or proposed is None:
        return [ctx.reply("", form=refill(convene_form(ctx, further_of=previous), ctx.turn.fields, f.errors))]
    copy = {
        k: getattr(previous, k)
        for k in ("series_id", "case_ref", "category", "concern", "immediate_risk", *COLUMNS.values())
    }
    d = Discussion(
        **copy,
        referring_agency=previous.referring_agency,
        nation=previous.nation,
        number=max(x.number for x in found) + 1,
        is_final=is_final,
        previous_id=previous.id,
        format=fmt or "meeting",
        out_of_hours=ooh,
        out_of_hours_detected=detected,
        out_of_hours_reason=hours_reason,
        convened_by_id=ctx.actor.person_id,
        chair_id=ctx.actor.person_id,
        convened_at=ctx.now,
        proposed_at=proposed,
        # Held on the day the chair set (not within 24 hours): by the end of that day.
        meeting_due_at=clock.end_of_day(ctx.local(proposed).date(), ctx.dialogs.tz),
    )
    ctx.session.add(d)
    await ctx.session.flush()
    old_people = await ctx.participants()
    ctx.discussion, ctx._participants = d, None
    ctx.session.add(chair_of(ctx))
    invitations = []
    for old in old_people:
        if old.person_id != ctx.actor.person_id:
            invitations.append(await invite_one(ctx, old.person_id, old.agency, old.role))
    await ctx.audit("discussion.reconvened", previous_id=previous.id, number=d.number, final=is_final)
    cards = await ctx.changed() + invitations
    cards.append(stage_card(ctx, "concern", concern_text(ctx)))
    text = (
        f"Convened {d.case_ref} discussion {d.number}{' (final)' if is_final else ''}; "
        f"{len(invitations)} people invited again."
    )
    missing = await final_agencies_missing(ctx)
    if missing:
        text += (
            f" Before it can start, invite someone from: {', '.join(missing)} (they took part in the first)."
        )
    cards.append(ctx.reply(text, buttons=(Button("invite", "Invite people", ctx.value()),)))
    if ooh:
        cards.append(out_of_hours_notice(ctx))
    return cards


async def final_agencies_missing(ctx: Ctx) -> list[str]:
    """For a final discussion: the agencies that took part in the first one, nobody from which is
    invited to this one (the procedure: everyone from the first discussion)."""
    if not ctx.d.is_final:
        return []
    first = (await series_discussions(ctx, ctx.d.series_id))[0]
    took_part = select(col(Participant.agency)).where(
        col(Participant.discussion_id) == first.id,
        col(Participant.status).in_(PRESENT),
    )
    agencies = set((await ctx.session.execute(took_part)).scalars())
    invited = {p.agency for p in await ctx.participants()}
    labels = {a.id: a.label for a in ctx.procedure.agencies}
    return [labels.get(a, a) for a in sorted(agencies - invited)]
