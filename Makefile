# The two set-up commands are `make demo` and `make test`; everything they need is installed here.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PIP := $(BIN)/pip --disable-pip-version-check --quiet

.PHONY: venv test unit hil demo deploy bench service clean

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
