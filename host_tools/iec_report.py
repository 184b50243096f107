"""The IEC bench report: CSV tables and PNG plots (matplotlib, Agg: no screen needed) of a run's figures."""
import csv
import os

from host_tools.iec_analysis import flow_error_pct, resolution_pct

SAMPLE_FIELDS = ("t_s", "volume_ul", "interval_ul", "flow_ul_h", "flow_error_pct")
TRUMPET_FIELDS = ("window_min", "ep_max_pct", "ep_min_pct", "windows", "resolution_pct",
                  "mean_error_pct", "rate_ul_h")
OCCLUSION_FIELDS = ("rate", "rate_ul_h", "detectors", "fired", "time_to_alarm_s", "bound_s",
                    "pumped_into_line_ul", "bolus_ul", "reported_bolus_ul", "false_alarm")


def _cell(value):
    if value is None:
        return ""
    if isinstance(value, float):
        return "%.6g" % value
    if isinstance(value, (list, tuple)):
        return "+".join(str(v) for v in value)
    return str(value)


def _write(path, fields, rows):
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(fields)
        for row in rows:
            w.writerow([_cell(row.get(k)) for k in fields])
    return path


def read_rows(path):
    """A report CSV back as dicts: numbers as floats, empty cells as None, text as it was."""
    out = []
    with open(path, newline="") as f:
        for row in csv.DictReader(f):
            conv = {}
            for k, v in row.items():
                if v == "":
                    conv[k] = None
                    continue
                try:
                    conv[k] = float(v)
                except ValueError:
                    conv[k] = v
            out.append(conv)
    return out


def write_samples(path, samples, rate_ul_h):
    rows = [{"t_s": samples[0][0], "volume_ul": samples[0][1]}]
    for (t0, v0), (t1, v1) in zip(samples, samples[1:]):
        rows.append({"t_s": t1, "volume_ul": v1, "interval_ul": v1 - v0,
                     "flow_ul_h": (v1 - v0) * 3600.0 / (t1 - t0),
                     "flow_error_pct": flow_error_pct(v1 - v0, t1 - t0, rate_ul_h)})
    return _write(path, SAMPLE_FIELDS, rows)


def trumpet_rows(figures, quantum_ul):
    """The trumpet table: each window with what quantum_ul (one pump step plus the scale's
    resolution at both ends) is of its volume, the error quantisation alone can show."""
    rate = figures["rate_ul_h"]
    return [dict(row, resolution_pct=resolution_pct(rate, row["window_min"] * 60.0, quantum_ul),
                 mean_error_pct=figures["mean_error_pct"], rate_ul_h=rate)
            for row in figures["trumpet"]]


def write_trumpet(path, figures, quantum_ul):
    return _write(path, TRUMPET_FIELDS, trumpet_rows(figures, quantum_ul))


def write_occlusion(path, rows):
    return _write(path, OCCLUSION_FIELDS, rows)


def _pyplot():
    try:
        import matplotlib
    except ImportError:
        raise RuntimeError("matplotlib is not installed: run `make venv` (it is pinned in requirements.lock)")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


def plot_trumpet(path, figures, title, quantum_ul):
    """Ep(max) and Ep(min) by window, the mean error A, and the band around A that one quantum
    (a step and the scale's rounding) spans in each window: inside it, the curve shows nothing
    the instruments could resolve."""
    plt = _pyplot()
    rows = figures["trumpet"]
    a_pct = figures["mean_error_pct"]
    x = [r["window_min"] for r in rows]
    q = [resolution_pct(figures["rate_ul_h"], w * 60.0, quantum_ul) for w in x]
    fig, ax = plt.subplots(figsize=(7, 4.5))
    ax.fill_between(x, [a_pct - d for d in q], [a_pct + d for d in q], color="tab:gray", alpha=0.15,
                    label="A +- one step and the scale's resolution")
    ax.plot(x, [r["ep_max_pct"] for r in rows], "o-", color="tab:red", label="Ep(max)")
    ax.plot(x, [r["ep_min_pct"] for r in rows], "o-", color="tab:blue", label="Ep(min)")
    ax.axhline(a_pct, color="tab:green", linestyle="--", label="mean error A = %+.3f %%" % a_pct)
    ax.axhline(0.0, color="black", linewidth=0.8)
    if x[-1] > 20 * x[0]:
        ax.set_xscale("log")    # hours beside minutes: the standard's windows stay apart
    ax.set_xticks(x)
    ax.set_xticklabels(["%g" % w for w in x])
    ax.minorticks_off()
    ax.set_xlabel("observation window (min)")
    ax.set_ylabel("flow error (% of set rate)")
    start, end = figures["period_s"]
    ax.set_title("%s\nanalysis period %g-%g min, samples every %g s" % (title, start / 60, end / 60,
                                                                         figures["interval_s"]))
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize="small")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def plot_flow(path, samples, figures, title, smooth_min):
    """Interval flow against time, the set rate, the analysis period shaded, and the flow over a
    sliding smooth_min window (the interval flow of a slow pump is mostly step quantisation)."""
    plt = _pyplot()
    rate = figures["rate_ul_h"]
    flows = figures["flows"]
    fig, ax = plt.subplots(figsize=(8, 4.5))
    ax.plot([t1 / 60 for _, t1, _ in flows], [q for _, _, q in flows], ".", markersize=3,
            color="tab:gray", label="per %g s interval" % figures["interval_s"])
    n = int(round(smooth_min * 60.0 / figures["interval_s"]))
    if 1 < n < len(samples):
        xs = [samples[j][0] / 60 for j in range(n, len(samples))]
        ys = [(samples[j][1] - samples[j - n][1]) * 3600.0 / (samples[j][0] - samples[j - n][0])
              for j in range(n, len(samples))]
        ax.plot(xs, ys, "-", color="tab:purple", label="over the last %g min" % smooth_min)
    ax.axhline(rate, color="black", linestyle="--", label="set rate %g uL/h" % rate)
    a, b = figures["period_s"]
    ax.axvspan(a / 60, b / 60, color="tab:green", alpha=0.08, label="analysis period")
    ax.set_xlabel("time since start (min)")
    ax.set_ylabel("flow (uL/h)")
    ax.set_title(title)
    ax.grid(True, alpha=0.3)
    ax.legend(loc="lower right", fontsize="small")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def write_run(out_dir, name, run, figures, title, quantum_ul, smooth_min):
    """Every file of one gravimetric run; returns their paths."""
    os.makedirs(out_dir, exist_ok=True)
    base = os.path.join(out_dir, name)
    return [write_samples(base + "-samples.csv", run["samples"], run["rate_ul_h"]),
            write_trumpet(base + "-trumpet.csv", figures, quantum_ul),
            plot_trumpet(base + "-trumpet.png", figures, title, quantum_ul),
            plot_flow(base + "-flow.png", run["samples"], figures, title, smooth_min)]
