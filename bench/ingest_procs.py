"""The ingest bench's processes: the bare slack-bolt baseline, the bot, the load generator run as a
child process, and their environment."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
import uuid
from dataclasses import dataclass
from pathlib import Path

from bench.ingest_load import EVENTS, REPO, free_port
from tests.slack.standin import BOT_TOKEN

# --- the bare baseline: slack-bolt on aiohttp, a message listener that only acks ---------------------


def serve_bare(port: int, api_url: str, secret: str) -> None:
    from aiohttp import web
    from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request
    from slack_bolt.app.async_app import AsyncApp
    from slack_sdk.web.async_client import AsyncWebClient

    bolt = AsyncApp(
        signing_secret=secret,
        client=AsyncWebClient(token=BOT_TOKEN, base_url=api_url, timeout=15),
        process_before_response=False,  # as the bot: ack first
    )

    @bolt.event("message")
    async def on_message() -> None:
        return None

    async def events(request: web.Request) -> web.Response:
        return await to_aiohttp_response(await bolt.async_dispatch(await to_bolt_request(request)))

    async def healthz(_request: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    app = web.Application()
    app.router.add_post(EVENTS, events)
    app.router.add_get("/healthz", healthz)
    web.run_app(app, host="127.0.0.1", port=port, print=None, handle_signals=True)


# --- processes ---------------------------------------------------------------------------------------


@dataclass
class Proc:
    name: str
    proc: asyncio.subprocess.Process
    url: str
    log: Path

    @property
    def pid(self) -> int:
        return self.proc.pid

    async def stop(self) -> None:
        if self.proc.returncode is None:
            self.proc.send_signal(signal.SIGINT)  # the serve command cleans up on KeyboardInterrupt
            try:
                await asyncio.wait_for(self.proc.wait(), 20)
            except TimeoutError:
                self.proc.kill()
                await self.proc.wait()

    def errors(self) -> list[str]:
        lines = self.log.read_text(errors="replace").splitlines() if self.log.exists() else []
        return [line for line in lines if " ERROR " in line or "Traceback" in line]


async def start_process(name: str, args: list[str], env: dict, workdir: Path, ready: str) -> Proc:
    port = free_port()
    log = workdir / f"{name}.log"
    with log.open("ab") as out:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, *args, "--port", str(port), env=env, cwd=workdir, stdout=out, stderr=out
        )
    p = Proc(name, proc, f"http://127.0.0.1:{port}", log)
    import aiohttp

    async with aiohttp.ClientSession() as http:
        for _ in range(600):
            if proc.returncode is not None:
                break
            try:
                async with http.get(p.url + ready) as resp:
                    if resp.status == 200:
                        return p
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.1)
    await p.stop()
    tail = "\n".join(log.read_text(errors="replace").splitlines()[-20:])
    raise RuntimeError(f"{name} did not become ready:\n{tail}")


def child_env(extra: dict[str, str]) -> dict[str, str]:
    """The environment without this shell's own bot settings (the children run in a temporary folder,
    so no .env file is read either)."""
    keep = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "MICROSOFT_", "TEAMS_"))}
    for k in ("DATABASE_URL", "PROCEDURE_FILE", "COUNCIL"):
        keep.pop(k, None)
    return keep | {"PYTHONPATH": str(REPO)} | extra


async def run_driver(spec: dict, workdir: Path) -> dict:
    spec_file = workdir / f"spec-{uuid.uuid4().hex[:6]}.json"
    out_file = spec_file.with_suffix(".out.json")
    spec_file.write_text(json.dumps(spec))
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bench.ingest",
        "_drive",
        str(spec_file),
        str(out_file),
        cwd=REPO,
        env=child_env({}),
    )
    if await proc.wait() != 0:
        raise RuntimeError("the load generator failed")
    return json.loads(out_file.read_text())
