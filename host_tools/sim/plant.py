"""Simulated fluid plant (reservoir, pump, compliant line, moving back-pressure, scale) solved in closed form between events."""

import copy
import heapq
import math
import random

PLANT_DEFAULTS = {
    "calibration_error_pct": 0.0,
    "compliance_ul_per_kpa": 0.5,
    "resistance_kpa_s_per_ul": 2.0,
    "back_pressure_kpa": 1.0,
    "back_pressure_drift_kpa_per_h": 0.0,
    "cough_rate_per_h": 0.0,
    "cough_kpa": 5.0,
    "cough_ms": 500,
    "motor_stall_kpa": 300.0,
    "reservoir_ul": 20000.0,
    "pressure_sensor": {
        "offset_kpa": 0.0,
        "noise_kpa": 0.05,
        "lsb_kpa": 0.05,
        "max_kpa": 400.0,
    },
    "scale": {"resolution_ul": 0.01},
}

# key -> (type, low, low inclusive, high, high inclusive); nested dicts mirror PLANT_DEFAULTS.
_SCHEMA = {
    "calibration_error_pct": (float, -50, True, 50, True),
    "compliance_ul_per_kpa": (float, 0, False, 1000, True),
    "resistance_kpa_s_per_ul": (float, 0, False, 1e6, True),
    "back_pressure_kpa": (float, 0, True, 100, True),
    "back_pressure_drift_kpa_per_h": (float, -100, True, 100, True),
    "cough_rate_per_h": (float, 0, True, 600, True),
    "cough_kpa": (float, 0, True, 200, True),
    "cough_ms": (int, 1, True, 60000, True),
    "motor_stall_kpa": (float, 0, False, 2000, True),
    "reservoir_ul": (float, 0, True, 100000, True),
    "pressure_sensor": {
        "offset_kpa": (float, -50, True, 50, True),
        "noise_kpa": (float, 0, True, 50, True),
        "lsb_kpa": (float, 0, False, 10, True),
        "max_kpa": (float, 0, False, 5000, True),
    },
    "scale": {"resolution_ul": (float, 0, False, 100, True)},
}

_MS_PER_H = 3.6e6


class PlantConfigError(ValueError):
    """Every problem found in a plant parameter set, each as (key path, message)."""

    def __init__(self, problems):
        self.problems = list(problems)
        lines = "\n".join(f"  {path}: {msg}" for path, msg in self.problems)
        super().__init__(f"invalid plant parameters ({len(self.problems)} problem(s)):\n{lines}")


def _fmt(value):
    # Integral floats print as ints so messages read like the JSON the user wrote.
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    return repr(value)


def _check_value(path, value, rule, problems):
    kind, lo, lo_inc, hi, hi_inc = rule
    # bool is an int subclass, but true/false in a board.json is always a mistake here.
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        problems.append((path, f"must be a number, got {value!r}"))
        return None
    if kind is int and not isinstance(value, int):
        problems.append((path, f"must be an integer, got {_fmt(value)}"))
        return None
    if not math.isfinite(value):
        problems.append((path, f"must be a finite number, got {value!r}"))
        return None
    if (value < lo) if lo_inc else (value <= lo):
        problems.append((path, f"must be {'>=' if lo_inc else '>'} {_fmt(lo)}, got {_fmt(value)}"))
        return None
    if (value > hi) if hi_inc else (value >= hi):
        problems.append((path, f"must be {'<=' if hi_inc else '<'} {_fmt(hi)}, got {_fmt(value)}"))
        return None
    return kind(value)


def _check_section(path, given, schema, defaults, problems):
    out = copy.deepcopy(defaults)
    if not isinstance(given, dict):
        problems.append((path, f"must be an object, got {type(given).__name__}"))
        return out
    for key, value in given.items():
        sub = f"{path}.{key}"
        rule = schema.get(key)
        if rule is None:
            problems.append((sub, "unknown key"))
        elif isinstance(rule, dict):
            out[key] = _check_section(sub, value, rule, defaults[key], problems)
        else:
            checked = _check_value(sub, value, rule, problems)
            if checked is not None:
                out[key] = checked
    return out


def validate_params(params):
    """Return the full plant parameter dict (defaults merged); raise PlantConfigError listing every problem."""
    problems = []
    merged = _check_section("plant", {} if params is None else params, _SCHEMA, PLANT_DEFAULTS, problems)
    if problems:
        raise PlantConfigError(problems)
    return merged


def _u_plus_expm1(u):
    """u + e^-u - 1, accurate for small u where the direct form cancels to noise."""
    if u < 1e-3:
        return u * u * (0.5 - u * (1.0 / 6 - u * (1.0 / 24 - u / 120)))
    return u + math.expm1(-u)


class Plant:
    """Pump, line and outlet; every call first advances the physics to its t_ms (never backwards)."""

    def __init__(self, params, ul_per_step, seed=0, t_ms=0):
        p = validate_params(params)
        if isinstance(ul_per_step, bool) or not isinstance(ul_per_step, (int, float)) \
                or not math.isfinite(ul_per_step) or ul_per_step <= 0:
            raise ValueError(f"ul_per_step must be a finite number > 0, got {ul_per_step!r}")
        self.params = p
        self.true_ul_per_step = ul_per_step * (1.0 + p["calibration_error_pct"] / 100.0)
        self._c = p["compliance_ul_per_kpa"]
        self._r = p["resistance_kpa_s_per_ul"]
        self._stall = p["motor_stall_kpa"]
        self._sensor = p["pressure_sensor"]
        self._scale_res = p["scale"]["resolution_ul"]

        self._t = int(t_ms)
        # Linear back-pressure part is anchored at (value, time) so changing the drift never makes Pb jump.
        self._lin0 = p["back_pressure_kpa"]
        self._lin_t = self._t
        self._drift = p["back_pressure_drift_kpa_per_h"]
        self._spike = 0.0
        self._n_spikes = 0
        self._edges = []  # heap of (t_ms, +1 start / -1 end, kpa)

        self._p = self._lin0  # start at rest: line pressure equals back-pressure
        self._outlet = 0.0
        # Reservoir kept as (level at last refill, steps since) so the drop is exactly n * dv, not a sum of roundings.
        self._res_base = p["reservoir_ul"]
        self._res_steps = 0
        self._occ = 0.0
        self._r_eff = self._r
        self.motor_enabled = True
        self.steps_moved = self.steps_lost = self.steps_air = self.steps_ignored = 0
        self.steps_slipped = 0
        self._slip = 0.0          # fraction of steps the motor loses (a slipping or stalling drive)
        self._slip_acc = 0.0
        self._sensor_fault = None  # None, or ("stuck", reading), ("open", None), ("noisy", sd), ("offset", kpa)

        # Separate streams so the number of sensor reads cannot shift the cough schedule.
        self._cough_rng = random.Random(seed)
        self._noise_rng = random.Random(f"{seed}/pressure-noise")
        self._cough_rate_per_ms = p["cough_rate_per_h"] / _MS_PER_H
        self._cough_clock = float(self._t)
        self._next_cough = math.inf
        self._draw_next_cough()

    # ---- time advance -------------------------------------------------------------------------

    def _draw_next_cough(self):
        if self._cough_rate_per_ms > 0:
            self._cough_clock += self._cough_rng.expovariate(self._cough_rate_per_ms)
            # ceil keeps every start strictly after the time already simulated.
            self._next_cough = math.ceil(self._cough_clock)

    def _lin(self, t_ms):
        return self._lin0 + self._drift * (t_ms - self._lin_t) / _MS_PER_H

    def _advance(self, t_ms):
        if t_ms <= self._t:
            return
        while self._next_cough <= t_ms:
            start, kpa = self._next_cough, self.params["cough_kpa"]
            heapq.heappush(self._edges, (start, 1, kpa))
            heapq.heappush(self._edges, (start + self.params["cough_ms"], -1, kpa))
            self._draw_next_cough()
        edges = self._edges
        # Spikes are half-open [start, end): an edge at exactly t_ms already shapes Pb(t_ms).
        while edges and edges[0][0] <= t_ms:
            t_edge, kind, kpa = heapq.heappop(edges)
            self._flow_until(t_edge)
            self._n_spikes += kind
            # Reset to exact zero when idle so float residue from +kpa/-kpa cannot accumulate over a day.
            self._spike = self._spike + kind * kpa if self._n_spikes else 0.0
        self._flow_until(t_ms)

    def _flow_until(self, t_ms):
        dt_ms = t_ms - self._t
        if dt_ms <= 0:
            return
        if self._occ < 1.0:  # full occlusion: no outflow, P simply holds
            pb0 = self._lin(self._t) + self._spike
            pb1 = self._lin(t_ms) + self._spike
            tau = self._r_eff * self._c
            u = dt_ms / 1000.0 / tau
            em1 = math.expm1(-u)  # e^-u - 1
            x0 = self._p - pb0
            btau = self._drift / 3600.0 * tau  # drift slope in kPa/s times tau
            x1 = x0 * (1.0 + em1) + btau * em1
            integral = -x0 * tau * em1 - btau * tau * _u_plus_expm1(u)  # integral of (P - Pb) dt, kPa*s
            self._outlet += integral / self._r_eff
            self._p = pb1 + x1
        self._t = t_ms

    # ---- actuators and disturbances -----------------------------------------------------------

    @property
    def reservoir_ul(self):
        return self._res_base - self._res_steps * self.true_ul_per_step

    def step(self, t_ms, n):
        """Apply n pump steps at t_ms one by one; return how many moved fluid."""
        if n < 0:
            raise ValueError(f"step count must be >= 0, got {n}")
        self._advance(t_ms)
        if not self.motor_enabled:
            self.steps_ignored += n
            return 0
        dv = self.true_ul_per_step
        dp = dv / self._c
        moved = 0
        for _ in range(n):
            if self._slip:
                # deterministic slipping: exactly `fraction` of the steps are lost, spread evenly
                self._slip_acc += self._slip
                if self._slip_acc >= 1.0:
                    self._slip_acc -= 1.0
                    self.steps_slipped += 1
                    continue
            if self.reservoir_ul < dv:
                self.steps_air += 1
            elif self._p >= self._stall:
                self.steps_lost += 1
            else:
                self._res_steps += 1
                self._p += dp
                moved += 1
        self.steps_moved += moved
        return moved

    @property
    def rotor_steps(self):
        """Steps the rotor really turned: fluid or air. Steps a disabled driver ignored, steps
        lost past the force limit and steps the drive slipped are not among them: what a shaft
        encoder counts."""
        return self.steps_moved + self.steps_air

    def set_motor_enabled(self, t_ms, enabled):
        self._advance(t_ms)
        self.motor_enabled = bool(enabled)

    def occlude(self, t_ms, fraction=1.0):
        """fraction 1.0 blocks the line; 0 < fraction < 1 multiplies R by 1 / (1 - fraction)."""
        if not 0.0 <= fraction <= 1.0:
            raise ValueError(f"occlusion fraction must be in [0, 1], got {fraction!r}")
        self._advance(t_ms)
        self._occ = float(fraction)
        self._r_eff = self._r / (1.0 - fraction) if fraction < 1.0 else math.inf

    def release(self, t_ms):
        self.occlude(t_ms, 0.0)

    def add_cough(self, t_ms, kpa, duration_ms):
        """A rectangular back-pressure pulse starting now (at t_ms) for duration_ms."""
        if not (math.isfinite(kpa) and kpa >= 0):
            raise ValueError(f"cough kpa must be a finite number >= 0, got {kpa!r}")
        if duration_ms < 1:
            raise ValueError(f"cough duration_ms must be >= 1, got {duration_ms!r}")
        self._advance(t_ms)
        self._n_spikes += 1
        self._spike += kpa
        heapq.heappush(self._edges, (self._t + int(duration_ms), -1, kpa))

    def set_back_pressure(self, t_ms, base_kpa=None, drift_kpa_per_h=None):
        """base_kpa sets the drifting part of Pb to that value now; drift_kpa_per_h changes its slope from now."""
        self._advance(t_ms)
        self._lin0, self._lin_t = self._lin(self._t), self._t
        if base_kpa is not None:
            self._lin0 = float(base_kpa)
        if drift_kpa_per_h is not None:
            self._drift = float(drift_kpa_per_h)

    def lose_steps(self, t_ms, fraction):
        """From now, the motor loses this fraction of its steps (0 stops the fault)."""
        if not 0.0 <= fraction <= 1.0:
            raise ValueError(f"lost-step fraction must be in [0, 1], got {fraction!r}")
        self._advance(t_ms)
        self._slip, self._slip_acc = float(fraction), 0.0

    SENSOR_FAULTS = ("none", "stuck", "open", "noisy", "offset")

    def sensor_fault(self, t_ms, kind, value=0.0):
        """Break the pressure sensor: stuck at its reading now, open (reads the top rail), noisy
        (value = noise sd, kPa), offset (value kPa added); "none" repairs it."""
        if kind not in self.SENSOR_FAULTS:
            raise ValueError(f"sensor fault must be one of {', '.join(self.SENSOR_FAULTS)}, got {kind!r}")
        if not math.isfinite(value):
            raise ValueError(f"sensor fault value must be finite, got {value!r}")
        self._advance(t_ms)
        if kind == "none":
            self._sensor_fault = None
        elif kind == "stuck":
            self._sensor_fault = None
            self._sensor_fault = ("stuck", self.read_pressure_kpa(t_ms))
        else:
            self._sensor_fault = (kind, float(value))

    def refill(self, t_ms, volume_ul):
        if not (math.isfinite(volume_ul) and volume_ul >= 0):
            raise ValueError(f"reservoir volume must be >= 0, got {volume_ul!r}")
        self._advance(t_ms)
        self._res_base, self._res_steps = float(volume_ul), 0

    # ---- instruments --------------------------------------------------------------------------

    def read_pressure_kpa(self, t_ms):
        """The pressure sensor: true P plus offset and noise, quantized to one LSB, clamped to its range."""
        self._advance(t_ms)
        s = self._sensor
        fault = self._sensor_fault
        noise, offset = s["noise_kpa"], s["offset_kpa"]
        if fault is not None:
            kind, value = fault
            if kind == "stuck":
                return value
            if kind == "open":
                return s["max_kpa"]
            if kind == "noisy":
                noise = value
            elif kind == "offset":
                offset += value
        raw = self._p + offset + self._noise_rng.gauss(0.0, noise)
        lsb = s["lsb_kpa"]
        return min(max(round(raw / lsb) * lsb, 0.0), s["max_kpa"])

    def outlet_ul(self, t_ms):
        """Exact volume delivered past the outlet (negative flow during a cough subtracts)."""
        self._advance(t_ms)
        return self._outlet

    def scale_ul(self, t_ms):
        """The scale: outlet total rounded to its resolution."""
        self._advance(t_ms)
        return self._scale_reading()

    def _scale_reading(self):
        return round(self._outlet / self._scale_res) * self._scale_res

    def state(self, t_ms):
        self._advance(t_ms)
        return {
            "t_ms": self._t,
            "line_pressure_kpa": self._p,
            "back_pressure_kpa": self._lin(self._t) + self._spike,
            "reservoir_ul": self.reservoir_ul,
            "outlet_ul": self._outlet,
            "scale_ul": self._scale_reading(),
            "steps_moved": self.steps_moved,
            "steps_lost": self.steps_lost,
            "steps_air": self.steps_air,
            "steps_ignored": self.steps_ignored,
            "steps_slipped": self.steps_slipped,
            "rotor_steps": self.rotor_steps,
            "sensor_fault": None if self._sensor_fault is None else self._sensor_fault[0],
            "motor_enabled": self.motor_enabled,
            "occlusion": self._occ,
        }
