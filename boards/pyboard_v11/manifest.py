# Frozen build of pyboard_v11: MicroPython's own modules, the pump package and this board's drivers.
# Written by `python -m host_tools.frozen write pyboard_v11` from board.json; a host test checks it
# still freezes exactly what the board runs. board.json, drugs.json, auth.json and main.py
# stay on the filesystem: `pumpctl deploy --frozen --board pyboard_v11`.
# Build: make firmware BOARD=pyboard_v11 MICROPYTHON_DIR=/path/to/micropython
include("$(PORT_DIR)/boards/manifest.py")
package("pump", base_path="../../firmware", opt=3)
package("drivers", files=[
    "__init__.py",
    "adc_input.py",
    "adc_pressure.py",
    "adc_supply.py",
    "gpio_annunciator.py",
    "machine_system.py",
    "pins.py",
    "stdio.py",
    "step_timing.py",
    "stepper_options.py",
    "stm32_timer_stepper.py",
    "ticks_clock.py",
    "vfs_storage.py",
], base_path="../../firmware", opt=3)
