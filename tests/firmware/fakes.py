# Shared helpers for the firmware tests: expect_raises and fake drivers (run by pytest and tests/mprun.py).

import json
import os
import time

from pump.board_config import parse_board


def expect_raises(exc_type, fn, *args):
    """Call fn(*args), insist it raises exc_type and return the exception (no pytest.raises here)."""
    try:
        fn(*args)
    except exc_type as e:
        return e
    raise AssertionError("%s did not raise %s" % (fn, exc_type.__name__))


def lcg(seed):
    """The same pseudo-random numbers on both runtimes (their `random` modules differ)."""
    state = [seed]

    def next_below(n):
        state[0] = (state[0] * 1103515245 + 12345) % 2147483648
        return (state[0] >> 8) % n
    return next_below


def board_cfg(**limits):
    """A cleaned board config (defaults filled): 0.1 uL/step, 5000 uL/h, 200 steps/s, 20 mL."""
    raw = {
        "name": "bench",
        "port": "rp2",
        "filesystem": "littlefs",
        "drivers": {"motor": {"kind": "fake"}, "clock": {"kind": "fake"}},
        "calibration": {"ul_per_step": 0.1},
        "limits": {"max_rate_ul_h": 5000, "max_steps_per_s": 200, "reservoir_ul": 20000},
    }
    raw["limits"].update(limits)
    return parse_board(raw)


def drug_library():
    """firmware/drugs.json, the library deployed to the pump, found through the import path."""
    import sys
    from pump.program import load_library
    for d in sys.path:
        if d.endswith("firmware"):
            try:
                return load_library(d + "/drugs.json")
            except Exception:
                continue
    raise AssertionError("firmware/drugs.json not found on sys.path")


TEST_DEVICE = "bench-0001"
TEST_SECRET = b"a test secret, 32 bytes long...."
_last_id = [0]


def new_id():
    """A request id not used before in this run: the pump keeps ids, so a reused one is a retry."""
    _last_id[0] += 1
    return _last_id[0]


def exchange(app, cmd, args=None, rid=None):
    """Send one request over the fake link as it is, serve it; every message the app wrote."""
    req = {"id": new_id() if rid is None else rid, "cmd": cmd}
    if args is not None:
        req["args"] = args
    app.board.link.queue(json.dumps(req).encode() + b"\n")
    app._serve_link()
    return app.board.link.take()


def login(app, role, secret=TEST_SECRET):
    """Prove a role by the real challenge-response, as a host with the device key does (the app
    gets the test key first if it has none)."""
    from pump.hmac256 import auth_mac, hexlify, role_key
    if not app.session.provisioned:
        app.session.provision(TEST_DEVICE, TEST_SECRET)
    ch = exchange(app, "auth_challenge", {"role": role})[-1]
    if not ch["ok"]:
        raise AssertionError(ch)
    ch = ch["result"]
    mac = hexlify(auth_mac(role_key(secret, role), ch["device"], role, ch["nonce"]))
    r = exchange(app, "auth", {"role": role, "nonce": ch["nonce"], "mac": mac})[-1]
    if not r["ok"]:
        raise AssertionError(r)


def ask_as_needed(app, cmd, args=None, rid=None):
    """Every message of one request, logging in first when the pump asks for a role: the therapy
    tests go through the same gate as a host, without each repeating the dance."""
    rid = new_id() if rid is None else rid
    msgs = exchange(app, cmd, args, rid)
    last = msgs[-1]
    if not last.get("ok") and last.get("error", {}).get("code") == "auth_required":
        login(app, last["error"]["role"])
        msgs = exchange(app, cmd, args, rid)   # refused before it ran: the same id is still new
    return msgs


def reply(app, cmd, args=None, rid=None):
    """Send one request over the app's fake link, serve it, and return its reply."""
    return ask_as_needed(app, cmd, args, rid)[-1]


def ok(app, cmd, args=None):
    r = reply(app, cmd, args)
    assert r["ok"] is True, r
    return r["result"]


def refused(app, cmd, args=None):
    r = reply(app, cmd, args)
    assert r["ok"] is False, r
    return r["error"]


class Escape(Exception):
    """Raised by a fake to leave App.run(), which otherwise loops forever."""


def run_loop(app, end_ms):
    """Run the real main loop (its clock a FakeClock) from its start until board time reaches
    end_ms; return the times of each watchdog feed."""
    feeds = []
    run_more(app, end_ms - app.board.clock.t, feeds)
    return feeds


def run_more(app, ms, feeds=None):
    """The real main loop for ms more of board time, starting it (run) the first time and going
    on with it (_loop) after; the board times of the watchdog feeds go to `feeds` if given (a
    list per feed would not fit MicroPython's heap over simulated days)."""
    clock = app.board.clock
    end = clock.t + ms

    def on_wait(timeout_ms, ready):
        if clock.t >= end:
            raise Escape()
        clock.t += timeout_ms
        return False
    clock.wait = on_wait
    app.board.system.on_feed = None if feeds is None else (lambda: feeds.append(clock.t))
    if app._wdt is None:
        expect_raises(Escape, app.run)
    else:
        app._wdt.on_feed = app.board.system.on_feed
        expect_raises(Escape, app._loop)


class FakeClock:
    """Board time is whatever the test sets; wait() just moves it on by the timeout."""

    def __init__(self, now_ms=0):
        self.t = now_ms
        self.waits = []

    def now_ms(self):
        return self.t

    def wait(self, timeout_ms, ready):
        self.waits.append(timeout_ms)
        self.t += timeout_ms
        return False


class FakeSimClock(FakeClock):
    """A clock that also offers the simulator's time, as drivers/sim_clock.py does."""

    def __init__(self, now_ms=0, sim_s=1234.5):
        FakeClock.__init__(self, now_ms)
        self.sim_s = sim_s

    def sim_time_s(self):
        return self.sim_s


class FakeMotor:
    """Records every call in order; steps are also logged with the board time they were given at."""

    def __init__(self, clock=None):
        self.clock = clock
        self.enabled = False
        self.calls = []
        self.steps = 0
        self.bursts = []      # (now_ms or None, n) per step() call; None stops recording steps
        self.out_extra = 0    # pulses the "hardware" emitted beyond (+) or short of (-) the steps
        self.fault_text = None

    def enable(self):
        self.enabled = True
        self.calls.append("enable")

    def disable(self):
        self.enabled = False
        self.calls.append("disable")

    def emitted(self):
        return self.steps + self.out_extra

    def fault(self):
        return self.fault_text

    def step(self, n):
        self.steps += n
        if self.bursts is None:
            return    # a long run: keep the count only, not a record of every call
        self.calls.append(("step", n))
        self.bursts.append((self.clock.now_ms() if self.clock else None, n))


class FakeLink:
    """read_available hands out queued bytes (at most chunk per call); write records the output."""

    def __init__(self, chunk=None):
        self.inbox = b""
        self.out = []
        self.chunk = chunk

    def queue(self, data):
        self.inbox += data

    def ready(self, timeout_ms):
        return len(self.inbox) > 0

    def read_available(self):
        n = len(self.inbox) if self.chunk is None else self.chunk
        data, self.inbox = self.inbox[:n], self.inbox[n:]
        return data

    def write(self, data):
        self.out.append(data)

    def messages(self):
        """Every message written so far, decoded: the writes, joined, must be whole JSON lines (a
        big message goes out in pieces)."""
        data = b"".join(self.out)
        assert not data or data.endswith(b"\n"), data[-80:]
        return [json.loads(line) for line in data.split(b"\n") if line]

    def take(self):
        """The decoded messages written since the last take()."""
        msgs = self.messages()
        self.out = []
        return msgs


class FakeWatchdog:
    def __init__(self, timeout_ms, on_feed=None):
        self.timeout_ms = timeout_ms
        self.feeds = 0
        self.on_feed = on_feed

    def feed(self):
        self.feeds += 1
        if self.on_feed is not None:
            self.on_feed()


class FakeSystem:
    def __init__(self, cause="power_on", on_feed=None, on_reset=None):
        self.cause = cause
        self.on_feed = on_feed
        self.on_reset = on_reset
        self.resets = 0
        self.wdt = None

    def reset_cause(self):
        return self.cause

    def watchdog(self, timeout_ms):
        self.wdt = FakeWatchdog(timeout_ms, self.on_feed)
        return self.wdt

    def reset(self):
        self.resets += 1
        if self.on_reset is not None:
            self.on_reset()


class FakePressure:
    def __init__(self, kpa=3.5):
        self.kpa = kpa

    def read_kpa(self):
        return self.kpa


def in_temp_dir(fn):
    """Run fn() with a fresh empty folder as the working directory, then remove the folder."""
    home = os.getcwd()
    d = "/tmp/pump_test_%d_%d" % (time.time_ns(), id(fn))
    os.mkdir(d)
    os.chdir(d)
    try:
        return fn()
    finally:
        os.chdir(home)
        for name in os.listdir(d):
            os.remove(d + "/" + name)
        os.rmdir(d)
