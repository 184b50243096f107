# Measures the heap a 48-step weekly program costs on the pump, following the pump's own upload path.
#
#   python tests/firmware/heap_probe.py WIRE            (CPython: writes the parts, as a host sends them)
#   .venv/bin/micropython -X heapsize=256k tests/firmware/heap_probe.py WIRE ROOT MODULE_DIR
# ROOT is the repository; MODULE_DIR holds the firmware modules to import (`make bench` passes
# the compiled .mpy folder, as deployed). Prints one line of key=value figures:
#   code      bytes the firmware's modules take once imported (a board keeps them in flash)
#   garbage   the most one stage (parse a part, check it, finish, digest, summary, read back)
#             allocated from a collected heap, garbage included: what the collector must free
#   retained  what the applied program and its planner keep after a collection
# It ends with "ok" only if the whole path ran: host_tools/bench/control_loop.py runs it at
# shrinking heap sizes to find the smallest heap the pump needs.
# flex_week_doc() is also what host_tools/bench loads on the sim and in tests/firmware/loop_probe.py.
import gc
import json
import sys


def flex_week_doc():
    """48 half-hour steps a day, every weekday different, with periodic boluses: the biggest
    schedule a program can hold."""
    days = {}
    for d, name in enumerate(("mon", "tue", "wed", "thu", "fri", "sat", "sun")):
        days[name] = [{"start": "%02d:%02d" % (i // 2, 30 * (i % 2)),
                       "rate": round(1 + ((i * 7 + d * 3) % 40) / 10, 3)} for i in range(48)]
    return {"format": 1, "name": "48-step week", "purpose": "bench",
            "drug": {"name": "saline", "concentration": 9, "concentration_units": "mg/mL",
                     "dose_units": "mL/day"},
            "reservoir": {"capacity_ml": 20, "volume_ml": 20, "low_ml": 2},
            "flex": {"steps": days["mon"], "days": days},
            "periodic": {"dose": 0.05, "duration_min": 10, "interval_min": 120, "first": "00:15"}}


def _stage(fn, peaks):
    gc.collect()
    before = gc.mem_alloc()
    out = fn()
    peaks.append(gc.mem_alloc() - before)
    if "-v" in sys.argv:
        print("stage", len(peaks), peaks[-1])
    return out


def write_wire(path, firmware):
    """The program as the host sends it: one JSON line per part."""
    sys.path.insert(0, firmware)
    from pump.program import split_parts
    with open(path, "w") as f:
        for p, v in split_parts(flex_week_doc()):
            f.write(json.dumps({"path": p, "value": v}) + "\n")


def main(wire, root, modules):
    sys.path.insert(0, modules)
    gc.collect()
    start = gc.mem_alloc()
    import pump.app                                          # noqa: F401  everything the pump imports
    from pump.board_config import load_board
    from pump.program import ProgramBuilder, load_library, digest, summary, canonical_parts
    from pump.planner import Delivery
    gc.collect()
    code = gc.mem_alloc() - start
    cfg = load_board(root + "/boards/sim/board.json")
    library = load_library(root + "/firmware/drugs.json")
    gc.collect()
    base = gc.mem_alloc()
    peaks = []
    builder = ProgramBuilder(cfg, library)
    with open(wire) as f:
        while True:
            line = f.readline()
            if not line:
                break
            part = _stage(lambda: json.loads(line), peaks)
            _stage(lambda: builder.add(part["path"], part["value"]), peaks)
            part = line = None
    program = _stage(lambda: builder.finish(None), peaks)
    builder = None
    _stage(lambda: digest(program), peaks)
    _stage(lambda: json.dumps(summary(program, False)), peaks)
    parts = canonical_parts(program)
    for i in range(len(parts)):
        _stage(lambda: json.dumps(parts[i]), peaks)
    delivery = _stage(lambda: Delivery(program, 4 * 86400000, 100000), peaks)
    gc.collect()
    retained = gc.mem_alloc() - base
    print("code=%d garbage=%d retained=%d heap=%d steps_mon=%d ok"
          % (code, max(peaks), retained, gc.mem_alloc() + gc.mem_free(),
             len(program.days[0].starts_ms)))
    return delivery


if __name__ == "__main__":
    if sys.implementation.name == "micropython":
        main(sys.argv[1], sys.argv[2], sys.argv[3])
    else:
        write_wire(sys.argv[1], sys.path[0] + "/../../firmware")
