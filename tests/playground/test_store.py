"""The in-memory message store, the surface around it, the one-time tokens and the clock steps."""

from datetime import UTC, datetime, timedelta

import pytest

from bot.playground.forms import clock_step, keep_typed
from bot.playground.store import MessageStore, PlaygroundSurface, Reply
from bot.playground.tokens import Tokens
from dialogs.model import Actor, Card, Form, Input, InputKind, Target, TargetKind

NOW = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)
ME = Actor(person_id=7, name="Dana", agency="social_care", role="duty_manager")


def main(discussion_id: int, title: str, key: str | None = None) -> Card:
    return Card(Target(TargetKind.MAIN_POST, discussion_id=discussion_id), title, key=key)


async def test_a_card_with_a_known_key_replaces_the_message_where_it_stands():
    clock = [NOW]
    store = MessageStore(now=lambda: clock[0])
    surface = PlaygroundSurface(store)
    await surface.deliver(main(1, "first v1", key="discussion:1"))
    await surface.deliver(main(2, "second v1", key="discussion:2"))
    clock[0] = NOW + timedelta(minutes=5)
    await surface.deliver(main(1, "first v2", key="discussion:1"))
    assert [e.card.title for e in store.channel.entries] == ["first v2", "second v1"]
    updated = store.channel.entries[0]
    assert updated.edited and updated.posted_at == NOW and updated.at == NOW + timedelta(minutes=5)
    # A main post without a key is still the one post of its discussion.
    await surface.deliver(main(3, "third v1"))
    await surface.deliver(main(3, "third v2"))
    assert [e.card.title for e in store.channel.entries] == ["first v2", "second v1", "third v2"]


async def test_threads_direct_messages_and_places_keep_their_order():
    store = MessageStore(now=lambda: NOW)
    surface = PlaygroundSurface(store)
    thread = Target(TargetKind.THREAD, discussion_id=1)
    await surface.deliver(Card(thread, "Stage 1", key="stage:1:concern"))
    store.add_reply(1, Reply(8, "Pat", "Police", "hello"))
    await surface.deliver(Card(thread, "Stage 2", key="stage:1:information"))
    await surface.deliver(Card(thread, "Stage 1 (moved on)", key="stage:1:concern"))
    entries = store.thread(1)
    assert [e.card.title if e.card else e.reply.text for e in entries] == [
        "Stage 1 (moved on)",
        "hello",
        "Stage 2",
    ]
    await surface.deliver(Card(Target(TargetKind.DIRECT, person_id=8), "For Pat"))
    await surface.deliver(Card(Target(TargetKind.CHANNEL, place="out_of_hours"), "Tonight"))
    assert [e.card.title for e in store.direct[8].entries] == ["For Pat"]
    assert [e.card.title for e in store.places["out_of_hours"].entries] == ["Tonight"]
    assert store.thread(99) == [] and 7 not in store.direct
    assert await surface.can_reach(Card(Target(TargetKind.DIRECT, person_id=12345), "anyone"))


def test_notices_go_to_the_actor_and_open_forms_survive_unrelated_turns():
    store = MessageStore(now=lambda: NOW)
    convene = Card(
        Target(TargetKind.EPHEMERAL),
        "",
        form=Form("convene", "Convene", (Input("a", "A", InputKind.SHORT_TEXT),)),
    )
    store.put(convene, actor=ME)
    store.put(Card(Target(TargetKind.EPHEMERAL), "Help"), actor=ME)
    assert [n.card.title for n in store.notices[7]] == ["", "Help"]
    store.start_turn(7)  # the next turn: the plain notice goes, the half-filled form stays
    assert [n.card.form.id for n in store.notices[7]] == ["convene"]
    store.put(convene, actor=ME)  # the same form again replaces it rather than stacking
    assert len(store.notices[7]) == 1
    store.start_turn(7, form_id="convene", context="")  # submitting it takes it away
    assert store.notices[7] == []
    store.put(Card(Target(TargetKind.EPHEMERAL), "nobody's"))  # no actor, no person: nowhere to go
    assert all(not v for v in store.notices.values())


def test_version_counts_every_change():
    store = MessageStore(now=lambda: NOW)
    store.put(main(1, "x"))
    store.add_reply(1, Reply(1, "a", "b", "c"))
    assert store.version == 2


def test_one_time_tokens_are_bound_to_session_and_action_and_act_once():
    tokens = Tokens()
    token = tokens.mint("session-a", "button", "accept", "1:2")
    nonce = tokens.check("session-a", token, "button", "accept", "1:2")
    assert nonce is not None
    assert tokens.check("session-b", token, "button", "accept", "1:2") is None
    assert tokens.check("session-a", token, "button", "accept", "1:3") is None
    assert tokens.check("session-a", token, "button", "decline", "1:2") is None
    assert tokens.check("session-a", "garbage", "button", "accept", "1:2") is None
    assert tokens.use(nonce) and not tokens.use(nonce)
    assert tokens.csrf_ok("session-a", tokens.csrf("session-a"))
    assert not tokens.csrf_ok("session-a", tokens.csrf("session-b")) and not tokens.csrf_ok("", "")
    assert Tokens().check("session-a", token, "button", "accept", "1:2") is None  # a restart: out of date


def test_used_tokens_are_remembered_up_to_a_bound():
    tokens = Tokens(remember=2)
    assert tokens.use("a") and tokens.use("b") and tokens.use("c")
    assert not tokens.use("c") and tokens.use("a")  # "a" was the oldest, so it was forgotten


@pytest.mark.parametrize(
    ("now", "expected"),
    [
        (datetime(2026, 11, 24, 10, 0, tzinfo=UTC), timedelta(hours=23)),  # after 09:00: tomorrow's
        (datetime(2026, 11, 24, 7, 30, tzinfo=UTC), timedelta(hours=1, minutes=30)),  # before: today's
        # Saturday 28 March 2026 10:00 GMT; the clocks go forward that night, so 09:00 BST is 08:00 UTC.
        (datetime(2026, 3, 28, 10, 0, tzinfo=UTC), timedelta(hours=22)),
    ],
)
def test_next_nine_oclock_is_local_time(now, expected):
    assert clock_step("morning", "", now, "Europe/London") == expected


def test_custom_clock_steps():
    assert clock_step("custom", "2026-11-24T12:15", NOW, "Europe/London") == timedelta(hours=2, minutes=15)
    assert clock_step(
        "custom", "2026-07-01T10:00", datetime(2026, 6, 30, 9, 0, tzinfo=UTC), "Europe/London"
    ) == (
        timedelta(hours=24)  # 10:00 BST is 09:00 UTC
    )
    for to, message in (
        ("2026-11-24T10:00", "only moves forward"),
        ("2026-03-29T01:30", "does not exist"),
        ("tomorrow", "Please give a date and time"),
    ):
        with pytest.raises(ValueError, match=message):
            clock_step(
                "custom", to, datetime(2026, 3, 1, tzinfo=UTC) if "03-29" in to else NOW, "Europe/London"
            )
    with pytest.raises(ValueError, match="how far"):
        clock_step("backwards", "", NOW, "Europe/London")


def test_a_form_given_back_keeps_what_was_typed():
    form = Form(
        "f",
        "F",
        (
            Input("a", "A", InputKind.SHORT_TEXT, value="old", error="stale"),
            Input("b", "B", InputKind.PEOPLE, value=["1"]),
        ),
    )
    card = keep_typed(
        Card(Target(TargetKind.EPHEMERAL), "", form=form), {"a": "typed", "b": ["2", "3"]}, "Oops"
    )
    assert [(i.value, i.error) for i in card.form.inputs] == [("typed", None), (["2", "3"], None)]
    assert card.form.error == "Oops"


async def test_the_playground_answers_loopback_callers_only():
    from aiohttp import web
    from aiohttp.test_utils import make_mocked_request

    from bot.playground.local import loopback_only as _loopback_only

    class Transport:  # where the connection came from, as the server's socket reports it
        def __init__(self, host: str) -> None:
            self.host = host

        def get_extra_info(self, name, default=None):
            return (self.host, 50000) if name == "peername" else default

    async def page(_request):
        return web.Response(text="ok")

    guarded = _loopback_only(page)

    def request(peer: str, host: str | None = "127.0.0.1:8080", **headers):
        headers = headers | ({"Host": host} if host is not None else {})
        return make_mocked_request("GET", "/", headers=headers, transport=Transport(peer))

    for peer in ("127.0.0.1", "::1"):
        assert (await guarded(request(peer))).text == "ok"
    for peer in ("192.0.2.10", "10.0.0.5"):
        with pytest.raises(web.HTTPForbidden):
            await guarded(request(peer))
    # DNS rebinding: a page from elsewhere whose name now points at 127.0.0.1 asks with its own name.
    for host in ("127.0.0.1", "localhost", "LocalHost:8080", "[::1]", "[::1]:8080"):
        assert (await guarded(request("127.0.0.1", host))).text == "ok", host
    for host in (
        "attacker.example",
        "attacker.example:8080",
        "127.0.0.1.attacker.example",
        "0.0.0.0:8080",
        "",
        None,
    ):
        with pytest.raises(web.HTTPForbidden):
            await guarded(request("127.0.0.1", host))
    # Behind a proxy on this machine every caller is loopback: whoever a proxy forwards is refused.
    for header in ("Forwarded", "X-Forwarded-For", "X-Real-IP"):
        with pytest.raises(web.HTTPForbidden):
            await guarded(request("127.0.0.1", **{header: "for=203.0.113.9"}))


async def test_a_page_with_another_host_name_gets_nothing(playground):
    """Over real HTTP: a rebinding page's request reaches the server, but the playground refuses it."""
    from aiohttp import ClientSession

    url = playground.server.make_url("/")
    async with ClientSession() as http:
        async with http.get(url, headers={"Host": "attacker.example"}) as refused:
            assert refused.status == 403 and "this machine" in await refused.text()
        async with http.get(url, headers={"X-Forwarded-For": "203.0.113.9"}) as forwarded:
            assert forwarded.status == 403
        async with http.get(url) as ok:
            assert ok.status == 200
