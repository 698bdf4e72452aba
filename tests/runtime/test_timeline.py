"""`wrls-actors schedule` reproduces the legacy's day of jobs, and the schedules' docs table."""

import re
from pathlib import Path

from wrls_actors.cli import main

LEGACY_DAY = Path(__file__).resolve().parent / "data" / "legacy_day.txt"


def legacy_rows() -> list[tuple[str, str]]:
    """(time, job title) for every job start of the legacy's day (tests/runtime/data/legacy_day.txt)."""
    lines = [line for line in LEGACY_DAY.read_text().splitlines() if line and not line.startswith("#")]
    return [(time, title) for time, title in (line.split("  ", 1) for line in lines)]


def printed_rows(output: str) -> list[tuple[str, str]]:
    rows, current = [], None
    for line in output.splitlines():
        match = re.match(r"^\|\s*([0-9:]{5}|-)\s*\|([^|]+)\|", line)
        if match and match.group(2) != "Job":
            current = match.group(1) if match.group(1) != "-" else current
            rows.append((current, match.group(2)))
    return rows


def test_the_monday_release_day_lists_every_row_of_the_legacy_day(capsys, monkeypatch):
    legacy = legacy_rows()
    for key in [k for k in __import__("os").environ if k.startswith("WRLS_")]:
        monkeypatch.delenv(key)
    assert main(["schedule", "--date", "2024-01-15", "--from", "10:00"]) == 0
    output = capsys.readouterr().out
    ours = printed_rows(output)
    assert len(legacy) == 42
    normalise = lambda rows: sorted((t, title.lower()) for t, title in rows)  # noqa: E731
    missing = set(normalise(legacy)) - set(normalise(ours))
    assert missing == set()
    extra = [row for row in normalise(ours) if row not in normalise(legacy)]
    # Extra rows allowed: 10:00, where the fixed-clock schedules now also fire, and the rows of jobs the legacy's
    # day does not run at all (they ran on demand then; the legacy scheduled them later, e.g. clean at 21:15).
    seed_titles = {title for _, title in normalise(legacy)}
    assert extra and {t for t, title in extra if title in seed_titles} == {"10:00"}
    assert ("08:15", "licence updates") in normalise(ours) and ("21:15", "clean") in normalise(ours)
    assert "Check status is run every 15 seconds" in output
    assert "Send message is run every 1 minute" in output and "Refresh event is run every 1 minute" in output


def test_a_schedule_switched_off_by_environment_leaves_the_timeline(capsys, monkeypatch):
    monkeypatch.setenv("WRLS_SCHEDULE_CUSTOMER_FILE_REFRESH", "off")
    monkeypatch.setenv("WRLS_SCHEDULE_TRACKER", "30 9 * * 1-5")
    assert main(["schedule", "--date", "2024-01-15"]) == 0
    output = capsys.readouterr().out
    assert "Customer file refresh" not in output.split("switched off")[0]
    assert "switched off: customer-file-refresh" in output
    assert ("09:30", "Tracker") in printed_rows(output)


def test_an_unknown_override_or_a_sunday_zero_is_refused(capsys, monkeypatch):
    monkeypatch.setenv("WRLS_SCHEDULE_NO_SUCH_JOB", "0 1 * * *")
    assert main(["schedule"]) == 2
    assert "WRLS_SCHEDULE_NO_SUCH_JOB: no schedule of that name" in capsys.readouterr().err
    monkeypatch.delenv("WRLS_SCHEDULE_NO_SUCH_JOB")
    monkeypatch.setenv("WRLS_SCHEDULE_TRACKER", "0 10 * * 0")
    assert main(["schedule"]) == 2
    assert "write Sunday as 7" in capsys.readouterr().err


def test_every_schedule_is_in_the_docs_table():
    from wrls_actors.schedules import SCHEDULES

    page = Path(__file__).resolve().parents[2] / "docs" / "jobs" / "README.md"
    table = {}
    for line in page.read_text().splitlines():
        match = re.match(r"^\| ([a-z-]+) \| [^|]+ \| (`[^`]+`|interval \d+ s) \|", line)
        if match:
            table[match.group(1)] = match.group(2).strip("`")
    ours = {s.job: (s.cron or f"interval {int(s.every.total_seconds())} s") for s in SCHEDULES}
    assert ours == table


def test_the_night_clocks_go_back_is_listed_by_instant_with_the_offset_in_the_repeated_hour(capsys, monkeypatch):
    for key in [k for k in __import__("os").environ if k.startswith("WRLS_")]:
        monkeypatch.delenv(key)
    assert main(["schedule", "--date", "2024-10-27"]) == 0
    lines = [line for line in capsys.readouterr().out.splitlines() if line.startswith("|")]
    night = lines[lines.index("|00:00|Customer file refresh|water-abstraction-service|") :][:7]
    assert night == [
        "|00:00|Customer file refresh|water-abstraction-service|",
        "| -  |Check for updated invoice accounts|water-abstraction-service|",
        "| -  |Licence not in charge version workflow|water-abstraction-service|",
        # 00:00 UTC: NALD import fires once, in the first 01:00.
        "|01:00 BST|Customer file refresh|water-abstraction-service|",
        "| -  |NALD import|water-abstraction-import|",
        # 01:00 UTC: the hourly refresh fires again; nothing fixed-hour does.
        "|01:00 GMT|Customer file refresh|water-abstraction-service|",
        "|02:00|Customer file refresh|water-abstraction-service|",
    ]


def test_the_night_clocks_go_forward_fires_the_skipped_hour_at_0200(capsys, monkeypatch):
    for key in [k for k in __import__("os").environ if k.startswith("WRLS_")]:
        monkeypatch.delenv(key)
    assert main(["schedule", "--date", "2024-03-31"]) == 0
    output = capsys.readouterr().out
    assert "|02:00|Customer file refresh|water-abstraction-service|\n| -  |NALD import|" in output
    assert "01:00" not in output
