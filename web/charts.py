"""Charts drawn on the server as inline SVG: no script, no CDN, readable when printed.

Each function takes plain numbers and returns an SVG string. Sizes are in viewBox
units laid out for a phone (360 wide); the SVG scales to its container. Colours
come from CSS classes, so dark and light themes and print all work.
"""
from __future__ import annotations

from html import escape

W = 360


def _svg(height: int, body: list[str], label: str, cls: str) -> str:
    return (f'<svg class="chart {cls}" viewBox="0 0 {W} {height}" role="img" aria-label="{escape(label)}" '
            f'xmlns="http://www.w3.org/2000/svg">' + "".join(body) + "</svg>")


def _clock(t: float, origin_clock_s: float) -> str:
    s = int(origin_clock_s + t) % 86400
    return f"{s // 3600:02d}:{s % 3600 // 60:02d}"


def timeline(movements: list[dict], series: list[dict], bed: list[dict], start_s: float, end_s: float,
             origin_clock_s: float) -> str:
    """The night left to right: in-bed band, series bands, a tick per movement (periodic marked)."""
    h, top, base = 120, 22, 92
    span = max(end_s - start_s, 1.0)
    left, width = 6, W - 12

    def x(t):
        return left + (t - start_s) / span * width

    body = [f'<rect class="night-bg" x="{left}" y="{top}" width="{width}" height="{base - top}"/>']
    for b in bed:
        body.append(f'<rect class="inbed" x="{x(b["in_s"]):.1f}" y="{top}" '
                    f'width="{max(x(b["out_s"]) - x(b["in_s"]), 0.5):.1f}" height="{base - top}"/>')
    for s in series:
        body.append(f'<rect class="series-band" x="{x(s["onset_s"]):.1f}" y="{top}" '
                    f'width="{max(x(s["offset_s"]) - x(s["onset_s"]), 1):.1f}" height="10">'
                    f'<title>series {s["id"]}: {s["count"]} movements</title></rect>')
    for m in movements:
        if m["kind"] == "large":
            body.append(f'<rect class="tick large" x="{x(m["onset_s"]):.1f}" y="{base - 40}" '
                        f'width="{max(x(m["offset_s"]) - x(m["onset_s"]), 1.2):.1f}" height="40" '
                        f'data-onset="{m["onset_s"]}"><title>large movement at '
                        f'{_clock(m["onset_s"], origin_clock_s)}</title></rect>')
        else:
            cls = "tick lm periodic" if m["periodic"] else "tick lm"
            body.append(f'<line class="{cls}" x1="{x(m["onset_s"]):.1f}" x2="{x(m["onset_s"]):.1f}" '
                        f'y1="{base - (30 if m["periodic"] else 20)}" y2="{base}" data-onset="{m["onset_s"]}"/>')
    # hour marks
    first_hour = 3600 - (origin_clock_s + start_s) % 3600
    t = start_s + first_hour
    step = 3600 if span <= 6 * 3600 * 1.5 else 7200
    while t < end_s:
        body.append(f'<line class="grid" x1="{x(t):.1f}" x2="{x(t):.1f}" y1="{top}" y2="{base + 4}"/>')
        body.append(f'<text class="axis" x="{x(t):.1f}" y="{base + 16}" text-anchor="middle">'
                    f'{_clock(t, origin_clock_s)}</text>')
        t += step
    body.append(f'<text class="legend" x="{left}" y="14">in bed · <tspan class="plm-key">periodic</tspan> · '
                f'<tspan class="lm-key">other</tspan> · <tspan class="large-key">large</tspan></text>')
    return _svg(h, body, "timeline of the night", "timeline")


def bars(values: list[float], labels: list[str], label: str, cls: str, reference: float | None = None,
         reference_label: str = "", height: int = 130) -> str:
    """A bar chart: one bar per value, optional horizontal reference line."""
    top, base, left, right = 12, height - 22, 26, W - 6
    vmax = max([*values, reference or 0, 1e-9]) * 1.1
    n = max(len(values), 1)
    bw = (right - left) / n
    body = []
    for frac in (0.5, 1.0):
        y = base - frac * (base - top) / 1.1
        body.append(f'<line class="grid" x1="{left}" x2="{right}" y1="{y:.1f}" y2="{y:.1f}"/>')
        body.append(f'<text class="axis" x="{left - 3}" y="{y + 3:.1f}" text-anchor="end">{vmax / 1.1 * frac:.0f}</text>')
    for i, v in enumerate(values):
        bh = v / vmax * (base - top)
        body.append(f'<rect class="bar" x="{left + i * bw + 0.5:.1f}" y="{base - bh:.1f}" width="{max(bw - 1, 0.5):.1f}" '
                    f'height="{bh:.1f}"><title>{escape(labels[i])}: {v:g}</title></rect>')
    every = max(1, n // 8)
    for i in range(0, n, every):
        body.append(f'<text class="axis" x="{left + (i + 0.5) * bw:.1f}" y="{base + 14}" text-anchor="middle">'
                    f'{escape(labels[i])}</text>')
    if reference is not None:
        y = base - reference / vmax * (base - top)
        body.append(f'<line class="reference" x1="{left}" x2="{right}" y1="{y:.1f}" y2="{y:.1f}"/>')
        body.append(f'<text class="axis ref-label" x="{right}" y="{y - 3:.1f}" text-anchor="end">'
                    f'{escape(reference_label)}</text>')
    body.append(f'<line class="axis-line" x1="{left}" x2="{right}" y1="{base}" y2="{base}"/>')
    return _svg(height, body, label, cls)


def trend(points: list[tuple[str, float | None]], median: float | None, reference: float = 15.0) -> str:
    """PLMI night by night, with the median and the 15/h reference."""
    h, top, base, left, right = 150, 14, 124, 26, W - 6
    vals = [v for _, v in points if v is not None]
    vmax = max([*vals, reference, 1.0]) * 1.15
    n = max(len(points), 1)

    def x(i):
        return left + (i + 0.5) * (right - left) / n

    def y(v):
        return base - v / vmax * (base - top)

    body = [f'<line class="axis-line" x1="{left}" x2="{right}" y1="{base}" y2="{base}"/>',
            f'<line class="reference" x1="{left}" x2="{right}" y1="{y(reference):.1f}" y2="{y(reference):.1f}"/>',
            f'<text class="axis ref-label" x="{right}" y="{y(reference) - 3:.1f}" text-anchor="end">15/h</text>']
    path = []
    for i, (d, v) in enumerate(points):
        if v is None:
            continue
        path.append(f"{'M' if not path else 'L'}{x(i):.1f},{y(v):.1f}")
        body.append(f'<circle class="point" cx="{x(i):.1f}" cy="{y(v):.1f}" r="2.5"><title>{escape(d)}: '
                    f'{v:.1f}/h</title></circle>')
    if path:
        body.insert(1, f'<path class="line" d="{" ".join(path)}"/>')
    if median is not None:
        body.append(f'<line class="median" x1="{left}" x2="{right}" y1="{y(median):.1f}" y2="{y(median):.1f}"/>')
        body.append(f'<text class="axis" x="{left + 2}" y="{y(median) - 3:.1f}">median {median:.1f}</text>')
    if points:
        body.append(f'<text class="axis" x="{left}" y="{base + 16}">{escape(points[0][0])}</text>')
        body.append(f'<text class="axis" x="{right}" y="{base + 16}" text-anchor="end">{escape(points[-1][0])}</text>')
    return _svg(h, body, "PLMI night by night", "trend")
