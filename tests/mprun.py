# Runs the firmware unit tests on the MicroPython unix port: micropython tests/mprun.py [files...]

import gc
import os
import sys


def _dirname(p):
    i = p.rfind("/")
    if i < 0:
        return ""
    return p[:i] if i > 0 else "/"


def _abspath(p):
    return p if p.startswith("/") else os.getcwd() + "/" + p


def _print_exception(e):
    if hasattr(sys, "print_exception"):
        sys.print_exception(e)
    else:  # CPython, handy when debugging the runner itself
        import traceback
        traceback.print_exception(type(e), e, e.__traceback__)


def _asserts_work():
    # micropython -O strips asserts: every test would pass without checking anything
    try:
        assert False
    except AssertionError:
        return True
    return False


def _test_files(root, args):
    if args:
        return [_abspath(a) for a in args]
    d = root + "/tests/firmware"
    names = [n for n in os.listdir(d) if n.startswith("test_") and n.endswith(".py")]
    names.sort()
    return [d + "/" + n for n in names]


def _run_module(path):
    """Import one test file and run its test_ functions; return (passed, failed)."""
    d = _dirname(path)
    name = path[len(d) + 1:]
    if name.endswith(".py"):
        name = name[:-3]
    if d not in sys.path:
        sys.path.append(d)
    try:
        mod = __import__(name)
    except Exception as e:
        print("FAIL %s (import)" % name)
        _print_exception(e)
        return 0, 1
    passed = failed = 0
    # sorted: module dicts are not in definition order on MicroPython, keep runs repeatable
    for attr in sorted(dir(mod)):
        fn = getattr(mod, attr)
        if not attr.startswith("test_") or not callable(fn):
            continue
        try:
            # each test starts on a collected heap: leftovers of the last one would fragment
            # the 2 MB unix-port heap into MemoryErrors that say nothing about the test
            gc.collect()
            fn()
            passed += 1
        except Exception as e:
            failed += 1
            print("FAIL %s.%s" % (name, attr))
            _print_exception(e)
    return passed, failed


def main(argv):
    root = _dirname(_dirname(_abspath(argv[0]))) if argv and argv[0] else os.getcwd()
    # same import roots, in the same order, as tests/conftest.py gives pytest
    for p in (root + "/tests/firmware", root + "/firmware"):
        if p not in sys.path:
            sys.path.insert(0, p)
    if not _asserts_work():
        print("asserts are disabled (-O?): refusing to run the tests")
        return 2
    passed = failed = 0
    for path in _test_files(root, argv[1:]):
        p, f = _run_module(path)
        passed += p
        failed += f
    print("%d passed, %d failed" % (passed, failed))
    if passed + failed == 0:
        print("no tests found")
        return 1
    return 1 if failed else 0


sys.exit(main(sys.argv))
