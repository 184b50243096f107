"""pumpctl log and history on the host side: CSV columns, filters, and the daily table."""
import csv
import io

from host_tools.log_cli import format_history, history_rows, keep, write_csv

RECS = [
    {"seq": 1, "k": "boot", "boot": 1, "up": 0, "t": None, "reset_cause": "power_on"},
    {"seq": 2, "k": "command", "boot": 1, "up": 1500, "t": 1767258000000, "cmd": "start", "ok": True},
    {"seq": 3, "k": "day", "boot": 2, "up": 9000, "t": 1767312000000, "day": 20454,
     "delivered_ul": 1500.0, "programmed_ul": 2400.0},
]


def test_the_csv_export_has_one_row_per_record_with_its_data_as_json():
    out = io.StringIO()
    write_csv(RECS, out)
    rows = list(csv.DictReader(io.StringIO(out.getvalue())))
    assert [r["kind"] for r in rows] == ["boot", "command", "day"]
    assert rows[1]["time"] == "2026-01-01 09:00:00" and rows[1]["up_s"] == "1.500"
    assert rows[0]["time"] == ""                       # the time was not known yet
    assert '"cmd": "start"' in rows[1]["detail"]


def test_filters_keep_only_the_kinds_and_boot_asked_for():
    assert [r["seq"] for r in keep(RECS, {"command", "day"})] == [2, 3]
    assert [r["seq"] for r in keep(RECS, None, boot=2)] == [3]


def test_history_shows_each_day_delivered_against_programmed_with_the_percentage():
    rows = history_rows(RECS)
    assert rows == [("2026-01-01", 1500.0, 2400.0, 62.5)]
    assert "62.5" in format_history(rows)
    assert "no whole days" in format_history([])
