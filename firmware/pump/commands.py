# The serial commands, each declared with its role and arguments right beside its handler.
from pump.errors import PumpError, BAD_STATE
from pump.protocol import Commands
from pump.version import FIRMWARE_VERSION, PROTOCOL_VERSION
from pump.controller import RUNNING

COMMANDS = Commands()
_cmd = COMMANDS.command


@_cmd("hello", "patient")
def hello(app, args):
    return {"firmware": FIRMWARE_VERSION, "protocol": PROTOCOL_VERSION, "board": app.cfg["name"],
            "port": app.cfg["port"], "build": app.build, "reset_cause": app.reset_cause}


@_cmd("commands", "patient")
def commands(app, args):
    return {"commands": COMMANDS.describe()}


@_cmd("status", "patient")
def status(app, args):
    return app.status()


@_cmd("start", "clinician")
def start(app, args):
    app.start()
    return app.status()


@_cmd("stop", "clinician")
def stop(app, args):
    app.stop()
    return app.status()


@_cmd("set_rate", "clinician", {"rate_ul_h": {"type": "num", "ge": 0, "required": True}})
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
