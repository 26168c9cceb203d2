"""Take docs/playground.png: a discussion in progress, in headless Chromium against the real server.

.venv/bin/python -m tests.playground.screenshot [OUTPUT.png]
"""

import sys
import tempfile
from pathlib import Path

from tests.playground import journey
from tests.playground.chromium import chromium, served

REPO = Path(__file__).resolve().parents[2]


def main(output: Path) -> None:
    with tempfile.TemporaryDirectory() as workdir, served(Path(workdir)) as base, chromium() as browser:
        dm = journey.person(browser, base, journey.DUTY_MANAGER, width=1100, height=1000)
        police = journey.person(browser, base, journey.POLICE)
        health = journey.person(browser, base, journey.HEALTH)
        journey.office_hours(dm)
        journey.convene(dm)
        journey.invite(dm, journey.POLICE, journey.HEALTH)
        journey.accept(police)
        journey.accept(health)
        journey.start(dm)
        journey.reply(police, "Known to police: a domestic incident at the address in 2025.")
        journey.reply(health, "Seen by the GP last month; no injuries were noted then.")
        journey.open_thread(dm)
        dm.screenshot(path=str(output), full_page=True)
    print(f"wrote {output}")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else REPO / "docs" / "playground.png")
