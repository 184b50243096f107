# The pump's main loop: steps when due, answers the link, feeds the watchdog, sleeps on the board clock.
import json

from pump.controller import Controller, RUNNING
from pump.commands import COMMANDS
from pump.protocol import LineReader, handle, encode, event

SERVICE_FLAG = "service.flag"   # main.py sees it after the reset and stays in the REPL
_IDLE_MS = 500                   # input and the watchdog are serviced at least this often


def _read_build():
    try:
        with open("build.json") as f:
            info = json.load(f)
    except (OSError, ValueError):
        return None
    return info.get("build") if isinstance(info, dict) else None  # a bad label must not stop the pump


class App:
    def __init__(self, board):
        self.board = board
        self.cfg = board.cfg
        limits = self.cfg["limits"]
        self.ctl = Controller(self.cfg["calibration"]["ul_per_step"], limits["max_rate_ul_h"],
                              limits["max_steps_per_s"], limits["reservoir_ul"])
        self.reader = LineReader()
        self.after_reply = None
        self.build = _read_build()
        self.reset_cause = board.system.reset_cause()
        self._wdt = None

    def now(self):
        return self.board.clock.now_ms()

    def send(self, msg):
        self.board.link.write(encode(msg))

    def start(self):
        self.ctl.start(self.now())
        self.board.motor.enable()
        self.send(event("state", {"state": self.ctl.state}))

    def stop(self):
        self.ctl.stop(self.now())
        self.board.motor.disable()
        self.send(event("state", {"state": self.ctl.state}))

    def enter_service(self):
        self.board.safe_state()
        with open(SERVICE_FLAG, "w") as f:
            f.write("1")
        self.board.system.reset()

    def status(self):
        ctl = self.ctl
        now = self.now()
        s = {"state": ctl.state, "rate_ul_h": ctl.rate_nl_h / 1000,
             "delivered_ul": ctl.delivered_ul(), "reservoir_ul": ctl.reservoir_ul(),
             "steps": ctl.steps, "alarms": [], "uptime_s": now / 1000,
             "reset_cause": self.reset_cause}
        if self.board.pressure is not None:
            s["pressure_kpa"] = self.board.pressure.read_kpa()
        sim_time = getattr(self.board.clock, "sim_time_s", None)
        if sim_time is not None:
            s["sim_time_s"] = sim_time()
        return s

    def _serve_link(self):
        data = self.board.link.read_available()
        if not data:
            return False
        for line in self.reader.feed(data):
            self.send(handle(line, COMMANDS, self))
            if self.after_reply is not None:
                action, self.after_reply = self.after_reply, None
                action()
        return True

    def run(self):
        board = self.board
        board.motor.disable()
        self._wdt = board.system.watchdog(self.cfg["limits"]["watchdog_ms"])
        self.send(event("boot", {"reset_cause": self.reset_cause, "board": self.cfg["name"]}))
        clock = board.clock
        ctl = self.ctl
        while True:
            n = ctl.due(clock.now_ms())
            if n:
                board.motor.step(n)
                ctl.taken(n)
            busy = self._serve_link()
            self._wdt.feed()
            if busy:
                continue  # more input may be waiting; due steps are checked first on every pass
            nxt = ctl.next_due_ms()
            wait = _IDLE_MS
            if nxt is not None:
                wait = nxt - clock.now_ms()
                if wait > _IDLE_MS:
                    wait = _IDLE_MS
            if wait > 0:
                clock.wait(wait, board.link.ready)
