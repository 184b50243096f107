# Measures the planner: heap bytes per steady-state tick, and the time to simulate a day.
#
#   .venv/bin/micropython tests/firmware/planner_probe.py
#   .venv/bin/micropython -X heapsize=128k tests/firmware/planner_probe.py
# prints "ticks=N bytes_per_tick=X" (X is "n/a" where gc.mem_alloc is missing, as on CPython)
# and "sim_day steps=N wakes=W seconds=S". tests/firmware/test_planner.py imports the same
# functions.
import gc
import sys
import time

if __name__ == "__main__":
    _here = sys.argv[0][:sys.argv[0].rfind("/")] if "/" in sys.argv[0] else "."
    for _p in (_here, _here + "/../../firmware"):
        if _p not in sys.path:
            sys.path.insert(0, _p)

from pump.planner import Delivery
from pump.therapy import Program, Day, Periodic
from pump.units import MS_PER_DAY, MS_PER_MIN

SIM_PL_PER_STEP = 100000            # the sim board: 0.1 uL per step
MONDAY = 4 * MS_PER_DAY             # 1970-01-05 00:00 local time, a Monday
HALF_HOUR = 30 * MS_PER_MIN


def flex_week_program(periodic=True):
    """48 half-hour steps a day, a different day each weekday, 1..5 mL/day; a periodic bolus
    of 50 uL over 10 minutes every 2 hours from 00:15."""
    p = Program()
    days = []
    for wd in range(7):
        starts = [i * HALF_HOUR for i in range(48)]
        rates = [1000000 + (i * 1234567 + wd * 7654321) % 4000001 for i in range(48)]
        days.append(Day(starts, rates))
    p.days = days
    if periodic:
        p.periodic = Periodic(50000, 10 * MS_PER_MIN, 120 * MS_PER_MIN, 15 * MS_PER_MIN)
    p.volume_nl = 20000000
    return p


def _clock_us():
    if hasattr(time, "ticks_us"):
        return time.ticks_us()
    return int(time.perf_counter() * 1000000)


def _elapsed_us(t0):
    if hasattr(time, "ticks_diff"):
        return time.ticks_diff(time.ticks_us(), t0)
    return _clock_us() - t0


def _ticks(d, t, n, dt):
    """The control loop's calls, n times, dt ms apart; returns the time after the last."""
    i = 0
    while i < n:
        k = d.due(t)
        if k:
            d.taken(k)
        d.next_due_ms(t)
        t += dt
        i += 1
    return t


def tick_alloc(d, t, n, dt):
    """Heap bytes allocated by n ticks from t (None where gc.mem_alloc is missing)."""
    _ticks(d, t, 1, dt)     # the window for t is computed here, outside the measurement
    t += dt
    if not hasattr(gc, "mem_alloc"):
        _ticks(d, t, n, dt)
        return None
    gc.collect()
    gc.disable()            # a collection inside would hide what the loop allocated
    try:
        before = gc.mem_alloc()
        _ticks(d, t, n, dt)
        after = gc.mem_alloc()
    finally:
        gc.enable()
    return after - before


def measure_tick_alloc(ticks=10000):
    """(ticks, bytes) for steady basal in a 30-minute flex step, then for ticks during a
    30-minute clinician bolus; ticks are 100 ms apart, inside one window each."""
    from pump.therapy import Bolus
    p = flex_week_program(periodic=False)
    d = Delivery(p, MONDAY, SIM_PL_PER_STEP)
    t = 2 * HALF_HOUR                                   # a step boundary
    basal = tick_alloc(d, t, ticks, 100)
    t = 6 * HALF_HOUR
    d.due(t)
    d.request_bolus("clinician", t, Bolus(100000, HALF_HOUR), False, p.volume_nl)
    bolus = tick_alloc(d, t, ticks, 100)
    if basal is None:
        return ticks, None
    return ticks, basal + bolus


def sim_day(program=None, pl_per_step=SIM_PL_PER_STEP, start_wall_ms=MONDAY + 3 * MS_PER_DAY):
    """(steps, wake-ups, seconds): one day of delivery, the clock jumping from one next_due_ms
    to the next as the control loop's sleep does."""
    if program is None:
        program = flex_week_program()
    d = Delivery(program, start_wall_ms, pl_per_step)
    t = 0
    wakes = 0
    t_start = _clock_us()
    while t <= MS_PER_DAY:
        k = d.due(t)
        if k:
            d.taken(k)
        t = d.next_due_ms(t)
        if t is None:
            break
        wakes += 1
    return d.steps_taken, wakes, _elapsed_us(t_start) / 1000000


def main():
    n, b = measure_tick_alloc()
    print("ticks=%d bytes_per_tick=%s" % (n * 2, "n/a" if b is None else "%g" % (b / (n * 2))))
    steps, wakes, s = sim_day()
    print("sim_day steps=%d wakes=%d seconds=%.3f" % (steps, wakes, s))


if __name__ == "__main__":
    main()
