"""`python -m bot teams-package`: the zip to upload to Teams, for the configured MICROSOFT_APP_ID."""

from pathlib import Path

from bot.config import Settings


def register(sub) -> None:
    p = sub.add_parser(
        "teams-package",
        help="build the Teams app package (zip) for the configured MICROSOFT_APP_ID",
        description="Writes manifest.json (manifest/teams/, with your app id) and the two icons into a zip "
        "to upload in the Teams admin center (Manage apps > Upload new app) or in Teams (Apps > Manage "
        "your apps > Upload an app).",
    )
    p.add_argument("--output", default="strategy-discussion-teams.zip", help="where to write the zip")
    p.add_argument("--version", help="the app version, e.g. 1.0.1 (raise it for every new upload)")
    p.add_argument("--developer-name", help="your organisation, as Teams shows it (at most 32 characters)")
    p.add_argument("--website-url", help="https:// page with support information")
    p.add_argument("--privacy-url", help="https:// page with your privacy notice")
    p.add_argument("--terms-url", help="https:// page with the terms of use")
    p.set_defaults(handler=teams_package)


def teams_package(args, settings: Settings) -> int:
    from bot.cli import UsageError
    from bot.teams.package import PackageError, build

    developer = {
        "name": args.developer_name,
        "websiteUrl": args.website_url,
        "privacyUrl": args.privacy_url,
        "termsOfUseUrl": args.terms_url,
    }
    for key, value in developer.items():
        if key != "name" and value and not value.startswith("https://"):
            raise UsageError(f"{value!r}: Teams needs an https:// address here")
    if args.developer_name and len(args.developer_name) > 32:
        raise UsageError("--developer-name: at most 32 characters")
    try:
        path = build(
            settings.microsoft_app_id.strip(), Path(args.output), version=args.version, developer=developer
        )
    except PackageError as exc:
        raise UsageError(str(exc)) from None
    print(f"wrote {path}: upload it in the Teams admin center (Manage apps > Upload new app)")
    return 0
