# Checks a therapy program document (docs/programs.md) part by part and compiles it to a therapy.Program.
#
# The pump receives a program in parts (split_parts) and never holds the whole parsed document:
# each part is checked and reduced to ints as it arrives (ProgramBuilder.add), and the checks
# that need every part run in finish(). The host runs the same code over a whole document
# (compile_program), so both refuse the same programs with the same messages, all at once.
# program_schema.py holds the shapes, program_limits.py the board and drug-library limits,
# program_view.py the canonical document, digest and summary.
#
# What finish() records on the Program, all JSON-friendly:
#   cuts: a limit that cut a request (never a refusal), one dict each:
#     a rate:  {"path": "flex.steps[2].rate", "limit": "board limits.max_rate_ul_h",
#               "requested_ul_h": 6.25, "delivered_ul_h": 5.0, "reason": "..."}; a flex schedule
#              gives one cut for all its steps cut: "steps": [2, 5], path names the first
#     a bolus: {"path": "periodic.duration_min", "limit": ..., "volume_ul": 50.0,
#               "requested_min": 30.0, "delivered_min": 37.5, "reason": "..."} (stretched)
#   soft: {"path": ..., "limit": "max_bolus" (the library's name), "message": "path: ..."}
# and the fields it adds to therapy.Program:
#   source: every header field as written, by path ("drug.concentration": 10000): numbers in
#           thousandths, times in ms, ints and strings as they are, defaults filled in
#   flex_src: None, or {"steps": (starts_ms, rates_milli), "sat": (...), ...}: the flex schedule
#           and each weekday override, as written (the Days hold the limited rates)
#   default_day: the Day of flex.steps or of the basal rate
#   drug_units: "mg" or "mcg", the library's unit for the drug
#   cap_limit: the board limit the rate cap comes from ("limits.max_rate_ul_h" or
#           "limits.max_volume_per_h_ul")

import json

from pump import units
from pump.drug_library import load_library, parse_library  # noqa: F401 (public API)
from pump.errors import ProgramError
from pump.program_limits import (board_cap, check_library, clinician_bolus,  # noqa: F401
                                 cut_rate, no_room, stretch, txt_min, txt_ul_h)
from pump.program_schema import (BOLUS_SECTIONS, FIELDS, FORMAT, HEADER,  # noqa: F401
                                 LOW_ML_DEFAULT, MAX_STEPS, STEP, STEPS, WEEK_MIN)
from pump.program_view import (canonical_doc, canonical_parts, canonical_text,  # noqa: F401
                               daily_dose_ng, daily_volume_nl, digest, schedule_rows,
                               summary, worst_day)
from pump.schema import validate
from pump.therapy import WEEKDAYS, Catheter, Day, Demand, Periodic, Program, Temp

PROGRAM_MAX_BYTES = 16384   # the largest program the pump takes, as compact JSON
PART_MAX_BYTES = 3584       # one part: a protocol line (4096) less the request around it
MAX_PROBLEMS = 60           # kept in full; past it only counted, so a bad upload stays small

_MIN = units.MS_PER_MIN
_BRIDGE_MAX_MS = WEEK_MIN * _MIN
_PARTS_HELP = 'not a program part: parts are "" (the document without flex), flex.steps and ' \
              'flex.days.<weekday>'


def split_parts(doc):
    """A document as the parts the pump takes: [("", doc without flex), ("flex.steps", [...]),
    ("flex.days.<day>", [...]) ...]. Misshapen flex content gets a part of its own path, so
    that its problem is reported like any other."""
    if not isinstance(doc, dict):
        return [("", doc)]
    parts = [("", dict([(k, doc[k]) for k in doc if k != "flex"]))]
    if "flex" not in doc:
        return parts
    flex = doc["flex"]
    if not isinstance(flex, dict):
        return parts + [("flex", flex)]
    if "steps" in flex:
        parts.append(("flex.steps", flex["steps"]))
    else:
        parts.append(("flex", {}))      # flex is there, its steps are not: say so
    if "days" in flex:
        days = flex["days"]
        if isinstance(days, dict):
            names = [d for d in WEEKDAYS if d in days]
            for d in names + sorted([d for d in days if d not in WEEKDAYS]):
                parts.append(("flex.days." + d, days[d]))
        else:
            parts.append(("flex.days", days))
    for k in sorted(flex):
        if k != "steps" and k != "days":
            parts.append(("flex." + k, flex[k]))
    return parts


def compile_program(doc, board_cfg, library, current=None):
    """The host's entry: a whole document through a ProgramBuilder, and the pump's size limits."""
    b = ProgramBuilder(board_cfg, library)
    total = 0
    for path, value in split_parts(doc):
        size = _json_size(value)
        total += size
        if size > PART_MAX_BYTES:
            b.problem(path, "is %d bytes as compact JSON; a part may have at most %d"
                      % (size, PART_MAX_BYTES))
        b.add(path, value)
    if total > PROGRAM_MAX_BYTES:
        b.problem("", "is %d bytes as compact JSON; the pump takes at most %d"
                  % (total, PROGRAM_MAX_BYTES))
    return b.finish(current)


def _json_size(value):
    try:
        return len(json.dumps(value, separators=(",", ":")).encode())
    except (TypeError, ValueError):
        return 0    # not JSON at all: the validator says what is wrong with it


def _broken(path, bad):
    # a field is unusable if the validator refused it or anything it sits in
    for b in bad:
        if b == path or path.startswith(b + ".") or b == "":
            return True
    return False


def _get(doc, path):
    i = path.find(".")
    if i < 0:
        return doc.get(path) if isinstance(doc, dict) else None
    sec = doc.get(path[:i]) if isinstance(doc, dict) else None
    return sec.get(path[i + 1:]) if isinstance(sec, dict) else None


class ProgramBuilder:
    """Takes a program part by part (add) and compiles it (finish); only ints are kept between."""

    def __init__(self, board_cfg, library):
        self.board = board_cfg
        self.library = library
        self.problems = []
        self.more = 0           # problems past MAX_PROBLEMS
        self.seen = []          # part paths received
        self.sections = None    # the header's top-level keys as sent, valid or not
        self.src = {}           # header fields that passed: becomes Program.source
        self.flex = None        # {} once a flex part came; then "steps"/weekday -> (starts, rates)
        self.shapeless = False  # the header was not an object: nothing in it to cross-check

    def problem(self, path, message):
        if len(self.problems) < MAX_PROBLEMS:
            self.problems.append((path or "program", message))
        else:
            self.more += 1

    # ---- parts ---------------------------------------------------------------------------------

    def add(self, path, value):
        """Check one part now; its problems are kept for finish(), which reports them all."""
        if not isinstance(path, str):
            self.problem("", "a part path must be a string, got %r" % (path,))
            return
        if path in self.seen:
            self.problem(path, "part sent twice")
            return
        self.seen.append(path)
        if path == "":
            self._header(value)
            return
        if not (path == "flex" or path.startswith("flex.")):
            self.problem(path, _PARTS_HELP)
            return
        if self.flex is None:
            self.flex = {}
        if path == "flex.steps":
            self._steps(path, value, "steps")
        elif path.startswith("flex.days."):
            day = path[10:]
            if day in WEEKDAYS:
                self._steps(path, value, day)
            else:
                self.problem(path, "unknown key; allowed: " + ", ".join(WEEKDAYS))
        elif path == "flex" or path == "flex.days":
            _, problems = validate({"type": "free"}, value, path)
            for p, m in problems:
                self.problem(p, m)
            if not problems:
                for k in sorted(value):
                    self.problem(path + "." + k, "must be sent as a part of its own")
        else:
            self.problem(path, "unknown key; allowed: days, steps")

    def _header(self, head):
        if isinstance(head, dict):
            self.sections = list(head)
            if "flex" in head:
                self.problem("flex", "must be sent as parts of its own (flex.steps, "
                                     "flex.days.<weekday>), not in the header")
                head = dict([(k, head[k]) for k in head if k != "flex"])
                if self.flex is None:
                    self.flex = {}
        else:
            self.sections = []
            self.shapeless = True
        cleaned, problems = validate(HEADER, head, "")
        for p, m in problems:
            self.problem(p, m)
        bad = [p for p, _ in problems]
        src = self.src
        for path, kind in FIELDS:
            v = _get(cleaned, path)
            if v is None or _broken(path, bad):
                continue
            if kind == "m":
                v = units.milli(v)
            elif kind == "t":
                ms = units.clock_ms(v)
                if ms is None:
                    self.problem(path, 'must be a 24-hour "HH:MM" time, got "%s"' % v)
                    continue
                v = ms
            src[path] = v
        res = _get(cleaned, "reservoir")
        if isinstance(res, dict) and "low_ml" not in res and not _broken("reservoir", bad):
            src["reservoir.low_ml"] = LOW_ML_DEFAULT
        self._check_header(isinstance(res, dict) and "low_ml" in res)

    def _check_header(self, low_given):
        s = self.src
        fmt = units.fmt_milli
        if "format" in s and s["format"] != FORMAT:
            self.problem("format", "must be %d (the only program format), got %d"
                         % (FORMAT, s["format"]))
        board_nl = int(round(self.board["limits"]["reservoir_ul"] * 1000))
        cap = s.get("reservoir.capacity_ml")
        if cap is not None:
            if units.ml_to_nl(cap) > board_nl:
                self.problem("reservoir.capacity_ml", "must be <= %s (the board's "
                             "limits.reservoir_ul %s uL), got %s"
                             % (fmt(board_nl // 1000), fmt(board_nl), fmt(cap)))
            vol = s.get("reservoir.volume_ml")
            if vol is not None and vol > cap:
                self.problem("reservoir.volume_ml", "must be <= capacity_ml %s, got %s"
                             % (fmt(cap), fmt(vol)))
            low = s.get("reservoir.low_ml")
            if low is not None and low >= cap:
                if low_given:
                    self.problem("reservoir.low_ml", "must be < capacity_ml %s, got %s"
                                 % (fmt(cap), fmt(low)))
                else:
                    self.problem("reservoir.low_ml", "the default %s is not below capacity_ml "
                                 "%s: set low_ml below it" % (fmt(low), fmt(cap)))
        for sec, other in (("periodic", "interval_min"), ("demand", "lockout_min")):
            dur, gap = s.get(sec + ".duration_min"), s.get(sec + "." + other)
            if dur is not None and gap is not None and gap < dur:
                self.problem(sec + "." + other, "must be >= duration_min %d, got %d" % (dur, gap))
        name = s.get("drug.name")
        drugs = self.library["drugs"]
        if name is not None and name not in drugs:
            self.problem("drug.name", '"%s" is not in the drug library; known: %s'
                         % (name, ", ".join(sorted(drugs))))

    def _steps(self, path, value, key):
        # the list's own bounds, then each step on its own: no cleaned copy of the whole day
        if not isinstance(value, list):
            for p, m in validate(STEPS, value, path)[1]:
                self.problem(p, m)
            return
        n = len(value)
        if n > MAX_STEPS:
            self.problem(path, "must have at most %d items, got %d" % (MAX_STEPS, n))
        elif n < 1:
            self.problem(path, "must have at least 1 items, got 0")
        ok = 1 <= n <= MAX_STEPS
        # allocated whole, before the garbage of checking the steps: it keeps the heap in one piece
        starts, rates = [0] * min(n, MAX_STEPS), [0] * min(n, MAX_STEPS)
        prev = None     # (index, ms) of the last step with a valid start
        for i in range(min(len(value), MAX_STEPS)):
            sp = "%s[%d]" % (path, i)
            step, problems = validate(STEP, value[i], sp)
            bad = [p for p, _ in problems]
            for p, m in problems:
                self.problem(p, m)
                ok = False
            if not isinstance(step, dict) or "start" not in step or _broken(sp + ".start", bad):
                continue
            text = step["start"]
            ms = units.clock_ms(text)
            if ms is None:
                self.problem(sp + ".start", 'must be a 24-hour "HH:MM" time, got "%s"' % text)
                ok = False
                continue
            if i == 0 and ms != 0:
                self.problem(sp + ".start", 'must be "00:00" (the first step starts the day), '
                                            'got "%s"' % text)
                ok = False
            if prev is not None and ms <= prev[1]:
                self.problem(sp + ".start", 'must be after %s[%d].start "%s", got "%s"'
                             % (path, prev[0], units.hhmm(prev[1]), text))
                ok = False
            prev = (i, ms)
            if ok:
                starts[i] = ms
                rates[i] = units.milli(step["rate"])
        if ok:
            self.flex[key] = (starts, rates)  # type: ignore[index]  # a flex part came: flex is {}

    # ---- the whole program ---------------------------------------------------------------------

    def finish(self, current=None):
        """The compiled Program, or ProgramError with every problem of every part.
        current: the Program on the pump (or None), for the titration limit."""
        if self.sections is None:
            self.problem("", 'the header part (path "", the document without flex) never came')
        elif not self.shapeless:
            self._structure(self.sections)
        program = self._compile(current)
        if self.more:
            self.problems.append(("program", "and %d more problems" % self.more))
        if self.problems:
            raise ProgramError(self.problems)
        return program

    def _structure(self, secs):
        has_flex = self.flex is not None
        if "basal" in secs and has_flex:
            self.problem("flex", "[basal] and [flex] exclude each other: keep one")
        if has_flex and "flex.steps" not in self.seen:
            self.problem("flex.steps", "required key is missing")
        bolus = [b for b in BOLUS_SECTIONS if b in secs]
        if not ("basal" in secs or has_flex or bolus):
            self.problem("", "nothing to deliver: needs [basal] or [flex], or a bolus section "
                             "([periodic], [demand], [prime] or [bridge])")
        if "prime" in secs and "bridge" in secs:
            self.problem("bridge", "[prime] and [bridge] exclude each other: keep one")
        for k in ("prime", "bridge"):
            if k in secs and "catheter" not in secs:
                self.problem("catheter", "required key is missing: [%s] needs the catheter "
                                         "volume" % k)
        if "catheter" in secs and "prime" not in secs and "bridge" not in secs:
            self.problem("catheter", "has no effect without [prime] or [bridge]: add one or "
                                     "remove [catheter]")

    def _compile(self, current):
        s = self.src
        p = Program()
        p.source = s
        p.name = s.get("name", "")
        p.purpose = s.get("purpose", "bench")
        p.drug = s.get("drug.name", "")
        du = s.get("drug.dose_units")
        cu, cm = s.get("drug.concentration_units"), s.get("drug.concentration")
        for field, key in (("capacity_nl", "capacity_ml"), ("volume_nl", "volume_ml"),
                           ("low_nl", "low_ml")):
            setattr(p, field, units.ml_to_nl(s.get("reservoir." + key, 0)))
        p.cap_nl_day, p.cap_limit = board_cap(self.board)
        if du is None or cu is None or cm is None:
            return p    # nothing more can be worked out; the problems say why
        p.dose_units = du
        p.conc_ng_ml = units.conc_ng_ml(cm, cu)
        self._schedules(p)
        self._boluses(p)
        self._library(p, current)
        return p

    def _rate(self, p, milli):
        return units.daily_rate_nl_day(milli, p.dose_units, p.conc_ng_ml)

    def _day(self, p, path, key):
        starts, milli = self.flex[key]  # type: ignore[index]  # only days of a flex part
        rates, cut, top = [0] * len(milli), [], 0
        for i in range(len(milli)):
            r = self._rate(p, milli[i])
            if r > p.cap_nl_day:
                cut.append(i)
                top = max(top, r)
                r = p.cap_nl_day
            rates[i] = r
        if cut:
            cut_rate(p, "%s[%d].rate" % (path, cut[0]), top, cut)
        return Day(starts, rates)

    def _schedules(self, p):
        s = self.src
        flex = self.flex
        if flex and "steps" in flex:
            p.flex_src = flex
            p.default_day = self._day(p, "flex.steps", "steps")
            p.days = [self._day(p, "flex.days." + d, d) if d in flex else p.default_day
                      for d in WEEKDAYS]
        else:
            r = 0
            if "basal.rate" in s:
                r = self._rate(p, s["basal.rate"])
                if r > p.cap_nl_day:
                    cut_rate(p, "basal.rate", r)
                    r = p.cap_nl_day
            p.default_day = Day([0], [r])
            p.days = [p.default_day] * 7
        top = 0
        for day in p.days:
            top = max(top, max(day.rates_nl_day))
        if "temp.rate" in s and "temp.duration_min" in s:
            r = self._rate(p, s["temp.rate"])
            if r > p.cap_nl_day:
                cut_rate(p, "temp.rate", r)
                r = p.cap_nl_day
            p.temp = Temp(r, s["temp.duration_min"] * _MIN)
            top = max(top, r)
        p.bolus_cap_nl_day = p.cap_nl_day - top

    def _bolus(self, p, sec, volume_nl, duration_ms, path):
        """The duration stretched to fit the bolus cap, or None (with a problem) if nothing fits."""
        if p.bolus_cap_nl_day <= 0:
            self.problem(sec, no_room(p.cap_nl_day, p.bolus_cap_nl_day, p.cap_limit))
            return None
        return stretch(path, volume_nl, duration_ms, p.bolus_cap_nl_day, p.cap_nl_day,
                        p.cap_limit, p.cuts)

    def _dose_nl(self, p, path):
        milli = self.src[path]
        nl = units.dose_nl(milli, p.dose_units, p.conc_ng_ml)
        if nl == 0:
            self.problem(path, "%s %s at this concentration is less than 1 nL: too small to "
                               "deliver" % (units.fmt_milli(milli), p.dose_units[:-4]))
        return nl

    def _repeated_bolus(self, p, sec, gap_key, last_key):
        """(volume, stretched duration, gap) of a periodic or demand bolus, or None: the gap
        (interval or lockout) must still cover the duration once stretched to the rate cap."""
        s = self.src
        if not _all(s, sec, ("dose", "duration_min", gap_key, last_key)):
            return None
        vol = self._dose_nl(p, sec + ".dose")
        dur = vol and self._bolus(p, sec, vol, s[sec + ".duration_min"] * _MIN,
                                  sec + ".duration_min")
        gap = s[sec + "." + gap_key] * _MIN
        if dur and dur > gap:
            self.problem(sec + "." + gap_key, "must be >= the bolus duration %s min "
                         "(stretched to fit the rate cap), got %d" % (txt_min(dur), gap // _MIN))
            return None
        return (vol, dur, gap) if dur else None

    def _boluses(self, p):
        s = self.src
        b = self._repeated_bolus(p, "periodic", "interval_min", "first")
        if b is not None:
            p.periodic = Periodic(b[0], b[1], b[2], s["periodic.first"])
        b = self._repeated_bolus(p, "demand", "lockout_min", "max_per_24h")
        if b is not None:
            p.demand = Demand(b[0], b[1], b[2], s["demand.max_per_24h"])
        secs = self.sections or []
        kind = "prime" if "prime" in secs else "bridge"
        if ("prime" in secs) == ("bridge" in secs) or not _all(s, "catheter",
                                                               ("length_cm", "ul_per_cm")):
            return
        vol = s["catheter.length_cm"] * s["catheter.ul_per_cm"] // units.MILLI
        if vol == 0:
            self.problem("catheter", "%s cm at %s uL/cm is less than 1 nL"
                         % (units.fmt_milli(s["catheter.length_cm"]),
                            units.fmt_milli(s["catheter.ul_per_cm"])))
            return
        if kind == "prime":
            if "prime.duration_min" not in s:
                return
            dur, path = s["prime.duration_min"] * _MIN, "prime.duration_min"
        else:
            dur, path = self._bridge_ms(p, vol), "bridge"
            if dur is None:
                return
        dur = self._bolus(p, kind, vol, dur, path)
        if dur:
            p.catheter = Catheter(kind, vol, dur)

    def _bridge_ms(self, p, vol):
        s = self.src
        if not _all(s, "bridge", ("previous_concentration", "previous_dose_per_day")):
            return None
        old = units.conc_ng_ml(s["bridge.previous_concentration"], s["drug.concentration_units"])
        rate = units.daily_rate_nl_day(s["bridge.previous_dose_per_day"], p.dose_units, old)
        if rate == 0:
            self.problem("bridge.previous_dose_per_day", "%s %s at the previous concentration is "
                         "less than 1 nL/day: no bridge rate"
                         % (units.fmt_milli(s["bridge.previous_dose_per_day"]), p.dose_units))
            return None
        dur = -(-vol * units.UNITS_PER_NL // rate)
        if dur > _BRIDGE_MAX_MS:
            self.problem("bridge", "pushing the catheter's %s uL at the previous rate of %s uL/h "
                         "takes %s min, above the %d allowed"
                         % (units.fmt_milli(vol), txt_ul_h(rate), txt_min(dur), WEEK_MIN))
            return None
        return dur

    def _library(self, p, current):
        lib = self.library["drugs"].get(p.drug)
        if lib is not None:     # else the header already said the drug is unknown
            check_library(p, self.src, lib, current, self.problem)


def _all(src, sec, keys):
    for k in keys:
        if sec + "." + k not in src:
            return False
    return True
