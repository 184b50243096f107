# The sim board's REPL: friendly and raw modes (with raw-paste) as MicroPython's pyexec speaks them.
#
# mpremote and pyboard.py drive a board through exactly these bytes, so the sim must answer
# them the way a real board does, including soft reset on Ctrl-D.
import sys
import simhw

_RAW_BANNER = b"raw REPL; CTRL-B to exit\r\n"
_PASTE_WINDOW = 256
_BANNER = "MicroPython v%s on sim board (pump simulator, unix port)\r\nType \"help()\" for more information.\r\n"

_in = sys.stdin.buffer
_out = sys.stdout.buffer


def _w(b):
    _out.write(b)


def _read1():
    c = _in.read(1)
    if not c:
        simhw.halt()  # stdin closed: the supervisor is cutting power
    return c[0]


def _soft_reboot(kind):
    _w(b"MPY: soft reboot\r\n")
    simhw.request_reset(kind)


def _exec(code, g, mode="exec"):
    """Run code as a board does: exceptions print a traceback, SystemExit is silent."""
    simhw.set_kbd_intr(True)
    try:
        exec(compile(code, "<stdin>", mode), g)
    except SystemExit:
        pass
    except BaseException as e:
        sys.print_exception(e)
    finally:
        simhw.set_kbd_intr(False)


def _raw_paste():
    """Raw-paste mode: the host streams code in windows; we grant each window with 0x01."""
    _w(b"R\x01" + bytes((_PASTE_WINDOW & 0xFF, _PASTE_WINDOW >> 8)))
    buf = bytearray()
    since_grant = 0
    while True:
        c = _read1()
        if c == 0x04:
            _w(b"\x04")
            return bytes(buf)
        if c == 0x03:
            _w(b"\x04")
            return None
        buf.append(c)
        since_grant += 1
        if since_grant == _PASTE_WINDOW:
            since_grant = 0
            _w(b"\x01")


def raw(g):
    """Raw REPL: '>' prompt, code until Ctrl-D, then OK, output, 0x04, error, 0x04."""
    simhw.set_kbd_intr(False)  # at a prompt Ctrl-C is a byte to read, not an interrupt
    _w(_RAW_BANNER)
    while True:
        _w(b">")
        buf = bytearray()
        while True:
            c = _read1()
            if c == 0x01:
                _w(b"\r\n" + _RAW_BANNER + b">")
                buf = bytearray()
            elif c == 0x02:
                _w(b"\r\n")
                return
            elif c == 0x03:
                buf = bytearray()
            elif c == 0x04:
                if not buf:
                    _soft_reboot(simhw.RESET_SOFT_RAW)
                _w(b"OK")
                break
            elif c == 0x05 and not buf:
                if _read1() == ord("A") and _read1() == 0x01:
                    code = _raw_paste()
                    if code is not None:
                        _run_raw(code, g)
                    _w(b">")
                else:
                    _w(b"R\x00")
            else:
                buf.append(c)
        _run_raw(bytes(buf), g)


def _run_raw(code, g):
    # Errors go after the first 0x04 so the host can tell output from exceptions.
    err = None
    simhw.set_kbd_intr(True)
    try:
        exec(code.decode(), g)
    except SystemExit:
        pass
    except BaseException as e:
        err = e
    finally:
        simhw.set_kbd_intr(False)
    _w(b"\x04")
    if err is not None:
        sys.print_exception(err)
    _w(b"\x04")


def _needs_more(lines):
    text = "\n".join(lines)
    if text.rstrip().endswith(":") or text.endswith("\\"):
        return True
    depth = 0
    for ch in text:
        if ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
    return depth > 0


def friendly(g, version):
    """The >>> prompt, with echo, backspace, continuation lines and the control keys."""
    simhw.set_kbd_intr(False)
    while True:
        _w((_BANNER % version).encode())
        mode = _friendly_loop(g)
        if mode == "raw":
            raw(g)


def _friendly_loop(g):
    lines = []
    line = bytearray()
    _w(b">>> ")
    last = 0
    while True:
        c = _read1()
        if c == 0x0A and last == 0x0D:
            last = c
            continue
        last = c
        if c == 0x01:
            _w(b"\r\n")
            return "raw"
        if c == 0x02:
            _w(b"\r\n")
            return "banner"
        if c == 0x03:
            lines, line = [], bytearray()
            _w(b"\r\nKeyboardInterrupt\r\n>>> ")
        elif c == 0x04:
            if not line and not lines:
                _w(b"\r\n")
                _soft_reboot(simhw.RESET_SOFT)
        elif c in (0x08, 0x7F):
            if line:
                line = line[:-1]
                _w(b"\x08 \x08")
        elif c in (0x0D, 0x0A):
            _w(b"\r\n")
            text = line.decode()
            line = bytearray()
            if lines:
                if text.strip():
                    lines.append(text)
                    _w(b"... ")
                    continue
            elif text.strip():
                lines = [text]
                if _needs_more(lines):
                    _w(b"... ")
                    continue
            if lines:
                code = "\n".join(lines) + "\n"
                lines = []
                _exec(code, g, "single")
            _w(b">>> ")
        elif c >= 0x20:
            line.append(c)
            _w(bytes((c,)))
