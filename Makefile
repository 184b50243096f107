# The two set-up commands are `make demo` and `make test`; everything they need is installed here.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PIP := $(BIN)/pip --disable-pip-version-check --quiet

.PHONY: venv test unit hil soak demo deploy bench service clean

$(STAMP): pyproject.toml requirements.lock
	$(PYTHON) -m venv $(VENV)
	$(PIP) install -r requirements.lock
	$(PIP) install --no-deps -e .
	touch $@

venv: $(STAMP)

# Firmware unit tests on the MicroPython unix port first, then everything under pytest
# (the same firmware tests on CPython, host tests, and the HIL suite on a simulated board).
test: $(STAMP)
	$(BIN)/micropython tests/mprun.py
	$(BIN)/python -m pytest -q

hil: $(STAMP)
	$(BIN)/python -m pytest -q hil_tests

# The power-cut fuzz at 2000 cuts instead of the test run's 200 (PUMP_FUZZ_SEED=N replays a run),
# and the protocol fuzz at 100,000 frames per variant instead of 5,000 (PUMP_PROTOCOL_SEED=N).
soak: $(STAMP)
	PUMP_FUZZ_CUTS=$${PUMP_FUZZ_CUTS:-2000} $(BIN)/python -m pytest -q -s hil_tests/test_pump_power_cut_fuzz.py
	PUMP_PROTOCOL_FRAMES=$${PUMP_PROTOCOL_FRAMES:-100000} $(BIN)/python -m pytest -q -s hil_tests/test_protocol_fuzz.py

demo: $(STAMP)
	$(BIN)/pumpctl demo

# make deploy BOARD=sim PORT=/path/to/link [STOP=1]
deploy: $(STAMP)
	@if [ -z "$(BOARD)" ] || [ -z "$(PORT)" ]; then echo "usage: make deploy BOARD=<name> PORT=<serial port> [STOP=1]"; exit 2; fi
	$(BIN)/pumpctl --port $(PORT) deploy --board $(BOARD) $(if $(STOP),--stop)

bench: $(STAMP)
	$(BIN)/python -m host_tools.bench
	$(BIN)/python -m host_tools.bench_occlusion

clean:
	rm -rf build .sim .pytest_cache
