# Sim fault switches: the rig turns on faults inside the firmware (a runaway planner, a hung task).
import simhw


class SimFaults:
    def __init__(self, spec, cfg):
        pass

    def active(self, name):
        return simhw.fault_active(name)


DRIVER = SimFaults
