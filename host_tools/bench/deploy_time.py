"""Deploy time: a full deploy onto a blank sim board (the baseline), then again with nothing changed.

Each repetition starts a fresh sim with an empty flash, as a newly flashed board, and times
host_tools/deploy.py's deploy() as `pumpctl deploy` runs it (service mode, hashes, copy, verify,
restart, wait for the app). The .mpy cache is warmed first, so neither time includes mpy-cross;
the second deploy must find nothing to copy, or the figure is refused.
"""
import shutil
import statistics
import tempfile
import time

from host_tools.bench.figures import Figure
from host_tools.deploy import compile_firmware, deploy
from host_tools.sim.launch import SimProcess

REPS = 3


class DeployBenchError(Exception):
    """The second deploy copied files: the "nothing changed" figure would be a lie."""


def measure(say=print, reps=REPS):
    compile_firmware()
    full, again, files = [], [], 0
    for i in range(reps):
        home = tempfile.mkdtemp(prefix="pumpdeploy")
        try:
            with SimProcess(home) as sim:
                t = time.perf_counter()
                r = deploy(sim.link, "sim")
                full.append(time.perf_counter() - t)
                files = len(r["changed"])
                t = time.perf_counter()
                r2 = deploy(sim.link, "sim")
                again.append(time.perf_counter() - t)
                if r2["changed"]:
                    raise DeployBenchError("the second deploy copied %s" % ", ".join(r2["changed"]))
        finally:
            shutil.rmtree(home, ignore_errors=True)
        say("  [%d/%d] full %.1f s (%d files), nothing changed %.1f s" % (i + 1, reps, full[-1], files, again[-1]))
    return {"full": full, "again": again, "files": files}


def figures(m):
    return [Figure("deploy_unchanged_s", "deploy with nothing changed", statistics.median(m["again"]), "s",
                   statistics.median(m["full"]), "a full deploy of %d files onto a blank sim" % m["files"],
                   inverse=True, ratio_says="faster",
                   note="median of %d fresh sims; full %s s, nothing changed %s s"
                        % (len(m["full"]), ", ".join("%.1f" % x for x in m["full"]),
                           ", ".join("%.1f" % x for x in m["again"])))]
