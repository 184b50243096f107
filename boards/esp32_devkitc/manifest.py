# Frozen build of esp32_devkitc: MicroPython's own modules, the pump package and this board's drivers.
# Written by `python -m host_tools.frozen write esp32_devkitc` from board.json; a host test checks it
# still freezes exactly what the board runs. board.json, drugs.json, auth.json and main.py
# stay on the filesystem: `pumpctl deploy --frozen --board esp32_devkitc`.
# Build: make firmware BOARD=esp32_devkitc MICROPYTHON_DIR=/path/to/micropython
include("$(PORT_DIR)/boards/manifest.py")
package("pump", base_path="../../firmware", opt=3)
package("drivers", files=[
    "__init__.py",
    "adc_input.py",
    "adc_supply.py",
    "esp32_rmt_stepper.py",
    "gpio_annunciator.py",
    "hx711.py",
    "hx711_force.py",
    "machine_system.py",
    "pins.py",
    "stdio.py",
    "step_timing.py",
    "stepper_options.py",
    "ticks_clock.py",
    "vfs_storage.py",
], base_path="../../firmware", opt=3)
