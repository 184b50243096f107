"""pumpctl log, history and time sync: export the pump's event log, its daily doses; set its clock."""
import csv
import datetime
import json
import sys

from host_tools.program_io import local_wall_ms, wall_datetime

COLUMNS = ("seq", "boot", "up_s", "time", "kind", "detail")


def fetch(client, since=0, step=None):
    """Every record newer than `since`, a page at a time (the pump sends at most 20 per reply);
    step(done, total, label), if given, hears the pages (a progress bar)."""
    out = []
    first = since
    while True:
        page = client.request("log_read", since=since, limit=20)
        recs = page["records"]
        if not recs:
            return out
        out.extend(recs)
        since = recs[-1]["seq"]
        if step is not None and page.get("last") is not None:
            step(since - first, max(page["last"] - first, since - first), "reading the log")


def _fetch(client, since=0):
    """fetch() with a bar on a terminal's stderr."""
    from host_tools.progress import Reporter
    with Reporter("log", out=sys.stderr) as r:
        return fetch(client, since, r.step_or_none)


def keep(recs, kinds=None, boot=None):
    return [r for r in recs if (not kinds or r.get("k") in kinds)
            and (boot is None or r.get("boot") == boot)]


def _when(rec):
    t = rec.get("t")
    if t is None:
        return ""
    return wall_datetime(t).strftime("%Y-%m-%d %H:%M:%S")


def _detail(rec):
    rest = dict((k, v) for k, v in rec.items() if k not in ("seq", "boot", "up", "t", "k"))
    return json.dumps(rest, sort_keys=True)


def rows(recs):
    for r in recs:
        yield (r["seq"], r.get("boot"), "%.3f" % (r.get("up", 0) / 1000), _when(r), r.get("k"), _detail(r))


def write_csv(recs, out):
    w = csv.writer(out, lineterminator="\n")
    w.writerow(COLUMNS)
    for row in rows(recs):
        w.writerow(row)


def cmd_log(args, client_factory):
    with client_factory(args) as c:
        recs = _fetch(c, args.since)
    recs = keep(recs, set(args.kind) if args.kind else None, args.boot)
    if args.format == "json" or args.json:
        json.dump(recs, sys.stdout, indent=1)
        print()
    else:
        write_csv(recs, sys.stdout)
    print("%d records" % len(recs), file=sys.stderr)
    return 0


def history_rows(recs):
    """(date, delivered_ul, programmed_ul or None, percent or None) per "day" record."""
    out = []
    for r in recs:
        if r.get("k") != "day":
            continue
        date = (datetime.date(1970, 1, 1) + datetime.timedelta(days=r["day"])).isoformat()
        got, want = r.get("delivered_ul"), r.get("programmed_ul")
        pct = None if not want else 100.0 * got / want
        out.append((date, got, want, pct))
    return out


def format_history(rows_):
    if not rows_:
        return ("no whole days logged yet: the pump logs a day at each local midnight once its "
                "time is set (pumpctl time sync)")
    lines = ["%-10s  %12s  %12s  %7s" % ("date", "delivered uL", "programmed", "%")]
    for date, got, want, pct in rows_:
        lines.append("%-10s  %12.1f  %12s  %7s" % (date, got, "-" if want is None else "%.1f" % want,
                                                   "-" if pct is None else "%.1f" % pct))
    lines.append("(the first and last day of a program or a stop count only the hours delivering)")
    return "\n".join(lines)


def cmd_history(args, client_factory):
    with client_factory(args) as c:
        rows_ = history_rows(_fetch(c))
    if args.json:
        print(json.dumps([{"date": d, "delivered_ul": g, "programmed_ul": w, "percent": p}
                          for d, g, w, p in rows_], indent=1))
    else:
        print(format_history(rows_))
    return 0


def cmd_time_sync(args, client_factory):
    with client_factory(args) as c:
        r = c.request("time_sync", time_ms=local_wall_ms())
    was = r.get("was_ms")
    drift = "" if was is None else " (it was %+.1f s off)" % ((was - r["time_ms"]) / 1000)
    print("pump time set to this computer's local time%s" % drift)
    return 0


def add_parsers(sub, client_factory):
    s = sub.add_parser("log", help="export the pump's event log as CSV or JSON")
    s.add_argument("--format", choices=("csv", "json"), default="csv")
    s.add_argument("--json", action="store_true", help="the same as --format json")
    s.add_argument("--kind", action="append", metavar="KIND",
                   help="only records of this kind (boot, command, state, alarm, program, bolus, "
                        "refill, time...); repeat for several")
    s.add_argument("--boot", type=int, metavar="N", help="only records of boot N")
    s.add_argument("--since", type=int, default=0, metavar="SEQ", help="only records after this seq")
    s.set_defaults(func=lambda a: cmd_log(a, client_factory))

    s = sub.add_parser("history", help="delivered volume per day against the programmed volume")
    s.add_argument("--json", action="store_true", help="machine-readable output")
    s.set_defaults(func=lambda a: cmd_history(a, client_factory))

    s = sub.add_parser("time", help="the pump's wall clock")
    tsub = s.add_subparsers(dest="time_cmd", required=True)
    t = tsub.add_parser("sync", help="set the pump's time of day from this computer")
    t.set_defaults(func=lambda a: cmd_time_sync(a, client_factory))
