"""python -m host_tools.bench: run the benchmark sections, print each table, write bench/results.*.

    python -m host_tools.bench                 the fast sections (make bench, a few minutes)
    python -m host_tools.bench --hil           also the HIL suite's wall time (make bench-hil)
    python -m host_tools.bench --heap          also the smallest heap for the HIL suite (make bench-heap)
    python -m host_tools.bench --only deploy   just these sections
    python -m host_tools.bench --rebuild       figures and results.md again from the kept raw numbers
Sections not run this time keep their figures from the last run that measured them.
"""
import argparse
import os
import shutil
import sys
import tempfile
import time

from host_tools import paths
from host_tools.bench import control_loop, deploy_time, hil, machine, occlusion, results, sim_speed
from host_tools.keys import KEYS_ENV

OUT_DIR = os.path.join(paths.REPO_DIR, "bench")


def _runners(args):
    """{section: (measure(say), figures(raw))}."""
    return {
        "sim_speed": (sim_speed.measure, sim_speed.figures),
        "control_loop": (lambda say: control_loop.measure(say, hours=args.loop_hours), control_loop.figures),
        "occlusion": (occlusion.measure, occlusion.figures),
        "deploy": (lambda say: deploy_time.measure(say, reps=args.deploy_reps), deploy_time.figures),
        "hil_time": (lambda say: hil.measure_time(say, workers=args.workers), hil.time_figures),
        "heap_min": (lambda say: hil.measure_heap(say, step=args.heap_step_kb, workers=args.heap_workers),
                     hil.heap_figures),
    }


def _positive(kind):
    def parse(text):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError("not a number: %r" % text)
        if value <= 0:
            raise argparse.ArgumentTypeError("must be above 0, got %s" % text)
        return value
    return parse


def parse_args(argv):
    p = argparse.ArgumentParser(prog="python -m host_tools.bench",
                                description="Benchmarks, each figure beside its baseline from the same run "
                                            "(docs/benchmarks.md).")
    names = [name for name, _, _ in results.CATALOG]
    p.add_argument("--hil", action="store_true", default=os.environ.get("BENCH_HIL") == "1",
                   help="also time the whole HIL suite, serial and with --workers (slow; or BENCH_HIL=1)")
    p.add_argument("--heap", action="store_true", default=os.environ.get("BENCH_HEAP") == "1",
                   help="also bisect the smallest heap the HIL suite passes in (very slow; or BENCH_HEAP=1)")
    p.add_argument("--only", nargs="+", choices=names, metavar="SECTION",
                   help="run only these sections: %s" % ", ".join(names))
    p.add_argument("--out", default=OUT_DIR, help="folder for results.json and results.md (default: bench/)")
    p.add_argument("--loop-hours", type=_positive(float), default=control_loop.LOOP_HOURS,
                   help="simulated hours of the flex week in the control-loop probe (default %(default)s)")
    p.add_argument("--deploy-reps", type=_positive(int), default=deploy_time.REPS,
                   help="fresh sims to deploy to; the median counts (default %(default)s)")
    p.add_argument("--workers", type=_positive(int), default=2,
                   help="pytest-xdist workers for the parallel HIL run (default %(default)s)")
    p.add_argument("--heap-step-kb", type=_positive(int), default=hil.HEAP_STEP_KB,
                   help="resolution of the heap bisection (default %(default)s)")
    p.add_argument("--heap-workers", type=_positive(int), default=2,
                   help="pytest-xdist workers for each heap-bisection run (default %(default)s; 1: serial)")
    p.add_argument("--rebuild", action="store_true",
                   help="measure nothing: recompute the figures and results.md from the raw measurements "
                        "kept in results.json (after a change to how figures are derived or shown)")
    args = p.parse_args(argv)
    if args.only:
        args.sections = [n for n in names if n in args.only]
    else:
        args.sections = list(results.FAST) + (["hil_time"] if args.hil else []) + (["heap_min"] if args.heap else [])
    return args


def _say(message):
    print(message, flush=True)


def run_section(name, runner, command, info):
    measure, to_figures = runner
    _say("\n== %s ==" % results.TITLES[name])
    info = dict(info)
    try:
        info["load_avg"] = round(os.getloadavg()[0], 2)
    except OSError:
        pass
    t = time.perf_counter()
    try:
        raw = measure(_say)
        figs = to_figures(raw)
        error = None
    except KeyboardInterrupt:
        raise
    except Exception as e:       # one broken section must not cost the others their figures
        raw, figs, error = None, [], "%s: %s" % (type(e).__name__, e)
        _say("bench: %s failed: %s" % (name, error))
    wall = round(time.perf_counter() - t, 1)
    section = results.Section(name, machine.now(), command, info, wall, figs,
                              details=raw if isinstance(raw, dict) else None, error=error)
    if figs:
        _say(results.table(figs))
        n = results.notes(figs)
        if n:
            _say(n)
    _say("(%s: %.0f s)" % (name, wall))
    return section


def rebuild(args):
    """Figures again from each kept section's raw measurements; sections without them stay as they are."""
    path = os.path.join(args.out, "results.json")
    kept = results.load(path)
    if not kept:
        _say("bench: nothing to rebuild: no readable %s" % path)
        return 1
    runners = _runners(args)
    for s in kept.values():
        if s.details and not s.error and s.name in runners:
            s.figures = runners[s.name][1](s.details)
    js, md = results.write(args.out, results.merge(kept, []), machine.now())
    _say("rebuilt %s, %s from the kept measurements" % (js, md))
    return 0


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    if args.rebuild:
        return rebuild(args)
    command = " ".join(["python -m host_tools.bench"] + (sys.argv[1:] if argv is None else list(argv)))
    info = machine.describe()
    _say("bench: %s; sections: %s" % (results.machine_text(info), ", ".join(args.sections)))
    runners = _runners(args)
    kept = results.load(os.path.join(args.out, "results.json"))
    fresh = []
    # the sims' deploys give each board a device key: keep them out of the user's key store
    keys = None
    if not os.environ.get(KEYS_ENV):
        keys = tempfile.mkdtemp(prefix="pumpbenchkeys")
        os.environ[KEYS_ENV] = keys
    t = time.perf_counter()
    try:
        for name in args.sections:
            fresh.append(run_section(name, runners[name], command, info))
            js, md = results.write(args.out, results.merge(kept, fresh), machine.now())
    except KeyboardInterrupt:
        _say("\nbench: interrupted; the sections finished so far are in %s" % args.out)
        return 130
    finally:
        if keys is not None:
            del os.environ[KEYS_ENV]
            shutil.rmtree(keys, ignore_errors=True)
    failed = [s.name for s in fresh if s.error]
    _say("\nwritten: %s, %s (%.0f s in all)" % (js, md, time.perf_counter() - t))
    if failed:
        _say("bench: failed sections: %s (their errors are in results.md)" % ", ".join(failed))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
