"""pumpctl report INPUT... -o OUT: the inputs read, turned into series, drawn and written (offline: no port)."""
import os
import sys

from host_tools import exits
from host_tools.report import inputs, page, plots, series as series_mod

HTML_ENDINGS = (".html", ".htm")


def _plan(out, sections):
    """The files the report will write: {path: what}; a folder OUT gets index.html and PNGs."""
    if out.lower().endswith(HTML_ENDINGS):
        return None
    names = {}
    for n, section in enumerate(sections):
        prefix = "" if len(sections) == 1 else "%02d-%s-" % (n + 1, page.slug(section.title))
        for key, _, _ in plots.PLOTS:
            names[(n, key)] = os.path.join(out, prefix + key + ".png")
    return names


def run(args, err=None):
    err = err or sys.stderr
    out = args.output
    as_page = out.lower().endswith(HTML_ENDINGS)
    if not as_page and os.path.isfile(out):
        return exits.usage("-o %s is a file that does not end in .html" % out,
                           "give OUT.html for one page, or a folder for PNGs and an index.html", err)
    say = lambda msg: print("report: %s" % msg, file=err)      # noqa: E731
    try:
        sections = inputs.load(args.inputs)
    except inputs.InputError as e:
        return exits.error(str(e), out=err)
    names = _plan(out, sections)
    written = [out] if as_page else list(names.values()) + [os.path.join(out, "index.html")]
    taken = inputs.input_paths(args.inputs)
    for path in written:
        if os.path.realpath(path) in taken:
            return exits.usage("the output %s would replace an input" % path, "choose another -o", err)
    if not as_page:
        os.makedirs(out, exist_ok=True)
    parts, total, left_out = [], 0, 0
    try:
        for n, section in enumerate(sections):
            say("%s: reading %s" % (section.title, ", ".join(section.sources) or "nothing"))
            s = series_mod.build(section)
            for key, why in s.skipped.items():
                say("%s: left out the %s plot: %s" % (section.title, key, why))
            left_out += len(s.skipped)
            figs = plots.figures(s, section.title, say=lambda m, t=section.title: say("%s: %s" % (t, m)))
            images = []
            for key, caption, png in figs:
                if as_page:
                    images.append((caption, page.data_uri(png)))
                else:
                    page.write_atomic(names[(n, key)], png)
                    images.append((caption, os.path.basename(names[(n, key)])))
            total += len(figs)
            parts.append(page.section_html(section, s, images))
    except RuntimeError as e:       # matplotlib missing (iec_report._pyplot says what to do)
        return exits.error(str(e), out=err)
    doc = page.document(parts).encode("utf-8")
    page.write_atomic(out if as_page else os.path.join(out, "index.html"), doc)
    say("wrote %s: %d figures, %d left out (the page says why)" % (out, total, left_out))
    return exits.OK


def add_parser(sub):
    s = sub.add_parser("report", help="plots of a status recording, an event log or a HIL run "
                                      "(PNG folder or one HTML page; no port needed)")
    s.add_argument("inputs", nargs="+", metavar="INPUT",
                   help="a status recording (pumpctl status --watch --json > FILE), an event log "
                        "(pumpctl log --json > FILE), a HIL run folder (pytest hil_tests --record DIR) "
                        "or an IEC bench samples CSV; several files make one section")
    s.add_argument("-o", "--output", required=True, metavar="OUT",
                   help="OUT.html: one self-contained page; anything else: a folder of PNGs and index.html")
    s.set_defaults(func=lambda a: run(a), offline=True)
