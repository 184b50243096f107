# The two set-up commands are `make demo` and `make test`; everything they need is installed here.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PIP := $(BIN)/pip --disable-pip-version-check --quiet

.PHONY: venv test unit hil soak demo deploy bench bench-hil bench-heap service clean typecheck firmware

$(STAMP): pyproject.toml requirements.lock
	$(PYTHON) -m venv $(VENV)
	$(PIP) install -r requirements.lock
	$(PIP) install --no-deps -e .
	touch $@

venv: $(STAMP)

# The firmware type-checked per port first, then its unit tests on the MicroPython unix port,
# then everything under pytest (the same firmware tests on CPython, host tests, and the HIL suite
# on a simulated board; the host tests compile every firmware file with mpy-cross).
test: $(STAMP) typecheck
	$(BIN)/micropython tests/mprun.py
	$(BIN)/python -m pytest -q

# Each port's MicroPython stubs in a folder of their own: they define the same modules.
STUB_PORTS := rp2 esp32 stm32
build/stubs/%/.installed: requirements-stubs/%.lock
	rm -rf build/stubs/$*
	$(PIP) install --no-deps --target build/stubs/$* -r $<
	cp $< $@

# mypy over what each port's boards run, against that port's stubs (host_tools/typecheck.py)
typecheck: $(STAMP) $(STUB_PORTS:%=build/stubs/%/.installed)
	$(BIN)/python -m host_tools.typecheck

# A MicroPython firmware image with the board's modules frozen in (boards/<name>/manifest.py):
# make firmware BOARD=rp2_pico MICROPYTHON_DIR=/path/to/micropython (a checkout with its
# submodules and the port's toolchain: arm-none-eabi-gcc for rp2 and stm32, ESP-IDF for esp32).
firmware: $(STAMP)
	@if [ -z "$(BOARD)" ] || [ -z "$(MICROPYTHON_DIR)" ]; then echo "usage: make firmware BOARD=<name> MICROPYTHON_DIR=<micropython checkout>"; exit 2; fi
	$(BIN)/python -m host_tools.frozen build $(BOARD) --micropython $(MICROPYTHON_DIR)

hil: $(STAMP)
	$(BIN)/python -m pytest -q hil_tests

# The power-cut fuzz at 2000 cuts instead of the test run's 200 (PUMP_FUZZ_SEED=N replays a run),
# and the protocol fuzz at 100,000 frames per variant instead of 5,000 (PUMP_PROTOCOL_SEED=N).
soak: $(STAMP)
	PUMP_FUZZ_CUTS=$${PUMP_FUZZ_CUTS:-2000} $(BIN)/python -m pytest -q -s hil_tests/test_pump_power_cut_fuzz.py
	PUMP_PROTOCOL_FRAMES=$${PUMP_PROTOCOL_FRAMES:-100000} $(BIN)/python -m pytest -q -s hil_tests/test_protocol_fuzz.py

demo: $(STAMP)
	$(BIN)/pumpctl demo

# make deploy BOARD=sim PORT=/path/to/link [STOP=1] [FROZEN=1]
deploy: $(STAMP)
	@if [ -z "$(BOARD)" ] || [ -z "$(PORT)" ]; then echo "usage: make deploy BOARD=<name> PORT=<serial port> [STOP=1] [FROZEN=1]"; exit 2; fi
	$(BIN)/pumpctl --port $(PORT) deploy --board $(BOARD) $(if $(STOP),--stop) $(if $(FROZEN),--frozen)

# Figures beside their baselines from the same run, into bench/results.json and bench/results.md
# (docs/benchmarks.md). make bench runs the fast sections (a few minutes); the slow ones each run
# the whole HIL suite: bench-hil times it serial and on 2 workers, bench-heap bisects the
# smallest heap it passes in (many runs). BENCH_HIL=1 / BENCH_HEAP=1 add them to make bench.
bench: $(STAMP)
	$(BIN)/python -m host_tools.bench

bench-hil: $(STAMP)
	$(BIN)/python -m host_tools.bench --only hil_time

bench-heap: $(STAMP)
	$(BIN)/python -m host_tools.bench --only heap_min

clean:
	rm -rf build .sim .pytest_cache
