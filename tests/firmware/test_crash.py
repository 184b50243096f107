# The crash record main.py keeps across the reset: written once, reported on one boot only.

from pump import crash

PATH = "crash_test.tmp"
SEEN = "crash_test.old"


def _cleanup():
    import os
    for p in (PATH, SEEN):
        try:
            os.remove(p)
        except OSError:
            pass


def test_a_recorded_crash_is_reported_once_by_its_last_line():
    _cleanup()
    try:
        raise ValueError("bad step count")
    except ValueError as e:
        crash.record(e, PATH)
    try:
        first = crash.take(PATH, SEEN)
        assert first is not None and first.endswith("bad step count"), first
        assert "ValueError" in first
        assert crash.take(PATH, SEEN) is None
    finally:
        _cleanup()


def test_a_boot_without_a_crash_record_reports_nothing():
    _cleanup()
    assert crash.take(PATH, SEEN) is None


def test_each_crash_lengthens_the_streak_until_a_settled_run_ends_it():
    streak_path = "crash_test.streak"
    try:
        for n in (1, 2, 3):
            crash.record(ValueError("again"), PATH, streak_path)
            assert crash.streak(streak_path) == n
        assert crash.streak(streak_path) >= crash.MAX_STREAK     # main.py stops restarting here
        crash.settled(streak_path)
        assert crash.streak(streak_path) == 0
    finally:
        _cleanup()
        crash.settled(streak_path)
