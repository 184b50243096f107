# Runs the physical rig's firmware on the MicroPython unix port with fake hardware, serving stdin/stdout.
# micropython tests/host/rig_on_unix.py ROOT  (the scale gains 420 counts, 1 g, per read)
import json
import sys

ROOT = sys.argv[1]
sys.path.append(ROOT + "/tests/firmware")
sys.path.append(ROOT + "/boards/rig_pico")

from fake_machine import PWM, Pin  # noqa: E402
from rig_firmware import RigFirmware  # noqa: E402


class RisingScale:
    """A beaker filling: each read weighs counts_per_g more than the last."""

    def __init__(self, step):
        self.counts = 0
        self.step = step

    def read(self):
        self.counts += self.step
        return self.counts


with open(ROOT + "/boards/rig_pico/rig.json") as f:
    cfg = json.load(f)
rig = RigFirmware(cfg, PWM(Pin(16)), RisingScale(int(cfg["scale"]["counts_per_g"])), Pin(19),
                  Pin(20), sleep_ms=lambda ms: None, ticks_ms=lambda: 0)
while True:
    rig.serve(sys.stdin.buffer, sys.stdout.buffer)
    if not rig.stopping:
        break               # the input ended
    rig.stopping = False    # "repl": a board would now take mpremote's copy and soft-reset
