# Boot ROM of the simulated board: bring up the sim hardware, mount the flash folder, run main.py.
#
# Started by the supervisor as `micropython -X heapsize=N simboot.py KEY=VALUE ...`. It plays the
# part of a port's C startup code: everything after it is the same firmware a real board runs.
import sys
import os
import micropython as _mp
import simhw
import sim_machine
import repl

VERSION = "%d.%d.%d" % sys.implementation.version[:3]


class _MicropythonModule:
    """The real micropython module, except kbd_intr, which the supervisor must know about.

    On a board Ctrl-C interrupts running code unless kbd_intr(-1); the unix port only knows
    SIGINT, so the supervisor turns the 0x03 byte into SIGINT while interrupts are enabled.
    """

    def __getattr__(self, name):
        return getattr(_mp, name)

    def kbd_intr(self, c):
        simhw.set_kbd_intr(c == 3)


def _args():
    a = {}
    for arg in sys.argv[1:]:
        k, v = arg.split("=", 1)
        a[k] = v
    return a


def _run_file(name, g):
    try:
        os.stat(name)
    except OSError:
        return
    with open(name) as f:
        src = f.read()
    simhw.set_kbd_intr(True)  # Ctrl-C interrupts main.py until the app says otherwise
    try:
        exec(compile(src, name, "exec"), g)
    except SystemExit:
        pass
    except BaseException as e:
        sys.print_exception(e)
    simhw.set_kbd_intr(False)


def main():
    a = _args()
    hold = None if a["hold"] == "-" else int(a["hold"])
    simhw.init(a["chan"], int(a["sim_ms"]), float(a["speed"]), hold)
    simhw.rtc_init(None if a.get("rtc", "-") == "-" else int(a["rtc"]))
    sim_machine._init(int(a["cause"]))
    sys.modules["machine"] = sim_machine
    sys.modules["micropython"] = _MicropythonModule()

    # The flash folder becomes the board's filesystem root, as littlefs is on a real board.
    os.umount("/")
    os.mount(os.VfsPosix(a["flash"]), "/")
    os.chdir("/")
    sys.path[:] = ["", ".frozen", "/lib"]

    g = {"__name__": "__main__"}
    if a["boot"] == "raw":
        # A soft reset from the raw REPL skips main.py and comes back in the raw REPL.
        repl.raw(g)
    else:
        _run_file("boot.py", g)
        _run_file("main.py", g)
    repl.friendly(g, VERSION)


main()
