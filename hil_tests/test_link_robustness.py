"""The serial link holds against what hosts do: Ctrl-C, floods, hosts that vanish or stop reading,
and malformed requests. Each test is named after the rule in docs/protocol.md ("Robustness")."""
import json
import time

from hil_tests.rawlink import RawLink
from host_tools.client import DeviceError, PumpClient

UL_PER_STEP = 0.1          # boards/sim/board.json
RATE_UL_H = 3600.0         # 10 steps a second
STEPS_PER_S = RATE_UL_H / 3600 / UL_PER_STEP


def _deliver(link):
    link.login("clinician")
    assert link.request("set_rate", rate_ul_h=RATE_UL_H)["ok"]
    assert link.request("start")["ok"]
    link.result("logout")     # what follows comes from a host with no role
    return link.result("status")


def _assert_at_rate(first, now):
    assert now["state"] == "running", now
    took = now["uptime_s"] - first["uptime_s"]
    steps = now["steps"] - first["steps"]
    assert abs(steps - took * STEPS_PER_S) <= 1, "%d steps in %.3f s at %.1f steps/s" % (steps, took, STEPS_PER_S)


def _no_reset(link, first, now):
    assert not [e for e in link.events if e["event"] == "boot"], link.events
    assert now["reset_cause"] == first["reset_cause"] and now["uptime_s"] > first["uptime_s"], (first, now)


def _wait_for_quiet(link, quiet_s=0.5, timeout=30):
    """Until no reply has come for quiet_s: the backlog the host left unread has drained."""
    deadline = time.monotonic() + timeout
    seen = -1
    while seen != len(link.replies):
        assert time.monotonic() < deadline, "the board's replies never stopped coming"
        seen = len(link.replies)
        time.sleep(quiet_s)


def test_a_ctrl_c_byte_while_delivering_is_plain_data_and_delivery_goes_on_at_the_rate(board, sim_only):
    with RawLink(board.link) as link:
        first = _deliver(link)
        n = len(link.replies)
        link.send(b"\x03\n")                                       # a line of just Ctrl-C: bad_json
        link.send(b'{"id": "c1", "cmd": "status"}\x03\n')          # Ctrl-C after the JSON: bad_json, id lost
        link.send(b"\x03\x03\x03")                                 # Ctrl-C with no newline ...
        link.send(b'\n{"id": "c2", "cmd": "status"}\n')            # ... ends as a line of its own
        link.wait_until(lambda: len(link.replies) >= n + 4, 10, "four replies")
        codes = [r.get("error", {}).get("code") if not r["ok"] else "ok" for r in link.replies[n:n + 4]]
        assert codes == ["bad_json", "bad_json", "bad_json", "ok"], link.replies[n:]
        assert link.replies[n + 3]["id"] == "c2"
        time.sleep(2.0)
        now = link.result("status")
        _no_reset(link, first, now)
        _assert_at_rate(first, now)
        assert now["uptime_s"] - first["uptime_s"] >= 1.5


def test_a_flood_of_garbage_and_requests_does_not_starve_delivery_or_fire_the_watchdog(board, rig, sim_only):
    with RawLink(board.link) as link:
        first = _deliver(link)
        boots0 = rig.status()["boots"]
        n = len(link.replies)
        garbage = bytes((i * 7919 + 13) % 251 for i in range(1 << 20)).replace(b"\n", b"\x00")
        t0 = time.monotonic()
        # 1 MB of garbage in lines of about 1 KB (each answered bad_json), then 2,000 requests
        lines = [garbage[i:i + 1000] + b"\n" for i in range(0, len(garbage), 1000)]
        link.send(b"".join(lines))
        link.send(b"".join(b'{"id": %d, "cmd": "status"}\n' % i for i in range(2000)))
        link.wait_until(lambda: len(link.replies) >= n + len(lines) + 2000, 300, "the flood's replies")
        took = time.monotonic() - t0
        got = link.replies[n:]
        assert len(got) == len(lines) + 2000
        assert all(not r["ok"] for r in got[:len(lines)])
        assert [r["id"] for r in got[len(lines):]] == list(range(2000))
        now = link.result("status")
        _no_reset(link, first, now)
        _assert_at_rate(first, now)
        st = rig.status()
        assert st["boots"] == boots0 and st["reset_cause"] == first["reset_cause"], st
        print("\nflood: %.1f MB and 2000 requests answered in %.1f s of wall time, %.1f s of board time"
              % (len(garbage) / 1e6, took, now["uptime_s"] - first["uptime_s"]))


def test_a_host_that_vanishes_mid_request_does_not_break_the_next_hosts_first_request(board, sim_only):
    with RawLink(board.link) as link:
        link.request("hello")
        link.send(b'{"id": 1, "cmd": "sta')        # half a request, then the port is closed
    # a raw host, straight after (no newline first): the board has dropped the half line by the
    # time the link has been quiet for a second
    time.sleep(1.5)
    with RawLink(board.link) as link:
        reply = link.request("status", timeout=10)
        assert reply["ok"], reply
    # PumpClient at once: it ends any partial line with a bare newline when it opens the port
    with RawLink(board.link) as link:
        link.request("hello")
        link.send(b'{"id": 2, "cmd": "hel')
    with PumpClient(board.link, timeout=10) as pump:
        assert pump.request("status")["state"] == "stopped"


def test_a_host_that_stops_reading_does_not_block_the_board(board, rig, sim_only):
    with RawLink(board.link) as link:
        first = _deliver(link)
        link.pause_reading()
        dropped0 = rig.status()["output_dropped"]
        # 3,000 requests whose replies (about 1 MB) nobody reads: the board must not block on
        # its output; what does not fit in the port's buffer is lost, as on a USB board
        for i in range(3000):
            link.send(b'{"id": %d, "cmd": "status"}\n' % i)
        # While nobody reads, the board's clock (read over the rig's channel, not the link) must
        # go on: a board blocked on a write stops its loop, and its clock with it. Board time, not
        # wall time: the sim's clock stands still while the board is busy with the backlog, and
        # on a loaded host that takes more than a second.
        start_ms = rig.status()["sim_ms"]
        deadline = time.monotonic() + 30
        while rig.status()["sim_ms"] - start_ms < 2000:
            assert time.monotonic() < deadline, "the board's clock stood still while its host did not read"
            time.sleep(0.1)
        assert rig.status()["output_dropped"] > dropped0, "the replies fitted: the host never stopped the board's output"
        link.resume_reading()
        _wait_for_quiet(link)    # a reply sent while the buffer is still full would be lost too
        reply = link.request("status", timeout=10)
        _no_reset(link, first, reply["result"])
        _assert_at_rate(first, reply["result"])
        assert reply["result"]["uptime_s"] - first["uptime_s"] >= 2.0


def test_a_request_without_an_id_is_refused_with_bad_request_and_a_null_id(board):
    with RawLink(board.link) as link:
        n = len(link.replies)
        link.send(b'{"cmd": "status"}\n')
        link.wait_until(lambda: len(link.replies) > n, 10)
        r = link.replies[n]
        assert r["id"] is None and r["error"]["code"] == "bad_request" and r["error"]["path"] == "id", r


def test_arguments_of_the_wrong_type_are_refused_with_bad_arg_and_the_path(board):
    with RawLink(board.link) as link:
        r = link.request("log_read", since="zero")
        assert not r["ok"] and r["error"]["code"] == "bad_arg" and r["error"]["path"] == "args.since", r
        n = len(link.replies)
        link.send(json.dumps({"id": "a1", "cmd": "status", "args": [1]}).encode() + b"\n")
        link.wait_until(lambda: len(link.replies) > n, 10)
        r = link.replies[n]
        assert r["id"] == "a1" and r["error"]["code"] == "bad_arg", r


def test_an_unknown_command_is_refused_with_unknown_command_and_its_id(board):
    with PumpClient(board.link, timeout=10) as pump:
        try:
            pump.request("make_coffee")
        except DeviceError as e:
            assert e.code == "unknown_command" and e.path == "cmd", e
        else:
            raise AssertionError("make_coffee was accepted")
