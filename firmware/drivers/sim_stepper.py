# Sim stepper: steps go to the simulated pump head in the supervisor's plant, with the sim time.
import simhw


class SimStepper:
    def __init__(self, spec, cfg):
        self.enabled = False
        self.steps_emitted = 0

    def enable(self):
        self.enabled = True
        simhw.motor_enable(True)

    def disable(self):
        self.enabled = False
        simhw.motor_enable(False)

    def safe_state(self):
        self.disable()

    def step(self, n):
        simhw.motor_steps(n)
        self.steps_emitted += n

    def emitted(self):
        """Steps that left the STEP output since boot: the sim hands each to the plant at once."""
        return self.steps_emitted


DRIVER = SimStepper
