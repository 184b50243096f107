"""Small text charts in braille dots (2x4 per character cell) and a 24 h rate bar, with no dependency but rich."""
from rich.text import Text

BRAILLE = 0x2800
# the dot bit of (column in cell, row in cell from the top)
_DOT = ((0x01, 0x02, 0x04, 0x40), (0x08, 0x10, 0x20, 0x80))
LEVELS = " ▁▂▃▄▅▆▇█"
MS_PER_DAY = 86400000


def _span(values, pad=0.0):
    lo, hi = min(values), max(values)
    if hi - lo < 1e-12:
        # a flat series still needs a range to sit in: centre it
        lo, hi = lo - 1.0, hi + 1.0
    extra = (hi - lo) * pad
    return lo - extra, hi + extra


def plot(series, width, height, x_range=None, y_range=None):
    """Rows (top first) of (character, style or None) for series [(points [(x, y)], style)], lines
    joining each series' points. Where two series share a cell the later one's style wins (draw
    the one that matters most last). Returns (rows, x_range, y_range)."""
    xs = [x for pts, _ in series for x, _ in pts]
    ys = [y for pts, _ in series for _, y in pts]
    cells = [[0] * width for _ in range(height)]
    styles = [[None] * width for _ in range(height)]
    if not xs:
        return [[(" ", None)] * width for _ in range(height)], x_range, y_range
    x0, x1 = x_range or _span(xs)
    y0, y1 = y_range or _span(ys, 0.05)
    if x1 <= x0:
        x1 = x0 + 1.0
    if y1 <= y0:
        y1 = y0 + 1.0
    dots_w, dots_h = width * 2, height * 4

    def dot(x, y):
        dx = int(round((x - x0) / (x1 - x0) * (dots_w - 1)))
        dy = int(round((y - y0) / (y1 - y0) * (dots_h - 1)))
        return min(max(dx, 0), dots_w - 1), min(max(dy, 0), dots_h - 1)

    for pts, style in series:
        prev = None
        for x, y in pts:
            at = dot(x, y)
            steps = 1 if prev is None else max(abs(at[0] - prev[0]), abs(at[1] - prev[1]), 1)
            for i in range(1, steps + 1):
                if prev is None:
                    px, py = at
                else:
                    px = prev[0] + (at[0] - prev[0]) * i // steps
                    py = prev[1] + (at[1] - prev[1]) * i // steps
                row = height - 1 - py // 4
                col = px // 2
                cells[row][col] |= _DOT[px % 2][3 - py % 4]
                styles[row][col] = style
            prev = at
    rows = [[(chr(BRAILLE + cells[r][c]) if cells[r][c] else " ", styles[r][c]) for c in range(width)]
            for r in range(height)]
    return rows, (x0, x1), (y0, y1)


def chart(series, width, height, x_range=None, y_range=None, y_fmt="%.1f", x_fmt="%.1f", x_unit=""):
    """A rich Text chart: the plot with the y range on the left and the x range underneath."""
    label_w = max(len(y_fmt % v) for v in (y_range or (0.0, 0.0)) + (0.0,)) if y_range else 7
    label_w = max(label_w, 7)
    plot_w = max(width - label_w - 1, 4)
    rows, xr, yr = plot(series, plot_w, max(height - 1, 1), x_range, y_range)
    text = Text(no_wrap=True, overflow="crop")
    for i, row in enumerate(rows):
        label = ""
        if yr is not None and i == 0:
            label = y_fmt % yr[1]
        elif yr is not None and i == len(rows) - 1:
            label = y_fmt % yr[0]
        text.append(label.rjust(label_w)[-label_w:] + "│", style="dim")
        for ch, style in row:
            text.append(ch, style=style)
        text.append("\n")
    if xr is not None:
        left, right = (x_fmt % xr[0]) + x_unit, (x_fmt % xr[1]) + x_unit
        gap = max(plot_w - len(left) - len(right), 1)
        text.append(" " * label_w + "└" + left + " " * gap + right, style="dim")
    else:
        text.append(" " * label_w + "└" + "(no data yet)", style="dim")
    return text


def day_bar(steps, width):
    """One character per slice of the day: the basal rate's level (steps: [(from_ms, to_ms, uL/h)]
    after midnight, as Programmed.day_steps gives them), scaled to the day's highest rate."""
    top = max([r for _, _, r in steps] + [1e-9])
    out = []
    for i in range(width):
        t = (i + 0.5) * MS_PER_DAY / width
        rate = next((r for a, b, r in steps if a <= t < b), 0.0)
        level = 0 if rate <= 0 else max(1, int(round(rate / top * (len(LEVELS) - 1))))
        out.append(LEVELS[level])
    return "".join(out)


def marker_column(ms_after_midnight, width):
    """The character column of the day bar that holds this time of day."""
    col = int(ms_after_midnight * width // MS_PER_DAY)
    return min(max(col, 0), width - 1)


def bolus_row(boluses, width, mark="▼"):
    """A row over the day bar with a mark at the column of each bolus start
    (boluses: [(from_ms, to_ms, uL)] after midnight, as Programmed.day_boluses gives them)."""
    chars = [" "] * width
    for start, _, _ in boluses:
        chars[marker_column(start, width)] = mark
    return "".join(chars)


def hour_ruler(width, every_h=3):
    """Hour labels under a day bar of this width: 00, 03, 06... at their columns."""
    chars = [" "] * width
    for h in range(0, 24, every_h):
        col = marker_column(h * 3600000, width)
        label = "%02d" % h
        if col + len(label) <= width:
            chars[col:col + len(label)] = list(label)
    return "".join(chars)
