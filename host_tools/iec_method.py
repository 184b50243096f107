"""The IEC 60601-2-24 bench procedures through the pump protocol and the rig: gravimetric runs and occlusions.

Each procedure takes a connected PumpClient and a rig (SimRig or SerialRig) and only uses what a
physical rig has too: the scale, occlude/release and run_for (simulated time on the sim, the wall
clock on a real rig). Time on the samples is the rig's (run_for's return), time to alarm is the
board's own clock (the alarm's since_ms against the board's uptime when the line was occluded).
"""
from host_tools.client import DeviceError

OCCLUSION = "occlusion"
DETECTOR_NAMES = {"ThresholdDetector": "threshold", "StepResponseDetector": "model"}


def _say(progress, message):
    if progress is not None:
        progress(message)


def wait(rig, seconds):
    """run_for seconds, in pieces a physical rig accepts (it waits out at most max_wait_s a call);
    returns the rig's clock in ms."""
    chunk = getattr(rig, "max_wait_s", None) or seconds or 1
    left = float(seconds)
    ms = rig.run_for(0) if left <= 0 else None
    while left > 0:
        step = min(left, chunk)
        ms = rig.run_for(step, timeout=max(120.0, step / 50.0))
        left -= step
    return ms


def stop_and_clear(pump):
    """A known start: stopped, with no occlusion alarm left from a run before."""
    if pump.request("status")["state"] != "stopped":
        pump.request("stop")
    for a in pump.request("alarms")["alarms"]:
        if a["code"] == OCCLUSION and not a.get("acknowledged"):
            pump.request("alarm_ack", code=OCCLUSION)


def gravimetric_run(pump, rig, rate_ul_h, duration_s=7200.0, interval_s=30.0, progress=None):
    """Deliver at rate_ul_h for duration_s, reading the scale every interval_s from the start.

    Returns {"rate_ul_h", "interval_s", "samples": [(t_s, volume_ul)], "pumped_ul", "alarms"}:
    samples from (0, 0) at the start command; volume is the scale's gain since then; pumped_ul is
    the firmware's own count over the run, for comparison; alarms, those active at the end (an
    alarm that stopped the pump shows in the samples too, as under-delivery). Samples are taken
    at k * interval_s from the start, so a real rig's late readings do not add up.
    """
    stop_and_clear(pump)
    pump.request("set_rate", rate_ul_h=rate_ul_h)
    t0 = wait(rig, 0)
    scale0 = rig.scale_ul()
    pumped0 = pump.request("status")["delivered_ul"]
    pump.request("start")
    samples = [(0.0, 0.0)]
    n = int(round(duration_s / interval_s))
    now = t0
    for k in range(1, n + 1):
        now = wait(rig, max(0.0, t0 + k * interval_s * 1000 - now) / 1000.0)
        samples.append(((now - t0) / 1000.0, rig.scale_ul() - scale0))
        if progress is not None and (k % max(1, n // 10) == 0 or k == n):
            progress("%d of %d samples (%s of board time)" % (k, n, clock(samples[-1][0])))
    end = pump.request("status")
    pump.request("stop")
    return {"rate_ul_h": rate_ul_h, "interval_s": interval_s, "samples": samples,
            "pumped_ul": end["delivered_ul"] - pumped0, "alarms": end["alarms"]}


def occlusion_run(pump, rig, rate_ul_h, warmup_s=3600.0, limit_s=86400.0, release_window_s=300.0,
                  progress=None):
    """The IEC occlusion test at one rate: deliver, block the line, time the occlusion alarm, then
    release and weigh the bolus the line lets go.

    Returns {"rate_ul_h", "time_to_alarm_s" (None: no alarm within limit_s), "fired" (detectors
    the alarm names), "pumped_into_line_ul" (the firmware's count from the occlusion to the
    alarm), "bolus_ul" (the scale's gain in release_window_s after the release, less what the
    pump delivered in it), "reported_bolus_ul" (the firmware's estimate), "alarm_detail",
    "false_alarm" (an alarm before the occlusion)}.
    """
    stop_and_clear(pump)
    pump.request("set_rate", rate_ul_h=rate_ul_h)
    wait(rig, 0)
    pump.request("start")
    wait(rig, warmup_s)
    out = {"rate_ul_h": rate_ul_h, "time_to_alarm_s": None, "fired": [], "pumped_into_line_ul": None,
           "bolus_ul": None, "reported_bolus_ul": None, "alarm_detail": "", "false_alarm": None}
    before = pump.request("status")
    if before["alarms"] or before["state"] != "running":
        out["false_alarm"] = ", ".join(before["alarms"]) or before["state"]
        pump.request("stop")
        return out
    t_occ_s, pumped0 = before["uptime_s"], before["delivered_ul"]
    rig.occlude(1.0)
    _say(progress, "line occluded at %g uL/h; waiting for the alarm" % rate_ul_h)
    waited, chunk = 0.0, 5.0
    status = before
    while OCCLUSION not in status["alarms"] and waited < limit_s:
        step = min(chunk, limit_s - waited)
        wait(rig, step)
        waited += step
        chunk = min(chunk * 2, 600.0)   # since_ms dates the alarm: polling only has to find it
        status = pump.request("status")
    if OCCLUSION not in status["alarms"]:
        _say(progress, "no occlusion alarm within %s" % clock(limit_s))
        pump.request("stop")
        rig.release()
        return out
    alarm = [a for a in pump.request("alarms")["alarms"] if a["code"] == OCCLUSION][0]
    out["time_to_alarm_s"] = alarm["since_ms"] / 1000.0 - t_occ_s
    out["alarm_detail"] = alarm.get("detail") or ""
    out["fired"] = [short for name, short in sorted(DETECTOR_NAMES.items()) if name in out["alarm_detail"]]
    out["pumped_into_line_ul"] = status["delivered_ul"] - pumped0
    _say(progress, "alarm after %s (%s); releasing" % (clock(out["time_to_alarm_s"]),
                                                        " and ".join(out["fired"]) or "?"))
    scale0, pumped1 = rig.scale_ul(), status["delivered_ul"]
    rig.release()
    wait(rig, release_window_s)
    after = pump.request("status")
    out["bolus_ul"] = (rig.scale_ul() - scale0) - (after["delivered_ul"] - pumped1)
    out["reported_bolus_ul"] = (after.get("occlusion") or {}).get("released_ul")
    try:
        pump.request("alarm_ack", code=OCCLUSION)
    except DeviceError:
        pass    # already acknowledged by someone at the pump: nothing left to clear
    return out


def clock(seconds):
    """1:02:03 for seconds of board time (days as 2 d 1:02:03); under 2 min, 8.1 s."""
    if seconds < 120:
        return "%.1f s" % seconds
    s = int(round(seconds))
    d, s = divmod(s, 86400)
    text = "%d:%02d:%02d" % (s // 3600, s // 60 % 60, s % 60)
    return ("%d d %s" % (d, text)) if d else text


def alarm_time_bound_s(which, rate_ul_h, occlusion, ul_per_step):
    """The longest time to an occlusion alarm a detector's rule (docs/safety.md) allows at a rate.

    threshold: the blocked line must store threshold_kpa, which is threshold_kpa / pulse_kpa_per_ul
    uL of drug; model: alarm_after_ul beyond what a line with R x tolerate_r_factor holds, which at
    a flow Q is Q * (tau_max - tau) more than the open line held when it was blocked. Each is
    allowed two steps more (a reading falls between steps) and 10 %, then the readings that judge
    it: a median of 3 sample periods, and for the model up to 5 tau_max, over which it spreads a
    slow rate's pulse. occlusion is the board's cleaned occlusion settings; "both" is the sooner.
    """
    q = rate_ul_h / 3600.0
    tau = occlusion["line_tau_s"]
    tau_max = tau * occlusion["tolerate_r_factor"]
    bounds = {
        "threshold": (occlusion["threshold_kpa"] / occlusion["pulse_kpa_per_ul"],
                      3 * occlusion["threshold_sample_ms"] / 1000.0),
        "model": (occlusion["alarm_after_ul"] + q * (tau_max - tau),
                  3 * occlusion["sample_ms"] / 1000.0 + 5 * tau_max),
    }
    names = ("threshold", "model") if which == "both" else (which,)
    return min(1.1 * (bounds[n][0] + 2 * ul_per_step) / q + bounds[n][1] for n in names)
