"""Further and final discussions: a new discussion in each child's series, with the same people.

A further discussion may be about some of the siblings only (their enquiries part ways); each child
keeps their own series and numbering. None follows a child's final one. The final discussion starts
only once every agency that took part in the first discussion has someone invited to it.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlmodel import col

from dialogs import children as kids
from dialogs import clock
from dialogs.children import children_input
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
from dialogs.model import Button, Card, Form, TurnKind
from dialogs.quorum import COLUMNS, PRESENT
from dialogs.validate import DialogError, Fields, refill
from storage.models import Child, Discussion, Participant


async def why_no_further(ctx: Ctx, child: Child) -> str | None:
    """Why no further discussion of `child`'s series may follow this one, if it may not."""
    rows = await kids.series_children(ctx.session, child.series_id)
    ref = child.case_ref
    if any(d.is_final and d.started_at is not None for _, d in rows):
        return f"The final discussion of {ref} has been held: no further discussion follows it."
    later = [(c, d) for c, d in rows if c.number > child.number and d.state not in CLOSED_STATES]
    if later:  # a final one convened in error and closed unheld does not count
        c, d = later[0]
        state = STATE_LABELS[State(d.state)]
        return f"Discussion {c.number} of {ref} is already convened ({state}): use that one."
    return None


async def may_follow(ctx: Ctx) -> list[Child]:
    """The children of this discussion whose series may have a further discussion next."""
    return [c for c in await ctx.children() if await why_no_further(ctx, c) is None]


async def _check_further(ctx: Ctx) -> list[Child]:
    """The children a further discussion may be about; otherwise why there can be none."""
    children = await ctx.children()
    able = await may_follow(ctx)
    if not able:
        why = await why_no_further(ctx, children[0])
        raise DialogError(why or "No further discussion can follow this one.")
    return able


async def further_form(ctx: Ctx, able: list[Child]) -> Form:
    form = convene_form(ctx, further_of=ctx.d)
    if len(await ctx.children()) == 1:
        return form
    # From a child's own reminder (the next discussion of their series): that child, to begin with.
    named = [str(c.id) for c in able if ctx.child_named and c.id == ctx.ref.child_id]
    about = children_input(able, "About which children (each keeps their own series)", named or None)
    return Form(form.id, form.title, (about, *form.inputs), form.submit_label, form.context)


@on(TurnKind.BUTTON, "reconvene", Act.FURTHER)
async def ask_further(ctx: Ctx) -> list[Card]:
    return [ctx.reply("", form=await further_form(ctx, await _check_further(ctx)))]


@on(TurnKind.FORM, "reconvene", Act.FURTHER)
async def further(ctx: Ctx) -> list[Card]:
    """A further (or the final) discussion: same children (or some of them) and people, each child
    numbered on in their own series."""
    able = await _check_further(ctx)
    previous, f = ctx.d, Fields(ctx.turn.fields)
    chosen = able
    if len(await ctx.children()) > 1:
        picked = f.choices("children", {str(c.id) for c in able}, required=True)
        chosen = [c for c in able if str(c.id) in picked]
    found = [d for c in chosen for d in await series_discussions(ctx, c.series_id)]
    fmt = f.choice("format", {x.id for x in ctx.procedure.formats}, required=True)
    is_final = bool(f.yes_no("is_final", default=False))
    proposed, _ = read_when(ctx, f, first=False)
    ooh, detected, hours_reason = read_hours(ctx, f, proposed)
    if proposed is not None and (why := may_chair(ctx, ooh)):
        f.error("proposed_time", why)
    if fmt and fmt != "meeting" and needs_meeting(ctx, found):
        f.error("format", "This case required a meeting (not calls), so every discussion of it does.")
    if not f.ok or proposed is None or not chosen:
        return [ctx.reply("", form=refill(await further_form(ctx, able), ctx.turn.fields, f.errors))]
    numbers = {
        c.id: max(x.number for x, _ in await kids.series_children(ctx.session, c.series_id)) + 1
        for c in chosen
    }
    copy = {k: getattr(previous, k) for k in ("category", "concern", "immediate_risk", *COLUMNS.values())}
    d = Discussion(
        **copy,
        series_id=chosen[0].series_id,
        case_ref=kids.label([c.case_ref for c in chosen]),
        referring_agency=previous.referring_agency,
        nation=previous.nation,
        number=max(numbers.values()),
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
    ctx.switch(d)
    for n, c in enumerate(chosen, 1):
        ctx.session.add(
            Child(
                discussion_id=ctx.did,
                series_id=c.series_id,
                case_ref=c.case_ref,
                position=n,
                number=numbers[c.id],
                previous_id=c.id,
                added_at=ctx.now,
                added_by_id=ctx.actor.person_id,
            )
        )
    await ctx.session.flush()
    ctx.session.add(chair_of(ctx))
    invitations = []
    for old in old_people:
        if old.person_id != ctx.actor.person_id:
            invitations.append(await invite_one(ctx, old.person_id, old.agency, old.role))
    await ctx.audit(
        "discussion.reconvened",
        previous_id=previous.id,
        number=d.number,
        final=is_final,
        child_ids=[c.id for c in await ctx.children()],
    )
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
    firsts = [(await series_discussions(ctx, c.series_id))[0].id for c in await ctx.children()]
    took_part = select(col(Participant.agency)).where(
        col(Participant.discussion_id).in_(firsts),
        col(Participant.status).in_(PRESENT),
    )
    agencies = set((await ctx.session.execute(took_part)).scalars())
    invited = {p.agency for p in await ctx.participants()}
    labels = {a.id: a.label for a in ctx.procedure.agencies}
    return [labels.get(a, a) for a in sorted(agencies - invited)]
