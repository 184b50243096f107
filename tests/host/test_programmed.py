"""The host's programmed-volume curve agrees with the program's own steps."""
import pytest

from host_tools.program_file import read_program
from host_tools.programmed import MS_PER_DAY, Programmed, ProgramInvalid

FLEX = "examples/teaching-flex-week-morphine.toml"
MONDAY = 1700438400000      # 2023-11-20 00:00, a Monday, as local wall ms


def without_periodic():
    doc = read_program(FLEX)
    del doc["periodic"]
    return doc


def test_a_days_volume_is_the_sum_of_its_steps_rate_times_duration():
    p = Programmed(without_periodic(), "sim", MONDAY)
    steps = p.day_steps(MS_PER_DAY + 1)         # Tuesday, all of it after the start
    from_steps = sum(rate * (b - a) / 3600000.0 for a, b, rate in steps)
    assert steps[0][0] == 0 and steps[-1][1] == MS_PER_DAY
    assert len(steps) > 1
    assert p.volume_ul(2 * MS_PER_DAY) - p.volume_ul(MS_PER_DAY) == pytest.approx(from_steps, rel=1e-9)


def test_periodic_boluses_add_their_volume_every_interval():
    doc = read_program(FLEX)
    per_day = (24 * 60 // doc["periodic"]["interval_min"]) * doc["periodic"]["dose"] \
        / doc["drug"]["concentration"] * 1000.0          # mg / (mg/mL) -> uL
    with_p, without = Programmed(doc, "sim", MONDAY), Programmed(without_periodic(), "sim", MONDAY)
    day = lambda p: p.volume_ul(2 * MS_PER_DAY) - p.volume_ul(MS_PER_DAY)
    assert per_day > 0
    assert day(with_p) - day(without) == pytest.approx(per_day, rel=1e-9)


def test_the_basal_rate_at_a_time_is_the_step_holding_it():
    p = Programmed(read_program(FLEX), "sim", MONDAY)
    for a, b, rate in p.day_steps(MS_PER_DAY + 1):
        assert p.basal_ul_h(MS_PER_DAY + (a + b) // 2) == pytest.approx(rate)


def test_a_program_the_pump_would_refuse_is_refused_with_its_problems():
    doc = read_program(FLEX)
    doc["drug"]["concentration"] = 10 ** 6
    with pytest.raises(ProgramInvalid) as e:
        Programmed(doc, "sim", MONDAY)
    assert any(path.startswith("drug") for path, _ in e.value.problems)


def test_a_days_periodic_boluses_start_at_first_and_every_interval_after():
    doc = read_program(FLEX)
    per = doc["periodic"]
    boluses = Programmed(doc, "sim", MONDAY).day_boluses(MS_PER_DAY + 1)
    h, m = (int(x) for x in per["first"].split(":"))
    first = (h * 60 + m) * 60000
    step = per["interval_min"] * 60000
    # the series runs on from the day before: every interval from first, wrapped to the day
    assert [b[0] for b in boluses] == list(range(first % step, MS_PER_DAY, step))
    assert all(b[1] - b[0] == per["duration_min"] * 60000 for b in boluses)
    assert boluses[0][2] == pytest.approx(per["dose"] / doc["drug"]["concentration"] * 1000)


def test_a_program_without_periodic_boluses_marks_none():
    assert Programmed(without_periodic(), "sim", MONDAY).day_boluses(MS_PER_DAY + 1) == []
