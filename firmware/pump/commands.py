# The serial commands, each declared with its role and arguments right beside its handler.
from pump.errors import PumpError, BAD_STATE, BAD_VERSION
from pump.protocol import Commands
from pump.version import FIRMWARE_VERSION, PROTOCOL_VERSION, PROTOCOLS
from pump.controller import RUNNING

COMMANDS = Commands()
_cmd = COMMANDS.command


@_cmd("hello", "patient", {"protocols": {"type": "list", "max_len": 8, "items": {"type": "int", "ge": 0}}},
      safe_to_repeat=True)
def hello(app, args):
    offered = args.get("protocols")
    if offered is not None:
        common = [v for v in PROTOCOLS if v in offered]
        if not common:
            raise PumpError(BAD_VERSION, "this firmware speaks protocol %s, the host offers %s: update "
                            "the host tools or the firmware" % (list(PROTOCOLS), offered), "args.protocols",
                            extra={"protocols": list(PROTOCOLS)})
        protocol = max(common)
    else:
        protocol = PROTOCOL_VERSION
    session = app.session
    return {"firmware": FIRMWARE_VERSION, "protocol": protocol, "protocols": list(PROTOCOLS),
            "board": app.cfg["name"], "port": app.cfg["port"], "build": app.build,
            "reset_cause": app.reset_cause, "device": session.device_id, "role": session.current_role(),
            "boot": app.boot_number()}


@_cmd("commands", "patient", safe_to_repeat=True)
def commands(app, args):
    return {"commands": COMMANDS.describe()}


@_cmd("status", "patient", safe_to_repeat=True)
def status(app, args):
    return app.status()


@_cmd("start", "clinician", replay=status)
def start(app, args):
    app.start()
    return app.status()


@_cmd("stop", "clinician", replay=status)
def stop(app, args):
    app.stop()
    return app.status()


@_cmd("set_rate", "clinician", {"rate_ul_h": {"type": "num", "ge": 0, "required": True}}, replay=status)
def set_rate(app, args):
    app.ctl.set_rate(app.now(), args["rate_ul_h"])
    if app.ctl.state == RUNNING:
        app.guard_follow()
    return app.status()


@_cmd("service", "service")
def service(app, args):
    # Deploy reaches the REPL through this command, never by racing the watchdog with Ctrl-C.
    if app.ctl.state == RUNNING:
        raise PumpError(BAD_STATE, "delivering: stop the pump before service mode")
    app.after_reply = app.enter_service
    return {"rebooting": "service"}
