# Boot entry: start the pump app; if it ever escapes, motor off first, then log and reset.
import sys

try:
    # drivers count steps and encoder edges in hard interrupts: an exception raised there needs a
    # buffer allocated now, as allocation is impossible inside the handler (absent on the unix port)
    import micropython
    micropython.alloc_emergency_exception_buf(100)
except (ImportError, AttributeError):
    pass


def _service_requested():
    import os
    try:
        os.remove("service.flag")
    except OSError:
        return False
    return True


def _log(exc):
    try:
        from pump import crash
        crash.record(exc)
    except BaseException:
        pass    # nothing may stand between the fault and the reset
    sys.print_exception(exc)


def _start():
    from pump.wiring import build_board
    try:
        board = build_board("board.json")
    except Exception as e:
        # No driver was built, so nothing can move: stay in the REPL for a redeploy.
        print("pump: cannot start: %s" % e)
        return
    from pump import crash
    if crash.streak() >= crash.MAX_STREAK:
        # the app crashed at every start: stay in the REPL, motor safe, for a bench engineer
        board.safe_state()
        print("pump: the app crashed %d times in a row (see crash.old); not restarting it. "
              "Fix or redeploy, then remove crash.streak" % crash.streak())
        return
    try:
        from pump.app import App
        App(board, crashed=crash.take()).run()
    except BaseException as e:
        board.safe_state()
        _log(e)
        board.system.reset()


if _service_requested():
    print("pump: service mode, app not started; REPL ready")
else:
    _start()
