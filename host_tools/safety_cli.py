"""pumpctl alarms and pumpctl refill: list, acknowledge and silence alarms; record a refill."""
import json
import sys


def format_alarms(reply):
    alarms = reply.get("alarms") or []
    if not alarms:
        return "no alarms"
    lines = []
    for a in alarms:
        flags = [f for f in ("latched", "acknowledged", "silenced") if a.get(f)]
        if not a.get("condition", True):
            flags.append("cause cleared")
        lines.append("%-7s %-22s %s%s" % (a["priority"].upper(), a["code"], a.get("message", ""),
                                          (" [%s]" % ", ".join(flags)) if flags else ""))
        if a.get("detail"):
            lines.append("        %s" % a["detail"])
        if a.get("hint"):
            lines.append("        what to do: %s" % a["hint"])
    ann = reply.get("annunciation") or {}
    if ann.get("silenced_ms", 0) > 0:
        lines.append("silenced: the sound comes back on its own in %d s" % (ann["silenced_ms"] // 1000))
    return "\n".join(lines)


def cmd_alarms(args, client_factory):
    with client_factory(args) as c:
        if args.ack:
            c.request("alarm_ack", code=args.ack)
        if args.silence:
            c.request("alarm_silence")
        reply = c.request("alarms")
    print(json.dumps(reply, indent=2, sort_keys=True) if args.json else format_alarms(reply))
    return 0


def cmd_refill(args, client_factory):
    if args.residual_ml is None or args.volume_ml is None:
        from host_tools.guided_cli import cmd_refill_guided
        return cmd_refill_guided(args, client_factory)
    with client_factory(args) as c:
        r = c.request("refill", volume_ml=args.volume_ml, residual_ml=args.residual_ml)
    return report_refill(r)


def report_refill(r):
    """Print a refill's reconciliation; 3 when it raised reservoir_discrepancy, else 0."""
    print("refilled to %s mL; residual expected %.3f mL, measured %.3f mL (%+.1f%% of the volume "
          "delivered since the last fill)" % (r["volume_ml"], r["expected_ml"], r["measured_ml"],
                                              r["discrepancy_pct"]))
    if r.get("alarm"):
        print("ALARM reservoir_discrepancy: the difference is beyond %s%%: check for over- or "
              "under-infusion before going on" % r["limit_pct"], file=sys.stderr)
        return 3
    return 0


def add_parsers(sub, client_factory):
    s = sub.add_parser("alarms", help="list the pump's alarms; acknowledge or silence them")
    s.add_argument("--ack", metavar="CODE", help="acknowledge an alarm (a high alarm latches until then)")
    s.add_argument("--silence", action="store_true", help="mute annunciation (reverts within 2 minutes)")
    s.add_argument("--json", action="store_true", help="the pump's alarms reply as JSON")
    s.set_defaults(func=lambda a: cmd_alarms(a, client_factory))

    s = sub.add_parser("refill", help="record a refill: the residual aspirated and the new volume "
                                      "(without both flags: a guided refill that asks for them)")
    s.add_argument("--residual-ml", type=float, default=None,
                   help="volume aspirated from the reservoir before filling (measured)")
    s.add_argument("--volume-ml", type=float, default=None, help="volume in the reservoir after filling")
    s.set_defaults(func=lambda a: cmd_refill(a, client_factory))
