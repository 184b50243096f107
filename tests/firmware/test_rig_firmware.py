# The physical rig's firmware (boards/rig_pico) with fake pins: valve, scale, power and the protocol.
import json
import sys

from fake_machine import PWM, Pin, Trace


def _dirname(p):
    i = p.rfind("/")
    return p[:i] if i > 0 else ("/" if i == 0 else ".")


ROOT = _dirname(_dirname(_dirname(__file__)))
if ROOT + "/boards/rig_pico" not in sys.path:
    sys.path.append(ROOT + "/boards/rig_pico")

from rig_firmware import RigFirmware  # noqa: E402


class FakeScale:
    def __init__(self, counts):
        self.counts = counts
        self.reads = 0

    def read(self):
        self.reads += 1
        return self.counts


def cfg():
    with open(ROOT + "/boards/rig_pico/rig.json") as f:
        return json.load(f)


def make(counts=0, reset=True):
    trace = Trace()
    slept = []
    rig = RigFirmware(cfg(), PWM(Pin(16, trace=trace), trace=trace), FakeScale(counts),
                      Pin(19, Pin.OUT, trace=trace), Pin(20, Pin.OUT, trace=trace) if reset else None,
                      sleep_ms=slept.append, ticks_ms=lambda: 1234)
    return rig, trace, slept


def ask(rig, cmd, **args):
    return rig.handle({"id": 7, "cmd": cmd, "args": args})


def test_a_rig_that_starts_leaves_the_line_open_and_the_pump_powered():
    rig, trace, _ = make()
    assert trace.values("pwm16", "duty") == [1000 * 65535 // 20000]
    assert trace.values("pin19") == [1]
    assert rig.powered is True and rig.fraction == 0.0


def test_occlusion_sets_the_servo_pulse_between_open_and_closed():
    rig, trace, _ = make()
    for fraction, us in ((1.0, 2000), (0.5, 1500), (0.25, 1250), (0.0, 1000)):
        r = ask(rig, "occlude", fraction=fraction)
        assert r == {"id": 7, "ok": True, "result": {"occluded": fraction}}, r
        assert trace.values("pwm16", "duty")[-1] == us * 65535 // 20000, (fraction, us)
    r = ask(rig, "occlude", fraction=1.5)
    assert r["ok"] is False and "fraction" in r["error"], r


def test_power_on_after_a_cut_holds_it_off_for_the_asked_time_then_on():
    rig, trace, slept = make()
    assert ask(rig, "power_cut")["result"] == {"power": False}
    assert trace.values("pin19")[-1] == 0
    trace.clear()
    assert ask(rig, "power_on", off_s=2)["ok"] is True
    assert trace.values("pin19") == [0, 1] and slept == [2000], (trace.values("pin19"), slept)
    assert ask(rig, "power_on", off_s=600)["ok"] is False


def test_an_active_low_power_switch_is_driven_inverted():
    c = cfg()
    c["power"]["on_level"] = 0
    trace = Trace()
    power = Pin(19, Pin.OUT, trace=trace)
    rig = RigFirmware(c, PWM(Pin(16, trace=trace), trace=trace), FakeScale(0), power,
                      sleep_ms=lambda ms: None, ticks_ms=lambda: 0)
    assert power.value() == 0
    rig.power_cut()
    assert power.value() == 1


def test_the_scale_averages_subtracts_the_tare_and_converts_grams_to_microlitres():
    rig, _, _ = make(counts=420 * 3 + 100)
    rig.tare_counts = 100
    r = ask(rig, "scale")["result"]
    assert abs(r["grams"] - 3.0) < 1e-9 and abs(r["scale_ul"] - 3000.0) < 1e-6, r
    assert r["ms"] == 1234 and rig.scale.reads == rig.samples
    rig.density = 1.25
    assert abs(rig.scale_reading()["scale_ul"] - 2400.0) < 1e-6


def test_tare_zeroes_the_scale_at_what_it_holds_now():
    rig, _, _ = make(counts=5000)
    ask(rig, "tare")
    assert abs(ask(rig, "scale")["result"]["grams"]) < 1e-9


def test_the_reset_button_pulls_run_low_then_releases_it():
    rig, trace, slept = make()
    trace.clear()
    assert ask(rig, "reset_button")["ok"] is True
    assert trace.values("pin20") == [0, 1] and slept == [100]
    rig2, _, _ = make(reset=False)
    assert "reset_button" not in rig2.features
    r = ask(rig2, "reset_button")
    assert r["ok"] is False and "reset_button" in r["error"], r


def test_a_feature_the_rig_lacks_is_refused_naming_what_it_has():
    rig, _, _ = make()
    r = ask(rig, "run_for", seconds=10)
    assert r["ok"] is False and r["error"].startswith("unsupported: this rig has no run_for"), r
    assert "scale" in r["error"]


def test_serve_answers_each_line_in_order_and_survives_bad_json():
    rig, _, _ = make()

    class Lines:
        def __init__(self, data):
            self.lines = data.split(b"\n")
            self.lines = [l + b"\n" for l in self.lines[:-1]]

        def readline(self):
            return self.lines.pop(0) if self.lines else b""

    class Out:
        def __init__(self):
            self.data = b""

        def write(self, b):
            self.data += b

    out = Out()
    rig.serve(Lines(b'{"id": 1, "cmd": "hello"}\n\nnot json\n{"id": 2, "cmd": "release"}\n'), out)
    replies = [json.loads(l) for l in out.data.split(b"\n") if l]
    assert [r["id"] for r in replies] == [1, None, 2], replies
    assert replies[0]["result"]["features"] == ["occlude", "power", "scale", "status",
                                                "reset_button"]
    assert replies[1] == {"id": None, "ok": False, "error": "bad json"}


def test_repl_ends_serving_after_its_reply_so_mpremote_can_redeploy():
    rig, _, _ = make()
    lines = [b'{"id": 1, "cmd": "repl"}\n', b'{"id": 2, "cmd": "hello"}\n']

    class In:
        def readline(self):
            return lines.pop(0) if lines else b""

    class Out:
        data = b""

        def write(self, b):
            Out.data += b

    rig.serve(In(), Out())
    assert [json.loads(l)["id"] for l in Out.data.split(b"\n") if l] == [1]
    assert lines == [b'{"id": 2, "cmd": "hello"}\n']
