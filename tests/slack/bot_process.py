"""The bot with Slack configured, in a process of its own, for the crash tests (test_crash.py).

Serves the real web app (Bolt, the inbox and the scheduler sweeping every half second with 2-second
leases) on 127.0.0.1:PORT against the stand-in Slack at --api, with the clock set to --at. Prints
"ready" once it listens, then runs until it is killed.
"""

import argparse
import asyncio
import sys
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from aiohttp import web  # noqa: E402

from bot.services import Services  # noqa: E402
from bot.timesource import TimeSource  # noqa: E402
from bot.web import build_app  # noqa: E402
from storage.db import Database  # noqa: E402
from tests.slack.conftest import slack_settings  # noqa: E402


async def serve(args: argparse.Namespace) -> None:
    quick = {"scheduler_interval_seconds": 0.5, "scheduler_lease_seconds": 2}
    quick |= {"inbox_sweep_seconds": 0.5, "inbox_lease_seconds": 2}  # a dead process's rows come back soon
    settings = slack_settings(args.db, args.api, scheduler_enabled=True, **quick)
    extra = {"connect_args": {"server_settings": {"search_path": args.schema}}} if args.schema else {}
    db = Database(args.db, **extra)
    at = datetime.fromisoformat(args.at)
    services = Services.create(settings, db, TimeSource(at - datetime.now(UTC)))
    runner = web.AppRunner(build_app(services))
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", args.port).start()
    print("ready", flush=True)
    await asyncio.Event().wait()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--db", required=True)
    parser.add_argument("--schema", default="")
    parser.add_argument("--api", required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--at", required=True)
    asyncio.run(serve(parser.parse_args()))
