"""docs/bench.md stays true: its wiring table for each board names every pin of the board file."""
import json
import os
import re

from host_tools import paths
from host_tools.firmware_set import real_boards

BENCH = os.path.join(paths.REPO_DIR, "docs", "bench.md")


def _section(text, board):
    m = re.search(r"^### %s\n(.*?)(?=^#)" % re.escape(board), text, re.S | re.M)
    assert m, "docs/bench.md has no '### %s' wiring section" % board
    return m.group(1)


def _pin_label(board, pin):
    # the tables write a number as the port spells it (GP2 on a Pico, plain on an ESP32)
    if isinstance(pin, int) and board.startswith("rp2"):
        return "GP%d" % pin
    return str(pin)


def test_every_pin_of_every_real_board_is_in_its_wiring_table():
    with open(BENCH) as f:
        text = f.read()
    for name, doc in real_boards().items():
        rows = [r for r in _section(text, name).splitlines() if r.startswith("|")]
        for signal, pin in doc["pins"].items():
            hits = [r for r in rows if re.search(r"\b%s\b" % re.escape(signal), r.split("|")[1])]
            assert hits, "%s: signal %s is not in its wiring table" % (name, signal)
            assert any(re.search(r"\b%s\b" % re.escape(_pin_label(name, pin)), r) for r in hits), \
                "%s: %s should be wired to %s" % (name, signal, _pin_label(name, pin))
