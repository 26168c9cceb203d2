"""The Slack app manifests: valid against Slack's schema, and asking for exactly what the code uses."""

import ast
import json
from pathlib import Path

import pytest
import yaml
from jsonschema import Draft7Validator
from referencing import Registry, Resource

from bot.slack import settings as slack_app
from tests.conftest import CONFORMANCE, REPO

SCHEMAS = CONFORMANCE / "slack" / "manifest-schema"
REMOTE = "https://raw.githubusercontent.com/slackapi/manifest-schema/v0.5.0/schemas/"
MANIFESTS = {
    "http": REPO / "manifest" / "slack" / "manifest.yaml",
    "socket": REPO / "manifest" / "slack" / "manifest.socket-mode.yaml",
}


def validator() -> Draft7Validator:
    """The root schema, with its remote $refs served from the local copies (conformance gotcha 7)."""
    registry = Registry()
    for version in ("1", "2"):
        contents = json.loads((SCHEMAS / f"manifest.schema.{version}.0.0.json").read_text())
        registry = registry.with_resource(
            f"{REMOTE}manifest.schema.{version}.0.0.json", Resource.from_contents(contents)
        )
    return Draft7Validator(json.loads((SCHEMAS / "manifest.schema.json").read_text()), registry=registry)


def load(name: str) -> dict:
    return yaml.safe_load(MANIFESTS[name].read_text())


def test_the_validator_tells_good_from_bad():
    v = validator()
    assert v.is_valid(json.loads((SCHEMAS / "example.v1.manifest.valid.json").read_text()))
    assert not v.is_valid(json.loads((SCHEMAS / "example.v1.manifest.invalid.json").read_text()))


@pytest.mark.parametrize("name", sorted(MANIFESTS))
def test_manifest_is_valid(name):
    errors = sorted(validator().iter_errors(load(name)), key=lambda e: list(e.path))
    assert [f"{list(e.path)}: {e.message}" for e in errors] == []


@pytest.mark.parametrize("name", sorted(MANIFESTS))
def test_manifest_matches_the_code(name):
    m = load(name)
    assert m["oauth_config"]["scopes"]["bot"] == slack_app.bot_scopes()
    assert "user" not in m["oauth_config"]["scopes"]
    assert sorted(m["settings"]["event_subscriptions"]["bot_events"]) == sorted(slack_app.EVENT_SCOPES)
    assert [c["command"] for c in m["features"]["slash_commands"]] == [slack_app.COMMAND]
    shortcuts = {s["type"]: s["callback_id"] for s in m["features"]["shortcuts"]}
    assert shortcuts == {"global": slack_app.CONVENE_SHORTCUT, "message": slack_app.MESSAGE_SHORTCUT}
    assert m["features"]["app_home"]["home_tab_enabled"] is True
    assert m["settings"]["interactivity"]["is_enabled"] is True
    assert m["settings"]["socket_mode_enabled"] is (name == "socket")


def test_http_manifest_points_every_url_at_our_routes():
    m = load("http")
    urls = [
        m["settings"]["event_subscriptions"]["request_url"],
        m["settings"]["interactivity"]["request_url"],
        *(c["url"] for c in m["features"]["slash_commands"]),
    ]
    assert all(u.startswith("https://") and u.endswith(slack_app.EVENTS_PATH) for u in urls)
    assert [u.endswith(slack_app.REDIRECT_PATH) for u in m["oauth_config"]["redirect_urls"]] == [True]


def _methods_called_in(package: Path) -> set[str]:
    """Every Web API method named in the Slack package's code: `call(client, "chat.postMessage", ...)`
    and direct `client.chat_getPermalink(...)` calls (an SDK helper such as `client.files_upload_v2`
    counts as the methods it calls)."""
    methods = set()
    for path in package.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.Call):
                continue
            if isinstance(node.func, ast.Name) and node.func.id == "call" and len(node.args) >= 2:
                if isinstance(node.args[1], ast.Constant):
                    methods.add(node.args[1].value)
            elif isinstance(node.func, ast.Attribute) and isinstance(node.func.value, ast.Name):
                if node.func.value.id == "client" and "_" in node.func.attr:
                    method = node.func.attr.replace("_", ".", 1)
                    methods |= set(slack_app.SDK_HELPERS.get(method, (method,)))
    return methods


def test_the_code_calls_only_methods_whose_scopes_are_declared():
    called = _methods_called_in(REPO / "bot" / "slack")
    assert called - {"chat.getPermalink"} and called <= set(slack_app.METHOD_SCOPES)
    # And no scope is asked for that no method, event or feature needs.
    needed = {s for m in called | {"auth.test"} for s in slack_app.METHOD_SCOPES[m]}
    needed |= {s for s in slack_app.EVENT_SCOPES.values() if s} | set(slack_app.FEATURE_SCOPES)
    assert sorted(needed) == slack_app.bot_scopes()
