"""`make bench`: run the benchmarks and print their reports.

python bench/run.py [options]            # reminders: finding and claiming due items (bench/reminders.py)
python bench/run.py ingest [options]     # Slack replies through the real web app (bench/ingest.py)
python bench/run.py records [options]    # exporting signed-off records, per format (bench/records.py)
python bench/run.py report [options]     # a year of figures and the census extract (bench/report.py)
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repository, when run as a script

if __name__ == "__main__":
    if sys.argv[1:2] == ["ingest"]:
        from bench import ingest

        ingest.run(sys.argv[2:])
    elif sys.argv[1:2] == ["records"]:
        from bench import records

        records.run(sys.argv[2:])
    elif sys.argv[1:2] == ["report"]:
        from bench import report

        report.run(sys.argv[2:])
    else:
        from bench import reminders

        reminders.run(sys.argv[1:])
