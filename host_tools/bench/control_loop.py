"""Heap per pass of the whole control loop in steady state, and the heap a program upload needs.

Both run on the MicroPython unix port, on the firmware compiled to .mpy as a deploy sends it:
  - tests/firmware/loop_probe.py runs the app's real loop with the sim board's drivers (pressure
    at 1 Hz, host_tools/bench/monitored_board.py): an idle hour (the baseline), then the 48-step
    flex week; gc.mem_alloc() at the end of every pass, with the collector off, gives each pass's
    allocation exactly, and collections between passes give the live heap;
  - tests/firmware/heap_probe.py follows the pump's own upload path (parse each part, check,
    digest, summary, read back, plan) at shrinking heap sizes: the smallest heap that takes the
    48-step week, against the smallest that takes a one-rate basal program.
Heap figures exclude what importing the firmware takes: the unix port loads the bytecode into
the heap, a board keeps it frozen in flash.
"""
import json
import os
import re
import subprocess

from host_tools import paths
from host_tools.bench import monitored_board
from host_tools.bench.figures import Figure, Target
from host_tools.bench.probes import PROBES, flex_week_doc
from host_tools.deploy import compile_firmware

HEAP_TARGET_KB = 64        # issue 8: the full feature set runs in a 64 KB heap
PROBE_HEAP_KB = 600        # room for the probe's own helpers and a program upload; not measured
LOOP_HOURS = 12            # of the flex week, after an hour's warm-up
_PHASE = re.compile(r"^phase (\w+) (.*)$")


class ProbeError(Exception):
    """A probe on MicroPython failed: its output says why."""


def _mpy_dir():
    compile_firmware()        # the .mpy files a deploy would copy, into build/mpy
    return os.path.join(paths.BUILD_DIR, "mpy")


def _kv(text):
    return {k: int(v) for k, v in (kv.split("=") for kv in text.split() if "=" in kv)}


def run_loop_probe(hours=LOOP_HOURS, heap_kb=PROBE_HEAP_KB):
    """{"idle": {...}, "flex": {...}, "code": bytes, "probe_code": bytes, "block": bytes}."""
    board = monitored_board.write_board_file(os.path.join(paths.BUILD_DIR, "bench-monitored-board.json"))
    r = subprocess.run([paths.micropython(), "-X", "heapsize=%dk" % heap_kb,
                        os.path.join(PROBES, "loop_probe.py"), board, _mpy_dir(), str(hours)],
                       capture_output=True, text=True, timeout=1800)
    if r.returncode != 0 or not r.stdout.strip().endswith(" ok"):
        raise ProbeError("loop_probe failed: %s" % (r.stderr.strip() or r.stdout.strip())[-600:])
    return parse_loop_output(r.stdout)


def parse_loop_output(text):
    """loop_probe's lines as {"idle": {...}, "flex": {...}, "code": .., "probe_code": .., "block": ..}."""
    lines = text.strip().splitlines()
    out = _kv(lines[-1])
    for line in lines:
        m = _PHASE.match(line)
        if m:
            out[m.group(1)] = _kv(m.group(2))
    return out


def _heap_run(args, heap_kb):
    r = subprocess.run([paths.micropython(), "-X", "heapsize=%dk" % heap_kb] + args,
                       capture_output=True, text=True, timeout=120)
    last = r.stdout.strip().splitlines()[-1] if r.stdout.strip() else r.stderr.strip()
    return last


def smallest_heap_kb(works, lo, hi, step=4):
    """The smallest heap (KB, to `step`) at which works(kb) holds, knowing it fails at lo (or
    below) and holds at hi; works is assumed monotonic. Returns (kb, [(kb, ok) tried])."""
    tried = []
    while hi - lo > step:
        mid = (lo + hi) // 2
        ok = works(mid)
        tried.append((mid, ok))
        if ok:
            hi = mid
        else:
            lo = mid
    return hi, tried


def _wire(path, doc):
    paths.use_firmware_modules()
    from pump.program import split_parts
    with open(path, "w") as f:
        for p, v in split_parts(doc):
            f.write(json.dumps({"path": p, "value": v}) + "\n")
    return path


def basal_doc(flex):
    """The flex week's program as one all-day rate, no boluses: the smallest program there is."""
    doc = {k: v for k, v in flex.items() if k not in ("flex", "periodic")}
    doc["name"] = "basal"
    doc["basal"] = {"rate": 2.4}
    return doc


def program_heap(doc, name, mpy):
    """(smallest heap KB that uploads, confirms and plans doc, the import share in bytes)."""
    wire = _wire(os.path.join(paths.BUILD_DIR, "bench-wire-%s.jsonl" % name), doc)
    args = [os.path.join(PROBES, "heap_probe.py"), wire, paths.REPO_DIR, mpy]
    lo, hi = 32, 640
    last = _heap_run(args, hi)
    if not last.endswith(" ok"):
        raise ProbeError("heap_probe fails with the %s program even with %d KB: %s" % (name, hi, last))
    kb, _ = smallest_heap_kb(lambda k: _heap_run(args, k).endswith(" ok"), lo, hi)
    return kb, _kv(_heap_run(args, kb))["code"]


def measure(say=print, hours=LOOP_HOURS):
    say("control loop on the MicroPython unix port: an idle hour, then %g h of the flex week" % hours)
    loop = run_loop_probe(hours)
    say("  done: %d idle passes, %d flex passes" % (loop["idle"]["passes"], loop["flex"]["passes"]))
    mpy = _mpy_dir()
    flex = flex_week_doc()
    say("smallest heap for a program upload: the 48-step week, then a basal program (bisecting)")
    week_kb, week_code = program_heap(flex, "week", mpy)
    basal_kb, basal_code = program_heap(basal_doc(flex), "basal", mpy)
    say("  %d KB and %d KB with the bytecode" % (week_kb, basal_kb))
    return {"loop": loop, "week_kb": week_kb, "week_code": week_code,
            "basal_kb": basal_kb, "basal_code": basal_code}


def _per_pass(p):
    return p["alloc_bytes"] / max(p["passes"], 1)


def _per_sim_s(p):
    return p["alloc_bytes"] / max(p["sim_ms"] / 1000.0, 1e-9)


def figures(m):
    loop = m["loop"]
    idle, flex = loop["idle"], loop["flex"]
    imported = loop["code"] + loop["probe_code"]      # both in the live heap; neither is data
    kb = 1024.0
    live_idle = (idle["live_max"] - imported) / kb
    live_flex = (flex["live_max"] - imported) / kb
    block = loop["block"]
    idle_is = "an idle pass: same board and loop, motor stopped"
    return [
        Figure("loop_alloc_per_pass", "heap allocated per control-loop pass, flex week at 1 Hz",
               _per_pass(flex), "bytes", _per_pass(idle), idle_is,
               note="%d passes in %.0f simulated h, %d steps, %d pressure readings; %.1f heap blocks "
                    "a pass (%d-byte blocks on this 64-bit unix port, 16 on a 32-bit board)"
                    % (flex["passes"], flex["sim_ms"] / 3.6e6, flex["steps"], flex["reads"],
                       _per_pass(flex) / block, block)),
        Figure("loop_alloc_per_sim_s", "heap allocated per simulated second, flex week at 1 Hz",
               _per_sim_s(flex), "bytes", _per_sim_s(idle), "an idle second"),
        Figure("loop_max_pass", "largest allocation of one pass", flex["max_pass_bytes"], "bytes",
               idle["max_pass_bytes"], "the largest idle pass"),
        Figure("loop_live_kb", "live heap in steady state, beyond the firmware's import", live_flex,
               "KB", live_idle, "idle",
               note="the firmware's import takes %.1f KB on the unix port (bytecode and module "
                    "objects; a board keeps the bytecode in flash)" % (loop["code"] / kb)),
        Figure("loop_peak_kb", "peak heap in steady state (live + largest pass), beyond the import",
               live_flex + flex["max_pass_bytes"] / kb, "KB", live_idle + idle["max_pass_bytes"] / kb,
               "idle", target=Target("<=", HEAP_TARGET_KB)),
        Figure("program_heap_kb", "smallest heap to upload, confirm and plan the 48-step week, beyond the import",
               m["week_kb"] - m["week_code"] / kb, "KB", m["basal_kb"] - m["basal_code"] / kb,
               "a one-rate basal program", target=Target("<=", HEAP_TARGET_KB),
               note="%d KB in all, %.1f KB of it the import; bisected to 4 KB" % (m["week_kb"], m["week_code"] / kb)),
    ]
