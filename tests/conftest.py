# Puts the firmware and its shared test helpers on sys.path so pytest imports them as the board would.

import os
import sys

_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# the same two paths tests/mprun.py sets for MicroPython, so both runtimes import the same files
for _p in (os.path.join(_ROOT, "tests", "firmware"), os.path.join(_ROOT, "firmware")):
    if _p not in sys.path:
        sys.path.insert(0, _p)
