# The therapy-program and bolus commands: upload in parts, review, confirm by digest, get, clear, bolus.
#
# A program reaches the pump in parts (one JSON line each) so the pump never holds the whole
# parsed document. Review validates it and answers with a summary and a digest; confirm applies
# it only if that digest is still the one under review and the pump's program has not changed
# since ("base"). Anything else is refused and changes nothing.
from pump.commands import COMMANDS, status
from pump.errors import PumpError, BAD_STATE, LIMIT
from pump.planner import project, projection_wall_ms
from pump.program import (ProgramBuilder, PROGRAM_MAX_BYTES, PART_MAX_BYTES, canonical_parts,
                          clinician_bolus, digest, summary)
from pump.controller import RUNNING

_cmd = COMMANDS.command
_MAX_PARTS = 9          # the header, flex.steps and one part per weekday
_DIGEST = {"type": "str", "max_len": 64}
_TIME = {"type": "int", "ge": 0, "required": True}   # host's local wall clock, ms since 1970


def _forget_upload(app):
    app.upload = None
    app.pending = None


@_cmd("program_begin", "clinician", {
    "bytes": {"type": "int", "ge": 1, "required": True},
    "parts": {"type": "int", "ge": 1, "le": _MAX_PARTS, "required": True}})
def program_begin(app, args):
    # a new upload replaces whatever was under review: its digest can no longer be confirmed
    _forget_upload(app)
    if args["bytes"] > PROGRAM_MAX_BYTES:
        raise PumpError(LIMIT, "program is %d bytes as JSON; this pump takes at most %d"
                        % (args["bytes"], PROGRAM_MAX_BYTES), "args.bytes")
    app.upload = [ProgramBuilder(app.cfg, app.library()), args["parts"], 0]
    return {"max_part_bytes": PART_MAX_BYTES, "max_bytes": PROGRAM_MAX_BYTES}


@_cmd("program_part", "clinician", {
    "index": {"type": "int", "ge": 0, "lt": _MAX_PARTS, "required": True},
    "path": {"type": "str", "max_len": 32, "required": True},
    "value": {"type": "any", "required": True}})
def program_part(app, args):
    up = app.upload
    if up is None:
        raise PumpError(BAD_STATE, "no program upload in progress: send program_begin first")
    if args["index"] != up[2]:
        app.upload = None
        raise PumpError(BAD_STATE, "expected part %d, got %d: upload abandoned, start again"
                        % (up[2], args["index"]), "args.index")
    up[0].add(args["path"], args["value"])
    up[2] += 1
    return {"received": up[2], "of": up[1]}


def _projection(program, wall_ms):
    return projection_wall_ms(project(program, wall_ms, 0, program.volume_nl, program.low_nl), wall_ms)


@_cmd("program_review", "clinician", {"time_ms": _TIME}, safe_to_repeat=True)
def program_review(app, args):
    up, app.upload = app.upload, None
    if up is None:
        raise PumpError(BAD_STATE, "no program uploaded: send program_begin and its parts first")
    if up[2] != up[1]:
        raise PumpError(BAD_STATE, "program incomplete: got %d of %d parts" % (up[2], up[1]))
    current = app.ctl.program
    program = up[0].finish(current)   # every problem at once, as a ProgramError
    d = digest(program)
    app.pending = (program, d)
    # step tables stay out: a week of them is too big for one reply; the host has them already
    return {"digest": d, "base": app.program_digest, "summary": summary(program, False),
            "projection": _projection(program, args["time_ms"])}


@_cmd("program_confirm", "clinician", {
    "digest": dict(_DIGEST, required=True),
    "base": dict(_DIGEST, default=""),
    "time_ms": _TIME,
    "override_soft": {"type": "bool", "default": False}}, replay=status)
def program_confirm(app, args):
    if app.pending is None:
        raise PumpError(BAD_STATE, "no program under review: review one first")
    program, d = app.pending
    if args["digest"] != d:
        raise PumpError(BAD_STATE, "the program under review is %s, not %s: it changed after "
                        "review; review it again" % (d, args["digest"]), "args.digest")
    if args["base"] != (app.program_digest or ""):
        raise PumpError(BAD_STATE, "the pump's program changed since review (now %s): review again"
                        % (app.program_digest or "none"), "args.base")
    if program.soft and not args["override_soft"]:
        raise PumpError(LIMIT, "soft limits need an explicit override: "
                        + "; ".join(s["message"] for s in program.soft), "args.override_soft")
    if app.persist is not None:
        # on flash before it is applied: a program the pump runs is one a reset brings back
        try:
            app.persist.save_program(program, d)
        except (OSError, ValueError) as e:
            raise PumpError(BAD_STATE, "cannot store the program on flash (%s): nothing changed"
                            % (e,))
    now = app.now()
    app.set_wall(now, args["time_ms"])
    app.pending = None
    old = app.program_digest
    app.ctl.apply_program(now, program, args["time_ms"])
    app.program_digest = d
    if app.ctl.state == RUNNING:
        app.guard_follow()
    # a program sets the reservoir volume, as a refill does: the clinician who confirms it has
    # dealt with the reservoir alarms, so they are acknowledged and their causes re-checked
    for code in ("reservoir_low", "reservoir_empty"):
        app.safety.ack(code)
        app.safety.condition_gone(code)
    app.check_reservoir()
    app.send_event("program", {"digest": d, "old": old, "name": program.name})
    return app.status()


@_cmd("program_get", "patient", {"index": {"type": "int", "ge": 0, "default": 0}}, safe_to_repeat=True)
def program_get(app, args):
    program = app.ctl.program
    if program is None:
        return {"digest": None, "parts": 0}
    parts = canonical_parts(program)
    i = args["index"]
    if i >= len(parts):
        raise PumpError(BAD_STATE, "the program has %d parts, no part %d" % (len(parts), i), "args.index")
    return {"digest": app.program_digest, "parts": len(parts), "index": i,
            "path": parts[i][0], "value": parts[i][1]}


@_cmd("program_summary", "patient", safe_to_repeat=True)
def program_summary(app, args):
    program = app.ctl.program
    if program is None:
        return {"digest": None}
    out = {"digest": app.program_digest, "summary": summary(program, False)}
    d = app.ctl.delivery
    if d is not None:
        p = d.project(app.now() - app.ctl.t0, app.ctl.reservoir_pl // 1000, program.low_nl)
        out["projection"] = projection_wall_ms(p, d.start_wall_ms)
    return out


@_cmd("program_clear", "clinician", replay=status)
def program_clear(app, args):
    app.ctl.clear_program()
    if app.persist is not None:
        app.persist.clear_program()
    old, app.program_digest = app.program_digest, None
    app.send_event("program", {"digest": None, "old": old, "name": None})
    return app.status()


@_cmd("time_sync", "clinician", {"time_ms": _TIME})
def time_sync(app, args):
    """Set the wall clock (the host's local time): daily schedules need the time of day."""
    now = app.now()
    before = app.wall_ms(now)
    app.set_wall(now, args["time_ms"])
    app.safety.condition_gone("time_unknown")
    app.send_event("time", {"time_ms": args["time_ms"], "was_ms": before})
    return {"time_ms": args["time_ms"], "was_ms": before}


def _request_bolus(app, kind, bolus):
    ctl = app.ctl
    if ctl.delivery is None or ctl.state != RUNNING:
        raise PumpError(BAD_STATE, "no bolus while the pump is not delivering a program")
    t = app.now() - ctl.t0
    reply = ctl.delivery.request_bolus(kind, t, bolus, app.high_alarm(), ctl.reservoir_pl // 1000)
    if kind == "clinician":
        # a clinician bolus has no daily count the guard could know: it is told of each one
        app.safety.grant_bolus(bolus.volume_nl, bolus.duration_ms)
    app.send_event("bolus", reply)
    return reply


@_cmd("bolus_demand", "patient")
def bolus_demand(app, args):
    program = app.ctl.program
    if program is None or program.demand is None:
        raise PumpError(BAD_STATE, "the program allows no demand bolus")
    return _request_bolus(app, "demand", program.demand)


@_cmd("bolus_clinician", "clinician", {
    "dose": {"type": "num", "gt": 0, "required": True},
    "duration_min": {"type": "int", "ge": 1, "le": 1440, "required": True},
    "override_soft": {"type": "bool", "default": False}})
def bolus_clinician(app, args):
    program = app.ctl.program
    if program is None:
        raise PumpError(BAD_STATE, "no program applied: a clinician bolus is dosed in its drug")
    bolus, soft, cuts = clinician_bolus(program, args["dose"], args["duration_min"], app.cfg)
    if soft and not args["override_soft"]:
        raise PumpError(LIMIT, "soft limits need an explicit override: "
                        + "; ".join(s["message"] for s in soft), "args.override_soft")
    reply = _request_bolus(app, "clinician", bolus)
    reply["cuts"] = cuts
    return reply
