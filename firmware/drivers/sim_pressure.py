# Sim pressure sensor: reads the plant's line pressure (with its noise, offset and ADC steps).
import simhw


class SimPressure:
    def __init__(self, spec, cfg):
        pass

    def read_kpa(self):
        return simhw.read_pressure_kpa()


DRIVER = SimPressure
