# Typed error codes shared by the firmware and the host tools (the host imports this file).

# Each code is a stable string on the wire; the host maps them to messages and exit codes.
BAD_JSON = "bad_json"              # a line that is not a JSON object
LINE_TOO_LONG = "line_too_long"    # a line over the input bound; the excess was discarded
BAD_REQUEST = "bad_request"        # a JSON object without a usable id or cmd
UNKNOWN_COMMAND = "unknown_command"
BAD_ARG = "bad_arg"                # an argument missing, of the wrong type or out of bounds
BAD_STATE = "bad_state"            # the command is not allowed in the pump's current state
LIMIT = "limit"                    # a request above a hard limit of the board or program
BAD_CONFIG = "bad_config"          # board.json refused at load
BAD_PROGRAM = "bad_program"        # a therapy program refused by its validator
INTERNAL = "internal"              # a fault inside the firmware; the motor was made safe
AUTH_REQUIRED = "auth_required"    # the command needs a role this link has not proven (error.role)
AUTH_FAILED = "auth_failed"        # a challenge answered wrongly, late, twice, or for another role
AUTH_LOCKED = "auth_locked"        # too many failed answers: none is checked until error.retry_after_s
BAD_VERSION = "bad_version"        # hello offered no protocol version this firmware speaks

CODES = (BAD_JSON, LINE_TOO_LONG, BAD_REQUEST, UNKNOWN_COMMAND, BAD_ARG, BAD_STATE,
         LIMIT, BAD_CONFIG, BAD_PROGRAM, INTERNAL, AUTH_REQUIRED, AUTH_FAILED, AUTH_LOCKED, BAD_VERSION)


class PumpError(Exception):
    """A refusal with a code, the path of the field at fault (or None), a readable message, and any
    fields a host acts on (extra: the role to prove, the seconds to wait)."""

    def __init__(self, code, message, path=None, extra=None):
        super().__init__(message)
        self.code = code
        self.message = message
        self.path = path
        self.extra = extra

    def to_dict(self):
        d = {"code": self.code, "message": self.message}
        if self.path is not None:
            d["path"] = self.path
        if self.extra:
            d.update(self.extra)
        return d


class ConfigError(PumpError):
    """Every problem found in one board.json, reported together (each an (path, message) pair)."""

    def __init__(self, problems):
        self.problems = problems
        lines = ["%s: %s" % (p, m) for p, m in problems]
        super().__init__(BAD_CONFIG, "; ".join(lines), problems[0][0] if problems else None)


class ProgramError(PumpError):
    """Every problem found in one therapy program, reported together (each an (path, message) pair)."""

    def __init__(self, problems):
        self.problems = problems
        lines = ["%s: %s" % (p, m) for p, m in problems]
        super().__init__(BAD_PROGRAM, "; ".join(lines), problems[0][0] if problems else None)


class TooLarge(ValueError):
    """A file or record over its size limit, refused before it is read into RAM or written."""

    def __init__(self, name, size, limit):
        super().__init__("%s: too large (%d bytes, limit %d)" % (name, size, limit))
        self.name = name
        self.size = size
        self.limit = limit
