"""PumpClient after a lost reply: it asks the pump what happened, and never sends a request twice
across a restart."""
import pytest

from host_tools.client import LinkTimeout, PumpClient, UncertainDelivery


class Scripted(PumpClient):
    """A client whose link is a script: each command's reply (or a lost one) is given by the test."""

    def __init__(self, boots):
        self.timeout = 1.0
        self.events = []
        self.authenticate_on_demand = False
        self.role = "patient"
        self.info = None
        self._prefix, self._count = "t", 0
        self.boots = boots          # the pump's boot number as each exchange happens
        self.sent = []

    def _exchange(self, cmd, args, rid, timeout):
        self.sent.append(cmd)
        boot = self.boots[min(len(self.sent) - 1, len(self.boots) - 1)]
        if cmd == "hello":
            return {"id": rid, "ok": True, "result": {"boot": boot, "device": "d"}}
        if cmd == "outcome":
            return {"id": rid, "ok": True, "result": {"of": args["of"], "boot": boot, "known": False}}
        if self.sent.count(cmd) == 1:
            raise LinkTimeout("the reply was lost")
        return {"id": rid, "ok": True, "result": {"given": True}}


def test_a_lost_reply_in_the_same_boot_is_sent_again_under_the_same_id():
    c = Scripted(boots=[1])
    assert c.request("bolus_demand") == {"given": True}
    assert c.sent == ["hello", "bolus_demand", "outcome", "bolus_demand"]


def test_a_lost_reply_across_a_restart_is_never_sent_again_even_without_an_earlier_hello():
    c = Scripted(boots=[1, 1, 2])      # hello in boot 1, the request in boot 1, outcome in boot 2
    with pytest.raises(UncertainDelivery, match="restarted"):
        c.request("bolus_demand")
    assert c.sent.count("bolus_demand") == 1
