# Measures the whole control loop on the MicroPython unix port: heap per pass, idle and delivering.
#
#   .venv/bin/micropython -X heapsize=400k tests/firmware/loop_probe.py BOARD_JSON MODULE_DIR [HOURS]
# BOARD_JSON is the board file the app boots with (`make bench` passes the sim board with its
# pressure read at 1 Hz); MODULE_DIR holds the firmware modules (the compiled .mpy folder, as
# deployed). The app runs its real loop with the sim board's drivers over an in-process stand-in
# for simhw (the supervisor's side of the sim: clock, plant, flash), so no socket traffic is
# counted; the watchdog and the link are the test fakes, the link dropping what the app sends.
# Each pass of the loop ends in the clock's wait: the probe reads gc.mem_alloc() there, with
# the collector off, so each pass's allocation is exact; it collects between passes when the
# heap runs low and then reads what stays (the live heap). Phases:
#   idle     an hour with the motor stopped (the baseline), after a minute from boot
#   flex     HOURS (default 24) of the 48-step flex week with boluses, after an hour's warm-up
# Prints one line per phase: "phase NAME passes=.. sim_ms=.. alloc_bytes=.. max_pass_bytes=..
# alloc_passes=.. live_max=.. reads=.. steps=..", then "code=.. probe_code=.. block=.. heap=.. ok":
# code is what importing the firmware (pump.app and the sim drivers) took, probe_code what the
# probe's helpers took after it (both part of live_max), block the heap's allocation unit.
import gc
import os
import sys

_here = sys.argv[0][:sys.argv[0].rfind("/")] if "/" in sys.argv[0] else "."
MS_H = 3600000
LOW_FREE = 48 * 1024         # collect between passes below this much free heap
# a line at 1 kPa back-pressure read through a 0.05 kPa-noise sensor: made once, so reading it
# allocates nothing (a float is a heap object on the unix port)
_READINGS = [1.0 + 0.05 * ((i * 7) % 5 - 2) for i in range(16)]
_SINK = [None]


class _Stop(Exception):
    """Ends a phase: raised from the clock's wait, which the loop never leaves otherwise."""


class _Clock:
    """simhw's clock: time jumps to each wait's deadline; the wait also ends each measured pass."""

    def __init__(self, stats):
        self.t = 0
        self.end = 0
        self.st = stats   # [pass start alloc, passes, bytes, max pass, passes allocating, live max]
        self.measure = False

    def sim_ms(self):
        return self.t

    def wait(self, timeout_ms, ready):
        st = self.st
        if self.measure:
            d = gc.mem_alloc() - st[0]
            st[1] += 1
            st[2] += d
            if d > st[3]:
                st[3] = d
            if d > 0:
                st[4] += 1
        if gc.mem_free() < LOW_FREE:
            gc.collect()
            if gc.mem_alloc() > st[5]:
                st[5] = gc.mem_alloc()
        if self.t >= self.end:
            raise _Stop()
        self.t += timeout_ms
        st[0] = gc.mem_alloc()
        return False


class _SimHw:
    """The supervisor's side of simhw, in process: a plant that never occludes, flash that never cuts."""

    def __init__(self, clock):
        self._clock = clock
        self.steps = 0
        self.reads = 0

    def clock(self):
        return self._clock

    def motor_enable(self, enabled):
        pass

    def motor_steps(self, n):
        self.steps += n

    def read_pressure_kpa(self):
        self.reads += 1
        return _READINGS[self.reads & 15]

    def read_encoder_steps(self):
        return self.steps

    def annunciate(self, led, buzzer):
        pass

    def read_supply_v(self):
        return 5.0

    def fault_active(self, name):
        return False

    def flash_spend(self, units):
        return units

    def flash_cut(self, units):
        raise RuntimeError("the probe's flash never cuts")

    def rtc_ms(self):
        return None

    def set_rtc_ms(self, wall_ms):
        pass


def _block_bytes():
    """The heap's allocation unit: what one float takes (4 words: 32 bytes here, 16 on a 32-bit board)."""
    x = _READINGS[1]
    gc.collect()
    gc.disable()
    before = gc.mem_alloc()
    _SINK[0] = x * 3.0       # a new float, kept so the collector cannot take it back first
    used = gc.mem_alloc() - before
    gc.enable()
    return used


def _copy(src, dst):
    with open(src) as f:
        data = f.read()
    with open(dst, "w") as f:
        f.write(data)


def _run(app, clock, ms, measure):
    clock.end = clock.t + ms
    clock.measure = measure
    try:
        if app._wdt is None:
            app.run()
        else:
            app._loop()
    except _Stop:
        pass
    clock.measure = False


def _phase(name, app, clock, hw, ms):
    st = clock.st
    gc.collect()
    st[1] = st[2] = st[3] = st[4] = 0
    st[5] = gc.mem_alloc()
    t0, reads0, steps0 = clock.t, hw.reads, hw.steps
    _run(app, clock, ms, True)
    gc.collect()
    if gc.mem_alloc() > st[5]:
        st[5] = gc.mem_alloc()
    print("phase %s passes=%d sim_ms=%d alloc_bytes=%d max_pass_bytes=%d alloc_passes=%d "
          "live_max=%d reads=%d steps=%d"
          % (name, st[1], clock.t - t0, st[2], st[3], st[4], st[5], hw.reads - reads0,
             hw.steps - steps0))


def _send_program(app, doc, wall_ms):
    from fakes import ok
    from pump.program import split_parts
    import json
    parts = split_parts(doc)
    ok(app, "program_begin", {"bytes": len(json.dumps(doc)), "parts": len(parts)})
    for i, (path, value) in enumerate(parts):
        ok(app, "program_part", {"index": i, "path": path, "value": value})
    review = ok(app, "program_review", {"time_ms": wall_ms})
    ok(app, "program_confirm", {"digest": review["digest"], "time_ms": wall_ms})
    ok(app, "start")


def main(board_file, modules, hours):
    board_file = board_file if board_file.startswith("/") else os.getcwd() + "/" + board_file
    root = _here + "/../.."
    if not root.startswith("/"):
        root = os.getcwd() + "/" + root
    sys.path.insert(0, modules)
    sys.path.append(_here)
    stats = [0, 0, 0, 0, 0, 0]
    clock = _Clock(stats)
    hw = _SimHw(clock)
    sys.modules["simhw"] = hw     # the sim drivers import it by name
    gc.collect()
    start = gc.mem_alloc()
    import pump.app                                      # noqa: F401  what the pump imports
    from pump.wiring import Board, load_driver, load_storage
    from pump.board_config import load_board
    import drivers.sim_stepper, drivers.sim_clock, drivers.sim_pressure  # noqa: F401,E401
    import drivers.sim_supply, drivers.sim_annunciator, drivers.sim_faults  # noqa: F401,E401
    import drivers.sim_encoder, drivers.sim_flash        # noqa: F401,E401
    gc.collect()
    code = gc.mem_alloc() - start
    from fakes import FakeLink, FakeSystem, login
    from heap_probe import flex_week_doc
    gc.collect()
    probe_code = gc.mem_alloc() - start - code
    block = _block_bytes()

    class _Link(FakeLink):
        # a host that reads everything: what the app sends while the loop runs is gone at once
        keep = True

        def write(self, data):
            if self.keep:
                self.out.append(data)

    flash = "/tmp/pump_loop_probe_%d" % os.getpid() if hasattr(os, "getpid") else "/tmp/pump_loop_probe"
    try:
        os.mkdir(flash)
    except OSError:
        pass
    _copy(board_file, flash + "/board.json")
    _copy(root + "/firmware/drugs.json", flash + "/drugs.json")
    here = os.getcwd()
    os.chdir(flash)   # the sim board runs in its flash folder: the stores write there
    try:
        from pump.app import App
        cfg = load_board("board.json")
        d = cfg["drivers"]
        link = _Link()
        board = Board(cfg, motor=load_driver("motor", d["motor"], cfg),
                      clock=load_driver("clock", d["clock"], cfg), link=link,
                      pressure=load_driver("pressure", d["pressure"], cfg), system=FakeSystem(),
                      supply=load_driver("supply", d["supply"], cfg),
                      faults=load_driver("faults", d["faults"], cfg),
                      annunciator=load_driver("annunciator", d["annunciator"], cfg),
                      encoder=load_driver("encoder", d["encoder"], cfg), storage=load_storage(cfg))
        app = App(board)
        gc.disable()
        link.keep = False
        _run(app, clock, 60000, False)
        _phase("idle", app, clock, hw, MS_H)
        link.keep = True
        gc.enable()       # the upload is not measured: it may collect as the pump does
        login(app, "clinician")
        _send_program(app, flex_week_doc(), 1767225600000 + 9 * MS_H)   # Thu 09:00
        link.out = []
        link.keep = False
        gc.disable()
        _run(app, clock, MS_H, False)
        _phase("flex", app, clock, hw, int(hours * MS_H))
        gc.enable()
        print("code=%d probe_code=%d block=%d heap=%d ok"
              % (code, probe_code, block, gc.mem_alloc() + gc.mem_free()))
    finally:
        os.chdir(here)
        for name in os.listdir(flash):
            os.remove(flash + "/" + name)
        os.rmdir(flash)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], float(sys.argv[3]) if len(sys.argv) > 3 else 24.0)
