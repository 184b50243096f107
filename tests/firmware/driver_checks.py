# Checks the driver tests share: find an event on the fake hardware's trace, expect a config error at a path.
from pump.errors import ConfigError


def index_of(tr, source, what, value=None, start=0):
    """The index of the first trace event from start matching source, what (and value), or -1."""
    for i in range(start, len(tr.events)):
        e = tr.events[i]
        if e[1] == source and e[2] == what and (value is None or e[3] == value):
            return i
    return -1


def expect_config_error(fn, path):
    """fn() must raise ConfigError whose first problem is at path."""
    try:
        fn()
    except ConfigError as e:
        assert e.problems[0][0] == path, e.problems
        return
    raise AssertionError("no ConfigError for %s" % path)
