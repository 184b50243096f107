"""The supervisor's side of flash power cuts: arming, the budget it keeps, counting and the cut itself."""
import selectors
import socket

import pytest

from host_tools.sim.supervisor import Supervisor


@pytest.fixture
def sup(tmp_path):
    """A supervisor that was never started: no board process, no pty, just its bookkeeping."""
    s = Supervisor(str(tmp_path))
    s.sel = selectors.DefaultSelector()
    yield s
    s.sel.close()


class _Listener:
    """Hands the supervisor one end of a socket pair, as board.sock's accept() would."""

    def __init__(self, conn):
        self._conn = conn

    def accept(self):
        return self._conn, None


def _connect(sup):
    """A board connecting to the side channel; returns the board's end."""
    board, conn = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    sup._on_board_accept(_Listener(conn))
    board.settimeout(2)
    return board


def _received(board):
    return board.recv(4096).decode().splitlines()


def test_arming_pushes_the_budget_and_every_connect_while_armed_pushes_what_is_left(sup):
    board = _connect(sup)
    assert sup.rig_cut_power_after_flash_bytes(None, None, n=300) == {"flash_budget": 300}
    assert _received(board) == ["B 300"]
    sup._handle_board(["D", "101", "199"])
    assert sup.flash_budget == 199 and sup.flash_bytes == 101
    sup._kill()                                 # a reset before the cut: the budget survives
    again = _connect(sup)
    assert _received(again) == ["B 199"]
    sup.rig_cut_power_after_flash_bytes(None, None, n=None)
    assert _received(again) == ["B -"] and sup.flash_budget is None
    sup._kill()
    quiet = _connect(sup)
    quiet.settimeout(0.2)
    with pytest.raises(socket.timeout):
        quiet.recv(10)                          # disarmed: nothing is pushed


def test_unarmed_reports_count_the_bytes_and_never_arm_a_budget(sup):
    sup._handle_board(["D", "6", "-"])
    sup._handle_board(["D", "2", "-"])
    assert sup.flash_bytes == 8 and sup.flash_bytes_boot == 8 and sup.flash_budget is None
    # a report from before the board got a new budget ("-") leaves the armed budget alone
    sup.rig_cut_power_after_flash_bytes(None, None, n=50)
    sup._handle_board(["D", "3", "-"])
    assert sup.flash_budget == 50 and sup.flash_bytes == 11


def test_the_cut_request_counts_the_cut_disarms_and_leaves_the_board_unpowered(sup):
    sup.powered = True
    sup.rig_cut_power_after_flash_bytes(None, None, n=300)
    sup._handle_board(["D", "200", "100"])
    sup._handle_board(["O", "123456", "100"])
    status = sup.rig_status(None, None)
    assert status["powered"] is False and status["flash_cuts"] == 1
    assert status["flash_budget"] is None and status["sim_ms"] == 123456
    assert status["flash_bytes_written"] == 300 and status["flash_bytes_since_boot"] == 300


def test_reports_a_board_sent_just_before_it_was_killed_are_still_counted(sup):
    board = _connect(sup)
    sup.rig_cut_power_after_flash_bytes(None, None, n=40)
    board.sendall(b"D 11 29\nD 5 24\n")
    sup._kill()                                 # the rig's power_cut, before the loop read them
    assert sup.flash_bytes == 16 and sup.flash_budget == 24


def test_a_budget_must_be_a_count_of_units(sup):
    for bad in (-1, 2.5, "10", True):
        with pytest.raises(ValueError, match="n must be an int >= 0"):
            sup.rig_cut_power_after_flash_bytes(None, None, n=bad)
    assert sup.rig_cut_power_after_flash_bytes(None, None, n=0) == {"flash_budget": 0}
