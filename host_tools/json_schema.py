"""Turns the firmware's validator schemas into JSON Schema, so editors check program files as the pump does."""

_BOUNDS = {"ge": "minimum", "gt": "exclusiveMinimum", "le": "maximum", "lt": "exclusiveMaximum"}


def to_json_schema(s):
    t = s["type"]
    if t == "int" or t == "num":
        out = {"type": "integer" if t == "int" else "number"}
        for k, name in _BOUNDS.items():
            if k in s:
                out[name] = s[k]
    elif t == "str":
        out = {"type": "string"}
        if "choices" in s:
            out["enum"] = list(s["choices"])
        if "max_len" in s:
            out["maxLength"] = s["max_len"]
        if "min_len" in s:
            out["minLength"] = s["min_len"]
    elif t == "bool":
        out = {"type": "boolean"}
    elif t == "list":
        out = {"type": "array", "items": to_json_schema(s["items"]), "maxItems": s["max_len"]}
        if "min_len" in s:
            out["minItems"] = s["min_len"]
    elif t == "obj":
        fields = s["fields"]
        out = {"type": "object",
               "properties": {k: to_json_schema(fields[k]) for k in sorted(fields)},
               "additionalProperties": s.get("extra", "refuse") == "keep"}
        required = sorted(k for k in fields if fields[k].get("required"))
        if required:
            out["required"] = required
    elif t == "map":
        out = {"type": "object", "additionalProperties": to_json_schema(s["values"]),
               "maxProperties": s["max_len"]}
    elif t == "free":
        out = {"type": "object"}
    elif t == "any":
        out = {}
    elif t == "oneof":
        out = {"anyOf": [to_json_schema(o) for o in s["options"]]}
    else:
        raise ValueError("no JSON Schema for type %r" % t)
    if "default" in s:
        out["default"] = s["default"]
    return out
