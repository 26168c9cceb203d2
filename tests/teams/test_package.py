"""The Teams app package: the manifest against Microsoft's v1.29 schema, the icons, and the zip."""

import json
import struct
import zipfile
import zlib

import jsonschema
import pytest

from bot.cli import main
from bot.teams import icons
from bot.teams.package import MANIFEST_DIR
from tests.conftest import CONFORMANCE

SCHEMA = json.loads((CONFORMANCE / "teams" / "MicrosoftTeams.schema.json").read_text())
APP_ID = "5f0c2a61-3b0e-4d5a-9c39-8b1d2e7a4c10"
PLACEHOLDER = "00000000-0000-0000-0000-000000000000"


def problems(manifest: dict) -> list[str]:
    return [
        f"{e.message} at {list(e.path)}" for e in jsonschema.Draft4Validator(SCHEMA).iter_errors(manifest)
    ]


def pixels(png: bytes) -> tuple[int, int, list[tuple[int, int, int, int]]]:
    """Width, height and RGBA pixels of an 8-bit RGBA PNG with unfiltered rows (as icons.png writes)."""
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    at, data, header = 8, b"", None
    while at < len(png):
        (length,) = struct.unpack(">I", png[at : at + 4])
        kind, body = png[at + 4 : at + 8], png[at + 8 : at + 8 + length]
        assert struct.unpack(">I", png[at + 8 + length : at + 12 + length])[0] == zlib.crc32(kind + body)
        header = body if kind == b"IHDR" else header
        data += body if kind == b"IDAT" else b""
        at += 12 + length
    width, height, depth, colour_type = struct.unpack(">IIBB", header[:10])
    assert (depth, colour_type) == (8, 6)  # RGBA
    raw = zlib.decompress(data)
    stride = width * 4 + 1
    rows = [raw[r * stride + 1 : (r + 1) * stride] for r in range(height)]
    assert all(raw[r * stride] == 0 for r in range(height))
    return width, height, [tuple(row[i : i + 4]) for row in rows for i in range(0, width * 4, 4)]


def test_the_shipped_manifest_is_valid_and_asks_for_what_the_bot_needs():
    manifest = json.loads((MANIFEST_DIR / "manifest.json").read_text())
    assert problems(manifest) == []
    assert manifest["manifestVersion"] == "1.29"
    bot = manifest["bots"][0]
    assert set(bot["scopes"]) == {"personal", "team", "groupChat"}
    commands = [c["title"] for c in bot["commandLists"][0]["commands"]]
    assert commands == ["convene", "status", "due", "report", "help"]
    rsc = {p["name"] for p in manifest["authorization"]["permissions"]["resourceSpecific"]}
    assert "ChannelMessage.Read.Group" in rsc  # thread replies arrive without an @mention
    assert manifest["icons"] == {"color": "color.png", "outline": "outline.png"}


def test_the_icons_are_drawn_by_the_project_at_the_sizes_teams_wants():
    colour, outline = (MANIFEST_DIR / "color.png").read_bytes(), (MANIFEST_DIR / "outline.png").read_bytes()
    assert colour == icons.colour_icon() and outline == icons.outline_icon()  # what bot/teams/icons.py draws
    width, height, colour_pixels = pixels(colour)
    assert (width, height) == (192, 192)
    assert all(a == 255 for *_, a in colour_pixels)  # a full-colour background
    assert {p[:3] for p in colour_pixels} >= {(31, 92, 153), (255, 255, 255)}
    width, height, outline_pixels = pixels(outline)
    assert (width, height) == (32, 32)
    assert {p[:3] for p in outline_pixels if p[3]} == {(255, 255, 255)}  # white only ...
    transparent = sum(1 for p in outline_pixels if p[3] == 0)
    assert 0.3 < transparent / len(outline_pixels) < 0.9  # ... on a transparent background


def test_the_package_command_builds_the_upload_zip_with_the_configured_app_id(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("MICROSOFT_APP_ID", APP_ID)
    out = tmp_path / "teams.zip"
    assert (
        main(["teams-package", "--output", str(out), "--version", "1.0.3", "--developer-name", "Kent CC"])
        == 0
    )
    assert str(out) in capsys.readouterr().out
    with zipfile.ZipFile(out) as z:
        assert sorted(z.namelist()) == ["color.png", "manifest.json", "outline.png"]  # at the root
        manifest = json.loads(z.read("manifest.json"))
        assert z.read("color.png") == (MANIFEST_DIR / "color.png").read_bytes()
    assert problems(manifest) == []
    assert manifest["id"] == manifest["bots"][0]["botId"] == manifest["webApplicationInfo"]["id"] == APP_ID
    assert PLACEHOLDER not in json.dumps(manifest)
    assert (manifest["version"], manifest["developer"]["name"]) == ("1.0.3", "Kent CC")


@pytest.mark.parametrize(
    "app_id, args, message",
    [
        ("", [], "MICROSOFT_APP_ID must be set"),
        ("not-a-guid", [], "MICROSOFT_APP_ID must be set"),
        (APP_ID, ["--version", "1.0"], "three numbers"),
        (APP_ID, ["--privacy-url", "http://example.org"], "https://"),
    ],
)
def test_the_package_command_says_what_to_fix(tmp_path, monkeypatch, capsys, app_id, args, message):
    monkeypatch.setenv("MICROSOFT_APP_ID", app_id)
    out = tmp_path / "teams.zip"
    assert main(["teams-package", "--output", str(out), *args]) == 2
    assert message in capsys.readouterr().err
    assert not out.exists()
