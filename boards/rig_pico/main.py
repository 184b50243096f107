# The physical rig's boot: build the servo, scale and power switch from rig.json, then serve the rig protocol.
import json
import sys


def _start():
    import machine
    from drivers.hx711 import HX711
    from rig_firmware import RigFirmware
    with open("rig.json") as f:
        cfg = json.load(f)
    pins = cfg["pins"]
    servo = machine.PWM(machine.Pin(pins["servo"]))
    servo.freq(50)
    scale = HX711(machine.Pin(pins["scale_sck"], machine.Pin.OUT, value=0),
                  machine.Pin(pins["scale_dout"], machine.Pin.IN))
    on = cfg.get("power", {}).get("on_level", 1)
    power = machine.Pin(pins["pump_power"], machine.Pin.OUT, value=on)
    reset = None
    if "pump_reset" in pins:
        # open drain: released, the pump's own pull-up holds RUN high
        reset = machine.Pin(pins["pump_reset"], machine.Pin.OPEN_DRAIN, value=1)
    rig = RigFirmware(cfg, servo, scale, power, reset)
    import micropython
    micropython.kbd_intr(-1)     # a 0x03 in a request is data, not a Ctrl-C
    rig.serve(sys.stdin.buffer, sys.stdout.buffer)
    micropython.kbd_intr(3)      # "repl" was asked (pumpctl rig deploy): the REPL is back


_start()
