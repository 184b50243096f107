# Tests of the ADC pressure and supply drivers and the HX711 force sensor's kPa; run by pytest and tests/mprun.py.
import drivers.adc_pressure as adc_pressure
import drivers.adc_supply as adc_supply
import drivers.hx711_force as hx711_force
from drivers.adc_pressure import AdcPressure
from drivers.adc_supply import AdcSupply
from drivers.hx711_force import HX711Force
from pump.errors import ConfigError

import fake_machine
from fake_machine import Trace
from fakes import expect_raises


class _SeqAdc:
    """Answers read_u16 from a list, in turn (the last repeated)."""

    def __init__(self, values):
        self.values = list(values)
        self.reads = 0

    def read_u16(self):
        v = self.values[min(self.reads, len(self.values) - 1)]
        self.reads += 1
        return v


CAL = [[6554, 0], [58982, 200]]      # 0.5 V -> 0 kPa, 4.5 V -> 200 kPa through a 5:3.3 divider


def _close(a, b, tol=1e-6):
    return abs(a - b) <= tol


def test_pressure_follows_the_two_point_calibration_line():
    p = AdcPressure(_SeqAdc([6554]), CAL, samples=1)
    assert _close(p.read_kpa(), 0)
    p.adc = _SeqAdc([58982])
    assert _close(p.read_kpa(), 200)
    p.adc = _SeqAdc([32768])           # halfway in u16 is halfway in kPa
    assert _close(p.read_kpa(), 100, 1e-3)


def test_pressure_extrapolates_below_the_lower_point():
    p = AdcPressure(_SeqAdc([6554 - 2621]), CAL, samples=1)     # 2621 u16 is 10 kPa here
    assert _close(p.read_kpa(), -10, 0.01)


def test_pressure_averages_the_configured_number_of_samples():
    adc = _SeqAdc([6554, 58982, 6554, 58982, 0])
    p = AdcPressure(adc, CAL, samples=4)
    assert _close(p.read_kpa(), 100)
    assert adc.reads == 4


def test_a_reading_at_the_top_rail_is_reported_at_max_kpa_whatever_the_calibration():
    # a steep calibration would make the rail 500 kPa; a shallow one 50 kPa: both are "open"
    for cal in ([[0, 0], [65535, 500]], [[0, 0], [65535, 50]]):
        p = AdcPressure(_SeqAdc([65535]), cal, samples=2, max_kpa=300)
        assert p.read_kpa() == 300.0, cal


def test_a_high_reading_just_below_the_rail_is_a_pressure():
    p = AdcPressure(_SeqAdc([adc_pressure.RAIL_U16 - 100]), [[0, 0], [65535, 100]], samples=1)
    assert p.read_kpa() < 100


def test_pressure_options_name_the_bad_ones():
    e = expect_raises(ConfigError, adc_pressure.check_options,
                      {"cal": [[100, 0], [100, 50]], "samples": 0, "max_kpa": -1})
    assert [p for p, _ in e.problems] == ["drivers.pressure.cal", "drivers.pressure.samples",
                                          "drivers.pressure.max_kpa"], e.problems
    e = expect_raises(ConfigError, adc_pressure.check_options, {"cal": [[70000, 0], [1, 5]]})
    assert e.problems[0][0] == "drivers.pressure.cal"


def test_pressure_factory_reads_the_named_adc_pin():
    fake_machine.install(Trace())
    try:
        p = adc_pressure.make({"adc_pin": "line_p", "cal": CAL, "samples": 2},
                              {"pins": {"line_p": 26}})
    finally:
        fake_machine.uninstall()
    assert p.adc.pin.id == 26
    p.adc.u16 = 6554
    assert _close(p.read_kpa(), 0) and p.adc.reads == 2


def test_supply_volts_are_u16_over_full_scale_times_vref_times_divider():
    s = AdcSupply(_SeqAdc([65535]), divider=3, vref=3.3)
    assert _close(s.read_v(), 9.9)
    s = AdcSupply(_SeqAdc([32768]), divider=2, vref=3.0)
    assert _close(s.read_v(), 32768 / 65535 * 6.0)


def test_supply_averages_its_reads():
    adc = _SeqAdc([0, 65535, 0, 65535])
    s = AdcSupply(adc, divider=1, vref=3.3)
    assert _close(s.read_v(), 1.65) and adc.reads == adc_supply.SAMPLES


def test_supply_options_name_the_bad_ones():
    e = expect_raises(ConfigError, adc_supply.check_options, {"vref": 0, "low_v": -1})
    assert sorted(p for p, _ in e.problems) == ["drivers.supply.divider", "drivers.supply.low_v",
                                                "drivers.supply.vref"], e.problems
    e = expect_raises(ConfigError, adc_supply.check_options,
                      {"divider": 3, "low_v": 3.4, "end_v": 3.6})
    assert e.problems[0][0] == "drivers.supply.end_v"
    assert adc_supply.check_options({"divider": 3}) == (3, 3.3)


class _FakeHx:
    def __init__(self, counts):
        self.counts = counts

    def read(self):
        return self.counts


def test_force_pressure_is_newtons_over_plunger_area_in_kpa():
    # 10 N on a 10 mL syringe's 150 mm2 plunger: 10 / 150 N/mm2 = 66.7 kPa
    f = HX711Force(_FakeHx(1000 + 10 * 420), counts_per_n=420, tare_counts=1000,
                   plunger_area_mm2=150)
    assert _close(f.read_kpa(), 10 / 150 * 1000, 1e-6)


def test_force_at_tare_is_zero_and_tension_is_negative():
    f = HX711Force(_FakeHx(1000), 420, 1000, 150)
    assert f.read_kpa() == 0
    f.hx.counts = 1000 - 420
    assert f.read_kpa() < 0


def test_a_saturated_load_cell_reads_as_max_kpa():
    for counts in (0x7FFFFF, -0x800000):
        f = HX711Force(_FakeHx(counts), 420, 0, 150, max_kpa=350)
        assert f.read_kpa() == 350.0, counts


def test_force_options_name_the_bad_ones():
    fake_machine.install(Trace())
    try:
        e = expect_raises(ConfigError, hx711_force.make,
                          {"counts_per_n": 0, "plunger_area_mm2": -3, "sck_pin": "s",
                           "dout_pin": "d"}, {"pins": {"s": 1, "d": 2}})
    finally:
        fake_machine.uninstall()
    assert [p for p, _ in e.problems] == ["drivers.pressure.counts_per_n",
                                          "drivers.pressure.plunger_area_mm2"], e.problems


def test_force_factory_wires_sck_as_output_low_and_dout_as_input():
    trace = Trace()
    fake_machine.install(trace)
    try:
        f = hx711_force.make({"counts_per_n": 420, "plunger_area_mm2": 150, "sck_pin": "s",
                              "dout_pin": "d"}, {"pins": {"s": 14, "d": 15}})
    finally:
        fake_machine.uninstall()
    assert f.hx.sck.id == 14 and f.hx.sck.mode == fake_machine.Pin.OUT and f.hx.sck.value() == 0
    assert f.hx.dout.id == 15 and f.hx.dout.mode == fake_machine.Pin.IN
