"""The `kickwatch` command line.

Heavy imports (numpy, the detector, the store) happen inside each command, so
`kickwatch --help` starts quickly on a Pi. Every error a user can cause ends in
one line on stderr and a non-zero exit status (sysexits codes, so systemd can
tell a bad config, which it must not retry forever, from a passing fault).
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sys
import time
from pathlib import Path

from appliance.errors import (EX_IOERR, EX_SOFTWARE, EX_UNAVAILABLE, EX_USAGE, KickwatchError, NothingToShow,
                              UsageError, exit_code)



def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except UsageError as e:
        return _fail(str(e), e.code)
    if not getattr(args, "func", None):
        parser.print_help()
        return EX_USAGE
    try:
        return args.func(args) or 0
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 0
    except Exception as e:  # the last line of defence: one line, never a traceback
        if os.environ.get("KICKWATCH_DEBUG"):
            raise
        return _fail(*_said(e))


def _said(e: Exception) -> tuple[str, int]:
    """One line for the person, and the README's exit status for it."""
    code = exit_code(e)
    if code == EX_IOERR:
        hint = " (disk full?)" if getattr(e, "errno", None) == 28 else ""
        return f"{e.strerror or e}{hint}: {e.filename or ''}".rstrip(": "), code
    if code == EX_SOFTWARE and not isinstance(e, KickwatchError):
        return (f"internal error (a bug in kickwatch, not your input): {type(e).__name__}: {e} "
                "(set KICKWATCH_DEBUG=1 for the details)"), code
    return str(e), code


def _fail(message: str, code: int) -> int:
    print(f"kickwatch: error: {message}", file=sys.stderr)
    return code


class Parser(argparse.ArgumentParser):
    """argparse, but a bad command line is one kickwatch line and exit 64, as the README says."""

    def error(self, message: str):
        raise UsageError(f"{message} (kickwatch {self.prog.removeprefix('kickwatch').strip() or ''} --help "
                         "lists the options)".replace("  ", " "))


def build_parser() -> argparse.ArgumentParser:
    p = Parser(
        prog="kickwatch",
        description="Finds periodic limb movements in sleep from a strip under the mattress. "
                    "Not a diagnosis: evidence to bring to a doctor.")
    sub = p.add_subparsers(title="commands", metavar="COMMAND", parser_class=Parser)

    a = sub.add_parser("analyze", help="analyse a recording (.npz, .csv, .edf) offline",
                       description="Analyse a recording offline: leg movements, PLM series, PLMI. "
                                   "The same detector as the daemon.")
    a.add_argument("recording", help="a .npz, .csv or .edf recording")
    a.add_argument("--json", action="store_true", help="print one JSON object (the documented contract)")
    a.add_argument("--config", help="a kickwatch.toml for the rules and detection settings")
    a.add_argument("--shared-bed", action="store_true",
                   help="someone else slept in the bed: leave out movements that came through the mattress "
                        "(as [detection] shared_bed = true)")
    a.add_argument("--sleepers", metavar="NAME,NAME",
                   help="two sleepers, channel k under the k-th name (as [source] sleepers): each one's own night")
    a.set_defaults(func=cmd_analyze)

    s = sub.add_parser("simulate", help="simulate a night on a strip, with its ground truth",
                       description="Write a simulated night and, beside it, NAME.truth.json with what really happened.")
    s.add_argument("out", help="where to write it: .npz, .csv or .edf")
    s.add_argument("--hours", type=float, default=8.0, help="length of the night (default 8)")
    s.add_argument("--seed", type=int, default=1, help="random seed (default 1)")
    s.add_argument("--profile", default="piezo12", help="piezo12, piezo10, loadcell, loadcell500, severe, quiet, partner, "
                        "breathing, breathing_loadcell; two sleepers, a strip under each: couple, couple_loadcell, "
                        "couple_breathing")
    s.add_argument("--start", help="ISO start time (default: yesterday 22:30 local)")
    s.set_defaults(func=cmd_simulate)

    r = sub.add_parser("run", help="the daemon: read the strip, detect, store",
                       description="Read samples, detect movements and nights, store them. "
                                   "Runs under systemd as kickwatch.service.")
    r.add_argument("--config", help="config file (default /etc/kickwatch/kickwatch.toml)")
    r.add_argument("--source", help="mcp3208, mcp3008, ads1256, sim, or a recording's path (overrides the config)")
    r.add_argument("--speed", choices=["realtime", "max"], help="pace of a recording or the simulator")
    r.add_argument("--db", help="database path (overrides the config)")
    r.set_defaults(func=cmd_run)

    n = sub.add_parser("night", help="show a stored night",
                       description="A stored night in the same shape as 'analyze'. With no date, the last night.")
    n.add_argument("date", nargs="?", help="the evening's date, YYYY-MM-DD (default: the last night)")
    n.add_argument("--db", help="database path (default: the config's store.database)")
    n.add_argument("--config", help="config file")
    n.add_argument("--json", action="store_true", help="print one JSON object")
    n.add_argument("--sleeper", metavar="NAME", help="with two sleepers, only this one's night (default: both)")
    n.set_defaults(func=cmd_night)

    q = sub.add_parser("rescore", help="count stored nights again under today's series rules, and say what changed",
                       description="A stored night keeps the figures it was recorded with. After changing "
                                   "[series] settings, this counts closed nights again with them and lists "
                                   "each change; the night still being recorded is left to the recorder.")
    q.add_argument("dates", nargs="*", metavar="DATE", help="nights to count again, YYYY-MM-DD (default: all closed)")
    q.add_argument("--db", help="database path (default: the config's store.database)")
    q.add_argument("--config", help="config file whose rules to apply")
    q.set_defaults(func=cmd_rescore)

    w = sub.add_parser("web", help="serve the dashboard (waitress, read-only on the store)",
                       description="Serve the morning page on the house network. Runs as kickwatch-web.service.")
    w.add_argument("--db", help="database path (default: the config's)")
    w.add_argument("--host", help="address to listen on (default: the config's, 0.0.0.0)")
    w.add_argument("--port", type=int, help="port (default: the config's, 8080)")
    w.add_argument("--config", help="config file")
    w.set_defaults(func=cmd_web)

    d = sub.add_parser("doctor", help="check SPI, the ADC, the signal, the clock, the disk and the services",
                       description="One screen of checks, each OK or what to do. Exit status 1 if any fails.")
    d.add_argument("--config", help="config file")
    d.add_argument("--source", help="check this source instead of the config's")
    d.add_argument("--seconds", type=float, default=10.0, help="how long to listen to the strip (default 10)")
    d.set_defaults(func=cmd_doctor)

    k = sub.add_parser("calibrate", help="a guided placement check: lie still, then lift a foot three times",
                       description="Says whether the heartbeat, breathing and deliberate leg movements are seen, "
                                   "and what to change if not.")
    k.add_argument("--config", help="config file")
    k.add_argument("--source", help="use this source instead of the config's")
    k.set_defaults(func=cmd_calibrate)

    c = sub.add_parser("config", help="print the default config, every setting explained",
                       description="Print a commented kickwatch.toml with every setting and its default; "
                                   "with --check FILE, validate a config file.")
    c.add_argument("--check", metavar="FILE", help="validate this file and say what is wrong")
    c.set_defaults(func=cmd_config)
    return p


# -- commands -------------------------------------------------------------------------------
def _load_config(path):
    """Every command finds its config one way: --config, else $KICKWATCH_CONFIG, else /etc/kickwatch."""
    from appliance.config import load_config

    return load_config(path)


def cmd_analyze(args) -> int:
    from appliance.config import sleeper_names_problem
    from appliance.detection.analysis import analyze_couple, analyze_signal
    from sensor.recording import read_recording

    cfg = _load_config(args.config)
    if args.shared_bed:
        cfg.detection.shared_bed = True
    names = cfg.source.sleepers
    if args.sleepers is not None:
        names = [n.strip() for n in args.sleepers.split(",")]
        problem = sleeper_names_problem(names, 2)
        if problem:
            raise UsageError(f"--sleepers {problem}")
    rec = read_recording(args.recording)
    if len(names) == 2:
        if rec.signal.ndim != 2 or rec.signal.shape[1] != 2:
            raise UsageError(f"{args.recording} has {rec.channels} channel(s); two sleepers need a recording with "
                             "two, channel k under the k-th name")
        both = analyze_couple(rec.signal, rec.fs, names, cfg)
        for night in both.nights:
            if rec.start is not None:
                night.extra["start"] = rec.start.isoformat()
        out = both.as_dict()
        if args.json:
            _print_night(out, True, title=args.recording)
        else:
            print("\n\n".join(_sleeper_summary(d, both.names, out, args.recording) for d in out["sleepers"]))
        return 0
    result = analyze_signal(rec.signal, rec.fs, cfg)
    if cfg.detection.shared_bed:
        result.extra["shared_bed"] = True
    if rec.start is not None:
        result.extra["start"] = rec.start.isoformat()
    _print_night(result.as_dict(), args.json, title=args.recording)
    return 0


def _print_night(out: dict, as_json: bool, title: str) -> None:
    if as_json:
        sys.stdout.write(json.dumps(out) + "\n")   # one write: json.dump writes piece by piece, slowly
    else:
        print(format_summary(out, title=title))


def cmd_simulate(args) -> int:
    from sensor.recording import write_recording
    from sensor.simulator import COUPLES, PROFILES, simulate_night, truth_path

    if args.profile not in PROFILES | COUPLES:
        raise UsageError(f"unknown profile {args.profile!r}; choose from {', '.join(PROFILES | COUPLES)}")
    if args.start:
        try:
            start = dt.datetime.fromisoformat(args.start).astimezone()
        except ValueError:
            raise UsageError(f"--start must be an ISO time like 2026-11-23T22:30, got {args.start!r}")
    else:
        yesterday = dt.date.today() - dt.timedelta(days=1)
        start = dt.datetime.combine(yesterday, dt.time(22, 30)).astimezone()
    rec, truth = simulate_night(args.hours, args.seed, args.profile, start=start)
    path = write_recording(args.out, rec)
    truth_path(path).write_text(truth.to_json())
    moved = (" and ".join(f"sleeper {k + 1} (channel {k}): {len(sl['lms'])} leg movements, {len(sl['large'])} large"
                          for k, sl in enumerate(truth.sleepers)) if truth.sleepers
             else f"{len(truth.lms)} leg movements, {len(truth.large)} large")
    print(f"wrote {path} ({args.hours:g} h at {rec.fs:g} Hz, profile {args.profile}, seed {args.seed}): "
          f"{moved}; truth in {truth_path(path)}")
    return 0


def cmd_run(args) -> int:
    """The daemon; a start that fails leaves a note beside the database for the dashboard to show."""
    try:
        return _run(args)
    except Exception as e:
        message, code = _said(e)
        _leave_crash_note(args, message, code)
        raise


def _leave_crash_note(args, message: str, code: int) -> None:
    """Where the database would be: --db, else the config's (a broken config: the default)."""
    from appliance.config import Config, ConfigError, load_config
    from appliance.store import crash_note_path

    try:
        db = args.db or load_config(args.config).store.database
    except ConfigError:
        db = Config().store.database
    try:
        crash_note_path(db).write_text(json.dumps({"at": time.time(), "message": message, "code": code}))
    except OSError:
        pass


def _run(args) -> int:
    from appliance.daemon import Daemon
    from appliance.store import crash_note_path, open_for_daemon
    from sensor.sources import HARDWARE, describe_kind

    cfg = _load_config(args.config)
    src_cfg = cfg.source
    kind = args.source or src_cfg.kind
    speed = args.speed or src_cfg.speed
    db = args.db or cfg.store.database
    opener = _source_opener(cfg, kind, speed)
    source = opener()
    store, aside = open_for_daemon(db)
    crash_note_path(db).unlink(missing_ok=True)   # this start got as far as the store
    if aside:
        print(f"kickwatch: the database {db} was damaged; it is kept as {aside} and a fresh one started",
              file=sys.stderr)
    try:
        reopen = opener if kind in HARDWARE else None   # a sensor that comes back is opened the same way
        live = kind in HARDWARE or (kind == "sim" and bool(src_cfg.sim_start)) or src_cfg.follow_clock
        publisher = _publisher(cfg)
        daemon = Daemon(cfg, source, store, source_name=describe_kind(kind), finite=not live,
                        keep_empty_ref=live, reopen=reopen, publisher=publisher)
        daemon.install_signal_handlers()
        try:
            report = daemon.run()
        finally:
            if publisher is not None:
                publisher.close()
    finally:
        source.close()
    rate = report.stream_s / report.wall_s if report.wall_s > 0 else float("inf")
    print(f"read {report.stream_s / 3600:.2f} h of signal in {report.wall_s:.1f} s ({rate:,.0f}x real time); "
          f"{report.movements} movements in {len(report.nights)} night(s) stored in {db}")
    store.close()
    return 0


def _publisher(cfg):
    """Home Assistant over MQTT when [mqtt] host is set; a setting that cannot be used is said in one
    line, and the night is recorded all the same (publishing is the household's extra, not the job)."""
    if not cfg.mqtt.host:
        return None
    from appliance.homeassistant import Bed
    from appliance.mqtt import MqttSetupError, Publisher
    from importlib.metadata import PackageNotFoundError, version

    try:
        ours = version("kickwatch")
    except PackageNotFoundError:
        ours = ""
    publisher = Publisher(cfg.mqtt, Bed(cfg.mqtt, tuple(cfg.source.sleepers), ours))
    try:
        publisher.start()
    except MqttSetupError as e:
        print(f"kickwatch: not publishing to Home Assistant: {e}", file=sys.stderr, flush=True)
        return None
    return publisher


def cmd_night(args) -> int:
    from appliance.nights import stored_night, stored_nights_of_both
    from appliance.store import Store

    if args.date:
        try:
            dt.date.fromisoformat(args.date)
        except ValueError:
            raise UsageError(f"date must be YYYY-MM-DD, got {args.date!r}")
    cfg = _load_config(args.config)
    db = args.db or cfg.store.database
    store = Store(db, readonly=True)
    try:
        names = [who for who in store.sleepers() if who]
        if args.sleeper is not None:
            match = [who for who in names if who.casefold() == args.sleeper.strip().casefold()]
            if not match:
                raise UsageError(f"no sleeper called {args.sleeper!r} in {db}; "
                                 + (f"its sleepers are {', '.join(names)}" if names else "it holds one sleeper's nights"))
            out = stored_night(store, args.date, match[0])
        elif len(names) == 2:
            out = stored_nights_of_both(store, names, args.date)
        else:
            out = stored_night(store, args.date, names[0] if names else "")
    finally:
        store.close()
    if out is None:
        what = f"no night of {args.date}" if args.date else "no nights yet"
        raise NothingToShow(f"{what} in {db}" + (f" for {args.sleeper}" if args.sleeper else ""))
    if "sleepers" in out and not args.json:
        date = next(s["night"]["date"] for s in out["sleepers"] if s["night"])
        print("\n\n".join(_sleeper_summary(s, names, out, f"night of {date}") for s in out["sleepers"]))
        return 0
    who = out["night"].get("sleeper")
    _print_night(out, args.json, title=f"night of {out['night']['date']}" + (f": {who}" if who else ""))
    return 0


def _sleeper_summary(sleeper: dict, names: list[str], out: dict, title: str) -> str:
    """One of two sleepers' nights, in words."""
    if sleeper["summary"] is None:
        return f"{title}: {sleeper['name']}\n  no night stored for {sleeper['name']}"
    return (format_summary(dict(sleeper, recording=out["recording"]), title=f"{title}: {sleeper['name']}")
            + "\n" + _after_other_line(sleeper, names))


def cmd_rescore(args) -> int:
    from appliance.nights import rescore
    from appliance.store import Store

    for d in args.dates:
        try:
            dt.date.fromisoformat(d)
        except ValueError:
            raise UsageError(f"dates must be YYYY-MM-DD, got {d!r}")
    cfg = _load_config(args.config)
    db = args.db or cfg.store.database
    if not Path(db).exists():
        raise NothingToShow(f"no database at {db}; pass --db, or run the daemon first")
    store = Store(db)
    try:
        done = rescore(store, cfg, args.dates or None)
    finally:
        store.close()
    missing = sorted(set(args.dates) - {n["date"] for n in done})
    rules = f"IMI {cfg.series.imi_min_s:g}-{cfg.series.imi_max_s:g} s, at least {cfg.series.min_count} in a row"
    for n in done:
        if n["changes"]:
            what = "; ".join(f"{k} {a} -> {b}" for k, (a, b) in n["changes"].items())
            print(f"night of {n['date']}: {what}")
        else:
            print(f"night of {n['date']}: unchanged")
    print(f"{len(done)} night(s) counted again under {rules}; "
          f"{sum(1 for n in done if n['changes'])} changed")
    if missing:
        raise NothingToShow(f"no closed night of {', '.join(missing)} in {db} (the open night is the recorder's)")
    return 0


def cmd_web(args) -> int:
    import logging

    import waitress

    from web.app import create_app

    cfg = _load_config(args.config)
    db = args.db or cfg.store.database
    host = args.host or cfg.web.host
    port = args.port or cfg.web.port
    if not 0 < port < 65536:
        raise UsageError(f"--port must be 1-65535, got {port}")
    app = create_app(db, cfg)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    shown = "localhost" if host in ("0.0.0.0", "::") else host
    print(f"kickwatch dashboard on http://{shown}:{port}/ (and http://kickwatch.local:{port}/ on the house network); "
          "Ctrl-C stops it", flush=True)
    try:
        waitress.serve(app, host=host, port=port, threads=8, ident="kickwatch")
    except OSError as e:
        raise KickwatchError(f"cannot listen on {host}:{port}: {e.strerror}; is another dashboard running?",
                             EX_UNAVAILABLE)
    return 0


def _source_opener(cfg, kind=None, speed=None, sim_hours=None):
    """A function that opens the configured source (or `kind`): the daemon calls it again to reopen."""
    from sensor.sources import open_source

    return lambda: open_source(cfg.source, kind=kind, speed=speed, sim_hours=sim_hours)


def cmd_doctor(args) -> int:
    from appliance.doctor import daemon_owns_adc, doctor
    from appliance.store import Store, StoreError

    cfg = _load_config(args.config)
    if args.source:
        cfg.source.kind = args.source
    running = args.source is None and daemon_owns_adc()
    store = None
    if running:
        try:
            store = Store(cfg.store.database, readonly=True)
        except StoreError:
            store = None
    checks = doctor(cfg, _source_opener(cfg, args.source, speed="max", sim_hours=0.2), seconds=args.seconds,
                    daemon_running=running, store=store)
    for c in checks:
        print(c.line())
    bad = [c for c in checks if not c.ok]
    print(f"{len(checks) - len(bad)} of {len(checks)} checks OK" + ("; fix the FAIL lines first" if bad else ""))
    return 1 if bad else 0


def cmd_calibrate(args) -> int:
    from appliance.doctor import calibrate, calibrate_two

    cfg = _load_config(args.config)
    if len(cfg.source.sleepers) == 2:
        report = calibrate_two(_source_opener(cfg, args.source, speed="max", sim_hours=0.2), cfg.source.sleepers,
                               say=lambda m: print(m, flush=True), cfg=cfg.detection)
        for sl in report["sleepers"]:
            hb = f"~{sl['heart_bpm']}/min" if sl["heart_bpm"] else "not seen"
            print(f"{sl['name']}: heartbeat {hb}; foot lifts seen {sl['lifts_seen']} of {sl['lifts_asked']}; "
                  f"counted as the other's {sl['lifts_counted_as_other']} (should be 0)")
        for a in report["advice"]:
            print(f"  - {a}")
        return 0 if all(sl["heart_bpm"] and sl["lifts_seen"] >= sl["lifts_asked"] and not sl["lifts_counted_as_other"]
                        for sl in report["sleepers"]) else 1
    # the ADC paces itself; a recording or the simulator has no one to wait for
    report = calibrate(_source_opener(cfg, args.source, speed="max", sim_hours=0.2), say=lambda m: print(m, flush=True),
                       cfg=cfg.detection)
    hb = f"~{report['heart_bpm']}/min" if report["heart_bpm"] else "not seen"
    br = f"~{report['breaths_pm']}/min" if report["breaths_pm"] else "not seen"
    partner = report.get("partner_lifts_counted")
    print(f"heartbeat {hb}; breathing {br}; foot lifts seen {report['movements_seen']} of {report['movements_asked']}"
          + (f"; partner's lifts counted {partner} (should be 0)" if partner is not None else ""))
    for a in report["advice"]:
        print(f"  - {a}")
    return 0 if report["heart_bpm"] and report["movements_seen"] >= report["movements_asked"] and not partner else 1


def cmd_config(args) -> int:
    from appliance.config import describe, load_config

    if args.check:
        load_config(args.check, required=True, named_by="--check")
        print(f"{args.check}: OK")
        return 0
    print(describe())
    return 0


def format_summary(out: dict, title: str) -> str:
    s = out["summary"]
    lines = [title]
    if not out.get("bed"):
        lines.append("  nobody in bed in this recording")
        return "\n".join(lines)
    pi = "not measured (no intervals between leg movements)" if s["periodicity_index"] is None else \
        f"{s['periodicity_index']:.2f}"
    from appliance.detection.scoring import ELEVATED_PLMI

    plmi = (f"{s['plmi']:.1f} per hour in bed (over {ELEVATED_PLMI:g}/h is elevated in adults; time in bed, not sleep)"
            if s["plmi"] is not None else f"not measured: {s.get('not_measured') or 'no time in bed'}")
    lines += [
        f"  in bed          {s['hours_in_bed'] * 60:.0f} min ({len(out['bed'])} period(s))" if s["hours_in_bed"] < 1
        else f"  in bed          {s['hours_in_bed']:.2f} h ({len(out['bed'])} period(s))",
        f"  leg movements   {s['lm_count']}  ({s['lmi']:.1f} per hour in bed)" if s["lmi"] is not None else
        f"  leg movements   {s['lm_count']}",
        f"  periodic (PLM)  {s['plm_count']} in {s['series_count']} series",
        f"  PLMI            {plmi}",
        f"  periodicity     {pi}",
        f"  large movements {s['large_count']}",
    ]
    lines += _breathing_lines(s)
    for ser in out["series"][:10]:
        lines.append(f"    series {ser['id']}: {ser['count']} movements, {_hms(ser['onset_s'])}-{_hms(ser['offset_s'])}, "
                     f"one every {ser['mean_imi_s']:.0f} s")
    lines.append("  Not a diagnosis: evidence to bring to a doctor.")
    return "\n".join(lines)


def _breathing_lines(s: dict) -> list[str]:
    """Heart, breathing and breathing events, where the night has them (a night stored before
    kickwatch measured them has none)."""
    lines = []
    if s.get("vitals_coverage") is not None:
        heart = f"{s['heart_bpm']:.0f} a minute (median)" if s.get("heart_bpm") is not None else "no clear rhythm"
        breaths = f"{s['breaths_pm']:.0f} a minute (median)" if s.get("breaths_pm") is not None else "no clear rhythm"
        lines += [f"  heart rate      {heart}; {s['vitals_coverage'] * 100:.0f} % of the minutes in bed have one",
                  f"  breathing rate  {breaths}"]
    if s.get("respiratory_event_count") is not None:
        rate = f", {s['rei']:.1f} per hour in bed" if s.get("rei") is not None else ""
        lines.append(f"  breathing pauses {s['respiratory_event_count']}{rate} (breathing movement stopped or shrank "
                     "for 10 s or more: seen by the strip, not an apnea test)")
        if s.get("respiratory_count"):
            with_resp = f"{s['plmi_with_respiratory']:.1f}/h" if s.get("plmi_with_respiratory") is not None else \
                str(s["plm_count_with_respiratory"])
            lines.append(f"  {s['respiratory_count']} leg movement(s) came with the end of a breathing pause and are "
                         f"left out of the series (WASM 2016); with them the PLMI would be {with_resp}")
    return lines


def _after_other_line(sleeper: dict, names: list[str]) -> str:
    """How often this sleeper moved just after the other, and what chance alone would give."""
    s = sleeper["summary"]
    other = names[1 - sleeper["channel"]]
    return (f"  after {other}'s   {s['after_other_count']} of {sleeper['name']}'s movements began within 10 s after "
            f"one of {other}'s (chance alone: about {s['after_other_expected']:.0f}); movement, not waking")


def _hms(seconds: float) -> str:
    seconds = int(seconds)
    return f"{seconds // 3600}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"


if __name__ == "__main__":
    sys.exit(main())
