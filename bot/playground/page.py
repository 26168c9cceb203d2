"""The playground's pages, as plain server-rendered HTML (one stylesheet, one small optional script)."""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from bot.playground.figures import link
from bot.playground.render import Ctx, card, esc, markdown
from bot.playground.store import PLACES, Entry, MessageStore

COMMANDS = (
    ("convene", "Convene a discussion"),
    ("status", "Status"),
    ("due", "What is due"),
    ("help", "Help"),
)
REPORT = ("report", "Figures")  # shown to those whose role may run the figures (procedure `reports`)
CHANNEL_NAME = "#strategy-discussions"


@dataclass(frozen=True)
class Person:
    """Someone the visitor can act as."""

    slug: str
    name: str
    agency: str  # label
    role: str  # label


@dataclass(frozen=True)
class Me:
    person_id: int
    name: str
    agency: str  # label
    role: str  # label
    may_report: bool = False  # their role may run the figures: the menu offers them


@dataclass(frozen=True)
class Clock:
    now: datetime  # local time in the council's zone
    zone: str
    out_of_hours: bool


def _time(at: datetime, zone) -> str:
    return at.astimezone(zone).strftime("%a %d %b %H:%M")


def document(title: str, body: str, *, version: int = 0) -> str:
    return (
        '<!doctype html><html lang="en-GB"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{esc(title)}</title>"
        '<link rel="stylesheet" href="/static/playground.css">'
        '<script src="/static/playground.js" defer></script>'
        f'</head><body data-version="{version}">'
        '<p id="stale" class="stale" hidden>Something new has happened. <a href="">Show it</a></p>'
        f"{body}</body></html>"
    )


def header(me: Me, clock: Clock, ctx: Ctx) -> str:
    hours = "out of hours" if clock.out_of_hours else "office hours"
    presets = "".join(
        f'<button type="submit" name="step" value="{step}" class="btn">{label}</button>'
        for step, label in (("hour", "+1 hour"), ("day", "+1 day"), ("morning", "Next 09:00"))
    )
    clock_forms = (
        '<form method="post" action="/act/clock" class="clock-presets">'
        f"{_common(ctx, ctx.mint('clock', '', ''))}{presets}</form>"
        '<details class="clock-custom"><summary>Move to…</summary>'
        '<form method="post" action="/act/clock">'
        f'{_common(ctx, ctx.mint("clock", "", ""))}<input type="hidden" name="step" value="custom">'
        '<label for="clock-to">New date and time (local)</label>'
        f'<input type="datetime-local" id="clock-to" name="to" required value="{clock.now:%Y-%m-%dT%H:%M}">'
        '<button type="submit" class="btn">Move the clock</button></form></details>'
    )
    return (
        '<header class="top"><div class="who">'
        '<a class="brand" href="/">Strategy discussions</a> <span class="tag">playground</span>'
        f"<p>You are <strong>{esc(me.name)}</strong>"
        f' <span class="muted">{esc(me.role)}, {esc(me.agency)}</span>'
        ' · <a href="/who">act as someone else</a></p></div>'
        f'<div class="clock"><p>Simulated time: <strong id="now">{clock.now:%a %d %b %Y, %H:%M}</strong>'
        f' <span class="muted">{esc(clock.zone)}, {hours}</span></p>{clock_forms}</div>'
        "</header>"
    )


def _common(ctx: Ctx, token: str) -> str:
    return (
        f'<input type="hidden" name="csrf" value="{esc(ctx.csrf)}">'
        f'<input type="hidden" name="token" value="{esc(token)}">'
        f'<input type="hidden" name="back" value="{esc(ctx.back)}">'
    )


def menu(ctx: Ctx, me: Me) -> str:
    shown = (*COMMANDS[:-1], REPORT, COMMANDS[-1]) if me.may_report else COMMANDS
    buttons = "".join(
        f'<button type="submit" name="name" value="{name}" class="btn">{esc(label)}</button>'
        for name, label in shown
    )
    return (
        '<nav class="menu" aria-label="Commands"><form method="post" action="/act/command">'
        f"{_common(ctx, ctx.mint('command', '', ''))}"
        f'<div class="buttons">{buttons}</div>'
        '<p class="command-value"><label for="command-value">Case reference (for Status)</label> '
        '<input type="text" id="command-value" name="value" autocomplete="off"></p></form></nav>'
    )


def notices(entries: list[Entry], ctx: Ctx) -> str:
    if not entries:
        return ""
    shown = []
    for entry in entries:
        if entry.card is None:
            continue
        close = (
            '<form method="post" action="/act/dismiss" class="inline close">'
            f'<input type="hidden" name="csrf" value="{esc(ctx.csrf)}">'
            f'<input type="hidden" name="back" value="{esc(ctx.back)}">'
            f'<input type="hidden" name="notice" value="{entry.id}">'
            '<button type="submit" class="btn btn-quiet">Close</button></form>'
        )
        shown.append(card(entry.card, ctx, extra=close))
    return (
        '<section id="notices" class="notices" aria-label="Only you can see these">'
        "<h2>Only you can see these</h2>" + "".join(shown) + "</section>"
    )


def _entry(entry: Entry, ctx: Ctx, zone, extra: str = "") -> str:
    when = _time(entry.at, zone)
    if entry.reply is not None:
        r = entry.reply
        return (
            '<article class="reply"><p class="meta"><strong>'
            f"{esc(r.name)}</strong> {esc(r.agency)} · {esc(when)}</p>"
            f'<div class="text">{markdown(r.text)}</div></article>'
        )
    meta = f"updated {when}" if entry.edited else when
    return card(entry.card, ctx, meta=meta, extra=link(entry.card) + extra)


def _feed(entries: list[Entry], ctx: Ctx, zone, empty: str) -> str:
    if not entries:
        return f'<p class="muted">{esc(empty)}</p>'
    return "".join(_entry(e, ctx, zone) for e in entries)


def home(
    *, me: Me, clock: Clock, ctx: Ctx, store: MessageStore, zone, thread_size: Callable[[int], int]
) -> str:
    posts = []
    for entry in reversed(store.channel.entries):  # newest discussion first
        discussion_id = entry.card.target.discussion_id if entry.card else None
        link = ""
        if discussion_id is not None:
            n = thread_size(discussion_id)
            link = (
                f'<p class="thread-link"><a href="/discussions/{discussion_id}">'
                f"Open the thread ({n} {'message' if n == 1 else 'messages'}) and reply</a></p>"
            )
        posts.append(_entry(entry, ctx, zone, extra=link))
    dms = store.direct.get(me.person_id)
    dm_entries = list(reversed(dms.entries)) if dms else []  # newest first, like an inbox
    place_entries = {place: store.places[place].entries if place in store.places else [] for place in PLACES}
    places = "".join(
        f'<section class="place" id="place-{place}"><h2>{esc(label)}</h2>'
        f"{_feed(place_entries[place], ctx, zone, 'Nothing posted.')}</section>"
        for place, label in PLACES.items()
    )
    jump = (
        '<nav class="jump" aria-label="On this page"><a href="#channel">Discussions '
        f'({len(posts)})</a> <a href="#direct">Direct messages ({len(dm_entries)})</a> '
        + " ".join(
            f'<a href="#place-{place}">{esc(label)} ({len(place_entries[place])})</a>'
            for place, label in PLACES.items()
        )
        + "</nav>"
    )
    body = (
        header(me, clock, ctx)
        + menu(ctx, me)
        + jump
        + '<main class="columns">'
        + notices(store.notices.get(me.person_id, []), ctx)
        + f'<div class="col-main"><section id="channel" class="channel"><h2>{esc(CHANNEL_NAME)}</h2>'
        + ("".join(posts) or '<p class="muted">No discussions yet. Convene one from the menu.</p>')
        + "</section></div>"
        + '<div class="col-side"><section id="direct" class="direct"><h2>Your direct messages</h2>'
        + _feed(dm_entries, ctx, zone, "No direct messages.")
        + "</section>"
        + places
        + "</div></main>"
    )
    return document("Strategy discussions – playground", body, version=store.version)


def discussion(
    *,
    discussion_id: int,
    me: Me,
    clock: Clock,
    ctx: Ctx,
    store: MessageStore,
    zone,
    reply_text: str = "",
    records: str = "",  # the signed-off records to download (bot/playground/downloads.py), as HTML
) -> str:
    main_post = next(
        (e for e in store.channel.entries if e.card and e.card.target.discussion_id == discussion_id), None
    )
    reply_box = (
        '<form method="post" action="/act/reply" class="reply-box" id="reply">'
        f"{_common(ctx, ctx.mint('reply', str(discussion_id), ''))}"
        f'<input type="hidden" name="discussion_id" value="{discussion_id}">'
        '<label for="reply-text">Reply in the thread</label>'
        f'<textarea id="reply-text" name="text" rows="3" required>{esc(reply_text)}</textarea>'
        '<button type="submit" class="btn btn-primary">Send</button></form>'
    )
    body = (
        header(me, clock, ctx)
        + menu(ctx, me)
        + '<main class="single">'
        + '<p><a href="/">← Back to the channel</a></p>'
        + notices(store.notices.get(me.person_id, []), ctx)
        + '<section id="main-post"><h2>Discussion</h2>'
        + (
            _entry(main_post, ctx, zone)
            if main_post
            else '<p class="muted">This discussion has no post yet.</p>'
        )
        + "</section>"
        + records
        + '<section id="thread" class="thread"><h2>Thread</h2>'
        + _feed(store.thread(discussion_id), ctx, zone, "No messages in the thread yet.")
        + reply_box
        + "</section></main>"
    )
    return document("Discussion – playground", body, version=store.version)


def picker(people: list[Person], ctx: Ctx, current: str | None, message: str = "") -> str:
    groups: dict[str, list[Person]] = {}
    for p in people:
        groups.setdefault(p.agency, []).append(p)
    sections = []
    for agency, members in groups.items():
        rows = "".join(
            '<li><form method="post" action="/act/identity">'
            f'<input type="hidden" name="csrf" value="{esc(ctx.csrf)}">'
            f'<button type="submit" name="who" value="{esc(p.slug)}" class="btn person'
            f'{" current" if p.slug == current else ""}">'
            f'<strong>{esc(p.name)}</strong><span class="muted">{esc(p.role)}</span></button></form></li>'
            for p in members
        )
        sections.append(f"<h2>{esc(agency)}</h2><ul class='people'>{rows}</ul>")
    if not people:
        sections.append('<p class="error">Nobody in the directory has a playground identity yet.</p>')
    note = f'<p class="error" role="alert">{esc(message)}</p>' if message else ""
    body = (
        '<header class="top"><div class="who"><a class="brand" href="/">Strategy discussions</a>'
        ' <span class="tag">playground</span></div></header><main class="single picker">'
        "<h1>Who are you?</h1><p>Pick someone to act as. You can switch at any time; "
        "everyone here is fictional.</p>" + note + "".join(sections) + "</main>"
    )
    return document("Who are you? – playground", body)
