# The alarm and refill commands: list, acknowledge and silence alarms; record a refill's residual.
from pump.commands import COMMANDS
from pump.errors import PumpError, BAD_STATE
from pump.alarms import TABLE

_cmd = COMMANDS.command
DISCREPANCY_PCT = 14.5   # a commercial implanted pump's labelled over-infusion bound


@_cmd("alarms", "patient", safe_to_repeat=True)
def alarms(app, args):
    return app.safety.describe(app.now())


@_cmd("alarm_ack", "clinician", {"code": {"type": "str", "choices": tuple(sorted(TABLE)), "required": True}},
      replay=alarms)
def alarm_ack(app, args):
    code = args["code"]
    if not app.safety.ack(code):
        raise PumpError(BAD_STATE, "alarm %s is not active (or already acknowledged)" % code, "args.code")
    if code == "over_delivery":
        # acknowledging is the person's statement that the cause is found: the guard may arm again
        app.safety.guard.reset(app.now())
    elif code == "occlusion":
        app.safety.clear_occlusion(app.now())
    elif code == "motor_stall":
        # the steps lost before are known: the next start is judged on what the motor does then
        app.safety.rebaseline_stall(app.now())
    return app.safety.describe(app.now())


@_cmd("alarm_silence", "patient", replay=alarms)
def alarm_silence(app, args):
    if not app.safety.silence():
        raise PumpError(BAD_STATE, "no alarm to silence")
    return app.safety.describe(app.now())


@_cmd("refill", "clinician", {
    "volume_ml": {"type": "num", "ge": 0, "le": 1000, "required": True},
    "residual_ml": {"type": "num", "ge": 0, "le": 1000, "required": True}})
def refill(app, args):
    """The residual aspirated is compared with the computed one: a computed reservoir alone
    would hide over-infusion (the pump thinks it gave what it was told)."""
    ctl = app.ctl
    if ctl.state == "running" or app.cal_run is not None:
        raise PumpError(BAD_STATE, "delivering: stop the pump before a refill")
    capacity_pl = (ctl.program.capacity_nl * 1000 if ctl.program is not None
                   else int(app.cfg["limits"]["reservoir_ul"] * 1000000))
    new_pl = int(round(args["volume_ml"] * 1000000000))
    if new_pl > capacity_pl:
        raise PumpError(BAD_STATE, "volume_ml %s is above the reservoir's capacity of %s mL"
                        % (args["volume_ml"], capacity_pl / 1e9), "args.volume_ml")
    expected_pl = ctl.reservoir_pl
    measured_pl = int(round(args["residual_ml"] * 1000000000))
    delivered_pl = ctl.fill_pl - expected_pl
    base = delivered_pl if delivered_pl > 0 else capacity_pl
    pct = (measured_pl - expected_pl) * 100.0 / base
    alarm = abs(pct) > DISCREPANCY_PCT
    if alarm:
        app.safety.raise_alarm("reservoir_discrepancy", "residual %.3f mL, expected %.3f mL (%+.1f%% "
                               "of the %.3f mL delivered)" % (measured_pl / 1e9, expected_pl / 1e9,
                                                             pct, delivered_pl / 1e9))
    ctl.refill(new_pl)
    app.safety.condition_gone("reservoir_low")
    app.safety.condition_gone("reservoir_empty")
    app.check_reservoir()
    reply = {"expected_ml": expected_pl / 1e9, "measured_ml": measured_pl / 1e9,
             "discrepancy_pct": pct, "limit_pct": DISCREPANCY_PCT, "alarm": alarm,
             "volume_ml": new_pl / 1e9}
    app.send_event("refill", reply)
    return reply


@_cmd("log_read", "patient", {
    "since": {"type": "int", "ge": 0, "default": 0},
    "limit": {"type": "int", "ge": 1, "le": 20, "default": 20}}, safe_to_repeat=True)
def log_read(app, args):
    """A page of the event log: records newer than `since`, oldest first (pumpctl log)."""
    if app.persist is None:
        raise PumpError(BAD_STATE, "this board keeps no event log (no storage)")
    log = app.persist.log
    return {"records": log.read(args["since"], args["limit"]), "last": log.last_seq(),
            "boot": log.boot}
