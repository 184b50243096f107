"""Guided procedures: pumpctl refill without its flags, pumpctl prime and pumpctl bridge.

Prime and bridge are program features ([catheter], [prime], [bridge] in docs/programs.md): they
take the pump's program, add the section, and go through the same review and digest
confirmation as `pumpctl program load`. Nothing here is a delivery path of its own.
"""
import copy
import math
import sys

from host_tools import paths
from host_tools.calibrate_cli import Aborted, ask_number, confirm
from host_tools.program_cli import (DEFAULT_BOARD, compile_doc, refuses_invalid,
                                    review_and_confirm)
from host_tools.program_file import board_config, drug_library
from host_tools.program_io import download
from host_tools.program_view import when
from host_tools.safety_cli import report_refill


# ---- refill ---------------------------------------------------------------------------------

def cmd_refill_guided(args, client_factory):
    """Status, stop if delivering, the residual aspirated, the new volume, then record it."""
    from host_tools.cli import format_status
    with client_factory(args) as c:
        s = c.request("status")
        print(format_status(s))
        if s.get("program"):
            print("program     %s (%s)" % (s["program"]["name"], s["program"]["digest"]))
        stopped_here = False
        try:
            if s["state"] == "running":
                if not confirm("The pump is delivering. Stop it for the refill?"):
                    raise Aborted("the pump must be stopped for a refill")
                c.request("stop")
                stopped_here = True
                print("pump stopped")
            residual = args.residual_ml
            if residual is None:
                print("Aspirate the reservoir completely and measure the volume that came out "
                      "(the pump's expected residual is shown after you enter it).")
                residual = ask_number("Residual volume aspirated (mL): ", 0.0, 1000.0)
            volume = args.volume_ml
            if volume is None:
                volume = ask_number("Volume in the reservoir after filling (mL): ", 0.0, 1000.0)
            if not confirm("Record a residual of %g mL and a fill of %g mL?" % (residual, volume)):
                raise Aborted("not confirmed")
        except Aborted as e:
            print("refill not recorded (%s)%s" % (e, "; the pump is stopped: pumpctl start" if
                                                   stopped_here else ""), file=sys.stderr)
            return 1
        r = c.request("refill", volume_ml=volume, residual_ml=residual)
        code = report_refill(r)
        _print_projection(c, s, volume)
    if stopped_here:
        print("the pump is stopped: start it again with pumpctl start")
    return code


def _print_projection(c, status, volume_ml):
    if status.get("program"):
        proj = c.request("program_summary").get("projection")
        if proj is None:
            print("no projection yet: the program has not started")
            return
        print("reservoir low   %s  (refill by then)" % when(proj.get("low_at_ms")))
        print("reservoir empty %s" % when(proj.get("empty_at_ms")))
    elif status.get("rate_ul_h"):
        hours = volume_ml * 1000.0 / status["rate_ul_h"]
        print("at %.3f uL/h the reservoir lasts about %.1f h (%.1f days)"
              % (status["rate_ul_h"], hours, hours / 24))


# ---- prime and bridge -----------------------------------------------------------------------

@refuses_invalid
def cmd_catheter_bolus(args, client_factory):
    """pumpctl prime / pumpctl bridge: the pump's program with a catheter bolus added."""
    paths.use_firmware_modules()
    import pump.program as program
    with client_factory(args) as c:
        old_doc, digest = download(c)
        if old_doc is None:
            print("pumpctl: error: the pump has no program: a %s bolus is part of one; load a "
                  "program first (pumpctl program load FILE)" % args.command, file=sys.stderr)
            return 1
        status = c.request("status")
        doc = copy.deepcopy(old_doc)
        for k in ("prime", "bridge"):
            doc.pop(k, None)
        cat = dict(old_doc.get("catheter") or {})
        if args.catheter_length_cm is not None:
            cat["length_cm"] = args.catheter_length_cm
        if args.ul_per_cm is not None:
            cat["ul_per_cm"] = args.ul_per_cm
        missing = [f for f, k in (("--catheter-length-cm", "length_cm"), ("--ul-per-cm", "ul_per_cm"))
                   if k not in cat]
        if missing:
            print("pumpctl: error: the pump's program has no [catheter]: give %s (the catheter's "
                  "length, and its internal volume per cm from its data sheet)"
                  % " and ".join(missing), file=sys.stderr)
            return 2
        doc["catheter"] = cat
        if args.command == "prime":
            doc["prime"] = {"duration_min": args.duration_min}
        else:
            doc["bridge"] = {"previous_concentration": args.previous_concentration,
                             "previous_dose_per_day": args.previous_dose_per_day}
        # applying a program sets the reservoir to its volume_ml: keep what the pump counts now
        doc["reservoir"]["volume_ml"] = math.floor(status["reservoir_ul"]) / 1000.0
        current = program.compile_program(old_doc, board_config(args.board), drug_library())
        prog = compile_doc(doc, args.board, current, "%s (program %s with [%s])"
                           % (args.command, digest, args.command))
        b = prog.catheter
        print("program %s (%s), from the pump" % (digest, old_doc.get("name")))
        print("catheter: %g cm x %g uL/cm = %.3f uL" % (cat["length_cm"], cat["ul_per_cm"],
                                                         cat["length_cm"] * cat["ul_per_cm"]))
        if args.command == "prime":
            print("priming bolus: %.3f uL over %.1f min (asked: %d min)"
                  % (b.volume_nl / 1000.0, b.duration_ms / 60000.0, args.duration_min))
        else:
            print("bridge bolus: %.3f uL at the old daily dose (%g %s of %g %s), over %.1f min"
                  % (b.volume_nl / 1000.0, args.previous_dose_per_day, doc["drug"]["dose_units"],
                     args.previous_concentration, doc["drug"]["concentration_units"],
                     b.duration_ms / 60000.0))
        print("reservoir: %.3f mL, as the pump counts it now" % doc["reservoir"]["volume_ml"])
        print("applying it starts the program again from its beginning: the %s bolus first, "
              "then the therapy" % args.command)
        return review_and_confirm(c, args, doc, prog, old_doc)


def add_parsers(sub, client_factory):
    def common(s):
        s.add_argument("--catheter-length-cm", type=float, default=None,
                       help="catheter length in cm (default: the program's [catheter], if any)")
        s.add_argument("--ul-per-cm", type=float, default=None,
                       help="catheter internal volume in uL per cm, from its data sheet "
                            "(default: the program's [catheter], if any)")
        s.add_argument("--yes", action="store_true", help="confirm without asking (for scripts)")
        s.add_argument("--override-soft-limits", action="store_true",
                       help="accept soft drug-library limits the program breaks")
        s.add_argument("--board", default=DEFAULT_BOARD,
                       help="board whose limits apply (default %s)" % DEFAULT_BOARD)
        s.set_defaults(func=lambda a: cmd_catheter_bolus(a, client_factory))

    s = sub.add_parser("prime", help="add a priming bolus (the catheter volume) to the pump's "
                                     "program; review and confirm as program load does")
    s.add_argument("--duration-min", type=int, required=True, help="how long the priming bolus runs")
    common(s)

    s = sub.add_parser("bridge", help="add a bridge bolus (old drug out of the catheter at the old "
                                      "daily dose) to the pump's program; review and confirm")
    s.add_argument("--previous-concentration", type=float, required=True,
                   help="the old concentration, in the program's concentration units")
    s.add_argument("--previous-dose-per-day", type=float, required=True,
                   help="the old daily dose, in the program's dose units")
    common(s)
