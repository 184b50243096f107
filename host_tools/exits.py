"""pumpctl's exit codes and its one-line error messages: `pumpctl: error: <what>; <hint>`."""
import sys

OK = 0            # done
ERROR = 1         # the link, the board, a file or the host tools failed; nothing was confirmed
USAGE = 2         # the command line itself is wrong (bad option, missing --port)
REFUSED = 3       # the pump (or its rules, checked on the host) said no, or a change was not confirmed
UNCERTAIN = 4     # a command that acts got no reply and the pump could not say whether it ran
INTERRUPTED = 130  # Ctrl-C (128 + SIGINT), except where Ctrl-C is the normal end (status --watch, demo)

# What to do next, by the pump's error code (firmware/pump/errors.py).
_DEVICE_HINTS = {
    "bad_state": "see what the pump is doing with pumpctl status and pumpctl alarms",
    "limit": "ask for less, within the board's and the program's limits (pumpctl program show FILE)",
    "bad_arg": "check the value against pumpctl COMMAND --help",
    "bad_program": "check the file with pumpctl program validate FILE",
    "unknown_command": "the firmware is older or newer than these tools: run pumpctl deploy --board NAME",
    "bad_json": "the link garbled the request: run the command again",
    "line_too_long": "the request was too long for the pump: run the command again",
    "bad_request": "the link garbled the request: run the command again",
    "bad_config": "fix the board's board.json and run pumpctl deploy --board NAME",
    "internal": "read the pump's log with pumpctl log --kind alarm and report it",
    "auth_required": "copy the pump's key file there, or set PUMPCTL_KEYS to its folder (docs/security.md)",
    "auth_failed": "the key file on this computer is not this pump's (see docs/security.md)",
    "auth_locked": "wait, then try again with the right key file",
    "bad_version": "update the host tools or deploy the matching firmware",
}

# What to do next, by how a link error's message starts (host_tools/client.py, deploy.py).
_LINK_HINTS = (
    ("no such port", "list the ports with pumpctl ports (or start a simulated board with pumpctl sim)"),
    ("no port given", "use --port PATH or set PUMPCTL_PORT; pumpctl ports lists them"),
    ("cannot open", "is it a serial port (pumpctl ports lists them) and free? close mpremote, screen "
                    "or another pumpctl using it"),
    ("lost the link", "check the cable or the simulated board, then run the command again"),
    ("cannot write", "check the cable or the simulated board, then run the command again"),
    ("no reply", "is the pump app running? deploy it with pumpctl deploy --board NAME"),
)


def one_line(text):
    """Messages from the pump, the link or a file, folded onto one line."""
    return " ".join(str(text).split())


def with_hint(what, hint):
    what = one_line(what)
    if not hint or hint in what or "pumpctl " in what or "`pumpctl" in what:
        return what          # the message already says what to do
    return "%s; %s" % (what, hint)


def link_hint(message):
    for start, hint in _LINK_HINTS:
        if message.startswith(start):
            return hint
    return None


def link_line(message):
    """A link error as `what; hint`: the client's own advice, if any, gives way to the hint."""
    message = one_line(message)
    hint = link_hint(message)
    if hint and message.startswith("no reply"):
        message = message.split(": is the pump app running?")[0]
    return with_hint(message, hint)


def device_hint(code):
    return _DEVICE_HINTS.get(code)


def error(what, hint=None, out=None):
    """Print `pumpctl: error: what; hint` on stderr and return ERROR."""
    print("pumpctl: error: %s" % with_hint(what, hint), file=out or sys.stderr)
    return ERROR


def refused(what, hint=None, out=None):
    """Print `pumpctl: refused: what; hint` on stderr and return REFUSED."""
    print("pumpctl: refused: %s" % with_hint(what, hint), file=out or sys.stderr)
    return REFUSED


def usage(what, hint=None, out=None):
    """Print `pumpctl: error: what; hint` on stderr and return USAGE."""
    print("pumpctl: error: %s" % with_hint(what, hint), file=out or sys.stderr)
    return USAGE
