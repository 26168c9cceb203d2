"""`python -m bot ...`: serve the bot, and the operators' commands."""

import argparse
import asyncio
import ipaddress
import json
import logging
import sys
from datetime import date, datetime

from bot.config import ConfigError, Settings, load_settings
from dialogs.clock import NATIONS
from dialogs.procedure import ProcedureError, load_procedure
from dialogs.timescales import compute_timescales

log = logging.getLogger("bot")


class UsageError(Exception):
    """Bad input on the command line: one line, exit code 2."""


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m bot", description="Child-protection strategy discussion bot")
    sub = p.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="apply pending migrations, then serve HTTP")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=3978)
    serve.set_defaults(handler=lambda a, s: asyncio.run(_serve(a, s)))

    db = sub.add_parser("db", help="database maintenance")
    upgrade = db.add_subparsers(dest="db_command", required=True).add_parser(
        "upgrade", help="apply migrations"
    )
    upgrade.set_defaults(handler=lambda a, s: asyncio.run(_db_upgrade(s)))

    check = sub.add_parser("check-config", help="validate the settings and the procedure file, then exit")
    check.set_defaults(handler=lambda a, s: _check_config(s))

    ts = sub.add_parser("timescales", help="statutory deadlines for a discussion")
    ts.add_argument("--held-on", help="date the strategy discussion was held (YYYY-MM-DD)")
    ts.add_argument("--convened-at", help="when it was decided to hold one (YYYY-MM-DDTHH:MM, UK local time)")
    ts.add_argument("--nation", choices=NATIONS, help="bank-holiday calendar (default: NATION setting)")
    ts.add_argument("--json", action="store_true", help="print one JSON object")
    ts.set_defaults(handler=cmd_timescales)

    audit = sub.add_parser("audit", help="the audit trail")
    verify = audit.add_subparsers(dest="audit_command", required=True).add_parser(
        "verify", help="check the chain"
    )
    verify.set_defaults(handler=lambda a, s: asyncio.run(_audit_verify(s)))

    # Commands kept in their own modules register themselves here.
    for register in _command_modules():
        register(sub)
    return p


def _command_modules():
    from bot import cli_directory, cli_ops
    from bot.records import cli as records_cli
    from bot.reports import census_cli
    from bot.reports import cli as reports_cli
    from bot.teams import cli as teams_cli

    return [
        cli_directory.register,
        cli_ops.register,
        records_cli.register,
        reports_cli.register,
        census_cli.register,
        teams_cli.register,
    ]


def _date(value: str, name: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise UsageError(f"{name}: {value!r} is not a real date (use YYYY-MM-DD)") from None


def _datetime(value: str, name: str) -> datetime:
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        raise UsageError(f"{name}: {value!r} is not a real date and time (use YYYY-MM-DDTHH:MM)") from None


def cmd_timescales(args, settings: Settings) -> int:
    procedure = load_procedure(settings.procedure_file)
    if not args.held_on and not args.convened_at:
        raise UsageError("give --held-on DATE and/or --convened-at DATETIME")
    held_on = _date(args.held_on, "--held-on") if args.held_on else None
    convened_at = _datetime(args.convened_at, "--convened-at") if args.convened_at else None
    t = procedure.timescales
    try:
        result = compute_timescales(
            held_on=held_on,
            convened_at=convened_at,
            nation=args.nation or settings.nation,
            record_circulation_working_days=t.record_circulation_working_days,
            outcome_notification_working_days=t.outcome_notification_working_days,
            icpc_working_days=t.icpc_working_days,
            further_discussion_working_days=t.further_discussion_working_days,
            meeting_within_hours=t.meeting_within_hours,
            tz=settings.timezone,
        )
    except ValueError as exc:  # e.g. a local time that does not exist in the March clock change
        raise UsageError(f"--convened-at: {exc}") from None
    data = result.as_json_dict()
    if args.json:
        print(json.dumps(data))
        return 0
    labels = {
        "meeting_due": "Meeting held by",
        "record_circulation_due": "Record circulated by",
        "outcome_notification_due": "Referrer and absent agencies told by",
        "icpc_due": "Initial conference (if S47 decided) by",
        "further_discussion_due": "Further strategy discussion by",
    }
    width = max(len(v) for v in labels.values())
    print(f"Nation: {args.nation or settings.nation}")
    for key, label in labels.items():
        if key in data:
            print(f"{label:<{width}}  {data[key]}")
    return 0


async def _serve(args, settings: Settings) -> int:
    from aiohttp import web

    from bot import playground
    from bot.services import Services
    from bot.web import build_app, surfaces_for
    from storage import migrate

    if surfaces_for(settings) == [playground] and not ipaddress.ip_address(_resolve(args.host)).is_loopback:
        raise UsageError(
            f"--host {args.host}: no Slack or Teams credentials are configured, so only the local playground "
            "would run, and it is served on loopback only (127.0.0.1); configure a platform first"
        )
    db = database(settings)
    await migrate.upgrade(db)
    runner = web.AppRunner(build_app(Services.create(settings, db)))
    await runner.setup()
    await web.TCPSite(runner, args.host, args.port).start()
    log.info("serving on http://%s:%s", args.host, args.port)
    try:
        await asyncio.Event().wait()
    finally:
        await runner.cleanup()
        await db.dispose()
    return 0


def _resolve(host: str) -> str:
    return "127.0.0.1" if host == "localhost" else host


def database(settings: Settings):
    """The configured database; creates the SQLite file's folder on first use."""
    from storage.db import Database

    if settings.sqlite_path:
        settings.sqlite_path.parent.mkdir(parents=True, exist_ok=True)
    return Database(settings.database_url)


async def _db_upgrade(settings: Settings) -> int:
    from storage import migrate

    db = database(settings)
    try:
        await migrate.upgrade(db)
        print(f"database at revision {await migrate.current_revision(db)}")
    finally:
        await db.dispose()
    return 0


async def _audit_verify(settings: Settings) -> int:
    from storage import audit

    db = database(settings)
    try:
        async with db.session() as session:
            result = await audit.verify(session)
    finally:
        await db.dispose()
    if result.ok:
        print(f"audit trail intact: {result.checked} entries checked")
        return 0
    print(
        f"audit trail broken at entry {result.broken_at}: {result.problem} "
        f"({result.checked} entries before it are intact)"
    )
    return 1


def _check_config(settings: Settings) -> int:
    procedure = load_procedure(settings.procedure_file)
    print(
        f"settings ok: database {settings.database_url.split('://')[0]}, nation {settings.nation}, "
        f"time zone {settings.timezone}"
    )
    print(f"procedure ok: {procedure.name} (version {procedure.version})")
    from bot import slack

    if slack.configured(settings):
        from bot.slack.settings import describe

        print(f"slack ok: {describe(settings)}")  # a half-configured Slack raises ConfigError here
    return 0


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        settings = load_settings()
        logging.basicConfig(level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s %(message)s")
        logging.getLogger("alembic").setLevel(logging.WARNING)  # it reports every readiness probe
        # Below WARNING these print SQL and its parameters, which hold case details.
        for name in ("aiosqlite", "sqlalchemy.engine", "asyncpg"):
            logging.getLogger(name).setLevel(logging.WARNING)
        return args.handler(args, settings)
    except (ConfigError, ProcedureError) as exc:
        print(f"configuration error: {exc}", file=sys.stderr)
        return 2
    except UsageError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 0
