"""IEC 60601-2-24 flow accuracy from gravimetric samples: interval flow, mean flow error, trumpet curve.

Pure arithmetic on a list of samples (t_s, volume_ul): seconds since the infusion started and the
volume the scale has seen leave the outlet since then (mass / density, done by the caller). No
clock, no I/O: the bench runner (host_tools/iec_bench.py) measures, this module judges.

The method (IEC 60601-2-24, syringe and volumetric pumps):
  - samples every S = 30 s over T = 2 h at the set rate r; the first hour is start-up, the
    second hour is the analysis period;
  - flow in interval i:  Q_i = (V_i - V_(i-1)) / (t_i - t_(i-1));
  - mean flow error over the analysis period:  A = 100 * (Q - r) / r, Q the volume delivered in
    the period over its duration;
  - trumpet curve: for each observation window of p minutes (2, 5, 11, 19 and 31), every window of
    P = p / S consecutive intervals inside the analysis period, stepping one interval at a time;
    Ep(max) and Ep(min) are the largest and smallest mean percentage flow error of those windows.

The mean of the P interval errors of a window is the error of the window's volume when the
intervals are equal, so each window is judged by its volume over its measured duration: on a
real rig, whose samples come a few ms late, the error then stays exact.
"""
import math

STANDARD_WINDOWS_MIN = (2, 5, 11, 19, 31)
SECOND_HOUR = (3600.0, 7200.0)


class AnalysisError(ValueError):
    """The samples or the settings cannot give the figure asked for; the message says why."""


def flow_error_pct(volume_ul, seconds, rate_ul_h):
    """Percentage flow error of volume_ul delivered in seconds at a set rate: + is over-delivery."""
    if seconds <= 0:
        raise AnalysisError("a flow needs a duration > 0 s, got %r" % seconds)
    return 100.0 * (volume_ul * 3600.0 / (rate_ul_h * seconds) - 1.0)


def resolution_pct(rate_ul_h, window_s, quantum_ul):
    """What a volume of quantum_ul (a pump step, the scale's resolution) is, in percent, of a
    window's volume at the set rate: the error a window can show from quantisation alone."""
    return 100.0 * quantum_ul * 3600.0 / (rate_ul_h * window_s)


def check_samples(samples):
    """The samples as a list of (t_s, volume_ul) floats; AnalysisError for anything unusable."""
    out = []
    for i, s in enumerate(samples):
        try:
            t, v = float(s[0]), float(s[1])
        except (TypeError, ValueError, IndexError):
            raise AnalysisError("sample %d is not a (time s, volume uL) pair: %r" % (i, s))
        if not (math.isfinite(t) and math.isfinite(v)):
            raise AnalysisError("sample %d is not finite: %r" % (i, s))
        if out and t <= out[-1][0]:
            raise AnalysisError("sample times must increase: sample %d at %g s follows %g s"
                                % (i, t, out[-1][0]))
        out.append((t, v))
    if len(out) < 2:
        raise AnalysisError("at least 2 samples are needed, got %d" % len(out))
    return out


def _check_rate(rate_ul_h):
    if isinstance(rate_ul_h, bool) or not isinstance(rate_ul_h, (int, float)) \
            or not math.isfinite(rate_ul_h) or rate_ul_h <= 0:
        raise AnalysisError("the set rate must be a number > 0 uL/h, got %r" % (rate_ul_h,))


def sample_interval_s(samples):
    """The sample interval S: the median spacing. Every spacing must be within 10 % of it, as a
    rig sampling every S seconds (a few ms late at times) gives."""
    samples = check_samples(samples)
    gaps = sorted(b[0] - a[0] for a, b in zip(samples, samples[1:]))
    s = gaps[len(gaps) // 2]
    if gaps[0] < 0.9 * s or gaps[-1] > 1.1 * s:
        raise AnalysisError("samples are not evenly spaced: intervals from %g s to %g s (median %g s)"
                            % (gaps[0], gaps[-1], s))
    return s


def interval_flows(samples):
    """[(t_start_s, t_end_s, flow_ul_h)] for each sample interval."""
    samples = check_samples(samples)
    return [(t0, t1, (v1 - v0) * 3600.0 / (t1 - t0))
            for (t0, v0), (t1, v1) in zip(samples, samples[1:])]


def period(samples, start_s, end_s):
    """The samples of the analysis period [start_s, end_s]; a sample counts if it lies within a
    quarter of an interval of the period (a real rig's sample comes a little late)."""
    samples = check_samples(samples)
    if end_s <= start_s:
        raise AnalysisError("the analysis period must end after it starts: %g s to %g s" % (start_s, end_s))
    slack = sample_interval_s(samples) / 4.0
    inside = [s for s in samples if start_s - slack <= s[0] <= end_s + slack]
    if len(inside) < 2 or inside[0][0] > start_s + slack or inside[-1][0] < end_s - slack:
        raise AnalysisError("the samples (%g s to %g s) do not cover the analysis period %g s to %g s"
                            % (samples[0][0], samples[-1][0], start_s, end_s))
    return inside


def mean_flow_error_pct(samples, rate_ul_h, start_s=SECOND_HOUR[0], end_s=SECOND_HOUR[1]):
    """A: the percentage flow error of the volume delivered over the analysis period."""
    _check_rate(rate_ul_h)
    inside = period(samples, start_s, end_s)
    (t0, v0), (t1, v1) = inside[0], inside[-1]
    return flow_error_pct(v1 - v0, t1 - t0, rate_ul_h)


def trumpet(samples, rate_ul_h, windows_min=STANDARD_WINDOWS_MIN,
            start_s=SECOND_HOUR[0], end_s=SECOND_HOUR[1]):
    """[{window_min, ep_max_pct, ep_min_pct, windows}] over the analysis period, one per window.

    A window must be a whole number of sample intervals and fit in the period; `windows` is how
    many windows of that length the period holds (sliding one interval at a time)."""
    _check_rate(rate_ul_h)
    inside = period(samples, start_s, end_s)
    s = sample_interval_s(samples)
    n = len(inside) - 1
    rows = []
    for p_min in windows_min:
        if isinstance(p_min, bool) or not isinstance(p_min, (int, float)) or not p_min > 0:
            raise AnalysisError("an observation window must be a number of minutes > 0, got %r" % (p_min,))
        p_intervals = p_min * 60.0 / s
        big_p = int(round(p_intervals))
        # within 2 %: a rig that samples a few ms late still has whole windows
        if big_p < 1 or abs(p_intervals - big_p) > 0.02 * big_p:
            raise AnalysisError("a %g min window is not a whole number of %g s sample intervals"
                                % (p_min, s))
        if big_p > n:
            raise AnalysisError("a %g min window is longer than the analysis period (%d intervals of %g s)"
                                % (p_min, n, s))
        errors = [flow_error_pct(inside[j + big_p][1] - inside[j][1],
                                 inside[j + big_p][0] - inside[j][0], rate_ul_h)
                  for j in range(n - big_p + 1)]
        rows.append({"window_min": p_min, "ep_max_pct": max(errors), "ep_min_pct": min(errors),
                     "windows": len(errors)})
    return rows


def analyse(samples, rate_ul_h, start_s=SECOND_HOUR[0], end_s=SECOND_HOUR[1],
            windows_min=STANDARD_WINDOWS_MIN):
    """Every figure of one run: {rate_ul_h, interval_s, period_s, mean_error_pct, trumpet, flows}."""
    return {"rate_ul_h": rate_ul_h, "interval_s": sample_interval_s(samples),
            "period_s": [start_s, end_s],
            "mean_error_pct": mean_flow_error_pct(samples, rate_ul_h, start_s, end_s),
            "trumpet": trumpet(samples, rate_ul_h, windows_min, start_s, end_s),
            "flows": interval_flows(samples)}
