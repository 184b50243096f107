# The board's system functions through `machine`: reset cause, watchdog, reset (real boards and the sim ROM).
import machine

# Compare with named constants: their numbers differ from port to port.
_CAUSES = (("PWRON_RESET", "power_on"), ("HARD_RESET", "hard"), ("WDT_RESET", "watchdog"),
           ("SOFT_RESET", "soft"), ("DEEPSLEEP_RESET", "deepsleep"))


class MachineSystem:
    def reset_cause(self):
        cause = machine.reset_cause()
        for const, name in _CAUSES:
            if getattr(machine, const, None) == cause:
                return name
        return "unknown"

    def watchdog(self, timeout_ms):
        return machine.WDT(timeout=timeout_ms)

    def reset(self):
        machine.reset()
