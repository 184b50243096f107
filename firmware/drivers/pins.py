# Builds machine pins from a driver's "*_pin" options, which name entries of board.json's pins table.
from pump.errors import ConfigError


def pin_id(spec, cfg, key, required=True):
    """The pin id (a number or a port's name such as "X1") that spec[key] names, or None when the
    option is absent and not required. board_config has already checked the names exist."""
    name = spec.get(key)
    if name is None:
        if required:
            raise ConfigError([(key, "missing: name a pin from the board's pins table")])
        return None
    pins = cfg.get("pins", {})
    if name not in pins:
        raise ConfigError([(key, "names no pin in pins: %r" % (name,))])
    return pins[name]


def output_pin(spec, cfg, key, value=0, required=True):
    """machine.Pin driven as an output, at value from the first instant, or None if absent."""
    pid = pin_id(spec, cfg, key, required)
    if pid is None:
        return None
    import machine
    return machine.Pin(pid, machine.Pin.OUT, value=value)


def input_pin(spec, cfg, key, pull=None, required=True):
    """machine.Pin as an input (pull: None, "up" or "down"), or None if absent."""
    pid = pin_id(spec, cfg, key, required)
    if pid is None:
        return None
    import machine
    if pull == "up":
        return machine.Pin(pid, machine.Pin.IN, machine.Pin.PULL_UP)
    if pull == "down":
        return machine.Pin(pid, machine.Pin.IN, machine.Pin.PULL_DOWN)
    return machine.Pin(pid, machine.Pin.IN)
