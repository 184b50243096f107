# Sim annunciator: the LED and buzzer patterns the alarms call for, reported to the rig.
import simhw


class SimAnnunciator:
    def __init__(self, spec, cfg):
        self.led = "off"
        self.buzzer = None

    def show(self, led, buzzer):
        self.led, self.buzzer = led, buzzer
        simhw.annunciate(led, buzzer or "none")

    def safe_state(self):
        # a board going down in a fault still shows it: the high-alarm pattern, not darkness
        self.show("red_flash_fast", "burst_10")


DRIVER = SimAnnunciator
