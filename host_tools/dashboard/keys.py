"""Single key presses from the terminal: cbreak mode while the dashboard runs, restored on any exit."""
import os
import select
import sys
import termios
import tty


class RawKeys:
    """with RawKeys() as keys: keys.read(timeout) -> one key ("b", "+", "esc"...) or None.

    cbreak, not raw: the terminal still turns Ctrl-C into SIGINT (KeyboardInterrupt ends the
    dashboard the way q does) and output keeps its newline handling, which rich relies on.
    The saved settings come back in __exit__, however the block ends.
    """

    def __init__(self, stream=None):
        self.stream = stream or sys.stdin
        self.fd = self.stream.fileno()
        self._saved = None

    def __enter__(self):
        if os.isatty(self.fd):
            self._saved = termios.tcgetattr(self.fd)
            tty.setcbreak(self.fd, termios.TCSANOW)
        return self

    def __exit__(self, *exc):
        self.restore()

    def restore(self):
        if self._saved is not None:
            termios.tcsetattr(self.fd, termios.TCSADRAIN, self._saved)
            self._saved = None

    def read(self, timeout):
        """The next key, waiting at most timeout seconds; None if none came."""
        ready, _, _ = select.select([self.fd], [], [], max(timeout, 0.0))
        if not ready:
            return None
        data = os.read(self.fd, 32)
        if not data:
            return "eof"          # stdin closed: end as q does
        return decode(data)


def decode(data):
    """Bytes read at one key press as a key name: the first character; escape sequences (arrows,
    function keys) as "esc"."""
    if data.startswith(b"\x1b"):
        return "esc"
    try:
        return data.decode("utf-8", "replace")[0]
    except IndexError:
        return None
