"""The soak's seeded scenario: when the patient presses for a bolus and when the rig breaks something, decided before the run starts."""
import collections
import random

MIN_MS = 60000
HOUR_MS = 3600000
DAY_MS = 86400000

Event = collections.namedtuple("Event", "wall kind args")

# incidents per simulated day; a soak of any length gets at least one of each
INCIDENT_RATES = {
    "power_cut": 1 / 6,          # the power goes at an instant the board is idle
    "flash_cut": 1 / 9,          # the power goes inside one of the pump's own flash writes
    "reset_button": 1 / 9,
    "watchdog": 1 / 18,          # a task hangs; the watchdog resets the board
    "crash": 1 / 30,             # an unhandled error resets the board
    "occlusion": 1 / 9,          # the line is blocked until the alarm, then for a while more
    "partial_occlusion": 1 / 15,  # a narrowed line that still lets the flow through: no alarm
}
REFILL_EVERY_DAYS = (18, 25)     # a 20 mL reservoir at about 0.25 mL/day
# Incidents start within 2 h of these local hours and last at most 5 h, so none overlaps the
# next, and none crosses midnight, where each simulated day is checked.
SLOT_HOURS = (1, 8, 15)
SLOT_JITTER_MS = 2 * HOUR_MS
PRESS_HOURS = (7, 23)            # the patient is awake
PRESSES_PER_DAY = (0, 1, 2, 3, 4, 5, 6, 7)   # more than the 4 allowed on some days
REPRESS_CHANCE = 0.3             # a press again soon after: inside the bolus or its lockout
REPRESS_MIN = (2, 50)
COUGHS_PER_DAY = 2


def _off_s(rng):
    """How long the power stays off: a blip or an outage of up to two hours."""
    return rng.randint(5, 120) if rng.random() < 0.5 else rng.randint(600, 7200)


def _incident_args(kind, rng):
    if kind in ("power_cut", "flash_cut"):
        args = {"off_s": _off_s(rng)}
        if kind == "flash_cut":
            # a journal record is about 300 units, a log record 150-250 (as the power-cut fuzz)
            args["units"] = rng.randint(0, 1500)
        return args
    if kind == "watchdog":
        return {"task": rng.choice(("link", "control"))}
    if kind == "occlusion":
        return {"hold_s": rng.randint(60, 1800)}        # blocked on after the alarm
    if kind == "partial_occlusion":
        return {"fraction": round(rng.uniform(0.2, 0.5), 2), "hold_s": rng.randint(3600, 4 * 3600)}
    if kind == "refill":
        return {"hold_s": rng.randint(600, 1800)}       # stopped while it is aspirated and filled
    return {}


def make_scenario(seed, days, wall0):
    """Every event of a soak of `days` days from local wall ms wall0, in time order. The same
    seed gives the same events; what the pump answers cannot change them."""
    rng = random.Random(seed)
    end = wall0 + days * DAY_MS
    first_midnight = (wall0 // DAY_MS + 1) * DAY_MS
    midnights = list(range(first_midnight, end + 1, DAY_MS))
    events = [Event(m, "day_mark", {}) for m in midnights]

    # incidents, one per free slot, never on the first (partial) day
    slots = [m + h * HOUR_MS for m in midnights for h in SLOT_HOURS
             if m + h * HOUR_MS + SLOT_JITTER_MS + 5 * HOUR_MS < min(end, m + DAY_MS)]
    free = list(slots)
    rng.shuffle(free)
    taken = set()
    day = rng.randint(*REFILL_EVERY_DAYS)
    while True:
        m = first_midnight + (day - 1) * DAY_MS
        choices = [s for s in slots if m <= s < m + DAY_MS and s not in taken]
        if not choices:
            break
        s = rng.choice(choices)
        taken.add(s)
        events.append(Event(s + rng.randrange(0, SLOT_JITTER_MS, 1000), "refill",
                            _incident_args("refill", rng)))
        day += rng.randint(*REFILL_EVERY_DAYS)
    free = [s for s in free if s not in taken]
    for kind in sorted(INCIDENT_RATES):
        for _ in range(max(1, round(days * INCIDENT_RATES[kind]))):
            if not free:
                break
            s = free.pop()
            events.append(Event(s + rng.randrange(0, SLOT_JITTER_MS, 1000), kind,
                                _incident_args(kind, rng)))

    # the patient's presses and the outlet's coughs, every day
    for m in [first_midnight - DAY_MS] + midnights:
        for _ in range(rng.choice(PRESSES_PER_DAY)):
            t = m + rng.randrange(PRESS_HOURS[0] * HOUR_MS, PRESS_HOURS[1] * HOUR_MS, 1000)
            events.append(Event(t, "press", {}))
            if rng.random() < REPRESS_CHANCE:
                events.append(Event(t + rng.randint(*REPRESS_MIN) * MIN_MS, "press", {"again": True}))
        for _ in range(COUGHS_PER_DAY):
            t = m + rng.randrange(0, DAY_MS, 1000)
            events.append(Event(t, "cough", {"kpa": round(rng.uniform(2.0, 8.0), 1)}))
    events = [e for e in events if wall0 < e.wall <= end]
    events.append(Event(end, "end", {}))
    # a stable order: by time, then a day mark before anything at the same instant
    order = {"day_mark": 0, "end": 2}
    events.sort(key=lambda e: (e.wall, order.get(e.kind, 1), e.kind))
    return events
