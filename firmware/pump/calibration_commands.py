# The calibration commands (service role): a calibration run for a balance to weigh, and the
# measured uL per step kept in calibration.json. docs/calibration.md has the procedure.
from pump.commands import COMMANDS
from pump.calibration import MAX_RUN_STEPS, MAX_UL_PER_STEP

_cmd = COMMANDS.command


@_cmd("calibration", "patient", safe_to_repeat=True)
def calibration_get(app, args):
    """The calibration in use (value, source, board.json's value) and the last run."""
    return app.calibration_state()


@_cmd("calibrate_run", "service", {
    "steps": {"type": "int", "ge": 1, "le": MAX_RUN_STEPS, "required": True}}, replay=calibration_get)
def calibrate_run(app, args):
    """Move `steps` steps at the board's top rate (stopped pump, no high alarm). The reply comes
    at once; status()["calibration"]["run"] shows progress, a calibration_run event the end."""
    app.calibration_start(args["steps"])
    return app.calibration_state()


@_cmd("calibration_set", "service", {
    "ul_per_step": {"type": "num", "gt": 0, "le": MAX_UL_PER_STEP, "required": True},
    "force": {"type": "bool", "default": False},
    "note": {"type": "str", "max_len": 120}}, replay=calibration_get)
def calibration_set(app, args):
    """Keep a measured uL per step in calibration.json and apply it at once (stopped pump, no
    program applied). Beyond 20 % of board.json's value it needs force."""
    return app.calibration_set(args["ul_per_step"], args["force"], args.get("note"))

