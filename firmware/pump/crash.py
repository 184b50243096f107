# The crash record: main.py writes what escaped the app before it resets; the next boot reports it once.
import os
import sys

CRASH_FILE = "crash.txt"     # the last crash, waiting to be reported
SEEN_FILE = "crash.old"      # the last one reported, kept for a bench engineer to read
STREAK_FILE = "crash.streak" # crashes in a row with no settled run between them
MAX_STREAK = 3               # then main.py stops restarting the app: a crash at every boot would
                             # reset the board for ever, each time writing flash


def record(exc, path=CRASH_FILE, streak_path=STREAK_FILE):
    """Write the traceback to flash (best effort: a full or broken flash must not stop the reset)."""
    try:
        n = streak(streak_path) + 1      # read before the open for writing empties the file
        with open(streak_path, "w") as f:
            f.write("%d" % n)
    except Exception:
        pass
    try:
        with open(path, "w") as f:
            if hasattr(sys, "print_exception"):
                sys.print_exception(exc, f)
            else:   # CPython, where the firmware's unit tests also run
                f.write("%s: %s\n" % (type(exc).__name__, exc))
    except Exception:
        pass


def take(path=CRASH_FILE, seen=SEEN_FILE):
    """The last line of an unreported crash (the exception and its message), or None.
    The record is moved aside, so a crash is reported on one boot only."""
    try:
        with open(path) as f:
            lines = [ln.strip() for ln in f.read().split("\n") if ln.strip()]
    except OSError:
        return None
    try:
        os.remove(seen)         # rename does not replace a file on every port's filesystem
    except OSError:
        pass
    try:
        os.rename(path, seen)
    except OSError:
        pass
    return lines[-1][:200] if lines else "unknown error"


def streak(path=STREAK_FILE):
    """Crashes in a row since the app last ran settled (0 if none)."""
    try:
        with open(path) as f:
            return int(f.read())
    except (OSError, ValueError):
        return 0


def settled(path=STREAK_FILE):
    """The app has run long enough after its boot: the streak is over."""
    try:
        os.remove(path)
    except OSError:
        pass
