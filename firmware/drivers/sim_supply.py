# Sim supply monitor: the board's supply voltage, which the rig can drop.
import simhw


class SimSupply:
    def __init__(self, spec, cfg):
        pass

    def read_v(self):
        return simhw.read_supply_v()


DRIVER = SimSupply
