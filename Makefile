# The two set-up commands are `make demo` and `make test`; everything they need is installed here.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PIP := $(BIN)/pip --disable-pip-version-check --quiet

.PHONY: venv labgrid-venv tmux test unit hil soak demo deploy bench bench-hil bench-heap iec service clean typecheck firmware

$(STAMP): pyproject.toml requirements.lock
	$(PYTHON) -m venv $(VENV)
	$(PIP) install -r requirements.lock
	$(PIP) install --no-deps -e .
	touch $@

venv: $(STAMP)

# labgrid in a venv of its own: it needs pyserial-labgrid, which ships the same `serial` package
# as .venv's pyserial (docs/labgrid.md). Pinned, --no-deps: mpremote runs on pyserial-labgrid.
LG_VENV := build/labgrid-venv
LG_STAMP := $(LG_VENV)/.installed
$(LG_STAMP): pyproject.toml requirements-labgrid.lock
	rm -rf $(LG_VENV)
	$(PYTHON) -m venv $(LG_VENV)
	$(LG_VENV)/bin/pip --disable-pip-version-check --quiet install --no-deps -r requirements-labgrid.lock
	$(LG_VENV)/bin/pip --disable-pip-version-check --quiet install --no-deps -e .
	touch $@

labgrid-venv: $(LG_STAMP)

# The firmware type-checked per port first, then its unit tests on the MicroPython unix port,
# then everything under pytest (the same firmware tests on CPython, host tests, and the HIL suite
# on a simulated board; the host tests compile every firmware file with mpy-cross, and run a
# HIL subset through labgrid on a loopback lab).
# The dashboard's test drives it in a real terminal: tmux. Debian's package, installed here when
# missing and this user may (CI runs as root); otherwise one line saying what to install.
tmux:
	@command -v tmux >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 \
	  && apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq tmux >/dev/null; } \
	  || { echo "make: tmux is needed for the dashboard's terminal test: install it (apt-get install tmux)"; exit 1; }

test: $(STAMP) typecheck labgrid-venv tmux
	$(BIN)/micropython tests/mprun.py
	$(BIN)/python -m pytest -q -n 2

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

# the HIL suite alone, with the JUnit XML a CI system reads (docs/hil.md)
hil: $(STAMP)
	$(BIN)/python -m pytest -q hil_tests --junitxml build/hil-junit.xml

# The soak first: 90 simulated days of an intrathecal program through refills, demand boluses,
# occlusions, power cuts and resets, instead of the test run's 30 (docs/soak.md). A new seed each
# run, printed: PUMP_SOAK_SEED=N replays one, PUMP_SOAK_DAYS=N changes the length; the summary
# goes to build/soak/summary.json. Then the power-cut fuzz at 2000 cuts instead of the test run's
# 200 (PUMP_FUZZ_SEED=N replays a run), and the protocol fuzz at 100,000 frames per variant
# instead of 5,000 (PUMP_PROTOCOL_SEED=N).
soak: $(STAMP)
	PUMP_SOAK_DAYS=$${PUMP_SOAK_DAYS:-90} PUMP_SOAK_SEED=$${PUMP_SOAK_SEED:-random} $(BIN)/python -m pytest -q -s hil_tests/test_soak.py
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

# The IEC 60601-2-24 bench method on a fresh simulated board (docs/iec-bench.md): CSV, PNG and
# summary.json in build/iec/. A real board: make iec ARGS="--port P --rig R --board NAME"
iec: $(STAMP)
	$(BIN)/python -m host_tools.iec_bench $(ARGS)

clean:
	rm -rf build .sim .pytest_cache
