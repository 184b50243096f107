"""Occlusion detection: the step-response detector against the pressure-threshold baseline.

The runs are host_tools/bench_occlusion.py's: both firmware detectors watch the same sim plant
(boards/sim/board.json), a full occlusion after a warm-up at each rate, and 30 days of disturbed
open delivery at each rate for false alarms. Here they become figures: the model detector's
value, the threshold detector's as the baseline.
"""
from host_tools import bench_occlusion as occ
from host_tools.bench.figures import Figure

_THRESHOLD_IS = "the pressure-threshold detector, same plant and occlusion"


def measure(say=print):
    say("occlusion: both detectors at %d rates, then %d days of disturbed delivery at each"
        % (len(occ.RATES_UL_H), occ.FALSE_ALARM_DAYS))
    return occ.measure()


def _s(ms):
    return None if ms is None else ms / 1000.0


def figures(res):
    out = []
    for label, _ in occ.RATES_UL_H:
        o = res[label]["occlusion"]
        thr, mdl = o["threshold"], o["model"]
        note = ""
        if mdl["time_ms"] is None or thr["time_ms"] is None:
            note = "no alarm within %d h counts as no value" % (occ.CAP_MS // occ.MS_H)
        out.append(Figure("occlusion_alarm_s_%s" % _slug(label), "time to alarm after a full occlusion at %s" % label,
                          _s(mdl["time_ms"]), "s", _s(thr["time_ms"]), _THRESHOLD_IS, inverse=True,
                          ratio_says="faster", note=note))
    for label, _ in occ.RATES_UL_H:
        o = res[label]["occlusion"]
        out.append(Figure("occlusion_held_ul_%s" % _slug(label), "volume held back at the alarm at %s" % label,
                          o["model"]["undelivered_ul"], "uL", o["threshold"]["undelivered_ul"],
                          _THRESHOLD_IS, inverse=True, ratio_says="less"))
    fm = sum(res[label]["false_alarms"]["model"] for label, _ in occ.RATES_UL_H)
    ft = sum(res[label]["false_alarms"]["threshold"] for label, _ in occ.RATES_UL_H)
    out.append(Figure("occlusion_false_alarms", "false alarms in %d days of disturbed delivery at each rate"
                      % occ.FALSE_ALARM_DAYS, fm, "count", ft, "the threshold detector, same runs",
                      note="sensor noise, back-pressure drift of +-1 kPa/h, 2 coughs an hour of 5 kPa "
                           "and a 4 h R x 10 partial obstruction, at %s"
                           % ", ".join(label for label, _ in occ.RATES_UL_H)))
    return out


def _slug(label):
    return label.replace(" ", "_").replace("/", "_per_").replace(".", "_")
