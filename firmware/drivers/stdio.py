# The serial link over the board's stdio (USB CDC on a Pico, the pty on the sim), Ctrl-C as plain data.
import sys
import select

_READ_MAX = 256  # bytes per loop pass: a flood of input cannot starve the control loop


class StdioLink:
    def __init__(self, spec, cfg):
        try:
            import micropython
            micropython.kbd_intr(-1)  # a 0x03 byte on the link must never interrupt delivery
        except ImportError:
            pass
        self._in = sys.stdin.buffer
        self._out = sys.stdout.buffer
        self._poll = select.poll()
        self._poll.register(sys.stdin, select.POLLIN)

    def ready(self, timeout_ms):
        return bool(self._poll.poll(timeout_ms))

    def read_available(self):
        out = bytearray()
        while len(out) < _READ_MAX and self._poll.poll(0):
            b = self._in.read(1)
            if not b:
                break
            out += b
        return bytes(out)

    def write(self, data):
        self._out.write(data)


DRIVER = StdioLink
