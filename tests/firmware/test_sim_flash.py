# Unit tests of drivers.sim_flash over the sim ROM's simhw with a fake side channel; run by pytest and tests/mprun.py.
#
# The real simhw spends the budget, the real driver tears the real files in a temp folder; only
# the socket to the supervisor is faked, and halt() (which waits to be killed) raises PowerCut.
import os
import sys

from fake_flash import PREFIX, FakeFlash, PowerCut
from fakes import expect_raises, in_temp_dir


def _dirname(p):
    i = p.rfind("/")
    return p[:i] if i > 0 else ("/" if i == 0 else ".")


# this file is <root>/tests/firmware/test_sim_flash.py on both runtimes (no os.path on MicroPython)
ROOT = _dirname(_dirname(_dirname(__file__)))
ROM = ROOT + "/host_tools/sim/rom"
if ROM not in sys.path:
    sys.path.append(ROM)    # after the firmware: the ROM's modules must not shadow anything

import simhw                                    # noqa: E402  (needs the ROM folder on the path)
from drivers.sim_flash import SimFlash          # noqa: E402
from drivers.vfs_storage import VfsStorage      # noqa: E402
from pump.board_config import load_board        # noqa: E402
from pump.wiring import load_storage            # noqa: E402

SIM_MS = 4321


class _Channel:
    """The board's end of the side channel: lines sent are kept, lines to deliver wait in inbox."""

    def __init__(self):
        self.sent = []
        self.inbox = []
        self._handlers = {}

    def on(self, tag, handler):
        self._handlers[tag] = handler

    def send(self, line):
        self.sent.append(line)

    def service(self):
        while self.inbox:
            parts = self.inbox.pop(0).split()
            self._handlers[parts[0]](parts[1:])


class _Clock:
    def sim_ms(self):
        return SIM_MS


def _halt():
    raise PowerCut("the supervisor kills the board here")


simhw.halt = _halt      # module global: flash_cut() calls it as the ROM's halt


def _board(budget=None, filesystem="posix"):
    """A fresh sim board's storage; budget: a cut the supervisor has pushed but not yet delivered."""
    ch = _Channel()
    ch.on("B", simhw._on_flash_budget)
    simhw._channel = ch
    simhw._clock = _Clock()
    simhw._flash_budget = None
    if budget is not None:
        ch.inbox.append("B %d" % budget)
    return SimFlash({"kind": "sim_flash"}, {"filesystem": filesystem}), ch


def _files():
    out = {}
    for name in os.listdir("."):
        with open(name, "rb") as f:
            out[name] = f.read()
    return out


def _put(name, data):
    with open(name, "wb") as f:
        f.write(data)


def test_unarmed_operations_complete_and_report_their_units_without_waiting_for_a_reply():
    def run():
        s, ch = _board()
        s.write("f", b"hello")
        s.append("f", "ab")
        s.rename("f", "g")
        s.remove("g")
        s.remove("never")           # a missing file: nothing reaches the flash
        assert ch.sent == ["D 6 -", "D 2 -", "D 1 -", "D 1 -"], ch.sent
        assert _files() == {}
    in_temp_dir(run)


def test_a_cut_write_keeps_exactly_the_bytes_that_fit_and_asks_for_the_power_cut():
    def run():
        _put("a", b"old content")
        s, ch = _board(budget=1 + 4)        # the truncation and four bytes
        expect_raises(PowerCut, s.write, "a", b"new content")
        assert _files() == {"a": b"new "}
        assert ch.sent == ["O %d 5" % SIM_MS], ch.sent
        assert simhw._flash_budget is None  # a cut fires once
    in_temp_dir(run)


def test_a_budget_of_zero_changes_nothing_and_one_only_truncates():
    def run():
        _put("a", b"old")
        s, ch = _board(budget=0)
        expect_raises(PowerCut, s.write, "a", b"new")
        assert _files() == {"a": b"old"} and ch.sent == ["O %d 0" % SIM_MS]
        s, ch = _board(budget=1)
        expect_raises(PowerCut, s.write, "a", b"new")
        assert _files() == {"a": b""}
    in_temp_dir(run)


def test_an_operation_that_fits_the_budget_completes_and_the_next_one_is_cut():
    def run():
        s, ch = _board(budget=5)
        s.write("a", b"1234")
        assert ch.sent == ["D 5 0"], ch.sent        # the board's budget left goes with it
        expect_raises(PowerCut, s.append, "a", b"5")
        assert _files() == {"a": b"1234"}
    in_temp_dir(run)


def test_a_cut_append_keeps_the_bytes_that_fit_at_the_end():
    def run():
        _put("a", b"abc")
        s, ch = _board(budget=2)
        expect_raises(PowerCut, s.append, "a", b"defg")
        assert _files() == {"a": b"abcde"}
        assert ch.sent == ["O %d 2" % SIM_MS]
    in_temp_dir(run)


def test_a_budget_pushed_before_the_write_is_read_even_if_the_board_never_waited_on_its_clock():
    # the REPL reads stdin without servicing the channel: the driver must look for a budget
    def run():
        s, ch = _board()
        s.write("a", b"xy")
        ch.inbox.append("B 2")
        expect_raises(PowerCut, s.write, "a", b"new")
        assert _files() == {"a": b"n"}
        s, ch = _board(budget=0)
        ch.inbox.append("B -")                      # disarmed before the write
        s.write("a", b"whole")
        assert _files() == {"a": b"whole"} and ch.sent == ["D 6 -"]
    in_temp_dir(run)


def test_an_atomic_rename_happens_whole_or_not_at_all():
    def run():
        _put("slot", b"old")
        _put("tmp", b"new")
        s, ch = _board(budget=0, filesystem="littlefs")
        expect_raises(PowerCut, s.rename, "tmp", "slot")
        assert _files() == {"slot": b"old", "tmp": b"new"}
        s, ch = _board(budget=1, filesystem="littlefs")
        s.rename("tmp", "slot")
        assert _files() == {"slot": b"new"} and ch.sent == ["D 1 0"]
    in_temp_dir(run)


def test_a_fat_rename_cut_part_way_can_lose_or_tear_the_destination():
    seen = []

    def run(k):
        _put("slot", b"old")
        _put("tmp", b"new")
        s, ch = _board(budget=k, filesystem="fat")
        expect_raises(PowerCut, s.rename, "tmp", "slot")
        files = _files()
        assert files["tmp"] == b"new", files      # the source goes last
        seen.append(files.get("slot"))
    for k in range(1 + 1 + 3 + 1):     # remove dst, create dst, 3 bytes, remove src
        in_temp_dir(lambda: run(k))
    # the destination gone, then empty, then torn, then whole while the source is still there
    assert seen == [b"old", None, b"", b"n", b"ne", b"new"], seen


def _script(s):
    """Every kind of operation, on files that exist and files that do not."""
    s.write("a", b"first")
    s.append("a", b"+more")
    s.append("b", b"created by append")
    s.write("tmp", b"replacement")
    s.rename("tmp", "a")
    s.rename("b", "c")
    s.remove("c")
    s.remove("missing")
    s.write("a", "")


def test_every_cut_point_leaves_the_files_the_fake_flash_leaves():
    # the units and the torn states are fake_flash.py's, so the fuzz proved on the fake and a
    # fuzz on the sim board mean the same thing by "a cut after k units"
    for filesystem in ("fat", "littlefs"):
        total = FakeFlash(filesystem)
        _script(total)
        for k in range(total.spent + 1):
            fake = FakeFlash(filesystem)
            fake.arm(k, PREFIX)
            fake_cut = _cuts(_script, fake)

            def run():
                s, ch = _board(budget=k, filesystem=filesystem)
                cut = _cuts(_script, s)
                assert cut == fake_cut, (filesystem, k, cut)
                assert _files() == fake.files, (filesystem, k, _files(), fake.files)
                spent = sum(int(m.split()[-2 if m[0] == "D" else -1]) for m in ch.sent)
                assert spent == min(k, total.spent), (filesystem, k, ch.sent)
            in_temp_dir(run)


def _cuts(fn, storage):
    try:
        fn(storage)
    except PowerCut:
        return True
    return False


def test_names_with_a_path_are_refused_before_anything_is_spent():
    s, ch = _board(budget=0)
    for name in ("", "a/b", ".."):
        expect_raises(ValueError, s.write, name, b"x")
        expect_raises(ValueError, s.append, name, b"x")
    assert ch.sent == []


def test_the_sim_board_stores_its_files_through_sim_flash_and_others_through_vfs_storage():
    sim = load_board(ROOT + "/boards/sim/board.json")
    assert sim["drivers"]["storage"] == {"kind": "sim_flash"}
    _board()
    s = load_storage(sim)
    assert isinstance(s, SimFlash) and s.atomic_rename is True
    del sim["drivers"]["storage"]
    s = load_storage(sim)
    assert type(s) is VfsStorage and s.filesystem == "posix"
