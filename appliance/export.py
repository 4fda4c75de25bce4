"""A night as files a doctor can open: its movements as CSV, its raw signal as EDF+.

The appliance's, not the web's: the dashboard asks for the bytes and serves them.
"""
from __future__ import annotations

import datetime as dt


def movements_csv(night: dict) -> str:
    """One row per movement, with local clock times beside the seconds from the night's origin."""
    start = dt.datetime.fromisoformat(night["recording"]["start"])
    lines = ["onset_local,offset_local,onset_s,offset_s,duration_s,kind,periodic,series"]
    for m in night["movements"]:
        on = (start + dt.timedelta(seconds=m["onset_s"])).astimezone()
        off = (start + dt.timedelta(seconds=m["offset_s"])).astimezone()
        lines.append(f"{on.isoformat(timespec='seconds')},{off.isoformat(timespec='seconds')},"
                     f"{m['onset_s']},{m['offset_s']},{m['offset_s'] - m['onset_s']:.2f},{m['kind']},"
                     f"{int(m['periodic'])},{'' if m['series'] is None else m['series']}")
    return "\n".join(lines) + "\n"


def night_edf(night: dict, raw_dir: str) -> bytes | None:
    """The night's raw signal as EDF+, each movement an annotation (LM, PLM, large), or None if not kept."""
    from sensor.rawlog import read_span
    from sensor.recording import edf_bytes

    origin = dt.datetime.fromisoformat(night["recording"]["start"]).timestamp()
    bed = night["bed"]
    a = origin + (bed[0]["in_s"] if bed else 0.0) - 60
    b = origin + (bed[-1]["out_s"] if bed else night["recording"]["duration_s"]) + 60
    found = read_span(raw_dir, a, b)
    if found is None:
        return None
    rec, start = found
    rec.start = dt.datetime.fromtimestamp(start, dt.timezone.utc)
    shift = origin - start
    for m in night["movements"]:
        label = "large movement" if m["kind"] == "large" else ("PLM" if m["periodic"] else "LM")
        onset = m["onset_s"] + shift
        if 0 <= onset < rec.duration_s:
            rec.annotations.append((round(onset, 3), round(m["offset_s"] - m["onset_s"], 3), label))
    for p in bed:
        for t, what in ((p["in_s"], "in bed"), (p["out_s"], "out of bed")):
            if 0 <= t + shift < rec.duration_s:
                rec.annotations.append((round(t + shift, 3), 0.0, what))
    rec.annotations.sort()
    return edf_bytes(rec)
