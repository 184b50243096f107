# A tiny data-driven validator for bounded JSON fields (board.json now, therapy programs later).
#
# A schema is a plain dict with a "type" and that type's bounds; containers nest schemas:
#
#   {"type": "int",  "ge": 100, "le": 8388}                  bounds: ge, gt, le, lt (all optional)
#   {"type": "num",  "gt": 0, "le": 100}                     int or float, never bool, finite
#   {"type": "num",  "ge": 0, "decimals": 3}                 ...and at most 3 decimals
#   {"type": "str",  "max_len": 32, "min_len": 1}            max_len or choices is required
#   {"type": "str",  "choices": ("unix", "rp2")}
#   {"type": "bool"}
#   {"type": "list", "max_len": 64, "items": <schema>}
#   {"type": "obj",  "fields": {"key": <schema>, ...}}       unknown keys are refused...
#   {"type": "obj",  "fields": {...}, "extra": "keep"}       ...unless "keep": they pass untouched
#   {"type": "map",  "max_len": 64, "key_max_len": 32, "values": <schema>}   free names, checked values
#   {"type": "free"}                                         any object; another validator owns it
#   {"type": "any"}                                          any JSON value; another validator owns it
#   {"type": "oneof", "options": (<schema>, <schema>)}       the first option of the value's type
#
# Inside "fields", a schema may add "required": True or "default": <value>; an optional key
# without a default is left out of the cleaned value when absent.
#
# validate(schema, value, path) -> (cleaned, problems): problems lists every (path, message)
# found, not just the first; a broken schema (typo, bad default) raises SchemaError instead,
# because a silently ignored bound would be worse than a crash at start-up.

_COMMON = ("type", "required", "default")
_KEYS = {
    "int": ("ge", "gt", "le", "lt"),
    "num": ("ge", "gt", "le", "lt", "decimals"),
    "str": ("min_len", "max_len", "choices"),
    "bool": (),
    "list": ("min_len", "max_len", "items"),
    "obj": ("fields", "extra"),
    "map": ("max_len", "key_max_len", "values"),
    "free": (),
    "any": (),
    "oneof": ("options",),
}
_WANT = {
    "int": "an int", "num": "a number", "str": "a string", "bool": "a bool",
    "list": "a list", "obj": "an object", "map": "an object", "free": "an object",
}
_BOUNDS = (("gt", ">"), ("ge", ">="), ("lt", "<"), ("le", "<="))
_SHOW_MAX = 40  # characters of a refused string quoted back in a message


class SchemaError(ValueError):
    """The schema itself is wrong: a programming error, never a user's config error."""


def validate(schema, value, path=""):
    check_schema(schema)
    problems = []  # type: list
    cleaned = _validate(schema, value, path, problems)
    return cleaned, problems


def join(path, key):
    return "%s.%s" % (path, key) if path else key


# ---- checking values ---------------------------------------------------------------------

def _is_int(v):
    # bool is an int subclass on CPython (not on MicroPython): refuse it on both
    return isinstance(v, int) and not isinstance(v, bool)


def _is_num(v):
    return (isinstance(v, int) or isinstance(v, float)) and not isinstance(v, bool)


def _kind_ok(schema, v):
    t = schema["type"]
    if t == "int":
        return _is_int(v)
    if t == "num":
        return _is_num(v)
    if t == "str":
        return isinstance(v, str)
    if t == "bool":
        return isinstance(v, bool)
    if t == "any":
        return True
    if t == "list":
        return isinstance(v, list)
    if t == "oneof":
        for opt in schema["options"]:
            if _kind_ok(opt, v):
                return True
        return False
    return isinstance(v, dict)


def _want(schema):
    if schema["type"] == "oneof":
        return " or ".join([_want(o) for o in schema["options"]])
    return _WANT[schema["type"]]


def _typed(v):
    """The value with its JSON type, for 'got ...' in a type error."""
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "bool " + ("true" if v else "false")
    if isinstance(v, int):
        return "int %d" % v
    if isinstance(v, float):
        return "float %r" % v
    if isinstance(v, str):
        return "string " + _quote(v)
    if isinstance(v, list):
        return "a list"
    if isinstance(v, dict):
        return "an object"
    return type(v).__name__


def _quote(s):
    if len(s) > _SHOW_MAX:
        s = s[:_SHOW_MAX] + "..."
    return '"%s"' % s


def _validate(schema, v, path, problems):
    t = schema["type"]
    if not _kind_ok(schema, v):
        problems.append((path, "must be %s, got %s" % (_want(schema), _typed(v))))
        return v
    if t == "int" or t == "num":
        return _number(schema, v, path, problems)
    if t == "str":
        return _string(schema, v, path, problems)
    if t == "list":
        return _list(schema, v, path, problems)
    if t == "obj":
        return _object(schema, v, path, problems)
    if t == "map":
        return _map(schema, v, path, problems)
    if t == "oneof":
        for opt in schema["options"]:
            if _kind_ok(opt, v):
                return _validate(opt, v, path, problems)
    return v  # bool, free, any


def _number(schema, v, path, problems):
    # NaN and infinities slip through comparisons and CPython's json accepts them
    if v - v != 0:
        problems.append((path, "must be a finite number, got %r" % v))
        return v
    for key, op in _BOUNDS:
        if key not in schema:
            continue
        b = schema[key]
        if op == ">":
            ok = v > b
        elif op == ">=":
            ok = v >= b
        elif op == "<":
            ok = v < b
        else:
            ok = v <= b
        if not ok:
            problems.append((path, "must be %s %r, got %r" % (op, b, v)))
    if "decimals" in schema and not _has_decimals(v, schema["decimals"]):
        problems.append((path, "must have at most %d decimals, got %r" % (schema["decimals"], v)))
    return v


def _has_decimals(v, n):
    # 1.1 is not exactly 1.1 in binary: tolerate the float noise, relative to the scaled value
    scaled = v * 10 ** n
    whole = round(scaled)
    return abs(scaled - whole) <= 1e-6 * max(1, abs(scaled))


def _string(schema, v, path, problems):
    choices = schema.get("choices")
    if choices is not None:
        if v not in choices:
            problems.append((path, "must be one of %s, got %s"
                             % (", ".join(['"%s"' % c for c in choices]), _quote(v))))
        return v
    n = len(v)
    if "max_len" in schema and n > schema["max_len"]:
        problems.append((path, "must be at most %d characters, got %d: %s"
                         % (schema["max_len"], n, _quote(v))))
    if "min_len" in schema and n < schema["min_len"]:
        problems.append((path, "must be at least %d characters, got %d: %s"
                         % (schema["min_len"], n, _quote(v))))
    return v


def _list(schema, v, path, problems):
    n = len(v)
    limit = schema["max_len"]
    if n > limit:
        problems.append((path, "must have at most %d items, got %d" % (limit, n)))
    if n < schema.get("min_len", 0):
        problems.append((path, "must have at least %d items, got %d" % (schema["min_len"], n)))
    # past the bound we stop checking items: the work per document stays bounded
    items = schema["items"]
    out = []
    for i in range(min(n, limit)):
        out.append(_validate(items, v[i], "%s[%d]" % (path, i), problems))
    return out


def _object(schema, v, path, problems):
    fields = schema["fields"]
    keep = schema.get("extra", "refuse") == "keep"
    out = {}
    # sorted so that problems come out in the same order on CPython and MicroPython
    for key in sorted(v):
        if key in fields:
            continue
        if keep:
            out[key] = v[key]
        else:
            problems.append((join(path, key), "unknown key; allowed: %s"
                             % ", ".join(sorted(fields))))
    for key in sorted(fields):
        sub = fields[key]
        if key in v:
            out[key] = _validate(sub, v[key], join(path, key), problems)
        elif "default" in sub:
            out[key] = _copy(sub["default"])
        elif sub.get("required", False):
            problems.append((join(path, key), "required key is missing"))
    return out


def _map(schema, v, path, problems):
    n = len(v)
    if n > schema["max_len"]:
        problems.append((path, "must have at most %d entries, got %d" % (schema["max_len"], n)))
        return v
    key_max = schema.get("key_max_len")
    values = schema["values"]
    out = {}
    for key in sorted(v):
        p = join(path, key)
        if key_max is not None and len(key) > key_max:
            problems.append((p, "name must be at most %d characters, got %d"
                             % (key_max, len(key))))
        out[key] = _validate(values, v[key], p, problems)
    return out


def _copy(d):
    # defaults live in module-level schemas: hand out copies so no caller can change them
    if isinstance(d, dict):
        return dict([(k, _copy(x)) for k, x in d.items()])
    if isinstance(d, list):
        return [_copy(x) for x in d]
    return d


# ---- checking schemas ----------------------------------------------------------------------

def check_schema(schema, where="schema"):
    """Raise SchemaError for an unknown type or key, a missing bound or a default out of bounds."""
    if not isinstance(schema, dict) or schema.get("type") not in _KEYS:
        raise SchemaError("%s: not a schema (need a dict with a known type): %r" % (where, schema))
    t = schema["type"]
    allowed = _KEYS[t]
    for key in schema:
        if key not in _COMMON and key not in allowed:
            raise SchemaError("%s: key %r is not allowed in a %s schema" % (where, key, t))
    for key, _ in _BOUNDS:
        if key in schema and not _is_num(schema[key]):
            raise SchemaError("%s: bound %s must be a number" % (where, key))
    for key in ("min_len", "max_len", "key_max_len", "decimals"):
        if key in schema and not (_is_int(schema[key]) and schema[key] >= 0):
            raise SchemaError("%s: %s must be an int >= 0" % (where, key))
    if t == "str" and "max_len" not in schema and "choices" not in schema:
        raise SchemaError("%s: a str schema needs max_len or choices" % where)
    if t in ("list", "map") and "max_len" not in schema:
        raise SchemaError("%s: a %s schema needs max_len" % (where, t))
    if t == "list":
        check_schema(schema.get("items"), where + "[]")
    elif t == "map":
        check_schema(schema.get("values"), where + ".*")
    elif t == "obj":
        fields = schema.get("fields")
        if not isinstance(fields, dict):
            raise SchemaError("%s: an obj schema needs a fields dict" % where)
        if schema.get("extra", "refuse") not in ("refuse", "keep"):
            raise SchemaError("%s: extra must be 'refuse' or 'keep'" % where)
        for key in fields:
            check_schema(fields[key], join(where, key))
    elif t == "oneof":
        options = schema.get("options")
        if not isinstance(options, (tuple, list)) or not options:
            raise SchemaError("%s: a oneof schema needs a non-empty options tuple" % where)
        for opt in options:
            check_schema(opt, where + "|")
    if "default" in schema:
        if schema.get("required", False):
            raise SchemaError("%s: a key cannot be both required and defaulted" % where)
        bad = []  # type: list
        _validate(schema, schema["default"], where, bad)
        if bad:
            raise SchemaError("%s: default breaks its own schema: %s" % (where, bad[0][1]))
