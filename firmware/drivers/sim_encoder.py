# Sim shaft encoder: the steps the plant's rotor really made since boot (lost steps not counted).
import simhw


class SimEncoder:
    def __init__(self, spec, cfg):
        pass

    def read_steps(self):
        return simhw.read_encoder_steps()


DRIVER = SimEncoder
