"""pumpctl program ... and pumpctl bolus: validate, show, diff, load (review and confirm), get, clear, bolus."""
import argparse
import json
import sys

from host_tools import exits, paths
from host_tools.program_file import board_config, drug_library, read_program
from host_tools.program_io import confirm, download, local_wall_ms, upload
from host_tools.program_view import render_diff, render_review, render_summary
from host_tools.toml_out import dumps

DEFAULT_BOARD = "sim"


class ProgramInvalid(Exception):
    """A program file the pump would refuse: every problem, each with its path."""

    def __init__(self, path, problems):
        super().__init__("%s: %d problem%s" % (path, len(problems), "" if len(problems) == 1 else "s"))
        self.path = path
        self.problems = problems


def _firmware():
    paths.use_firmware_modules()
    import pump.program as program
    import pump.planner as planner
    return program, planner


def compile_file(path, board, current=None):
    """(doc, Program) from a file, checked exactly as the pump checks it, or ProgramInvalid."""
    doc = read_program(path)
    return doc, compile_doc(doc, board, current, path)


def compile_doc(doc, board, current=None, label="program"):
    """The Program a document compiles to, checked exactly as the pump checks it, or
    ProgramInvalid naming `label`."""
    program, _ = _firmware()
    try:
        return program.compile_program(doc, board_config(board), drug_library(), current)
    except program.ProgramError as e:
        raise ProgramInvalid(label, e.problems)


def print_problems(e, out=None):
    out = out or sys.stderr
    print("%s: invalid program, %d problem%s:" % (e.path, len(e.problems),
                                                  "" if len(e.problems) == 1 else "s"), file=out)
    for path, message in e.problems:
        print("  %s: %s" % (path or "program", message), file=out)


def problems_json(e):
    return {"valid": False, "file": e.path,
            "problems": [{"path": path, "message": message} for path, message in e.problems]}


def refuses_invalid(cmd):
    """A command that exits 1 with every problem when a program file is invalid (with --json, as
    one JSON document on stdout)."""
    def run(*args):
        try:
            return cmd(*args)
        except ProgramInvalid as e:
            if getattr(args[0], "json", False):
                print(json.dumps(problems_json(e), indent=2, sort_keys=True))
            else:
                print_problems(e)
            return exits.ERROR
    return run


def _report(program_mod, prog, planner_mod, start_ms):
    summary = program_mod.summary(prog)
    p = planner_mod.project(prog, start_ms, 0, prog.volume_nl, prog.low_nl)
    return summary, planner_mod.projection_wall_ms(p, start_ms)


@refuses_invalid
def cmd_validate(args):
    program, _ = _firmware()
    _, prog = compile_file(args.file, args.board)
    if args.json:
        print(json.dumps({"valid": True, "file": args.file, "digest": program.digest(prog), "soft": prog.soft,
                          "cuts": prog.cuts}, indent=2, sort_keys=True))
        return 0
    print("%s: valid, digest %s" % (args.file, program.digest(prog)))
    for s in prog.soft:
        print("  soft limit (needs an override to load): %s" % s["message"])
    for c in prog.cuts:
        print("  limited: %s" % c["reason"])
    return 0


@refuses_invalid
def cmd_show(args):
    program, planner = _firmware()
    _, prog = compile_file(args.file, args.board)
    summary, projection = _report(program, prog, planner, local_wall_ms())
    if args.json:
        print(json.dumps({"digest": program.digest(prog), "summary": summary,
                          "projection": projection}, indent=2, sort_keys=True))
        return 0
    print("\n".join(render_summary(summary, projection)))
    return 0


@refuses_invalid
def cmd_diff(args):
    program, _ = _firmware()
    _, old = compile_file(args.old, args.board)
    # checked against the old one as the pump would check it: titration limits apply
    _, new = compile_file(args.new, args.board, current=old)
    lines = render_diff(program.canonical_doc(old), program.canonical_doc(new))
    if not lines:
        print("no difference: both are program %s" % program.digest(new))
        return 0
    print("--- %s  (%s)" % (args.old, program.digest(old)))
    print("+++ %s  (%s)" % (args.new, program.digest(new)))
    print("\n".join(lines))
    for s in new.soft:
        print("soft limit (needs an override to load): %s" % s["message"])
    return 0


def cmd_schema(args):
    from host_tools.json_schema import program_json_schema
    print(json.dumps(program_json_schema(), indent=2))
    return 0


def _ask(prompt):
    try:
        return input(prompt)
    except EOFError:
        return ""


@refuses_invalid
def cmd_load(args, client_factory):
    # the host checks first: a program the pump would refuse never reaches it
    doc, prog = compile_file(args.file, args.board)
    with client_factory(args) as c:
        old_doc, _ = download(c)
        return review_and_confirm(c, args, doc, prog, old_doc)


def review_and_confirm(c, args, doc, prog, old_doc):
    """Upload a checked program, show it beside the pump's (old_doc, or None), and apply it
    once the person types the start of its digest (args.yes: at once; soft limits need
    args.override_soft_limits or 'override'). Returns the exit code."""
    from host_tools.progress import Reporter
    program, _ = _firmware()
    old_summary = old_projection = None
    if old_doc is not None:
        # the pump's program, summarised here in full (the pump sends no step tables)
        old_prog = program.compile_program(old_doc, board_config(args.board), drug_library())
        old_summary = program.summary(old_prog)
        old_projection = c.request("program_summary").get("projection")
    with Reporter("load", out=sys.stderr) as reporter:   # a bar while sending, gone before the review
        review = upload(c, doc, progress=reporter.say, step=reporter.step_or_none)
    print("\n".join(render_review(program.summary(prog), review["projection"],
                                  old_summary, old_projection)))
    if review["digest"] != program.digest(prog):
        # the pump and this host disagree on what the file means: do not apply it
        return exits.error("the pump's digest %s differs from this host's %s for the same file"
                           % (review["digest"], program.digest(prog)),
                           "redeploy the firmware with pumpctl deploy --board NAME")
    soft = review["summary"].get("soft") or []
    override = False
    if soft:
        if args.override_soft_limits:
            override = True
        elif args.yes:
            return exits.refused("soft limits broken", "pass --override-soft-limits to accept them")
        else:
            override = _ask("Soft limits are broken. Type 'override' to accept them: ").strip() == "override"
            if not override:
                print("not applied: soft limits not accepted")
                return exits.REFUSED
    if not args.yes:
        answer = _ask("Apply program %s? Type its digest's first 4 characters to confirm: "
                      % review["digest"]).strip()
        if not answer or not review["digest"].startswith(answer) or len(answer) < 4:
            print("not applied")
            return exits.REFUSED
    status = confirm(c, review, override_soft=override)
    print("applied program %s (%s); pump %s" % (review["digest"], status.get("program", {}).get("name"),
                                               status["state"]))
    return exits.OK


def cmd_get(args, client_factory):
    program, _ = _firmware()
    with client_factory(args) as c:
        doc, digest = download(c)
    if doc is None:
        return exits.error("the pump has no program", "load one with pumpctl program load FILE")
    if args.json:
        text = json.dumps(doc, indent=2, sort_keys=True) + "\n"
    else:
        text = dumps(_ordered(doc), header=["program %s, read from the pump" % digest,
                                            "bench and teaching use only: not clinical advice"])
    if args.output:
        with open(args.output, "w") as f:
            f.write(text)
        print("wrote %s (program %s)" % (args.output, digest), file=sys.stderr)
    else:
        sys.stdout.write(text)
    return 0


_ORDER = ("format", "name", "purpose", "drug", "reservoir", "basal", "flex", "temp", "periodic",
          "demand", "catheter", "prime", "bridge")


def _ordered(doc, top=True):
    """Sections in the documented order, keys sorted, and each flex step as start then rate."""
    if isinstance(doc, list):
        return [_ordered(x, False) for x in doc]
    if not isinstance(doc, dict):
        return doc
    first = _ORDER if top else ("start",)
    keys = [k for k in first if k in doc] + sorted(k for k in doc if k not in first)
    return {k: _ordered(doc[k], False) for k in keys}


def cmd_clear(args, client_factory):
    with client_factory(args) as c:
        c.request("program_clear")
    print("program cleared: the pump is back to a rate set by hand")
    return 0


def cmd_bolus(args, client_factory):
    if args.kind == "clinician" and (args.dose is None or args.duration is None):
        return exits.usage("a clinician bolus needs --dose and --duration",
                           "e.g. pumpctl bolus clinician --dose 0.5 --duration 10")
    with client_factory(args) as c:
        if args.kind == "demand":
            r = c.request("bolus_demand")
        else:
            r = c.request("bolus_clinician", dose=args.dose, duration_min=args.duration,
                          override_soft=args.override_soft_limits)
    print("%s bolus started: %.1f uL over %.1f min" % (r["kind"], r["volume_nl"] / 1000,
                                                     (r["ends_ms"] - r["starts_ms"]) / 60000))
    for c in r.get("cuts") or []:
        print("  limited: %s" % c["reason"])
    return 0


def add_parsers(sub, client_factory):
    p = sub.add_parser("program", help="validate, show, compare, load and read therapy programs")
    psub = p.add_subparsers(dest="program_command", metavar="ACTION")
    psub.required = True

    def board_arg(s):
        s.add_argument("--board", default=DEFAULT_BOARD,
                       help="board whose limits apply (a folder under boards/; default %s)" % DEFAULT_BOARD)

    s = psub.add_parser("validate", help="check a program file as the pump would; exit 1 with every problem")
    s.add_argument("file")
    s.add_argument("--json", action="store_true")
    board_arg(s)
    s.set_defaults(func=cmd_validate, offline=True)

    s = psub.add_parser("show", help="a person's summary: daily doses, steps, boluses, refill date")
    s.add_argument("file")
    s.add_argument("--json", action="store_true")
    board_arg(s)
    s.set_defaults(func=cmd_show, offline=True)

    s = psub.add_parser("diff", help="what changes between two program files")
    s.add_argument("old")
    s.add_argument("new")
    board_arg(s)
    s.set_defaults(func=cmd_diff, offline=True)

    s = psub.add_parser("schema", help="print the JSON Schema of program files (for editors)")
    s.set_defaults(func=cmd_schema, offline=True)

    s = psub.add_parser("load", help="send a program to the pump, review it, and apply it once confirmed")
    s.add_argument("file")
    s.add_argument("--yes", action="store_true", help="confirm without asking (for scripts)")
    s.add_argument("--override-soft-limits", action="store_true",
                   help="accept soft drug-library limits the program breaks")
    board_arg(s)
    s.set_defaults(func=lambda a: cmd_load(a, client_factory))

    s = psub.add_parser("get", help="read the pump's program back as TOML")
    s.add_argument("--output", "-o", help="write to this file instead of stdout")
    s.add_argument("--json", action="store_true")
    s.set_defaults(func=lambda a: cmd_get(a, client_factory))

    s = psub.add_parser("clear", help="remove the pump's program (stopped pumps only)")
    s.set_defaults(func=lambda a: cmd_clear(a, client_factory))

    s = sub.add_parser("bolus", help="give a demand or clinician bolus")
    s.add_argument("kind", choices=("demand", "clinician"))
    s.add_argument("--dose", type=float, help="clinician bolus dose, in the program's dose unit (mg, mcg or mL)")
    s.add_argument("--duration", type=int, help="clinician bolus duration in minutes")
    s.add_argument("--override-soft-limits", action="store_true")
    s.set_defaults(func=lambda a: cmd_bolus(a, client_factory))


def parser(client_factory):
    """Only the program and bolus commands, with the pump reached through client_factory(args)."""
    p = argparse.ArgumentParser(prog="pumpctl")
    sub = p.add_subparsers(dest="command")
    add_parsers(sub, client_factory)
    return p
