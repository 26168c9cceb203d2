"""`make bench`: run the benchmarks and print their reports (see bench/reminders.py for the options)."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repository, when run as a script

from bench import reminders  # noqa: E402

if __name__ == "__main__":
    reminders.run(sys.argv[1:])
