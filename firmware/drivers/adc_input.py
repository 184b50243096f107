# machine.ADC on a pin named in board.json, set for the port's widest input range.
from drivers.pins import pin_id


def open_adc(spec, cfg, key="adc_pin"):
    import machine
    pin = machine.Pin(pin_id(spec, cfg, key))
    atten = getattr(machine.ADC, "ATTN_11DB", None)
    if atten is not None:
        # esp32: without it the input spans only ~0-1 V
        return machine.ADC(pin, atten=atten)
    return machine.ADC(pin)
