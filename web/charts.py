"""Charts drawn on the server as inline SVG: no script, no CDN, readable when printed.

Each function takes plain numbers and returns an SVG string. Sizes are in viewBox
units laid out for a phone (360 wide); the SVG scales to its container, which the
style caps at 480 px, so text of TEXT units reads at 13-19 px from a 390 px phone
to a desktop. Labels are spaced by their own width at that size, never crowded.
Colours come from CSS classes, so dark and light themes and print all work.
"""
from __future__ import annotations

import math
from html import escape

W = 360
TEXT = 14            # the charts' text size in viewBox units (kickwatch.css says the same)
CHAR_W = 0.6 * TEXT  # a digit or letter's width, near enough, for spacing labels


def _every(labels: list[str], room: float) -> int:
    """Label every k-th slot so that labels of this length fit side by side in `room` units."""
    if not labels:
        return 1
    widest = max(len(t) for t in labels) * CHAR_W + CHAR_W
    return max(1, math.ceil(len(labels) * widest / room))


def _ticks(top: float) -> list[float]:
    """Whole-number y ticks from zero: steps of 1, 2, 5 or 10^k times them, at most four above zero."""
    step = 1.0
    while top / step > 4:
        for f in (2, 2.5, 2):
            step *= f
            if top / step <= 4:
                break
    return [k * step for k in range(int(top // step) + 1)]


def _svg(height: int, body: list[str], label: str, cls: str) -> str:
    return (f'<svg class="chart {cls}" viewBox="0 0 {W} {height}" role="img" aria-label="{escape(label)}" '
            f'xmlns="http://www.w3.org/2000/svg">' + "".join(body) + "</svg>")


def _clock(t: float, origin_clock_s: float) -> str:
    s = int(origin_clock_s + t) % 86400
    return f"{s // 3600:02d}:{s % 3600 // 60:02d}"


def _hour_marks(start_s: float, end_s: float, origin_clock_s: float, x, left: float, right: float) -> list[float]:
    """The whole clock hours between start and end (every k-th, so their labels fit side by side),
    as seconds; a label the edge would cut is not shown."""
    span = max(end_s - start_s, 1.0)
    step = 3600 * _every(["00:00"] * max(1, int(span // 3600)), right - left)
    out, t = [], start_s + 3600 - (origin_clock_s + start_s) % 3600
    while t < end_s:
        if left + 20 <= x(t) <= right - 20:
            out.append(t)
        t += step
    return out


def timeline(movements: list[dict], series: list[dict], bed: list[dict], start_s: float, end_s: float,
             origin_clock_s: float) -> str:
    """The night left to right: in-bed band, series bands, a tick per movement (periodic marked)."""
    h, top, base = 128, 24, 96
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
    for t in _hour_marks(start_s, end_s, origin_clock_s, x, left, left + width):
        body.append(f'<line class="grid" x1="{x(t):.1f}" x2="{x(t):.1f}" y1="{top}" y2="{base + 4}"/>')
        body.append(f'<text class="axis" x="{x(t):.1f}" y="{base + 18}" text-anchor="middle">'
                    f'{_clock(t, origin_clock_s)}</text>')
    body.append(f'<text class="legend" x="{left}" y="16"><tspan class="plm-key">periodic</tspan> · '
                f'<tspan class="lm-key">other</tspan> · <tspan class="large-key">large</tspan> · in bed shaded</text>')
    return _svg(h, body, "timeline of the night", "timeline")


def bars(values: list[float], labels: list[str], label: str, cls: str, unit: str, height: int = 150) -> str:
    """A bar chart: one bar per value, whole-number y ticks, `unit` saying what the bars count."""
    top, base, left, right = 26, height - 24, 30, W - 6
    ticks = _ticks(max([*values, 1]))
    vmax = max(ticks[-1], max(values, default=0), 1)
    n = max(len(values), 1)
    bw = (right - left) / n
    body = [f'<text class="axis unit" x="{left}" y="{top - 10}">{escape(unit)}</text>']
    for v in ticks:
        y = base - v / vmax * (base - top)
        if v:
            body.append(f'<line class="grid" x1="{left}" x2="{right}" y1="{y:.1f}" y2="{y:.1f}"/>')
        body.append(f'<text class="axis" x="{left - 4}" y="{y + TEXT * 0.35:.1f}" text-anchor="end">{v:g}</text>')
    for i, v in enumerate(values):
        bh = v / vmax * (base - top)
        body.append(f'<rect class="bar" x="{left + i * bw + 0.5:.1f}" y="{base - bh:.1f}" width="{max(bw - 1, 0.5):.1f}" '
                    f'height="{bh:.1f}"><title>{escape(labels[i])}: {v:g}</title></rect>')
    every = _every(labels, right - left)
    for i in range(0, n, every):
        body.append(f'<text class="axis" x="{left + (i + 0.5) * bw:.1f}" y="{base + 18}" text-anchor="middle">'
                    f'{escape(labels[i])}</text>')
    body.append(f'<line class="axis-line" x1="{left}" x2="{right}" y1="{base}" y2="{base}"/>')
    return _svg(height, body, label, cls)


def trend(points: list[tuple[str, float | None]], median: float | None, reference: float) -> str:
    """PLMI night by night, with the median and the `reference` line (elevated), and y ticks per hour."""
    h, top, base, left, right = 170, 26, 142, 30, W - 6
    vals = [v for _, v in points if v is not None]
    ticks = _ticks(max([*vals, reference, 1.0]) * 1.1)
    vmax = max(ticks[-1], *vals, reference * 1.1)
    n = max(len(points), 1)

    def x(i):
        return left + (i + 0.5) * (right - left) / n

    def y(v):
        return base - v / vmax * (base - top)

    body = [f'<line class="axis-line" x1="{left}" x2="{right}" y1="{base}" y2="{base}"/>',
            f'<text class="axis unit" x="{left}" y="{top - 10}">per hour in bed</text>']
    for v in ticks:
        if v:
            body.append(f'<line class="grid" x1="{left}" x2="{right}" y1="{y(v):.1f}" y2="{y(v):.1f}"/>')
        body.append(f'<text class="axis" x="{left - 4}" y="{y(v) + TEXT * 0.35:.1f}" text-anchor="end">{v:g}</text>')
    body += [f'<line class="reference" x1="{left}" x2="{right}" y1="{y(reference):.1f}" y2="{y(reference):.1f}"/>',
             f'<text class="axis ref-label" x="{right}" y="{y(reference) - 4:.1f}" text-anchor="end">{reference:g}/h</text>']
    path = []
    for i, (d, v) in enumerate(points):
        if v is None:
            continue
        path.append(f"{'M' if not path else 'L'}{x(i):.1f},{y(v):.1f}")
        body.append(f'<circle class="point" cx="{x(i):.1f}" cy="{y(v):.1f}" r="3"><title>{escape(d)}: '
                    f'{v:.1f}/h</title></circle>')
    if path:
        body.insert(1, f'<path class="line" d="{" ".join(path)}"/>')
    if median is not None:
        body.append(f'<line class="median" x1="{left}" x2="{right}" y1="{y(median):.1f}" y2="{y(median):.1f}"/>')
        body.append(f'<text class="axis" x="{left + 4}" y="{y(median) - 4:.1f}">median {median:.1f}</text>')
    if points:
        body.append(f'<text class="axis" x="{left}" y="{base + 18}">{escape(points[0][0])}</text>')
        if len(points) > 1:
            body.append(f'<text class="axis" x="{right}" y="{base + 18}" text-anchor="end">'
                        f'{escape(points[-1][0])}</text>')
    return _svg(h, body, "PLMI night by night", "trend")


def rates(vitals: list[dict], key: str, start_s: float, end_s: float, origin_clock_s: float, label: str,
          unit: str, cls: str, events: list[dict] | None = None) -> str:
    """A rate minute by minute across the night (the timeline's span), broken where a minute has none;
    `events` (breathing pauses) marked along the bottom."""
    h, top, base, left, right = 130, 26, 104, 30, W - 6
    span = max(end_s - start_s, 1.0)
    vals = [v[key] for v in vitals if v[key] is not None]
    lo = math.floor(min(vals) / 10) * 10 if vals else 0
    hi = math.ceil(max(vals) / 10) * 10 if vals else 10
    hi = max(hi, lo + 10)

    def x(t):
        return left + (t - start_s) / span * (right - left)

    def y(v):
        return base - (v - lo) / (hi - lo) * (base - top)

    body = [f'<text class="axis unit" x="{left}" y="{top - 10}">{escape(unit)}</text>',
            f'<line class="axis-line" x1="{left}" x2="{right}" y1="{base}" y2="{base}"/>']
    for v in (lo, (lo + hi) / 2, hi):
        body.append(f'<line class="grid" x1="{left}" x2="{right}" y1="{y(v):.1f}" y2="{y(v):.1f}"/>')
        body.append(f'<text class="axis" x="{left - 4}" y="{y(v) + TEXT * 0.35:.1f}" text-anchor="end">{v:g}</text>')
    path, last = [], None
    for v in vitals:
        if v[key] is None:
            last = None
            continue
        mid = v["t_s"] + 30
        gap = last is None or mid - last > 90
        path.append(f"{'M' if gap else 'L'}{x(mid):.1f},{y(v[key]):.1f}")
        last = mid
    if path:
        body.append(f'<path class="line {cls}-line" d="{" ".join(path)}"/>')
    for e in events or []:
        body.append(f'<rect class="pause" x="{x(e["onset_s"]):.1f}" y="{base - 8}" '
                    f'width="{max(x(e["offset_s"]) - x(e["onset_s"]), 1.2):.1f}" height="8">'
                    f'<title>breathing pause at {_clock(e["onset_s"], origin_clock_s)}</title></rect>')
    for t in _hour_marks(start_s, end_s, origin_clock_s, x, left, right):
        body.append(f'<text class="axis" x="{x(t):.1f}" y="{base + 18}" text-anchor="middle">'
                    f'{_clock(t, origin_clock_s)}</text>')
    if not vals:
        body.append(f'<text class="axis" x="{(left + right) / 2}" y="{(top + base) / 2}" text-anchor="middle">'
                    'no minute with a clear rhythm</text>')
    return _svg(h, body, label, cls)


def intervals(counts: list[int], label: str) -> str:
    """The intervals between leg movements, onset to onset, in 2 s bins from zero (one night's or many)."""
    return bars(counts, [str(i * 2) for i in range(len(counts))], label, "imi", unit="intervals, by seconds between onsets")


RESPONSE_CURVES = (("other", "other-kicks"), ("periodic", "periodic-kicks"))   # heart_response key, line class


def response(t_s: list[int], curves: list[tuple[str, list]], label: str) -> str:
    """The heart rate around a kick: seconds from its onset left to right, one line per curve (its
    class and its per-second values, None where unknown), the onset marked."""
    h, top, base, left, right = 150, 26, 124, 30, W - 6
    vals = [v for _, c in curves for v in c if v is not None]
    lo = math.floor(min(vals) - 1) if vals else 50
    hi = math.ceil(max(vals) + 1) if vals else 70

    def x(t):
        return left + (t - t_s[0]) / (t_s[-1] - t_s[0]) * (right - left)

    def y(v):
        return base - (v - lo) / max(hi - lo, 1) * (base - top)

    body = [f'<text class="axis unit" x="{left}" y="{top - 10}">beats a minute, by seconds from the kick</text>',
            f'<line class="axis-line" x1="{left}" x2="{right}" y1="{base}" y2="{base}"/>',
            f'<line class="reference" x1="{x(0):.1f}" x2="{x(0):.1f}" y1="{top}" y2="{base}"/>']
    for v in (lo, hi):
        body.append(f'<text class="axis" x="{left - 4}" y="{y(v) + TEXT * 0.35:.1f}" text-anchor="end">{v:g}</text>')
    for t, anchor in ((t_s[0], "start"), (0, "middle"), (10, "middle"), (20, "middle"), (t_s[-1], "end")):
        body.append(f'<text class="axis" x="{x(t):.1f}" y="{base + 18}" text-anchor="{anchor}">'
                    f'{f"{t:+d} s" if t else "kick"}</text>')
    for cls, curve in curves:
        path, gap = [], True
        for t, v in zip(t_s, curve):
            if v is None:
                gap = True
                continue
            path.append(f"{'M' if gap else 'L'}{x(t):.1f},{y(v):.1f}")
            gap = False
        if path:
            body.append(f'<path class="line {cls}" d="{" ".join(path)}"/>')
    return _svg(h, body, label, "response")


def strip(points: list[tuple[str, float | None]], current: str, reference: float) -> str:
    """The last nights at a glance: one mark a night, its height the PLMI, the elevated ones and the
    night shown marked; a night with no rate (too short in bed) is a small dash."""
    h, top, base, left, right = 64, 6, 50, 4, W - 4
    vals = [v for _, v in points if v is not None]
    vmax = max([*vals, reference * 1.5, 1.0])
    slot = (right - left) / max(len(points), 1)
    ref_y = base - reference / vmax * (base - top)
    body = [f'<line class="reference" x1="{left}" x2="{right}" y1="{ref_y:.1f}" y2="{ref_y:.1f}"/>']
    for i, (d, v) in enumerate(points):
        x = left + i * slot + slot * 0.15
        w = slot * 0.7
        cls = "mark" + (" high" if v is not None and v > reference else "") + (" current" if d == current else "")
        if v is None:
            body.append(f'<rect class="{cls} none" x="{x:.1f}" y="{base - 2}" width="{w:.1f}" height="2">'
                        f'<title>{escape(d)}: no rate</title></rect>')
            continue
        y = base - max(v / vmax * (base - top), 2.0)
        body.append(f'<rect class="{cls}" x="{x:.1f}" y="{y:.1f}" width="{w:.1f}" height="{base - y:.1f}">'
                    f'<title>{escape(d)}: {v:.1f}/h</title></rect>')
    if points:
        body.append(f'<text class="axis" x="{left}" y="{h - 1}">{escape(points[0][0][5:])}</text>')
        body.append(f'<text class="axis" x="{right}" y="{h - 1}" text-anchor="end">{escape(points[-1][0][5:])}</text>')
    return _svg(h, body, f"the last {len(points)} nights' PLMI, one mark a night", "strip")
