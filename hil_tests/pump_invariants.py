"""What a running pump must keep across power cuts and resets: checks shared by the power-cut fuzz and the soak."""
import time

from host_tools.client import LinkError

UL_PER_STEP = 0.1          # boards/sim/board.json calibration (calibration_error_pct 0)
JOURNAL_S = 60             # the journal's interval (firmware/pump/journal.py INTERVAL_MS)


def wait_for_app(pump, timeout=15.0):
    """The app's status once it answers after a restart (LinkError if it never does)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return pump.request("status", timeout=0.5)
        except LinkError:
            if time.monotonic() > deadline:
                raise


def journal_gap(rig, status):
    """Steps the plant moved that the pump's count does not hold: 0 until a reset, then up to
    one journal interval more per reset (the count restarts from the journal)."""
    return rig.plant()["steps_moved"] - status["steps"]


def journal_gap_bound(max_ul_h, ul_per_step=UL_PER_STEP):
    """The most a reset may add to the gap: one journal interval at the fastest the pump runs
    (max_ul_h, basal and bolus together), plus a step either side."""
    return int(max_ul_h * JOURNAL_S / 3600 / ul_per_step) + 2


def check_gap(before, after, bound, where):
    """A reset may only lose the steps since the last journal record: never gain, never more."""
    assert 0 <= after - before <= bound, ("the pump's count fell behind the plant by %d steps "
                                          "at a reset (at most %d allowed)" % (after - before, bound),
                                          where, before, after)


def check_program_survived(status, confirmed, where):
    """After a restart the pump runs a program it confirmed, never a corrupt or half-written one."""
    assert "program_store_bad" not in status["alarms"], (where, status)
    assert status.get("program", {}).get("digest") in confirmed, (where, status)


def check_log_reads_back(pump, where):
    """The event log reads back after a restart, and counts the restart as a new boot."""
    page = pump.request("log_read", since=0, limit=5, timeout=10.0)
    assert page["records"] and page["boot"] >= 2, (where, page)
    return page
