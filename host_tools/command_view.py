"""The commands pumpctl uses, as pumpctl understands them: checked against the pump's own table.

`commands` on the pump returns its table; check() lists where the two differ, so a host and a
firmware that drifted apart say so (in `pumpctl hello` and after a deploy) instead of failing
half-way through a command. tests/host/test_command_view.py checks it against the firmware too.
"""

# name: (role, sorted argument names, safe to repeat)
HOST_VIEW = {
    "hello": ("patient", ["protocols"], True),
    "commands": ("patient", [], True),
    "status": ("patient", [], True),
    "alarms": ("patient", [], True),
    "alarm_silence": ("patient", [], False),
    "log_read": ("patient", ["limit", "since"], True),
    "program_get": ("patient", ["index"], True),
    "program_summary": ("patient", [], True),
    "bolus_demand": ("patient", [], False),
    "auth_challenge": ("patient", ["role"], True),
    "auth": ("patient", ["mac", "nonce", "role"], True),
    "logout": ("patient", [], True),
    "outcome": ("patient", ["of"], True),
    "set_rate": ("clinician", ["rate_ul_h"], False),
    "start": ("clinician", [], False),
    "stop": ("clinician", [], False),
    "alarm_ack": ("clinician", ["code"], False),
    "refill": ("clinician", ["residual_ml", "volume_ml"], False),
    "time_sync": ("clinician", ["time_ms"], False),
    "program_begin": ("clinician", ["bytes", "parts"], False),
    "program_part": ("clinician", ["index", "path", "value"], False),
    "program_review": ("clinician", ["time_ms"], True),
    "program_confirm": ("clinician", ["base", "digest", "override_soft", "time_ms"], False),
    "program_clear": ("clinician", [], False),
    "bolus_clinician": ("clinician", ["dose", "duration_min", "override_soft"], False),
    "service": ("service", [], False),
    "calibration": ("patient", [], True),
    "calibrate_run": ("service", ["steps"], False),
    "calibration_set": ("service", ["force", "note", "ul_per_step"], False),
}


def role_of(cmd):
    entry = HOST_VIEW.get(cmd)
    return entry[0] if entry else None


def acts(cmd):
    """Whether a command changes something on the pump (so a lost reply leaves it uncertain)."""
    entry = HOST_VIEW.get(cmd)
    return entry is None or not entry[2]


def check(device_table):
    """Differences between HOST_VIEW and a `commands` reply's table, one readable line each."""
    device = {c["name"]: (c["role"], sorted(c["args"]), c.get("repeatable")) for c in device_table}
    out = []
    for name in sorted(set(HOST_VIEW) | set(device)):
        if name not in device:
            out.append("%s: pumpctl uses it, the pump does not have it" % name)
        elif name not in HOST_VIEW:
            out.append("%s: the pump has it, pumpctl does not know it" % name)
        elif HOST_VIEW[name] != device[name]:
            out.append("%s: pumpctl expects role %s, args %s, repeatable %s; the pump has role %s, "
                       "args %s, repeatable %s" % ((name,) + HOST_VIEW[name] + device[name]))
    return out
