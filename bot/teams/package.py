"""The Teams app package: manifest/teams/manifest.json with the configured app id, and its two icons,
zipped as the Teams admin center (or "Upload a custom app") expects them."""

import json
import re
import zipfile
from pathlib import Path

MANIFEST_DIR = Path(__file__).resolve().parents[2] / "manifest" / "teams"  # in a checkout of the repository
GUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
SEMVER = re.compile(r"^\d+\.\d+\.\d+$")
FILES = ("color.png", "outline.png")


class PackageError(ValueError):
    """What is wrong with the package's inputs, said so that the operator can fix it."""


def manifest_for(
    app_id: str, *, version: str | None = None, developer: dict | None = None, source: Path = MANIFEST_DIR
) -> dict:
    """The shipped manifest with this bot's Microsoft App ID (and optionally version and developer)."""
    if not GUID.match(app_id or ""):
        raise PackageError(
            "MICROSOFT_APP_ID must be set to the bot's Microsoft App ID, a GUID such as "
            "5f0c2a61-3b0e-4d5a-9c39-8b1d2e7a4c10 (Azure Bot > Configuration)"
        )
    if not (source / "manifest.json").is_file():
        raise PackageError(
            f"no manifest at {source}: run this command in a checkout of the repository (manifest/teams/)"
        )
    manifest = json.loads((source / "manifest.json").read_text(encoding="utf-8"))
    manifest["id"] = app_id
    for bot in manifest["bots"]:
        bot["botId"] = app_id
    manifest["webApplicationInfo"]["id"] = app_id  # resource-specific consent is granted to this app
    if version is not None:
        if not SEMVER.match(version):
            raise PackageError(f"--version {version!r}: use three numbers, such as 1.0.1")
        manifest["version"] = version
    for key, value in (developer or {}).items():
        if value:
            manifest["developer"][key] = value
    return manifest


def build(
    app_id: str,
    output: Path,
    *,
    version: str | None = None,
    developer: dict | None = None,
    source: Path = MANIFEST_DIR,
) -> Path:
    """Write the upload zip: manifest.json, color.png and outline.png at its root."""
    manifest = manifest_for(app_id, version=version, developer=developer, source=source)
    output.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(output, "w", compression=zipfile.ZIP_DEFLATED) as z:
        z.writestr(_entry("manifest.json"), json.dumps(manifest, indent=2, ensure_ascii=False) + "\n")
        for name in FILES:
            z.writestr(_entry(name), (source / name).read_bytes())
    return output


def _entry(name: str) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name, date_time=(2026, 1, 1, 0, 0, 0))  # the same bytes for the same inputs
    info.compress_type = zipfile.ZIP_DEFLATED
    return info
