"""The slow parts: the HIL suite's wall time serial and on 2 workers, and the smallest heap it passes in.

Both run the whole suite (`python -m pytest -q hil_tests`) on simulated boards, minutes a run:
  - wall time: once serial (the baseline), once with `-n 2` (pytest-xdist, a sim per worker);
    the ratio is the speed-up;
  - smallest heap: `--sim-heap-kb N` gives every simulated board an N KB MicroPython heap; the
    suite must pass at the sim's default (the baseline), then N is bisected down to the import
    share (below which nothing boots), `-x` ending a failing run at its first failure.
"""
import os
import re
import subprocess
import sys
import time

from host_tools import paths
from host_tools.bench.control_loop import HEAP_TARGET_KB, run_loop_probe, smallest_heap_kb
from host_tools.bench.figures import Figure, Target
from host_tools.sim.supervisor import SIM_HEAP_KB

SUITE_TARGET_S = 180          # issue 8: the whole HIL suite runs in under 3 minutes
HEAP_STEP_KB = 8
_COUNT = re.compile(r"(\d+) (passed|failed|skipped|errors?|xfailed|xpassed|deselected)")
_FAILED = re.compile(r"^(?:FAILED|ERROR) (\S+)", re.M)


class HilBenchError(Exception):
    """pytest could not run the suite at all (not a failing test): its output says why."""


def run_suite(extra=(), echo=True):
    """One run of the HIL suite; {"ok", "wall_s", "counts", "failed", "memory_error", "args"}.
    echo: pass pytest's output through as it comes, as progress."""
    args = ["-q", "-p", "no:cacheprovider", "hil_tests"] + list(extra)
    env = dict(os.environ)
    env["PYTHONPATH"] = paths.REPO_DIR + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    t = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "pytest"] + args, cwd=paths.REPO_DIR, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    chunks = []
    while True:
        data = os.read(proc.stdout.fileno(), 4096)
        if not data:
            break
        chunks.append(data)
        if echo:
            sys.stdout.write(data.decode(errors="replace"))
            sys.stdout.flush()
    rc = proc.wait()
    wall = time.perf_counter() - t
    text = b"".join(chunks).decode(errors="replace")
    out = outcome(text)
    out.update(ok=passed(rc, out, text, args), wall_s=round(wall, 1), args=args)
    return out


def passed(rc, out, text="", args=()):
    """Whether a run passed, from pytest's exit code; HilBenchError when pytest could not run it."""
    if rc == 0:
        return True
    # 1: tests failed; 2: interrupted, which is also how pytest-xdist ends a run that -x stopped
    if rc == 1 or (rc == 2 and (out["failed"] or out["counts"].get("failed") or out["counts"].get("errors"))):
        return False
    raise HilBenchError("pytest %s ended with code %d: %s" % (" ".join(args), rc, text.strip()[-800:]))


def outcome(text):
    """{"counts": {"passed": n, ...}, "failed": [test ids]} from pytest -q's output."""
    tail = text.strip().splitlines()[-1] if text.strip() else ""
    counts = {}
    for n, what in _COUNT.findall(tail):
        counts["errors" if what == "error" else what] = int(n)
    return {"counts": counts, "failed": _FAILED.findall(text), "memory_error": "MemoryError" in text}


def _counts_text(run):
    return ", ".join("%d %s" % (n, k) for k, n in sorted(run["counts"].items())) or "no tests"


def measure_time(say=print, workers=2):
    say("HIL suite, serial (the baseline)")
    serial = run_suite()
    say("  %.0f s: %s" % (serial["wall_s"], _counts_text(serial)))
    say("HIL suite, %d workers" % workers)
    parallel = run_suite(["-n", str(workers)])
    say("  %.0f s: %s" % (parallel["wall_s"], _counts_text(parallel)))
    return {"serial": serial, "parallel": parallel, "workers": workers}


def time_figures(m):
    s, p = m["serial"], m["parallel"]
    serial_met = s["wall_s"] < SUITE_TARGET_S
    note = ("serial: %s; %d workers: %s; serial %s the target"
            % (_counts_text(s), m["workers"], _counts_text(p), "meets" if serial_met else "misses"))
    bad = s["failed"] + p["failed"]
    if bad:
        note += "; failed: %s" % ", ".join(sorted(set(bad)))
    return [Figure("hil_wall_s_workers", "HIL suite wall time, %d workers (pytest -n %d)" % (m["workers"], m["workers"]),
                   p["wall_s"], "s", s["wall_s"], "the same suite serial", target=Target("<", SUITE_TARGET_S),
                   inverse=True, ratio_says="speed-up", note=note)]


def _mpy_bytes():
    from host_tools.deploy import build_manifest
    files, _ = build_manifest("sim")
    return sum(len(data) for path, data in files.items() if path.endswith(".mpy"))


def measure_heap(say=print, step=HEAP_STEP_KB, workers=2):
    """Bisect the smallest --sim-heap-kb at which the whole suite passes."""
    # --tb=short keeps the sims' logs, which the fixtures print for a failed test: a MemoryError
    # there tells a heap failure from a flaky one
    extra = ["-x", "--tb=short"] + (["-n", str(workers)] if workers > 1 else [])
    say("the import share: what importing the firmware takes on the unix port")
    code = run_loop_probe(hours=0)["code"]
    mpy = _mpy_bytes()
    lo = int(code // 1024)   # nothing boots in less than its own import
    runs = []

    def works(kb):
        say("[heap] HIL suite at %d KB (run %d)" % (kb, len(runs) + 1))
        r = run_suite(extra + ["--sim-heap-kb", str(kb)])
        r["heap_kb"] = kb
        runs.append(r)
        failed = "; " + ", ".join(r["failed"]) if r["failed"] else ""
        if not r["ok"]:
            failed += (" (a MemoryError in the output)" if r["memory_error"] else
                       " (no MemoryError in the output: maybe not the heap; see above)")
        say("[heap] %d KB: %s in %.0f s: %s%s" % (kb, "passed" if r["ok"] else "FAILED", r["wall_s"],
                                                 _counts_text(r), failed))
        return r["ok"]

    out = {"smallest_kb": None, "default_kb": SIM_HEAP_KB, "code": code, "mpy": mpy, "runs": runs,
           "step_kb": step, "workers": workers}
    if not works(SIM_HEAP_KB):
        out["error"] = "the suite fails at the sim's default %d KB: fix that first" % SIM_HEAP_KB
        return out
    out["smallest_kb"], _ = smallest_heap_kb(works, lo, SIM_HEAP_KB, step)
    return out


def heap_figures(m):
    kb = 1024.0
    code_kb = m["code"] / kb
    smallest = m["smallest_kb"]
    failing = [r["heap_kb"] for r in m.get("runs", []) if not r["ok"]]
    note = ("bisected to %d KB with `pytest -x hil_tests --sim-heap-kb N`%s; the import share is %.1f KB "
            "(bytecode, %.1f KB as .mpy files, and module objects), which a board keeps mostly in flash"
            % (m.get("step_kb", HEAP_STEP_KB),
               "; fails at %d KB" % max(failing) if failing and smallest is not None else "", code_kb,
               m["mpy"] / kb))
    err = m.get("error")
    return [
        Figure("hil_heap_min_kb", "smallest -X heapsize at which the whole HIL suite passes", smallest, "KB",
               m["default_kb"], "the sim's default heap", note=note, error=err),
        Figure("hil_heap_beyond_import_kb", "smallest heap for the whole HIL suite, beyond the firmware's import",
               None if smallest is None else smallest - code_kb, "KB", m["default_kb"] - code_kb,
               "the sim's default, beyond the import", target=Target("<=", HEAP_TARGET_KB), error=err),
    ]
