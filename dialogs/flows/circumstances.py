"""The questions about the case whose answers decide who else must take part.

They may be left unanswered at convening (the convener may not know yet) but must be answered before
the decision. The chair can answer or change them until then; each change is audited.
"""

from __future__ import annotations

from dialogs.engine import Ctx
from dialogs.flows.registry import on
from dialogs.lifecycle import Act
from dialogs.model import Card, Form, Input, InputKind, Option, TurnKind
from dialogs.quorum import COLUMNS, Answers, circumstances
from dialogs.validate import Fields, Stale, refill
from storage.models import Discussion

YES_NO = (Option("yes", "Yes"), Option("no", "No"))
NOT_KNOWN = "unknown"
ANSWERS = (*YES_NO, Option(NOT_KNOWN, "Not known yet"))
_READ = {"yes": True, "no": False, NOT_KNOWN: None}


def circumstance_inputs(ctx: Ctx, d: Discussion | None, *, only_unanswered: bool = False) -> list[Input]:
    """The procedure's questions, with the current answers; empty until known."""
    answers = circumstances(d) if d is not None else {}
    out = []
    for c in ctx.procedure.circumstances:
        answer = answers.get(c.id)
        if only_unanswered and answer is not None:
            continue
        out.append(
            Input(
                f"c_{c.id}",
                c.question,
                InputKind.CHOICE,
                options=ANSWERS,
                value=NOT_KNOWN if answer is None else ("yes" if answer else "no"),
                hint=None
                if only_unanswered
                else "If not known yet, say so: it is needed before the decision.",
            )
        )
    return out


def read_answers(ctx: Ctx, f: Fields, d: Discussion) -> Answers:
    """The answers as they would be with the form's: given ones replace the stored ones."""
    answers = circumstances(d)
    for c in ctx.procedure.circumstances:
        given = f.choice(f"c_{c.id}", set(_READ))
        if given is not None:
            answers[c.id] = _READ[given]
    if answers["inpatient"]:
        answers["hospital_involvement"] = True  # an in-patient receives hospital services
    return answers


def apply_answers(d: Discussion, answers: Answers) -> dict[str, bool | None]:
    """Write the answers onto the discussion; returns what changed, as {question id: new answer}."""
    changed: dict[str, bool | None] = {}
    for cid, column in COLUMNS.items():
        if getattr(d, column) != answers[cid]:
            setattr(d, column, answers[cid])
            changed[cid] = answers[cid]
    return changed


def stamp(d: Discussion) -> str:
    """The answers as a short version: y, n or - per question."""
    return "".join("-" if a is None else "yn"[not a] for a in circumstances(d).values())


def circumstances_form(ctx: Ctx) -> Form:
    return Form(
        "circumstances",
        f"Circumstances: {ctx.d.case_ref}",
        tuple(circumstance_inputs(ctx, ctx.d)),
        "Save",
        context=ctx.value("", stamp(ctx.d)),
    )


@on(TurnKind.BUTTON, "circumstances", Act.CIRCUMSTANCES)
async def ask_circumstances(ctx: Ctx) -> list[Card]:
    return [ctx.reply("", form=circumstances_form(ctx))]


@on(TurnKind.FORM, "circumstances", Act.CIRCUMSTANCES)
async def save_circumstances(ctx: Ctx) -> list[Card]:
    f = Fields(ctx.turn.fields)
    answers = read_answers(ctx, f, ctx.d)
    if not f.ok:
        return [ctx.reply("", form=refill(circumstances_form(ctx), ctx.turn.fields, f.errors))]
    if ctx.stale(stamp(ctx.d)):
        raise Stale(circumstances_form(ctx), ctx.turn.fields)
    changed = apply_answers(ctx.d, answers)
    if not changed:
        return [ctx.reply("Nothing changed.")]
    await ctx.audit("circumstances.answered", answers=changed)
    return await ctx.changed() + [
        ctx.reply("Saved. The roles the case calls for are on the discussion's post.")
    ]
