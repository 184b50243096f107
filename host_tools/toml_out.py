"""Writes a program document back as TOML people can read and edit (tomllib only reads)."""
import json


def _value(v):
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return repr(v)
    if isinstance(v, str):
        return json.dumps(v, ensure_ascii=False)  # a JSON string is a valid TOML basic string
    if isinstance(v, list):
        return "[" + ", ".join(_value(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{ " + ", ".join("%s = %s" % (k, _value(v[k])) for k in v) + " }"
    raise TypeError("cannot write %r as TOML" % (v,))


def _is_table_list(v):
    return isinstance(v, list) and v and all(isinstance(x, dict) for x in v)


def _table(lines, name, d):
    scalars = [k for k in d if not isinstance(d[k], dict)]
    tables = [k for k in d if isinstance(d[k], dict)]
    if name is not None and (scalars or not tables):
        lines.append("")
        lines.append("[%s]" % name)
    for k in scalars:
        v = d[k]
        if _is_table_list(v):
            # one step per line: schedules are read as tables
            lines.append("%s = [" % k)
            lines.extend("  %s," % _value(x) for x in v)
            lines.append("]")
        else:
            lines.append("%s = %s" % (k, _value(v)))
    for k in tables:
        _table(lines, k if name is None else "%s.%s" % (name, k), d[k])


def dumps(doc, header=None):
    lines = ["# " + h for h in (header or [])]
    _table(lines, None, doc)
    return "\n".join(lines).lstrip("\n") + "\n"
