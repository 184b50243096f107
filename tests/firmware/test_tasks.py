# Unit tests of pump.tasks: the watchdog is fed only while every task checks in on time.

from pump.tasks import TaskMonitor


def test_a_task_that_stops_checking_in_is_reported_stale_after_its_bound():
    m = TaskMonitor()
    m.add("control", 2000, 0)
    m.add("link", 2000, 0)
    m.check_in("control", 1500)
    m.check_in("link", 1500)
    assert m.stale(3000) == [] and m.all_on_time(3000)
    m.check_in("control", 3000)
    assert m.stale(3501) == ["link"] and not m.all_on_time(3501)
    assert m.stale(5001) == ["control", "link"]


def test_a_stale_task_is_healthy_again_once_it_checks_in():
    m = TaskMonitor()
    m.add("sensors", 1000, 0)
    assert m.stale(1001) == ["sensors"]
    m.check_in("sensors", 1001)
    assert m.stale(1002) == []
    assert m.state(1500) == {"sensors": 499}
