"""A person at a browser, for the HTTP tests: reads the playground's HTML and submits its real forms.

Each `User` has its own cookie jar. It finds a card by its text, a button by its label, fills a form
by input id, and posts exactly what a browser would (hidden fields and tokens included), following
the redirect back to the page. Nothing here knows the server's internals.
"""

from dataclasses import dataclass, field
from html.parser import HTMLParser

import aiohttp
from aiohttp.test_utils import TestServer

VOID = {"input", "br", "meta", "link", "img", "hr", "source", "col", "area", "base", "wbr"}


@dataclass
class Node:
    tag: str
    attrs: dict
    parent: "Node | None" = None
    children: list = field(default_factory=list)  # Node or str

    @property
    def text(self) -> str:
        return "".join(c if isinstance(c, str) else c.text for c in self.children)

    @property
    def words(self) -> str:
        """The text as a reader sees it: every piece separated by a space, runs of spaces collapsed."""
        return " ".join(" ".join(self._pieces()).split())

    def _pieces(self) -> list[str]:
        out = []
        for c in self.children:
            out.extend([c] if isinstance(c, str) else c._pieces())
        return out

    def all(self, tag: str | None = None, **attrs) -> list["Node"]:
        found = []
        for c in self.children:
            if isinstance(c, Node):
                if (tag is None or c.tag == tag) and all(_has(c, k, v) for k, v in attrs.items()):
                    found.append(c)
                found.extend(c.all(tag, **attrs))
        return found

    def first(self, tag: str | None = None, **attrs) -> "Node":
        found = self.all(tag, **attrs)
        assert found, f"no <{tag} {attrs}> in: {self.text[:500]}"
        return found[0]

    def up(self, tag: str) -> "Node":
        node = self.parent
        while node is not None and node.tag != tag:
            node = node.parent
        assert node is not None, f"no enclosing <{tag}>"
        return node


def _has(node: Node, key: str, value) -> bool:
    key = key.rstrip("_").replace("_", "-")
    if key == "class":
        return value in node.attrs.get("class", "").split()
    return node.attrs.get(key) == value


class _Builder(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.root = Node("#root", {})
        self.at = self.root

    def handle_starttag(self, tag, attrs):
        node = Node(tag, {k: ("" if v is None else v) for k, v in attrs}, self.at)
        self.at.children.append(node)
        if tag not in VOID:
            self.at = node

    def handle_startendtag(self, tag, attrs):
        self.at.children.append(Node(tag, {k: ("" if v is None else v) for k, v in attrs}, self.at))

    def handle_endtag(self, tag):
        node = self.at
        while node is not None and node.tag != tag:
            node = node.parent
        if node is not None and node.parent is not None:
            self.at = node.parent

    def handle_data(self, data):
        self.at.children.append(data)


def parse(html: str) -> Node:
    builder = _Builder()
    builder.feed(html)
    return builder.root


class Page:
    def __init__(self, html: str, url: str) -> None:
        self.html = html
        self.url = url
        self.root = parse(html)

    @property
    def text(self) -> str:
        return self.root.words

    def section(self, id: str) -> Node:
        return self.root.first(id=id)

    def cards(self, containing: str = "", within: str | None = None) -> list[Node]:
        scope = self.section(within) if within else self.root
        return [a for a in scope.all("article") if containing in a.words]

    def card(self, containing: str, within: str | None = None) -> Node:
        found = self.cards(containing, within)
        assert found, f"no card with {containing!r} in {within or 'the page'}: {self.text[:2000]}"
        return found[-1] if within == "notices" else found[0]

    def notices(self) -> str:
        found = self.root.all(id="notices")
        return found[0].words if found else ""


def form_data(form: Node, values: dict, submitter: Node | None = None) -> list[tuple[str, str]]:
    """What a browser sends for `form`: defaults, with `values` (by input id) filled in."""
    data: list[tuple[str, str]] = []
    by_id = {}
    for key, value in values.items():
        by_id[key] = value
    handled: set[str] = set()
    for node in form.all():
        name = node.attrs.get("name")
        if not name or node.tag not in ("input", "textarea", "select"):
            continue
        input_id = name.split(".", 1)[1] if name.startswith(("in.", "list.")) else name
        kind = node.attrs.get("type", "text")
        if input_id in by_id and node.tag == "input" and kind in ("checkbox", "radio"):
            wanted = by_id[input_id]
            wanted = [wanted] if isinstance(wanted, str) else list(wanted)
            if node.attrs["value"] in [str(w) for w in wanted]:
                data.append((name, node.attrs["value"]))
            continue
        if input_id in by_id:
            if name not in handled:
                wanted = by_id[input_id]
                for w in [wanted] if isinstance(wanted, str) else wanted:
                    data.append((name, str(w)))
                handled.add(name)
            continue
        if node.tag == "input" and kind in ("checkbox", "radio"):
            if "checked" in node.attrs:
                data.append((name, node.attrs.get("value", "on")))
        elif node.tag == "input" and kind in ("submit", "button"):
            continue
        elif node.tag == "textarea":
            data.append((name, node.text))
        elif node.tag == "select":
            options = node.all("option")
            chosen = [o for o in options if "selected" in o.attrs] or options[:1]
            data.extend((name, o.attrs.get("value", o.text)) for o in chosen)
        else:
            data.append((name, node.attrs.get("value", "")))
    unknown = set(by_id) - {
        (
            n.attrs["name"].split(".", 1)[1]
            if n.attrs["name"].startswith(("in.", "list."))
            else n.attrs["name"]
        )
        for n in form.all()
        if n.attrs.get("name")
    }
    assert not unknown, f"the form has no input {unknown}"
    if submitter is not None and submitter.attrs.get("name"):
        data.append((submitter.attrs["name"], submitter.attrs.get("value", "")))
    return data


class User:
    """One person with their own browser session (cookie jar)."""

    def __init__(self, server: TestServer, slug: str) -> None:
        self.server = server
        self.slug = slug
        self.http = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))
        self.page: Page | None = None

    async def close(self) -> None:
        await self.http.close()

    async def get(self, path: str = "/") -> Page:
        async with self.http.get(self.server.make_url(path)) as resp:
            assert resp.status == 200, resp.status
            self.page = Page(await resp.text(), str(resp.url))
        return self.page

    async def post(self, action: str, data: list[tuple[str, str]]) -> Page:
        async with self.http.post(self.server.make_url(action), data=data) as resp:
            assert resp.status == 200, (resp.status, await resp.text())
            self.page = Page(await resp.text(), str(resp.url))
        return self.page

    async def sign_in(self) -> Page:
        page = await self.get("/who")
        button = page.root.first("button", name="who", value=self.slug)
        form = button.up("form")
        return await self.post(form.attrs["action"], form_data(form, {}, button))

    async def submit(self, form: Node, values: dict | None = None, submitter: Node | None = None) -> Page:
        return await self.post(form.attrs["action"], form_data(form, values or {}, submitter))

    async def press(self, label: str, card: Node | None = None) -> Page:
        """Press the button labelled `label` (in `card`, or the first such button on the page)."""
        scope = card if card is not None else self.page.root
        buttons = [b for b in scope.all("button") if " ".join(b.text.split()) == label]
        assert buttons, f"no button {label!r} in: {scope.words[:1500]}"
        return await self.submit(buttons[0].up("form"), {}, buttons[0])

    async def command(self, name: str, value: str = "") -> Page:
        button = self.page.root.first("button", name="name", value=name)
        return await self.submit(button.up("form"), {"value": value}, button)

    async def fill(self, values: dict, form_title: str | None = None) -> Page:
        """Fill in and send the form shown among the notices (the newest, or the one with this title)."""
        forms = self.page.section("notices").all("form", action="/act/form")
        if form_title is not None:
            forms = [f for f in forms if form_title in f.first("h4").text]
        assert forms, f"no form to fill in: {self.page.notices()[:1500]}"
        return await self.submit(forms[-1], values)

    async def reply(self, discussion_id: int, text: str) -> Page:
        page = await self.get(f"/discussions/{discussion_id}")
        return await self.submit(page.root.first("form", action="/act/reply"), {"text": text})


def values_for(form: Node, input_id: str, *labels: str) -> list[str]:
    """The option values of an input whose labels contain each of `labels` (tick boxes, radios, selects)."""
    names = (f"in.{input_id}", f"list.{input_id}")
    values = []
    for label in labels:
        found = [
            box.attrs["value"]
            for box in form.all("input")
            if box.attrs.get("name") in names and label in box.up("label").text
        ] + [
            option.attrs["value"]
            for select in form.all("select")
            if select.attrs.get("name") in names
            for option in select.all("option")
            if label in option.text
        ]
        assert len(found) == 1, f"{label!r} matches {len(found)} options of {input_id}"
        values.append(found[0])
    return values
