# The compiled therapy program: plain integer fields in internal units (see units.py) that the planner reads.
#
# pump.program builds one from a validated document, with every device and library limit
# already applied; the planner trusts these fields and never sees the document itself.
# Weekdays run Monday (0) to Sunday (6).

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


class Day:
    """One day's basal schedule: step i runs from starts_ms[i] to the next start (or midnight)."""

    def __init__(self, starts_ms, rates_nl_day):
        self.starts_ms = starts_ms          # list of ints, first 0, strictly increasing, < MS_PER_DAY
        self.rates_nl_day = rates_nl_day    # list of ints >= 0, same length, already limited


class Bolus:
    """A bolus shape: volume delivered evenly over a duration (already stretched to fit the rate cap)."""

    def __init__(self, volume_nl, duration_ms):
        self.volume_nl = volume_nl          # int > 0
        self.duration_ms = duration_ms      # int > 0


class Periodic(Bolus):
    """A bolus repeated every interval_ms; the first starts at the first first_ms (time of day)
    at or after therapy start."""

    def __init__(self, volume_nl, duration_ms, interval_ms, first_ms):
        Bolus.__init__(self, volume_nl, duration_ms)
        self.interval_ms = interval_ms      # int >= duration_ms
        self.first_ms = first_ms            # ms after midnight, 0 <= first_ms < MS_PER_DAY
        # after a reset: the wall time of the next start of the series already running, so a
        # restart keeps its phase (None: the series starts at first_ms)
        self.next_wall_ms = None


class Demand(Bolus):
    """The patient's demand bolus and its limits."""

    def __init__(self, volume_nl, duration_ms, lockout_ms, max_per_24h):
        Bolus.__init__(self, volume_nl, duration_ms)
        self.lockout_ms = lockout_ms        # int >= duration_ms: from one start to the next
        self.max_per_24h = max_per_24h      # int >= 1, starts in any rolling 24 h


class Catheter(Bolus):
    """Priming ("prime") or bridge ("bridge") bolus: runs first, before the therapy starts."""

    def __init__(self, kind, volume_nl, duration_ms):
        Bolus.__init__(self, volume_nl, duration_ms)
        self.kind = kind


class Temp:
    """A temporary basal rate that replaces the schedule for duration_ms from therapy start."""

    def __init__(self, rate_nl_day, duration_ms):
        self.rate_nl_day = rate_nl_day
        self.duration_ms = duration_ms


class Program:
    """Everything the planner and the bolus rules need, in internal units."""

    def __init__(self):
        self.name = ""
        self.purpose = "bench"
        self.drug = ""
        self.dose_units = "mg/day"          # how the clinician programmed it: for display
        self.conc_ng_ml = 1                 # int > 0
        self.capacity_nl = 0
        self.volume_nl = 0                  # reservoir volume when the program is applied
        self.low_nl = 0                     # low-reservoir alarm level
        self.days = []                      # 7 Day objects, Monday first (may be shared)
        self.temp = None                    # Temp or None
        self.catheter = None                # Catheter or None
        self.periodic = None                # Periodic or None
        self.demand = None                  # Demand or None
        self.cap_nl_day = 0                 # the device's rate cap: min of every device limit
        self.bolus_cap_nl_day = 0           # what a bolus may add on top of the highest basal rate
        self.bolus_max_ng = None            # (soft, hard) single-bolus limits from the library,
                                            # each an int or None; used for clinician boluses
        self.cuts = []                      # every limit that cut a request: dicts, see program.py
        self.soft = []                      # soft limits broken: dicts, need confirmation
        # what pump.program keeps to rebuild the document and to word its messages (see there)
        self.source = {}                    # header fields as written, numbers in thousandths
        self.flex_src = None                # flex schedule and weekday overrides as written
        self.default_day = None             # the Day of flex.steps or of the basal rate
        self.drug_units = ""                # the drug library's unit: "mg" or "mcg"
        self.cap_limit = ""                 # the board limit cap_nl_day comes from
