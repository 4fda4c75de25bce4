"""The morning page: a Flask app factory, read-only on the store.

The app never opens the database for writing and never touches SPI. A change
(deleting a night) needs the household PIN and a CSRF token, and is left as a
request file in `requests_dir` for the daemon, which owns the store, to carry out.
Served by waitress (`kickwatch web`), never by Flask's debug server.
"""
from __future__ import annotations

import datetime as dt
import hmac
import json
import os
import re
import secrets
import shutil
import threading
import time
from contextlib import contextmanager
from pathlib import Path

from flask import Flask, Response, abort, jsonify, make_response, redirect, render_template, request, session, url_for
from werkzeug.exceptions import HTTPException
from werkzeug.security import check_password_hash

from appliance import export, sensor_status
from appliance.config import Config, raw_dir_of
from appliance.detection.scoring import ELEVATED_PLMI
from appliance.nights import evening_date, stored_night, stored_nights_of_both, stored_pair
from appliance.diary import FACTORS, NOTE_MAX, Entry, compare, entry_problem
from appliance.requests import DELETE_NIGHT, DIARY, leave_request
from appliance.store import State, Store, StoreError, crash_note_path
from web.report import build_report
from web.presenter import present_context, present_night, present_trend

DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
ALIVE_S = 180.0          # the daemon flushes at least every 45 s; three minutes of silence means trouble
PIN_DELAY_S = 1.0        # each wrong PIN in a row adds this much wait before the answer


def create_app(db_path: str | os.PathLike, cfg: Config | None = None, *, testing: bool = False) -> Flask:
    cfg = cfg or Config()
    app = Flask(__name__)
    app.config.update(DB_PATH=str(db_path), KW=cfg, TESTING=testing,
                      SESSION_COOKIE_SAMESITE="Strict", SESSION_COOKIE_HTTPONLY=True,
                      SECRET_KEY=_secret(cfg.web.secret_file))
    wrong_pins: dict[str, list] = {}
    lock = threading.Lock()

    def store() -> Store:
        return Store(app.config["DB_PATH"], readonly=True)

    @contextmanager
    def reading():
        """The store for one request, or None before the daemon has made one."""
        try:
            s = store()
        except StoreError:
            yield None
            return
        try:
            yield s
        finally:
            s.close()

    def asked_sleeper(names: list[str]) -> str:
        """The sleeper a page was asked for (?sleeper=NAME): '' for the one sleeper of a bed."""
        who = request.args.get("sleeper")
        if who is None:
            return names[0] if names else ""
        match = [n for n in names if n.casefold() == who.strip().casefold()]
        if not match:
            abort(404, f"no sleeper called '{who[:40]}' here" + (f"; the sleepers are {' and '.join(names)}"
                                                                  if names else ""))
        return match[0]

    def night_or_404(date: str | None, sleeper: str | None = None) -> dict:
        if date is not None and not valid_date(date):
            abort(400, f"'{date}' is not a date; dates look like 2026-11-23")
        with reading() as s:
            names = named(s)
            who = asked_sleeper(names) if sleeper is None else sleeper
            if len(names) == 2:      # with the other's night beside it: how often each moved just after the other
                night = stored_pair(s, names, date)[names.index(who)]
            else:
                night = stored_night(s, date, who) if s else None
        if night is None:
            abort(404, (f"no night of {date}" if date else "no nights recorded yet") + (f" for {who}" if who else ""))
        return night

    def pair_or_none(date: str | None) -> tuple[list[str], list[dict | None]] | None:
        """Two sleepers' nights, when the bed has two and no one of them was asked for."""
        if date is not None and not valid_date(date):
            abort(400, f"'{date}' is not a date; dates look like 2026-11-23")
        with reading() as s:
            names = named(s)
            if len(names) != 2 or request.args.get("sleeper") is not None:
                return None
            pair = stored_pair(s, names, date)
        if not any(pair):
            abort(404, f"no night of {date}" if date else "no nights recorded yet")
        return names, pair

    def context_of(night: dict) -> dict:
        """The night beside the sleeper's nights before it (web.presenter.present_context)."""
        with reading() as s:
            rows = s.nights(sleeper=night["night"].get("sleeper") or "") if s else []
        return present_context(rows, night["night"]["date"])

    @app.before_request
    def viewing_pin():
        if cfg.web.protect_viewing and request.endpoint not in ("unlock", "static") and not session.get("unlocked"):
            return redirect(url_for("unlock", next=request.path))

    @app.after_request
    def headers(resp: Response) -> Response:
        resp.headers["Content-Security-Policy"] = ("default-src 'none'; style-src 'self'; img-src 'self' data:; "
                                                   "form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
        resp.headers["X-Content-Type-Options"] = "nosniff"
        resp.headers["X-Frame-Options"] = "DENY"
        resp.headers["Referrer-Policy"] = "no-referrer"
        resp.headers["Cache-Control"] = "no-store"
        theme = request.args.get("theme")
        if theme in ("dark", "light"):
            resp.set_cookie("theme", theme, max_age=365 * 86400, samesite="Strict")
        return resp

    @app.context_processor
    def theme():
        t = request.args.get("theme") or request.cookies.get("theme")
        return {"theme": t if t in ("dark", "light") else "dark", "csrf": _csrf_token(), "elevated": ELEVATED_PLMI}

    @app.errorhandler(HTTPException)
    def http_error(e: HTTPException):
        if request.path.startswith("/api/"):
            return jsonify(error=e.description, status=e.code), e.code
        return render_template("error.html", code=e.code, message=e.description, name=e.name), e.code

    @app.errorhandler(Exception)
    def internal_error(e: Exception):
        app.logger.error("internal error on %s: %r", request.path, e)
        if request.path.startswith("/api/"):
            return jsonify(error="internal error", status=500), 500
        return render_template("error.html", code=500, name="Something went wrong",
                               message="The page could not be made. The log has the details."), 500

    # -- pages ---------------------------------------------------------------
    def couple_page(names: list[str], pair: list[dict | None], st, latest: bool):
        shown = [present_night(n, name) if n else None for name, n in zip(names, pair)]
        date = next(n["date"] for n in shown if n)
        usual = [context_of(n)["usual"] if n else None for n in pair]
        return render_template("couple.html", pair=list(zip(names, shown)), names=names, date=date, st=st,
                               latest=latest, usual=usual)

    @app.get("/")
    def home():
        with reading() as s:
            st = status_of(s, cfg)
            names = named(s)
            night = stored_night(s, None, names[0] if names else "") if s and len(names) != 2 else None
        if len(names) == 2 and request.args.get("sleeper") is None:
            return couple_page(*pair_or_none(None), st=st, latest=True)
        if len(names) == 2:
            night = night_or_404(None)
        if night is None:
            return render_template("status.html", st=st, first=True)
        return render_template("night.html", n=present_night(night, night["night"].get("sleeper")), st=st,
                               latest=True, shared_bed=counted_as_shared(night, cfg), sleepers=names,
                               ctx=context_of(night))

    @app.get("/night/<date>")
    def night(date):
        pair = pair_or_none(date)
        if pair is not None:
            return couple_page(*pair, st=None, latest=False)
        n = night_or_404(date)
        with reading() as s:
            names = named(s)
        return render_template("night.html", n=present_night(n, n["night"].get("sleeper")), st=None, latest=False,
                               shared_bed=counted_as_shared(n, cfg), sleepers=names, ctx=context_of(n))

    @app.get("/nights")
    def nights():
        days = request.args.get("days", "30")
        if days not in ("30", "90", "365"):
            abort(400, "days must be 30, 90 or 365")
        with reading() as s:
            names = named(s)
            who = asked_sleeper(names)
            rows = s.nights(sleeper=who) if s else []
        return render_template("nights.html", nights=rows, trend=present_trend(rows, int(days)), days=int(days),
                               who=who, names=names)

    @app.get("/night/<date>/print")
    def print_night(date):
        pair = pair_or_none(date)
        if pair is not None:
            names, nights_ = pair
            return render_template("print.html", nights=[present_night(n, who) for who, n in zip(names, nights_) if n],
                                   span=date)
        n = night_or_404(date)
        return render_template("print.html", nights=[present_night(n, n["night"].get("sleeper"))], span=date)

    @app.get("/print")
    def print_range():
        lo, hi = request.args.get("from", ""), request.args.get("to", "")
        if not (valid_date(lo) and valid_date(hi)) or lo > hi:
            abort(400, "give from=YYYY-MM-DD&to=YYYY-MM-DD, from not after to")
        with reading() as s:
            if not s:
                abort(404, "no nights recorded yet")
            names = named(s)
            who = asked_sleeper(names)
            dates = [r["date"] for r in s.nights(sleeper=who) if lo <= r["date"] <= hi][::-1][:31]
            shown = [present_night(stored_night(s, d, who), who) for d in dates]
        if not shown:
            abort(404, f"no nights between {lo} and {hi}")
        return render_template("print.html", nights=shown, span=f"{lo} to {hi}")

    @app.get("/report")
    def report():
        """The doctor's report over the nights of a range (web.report); with fewer than five, a page that
        says why."""
        lo, hi = request.args.get("from", ""), request.args.get("to", "")
        if not (valid_date(lo) and valid_date(hi)) or lo > hi:
            abort(400, "give from=YYYY-MM-DD&to=YYYY-MM-DD, from not after to")
        with reading() as s:
            names = named(s)
            who = asked_sleeper(names)
            r = build_report(s, who, lo, hi)
        return render_template("report.html", r=r)

    @app.get("/night/<date>/movements.csv")
    def movements_csv(date):
        pair = pair_or_none(date)
        if pair is not None:
            body = export.movements_csv_of_both(*pair)
        else:
            body = export.movements_csv(night_or_404(date))
        resp = make_response(body)
        resp.headers["Content-Type"] = "text/csv; charset=utf-8"
        resp.headers["Content-Disposition"] = f'attachment; filename="kickwatch-{date}.csv"'
        return resp

    @app.get("/night/<date>/vitals.csv")
    def vitals_csv(date):
        pair = pair_or_none(date)
        body = export.vitals_csv_of_both(*pair) if pair is not None else export.vitals_csv(night_or_404(date))
        resp = make_response(body)
        resp.headers["Content-Type"] = "text/csv; charset=utf-8"
        resp.headers["Content-Disposition"] = f'attachment; filename="kickwatch-{date}-heart-breathing.csv"'
        return resp

    @app.get("/night/<date>/recording.edf")
    def recording_edf(date):
        pair = pair_or_none(date)
        raw = raw_dir_of(cfg, app.config["DB_PATH"])
        if pair is not None:
            body = export.night_edf_of_both(*pair, raw)
        else:
            body = export.night_edf(night_or_404(date), raw)
        if body is None:
            abort(404, "the raw signal of this night was not kept (store.keep_raw_nights days are kept)")
        resp = make_response(body)
        resp.headers["Content-Type"] = "application/octet-stream"
        resp.headers["Content-Disposition"] = f'attachment; filename="kickwatch-{date}.edf"'
        return resp

    @app.get("/status")
    def status():
        with reading() as s:
            st = status_of(s, cfg)
        return render_template("status.html", st=st, first=False)

    # -- changes: PIN and CSRF ------------------------------------------------
    @app.route("/night/<date>/delete", methods=["GET", "POST"])
    def delete(date):
        night = night_or_404(date)
        if request.method == "GET":
            return render_template("delete.html", date=date, n=night, error=None)
        _check_csrf()
        if not _pin_ok(request.form.get("pin", ""), cfg, wrong_pins, lock):
            return render_template("delete.html", date=date, n=night, error="That PIN is not right."), 403
        leave_request(cfg.web.requests_dir, DELETE_NIGHT, date=date)
        return render_template("done.html", message=f"The night of {date} will be deleted within a minute.")

    @app.route("/diary", methods=["GET", "POST"])
    def diary():
        """Tonight's diary for one sleeper, and what the diary shows so far. Saving it is a request
        for the daemon (the web never writes the store), with the PIN when the household set one."""
        date = request.values.get("date") or evening_date(time.time())
        if not valid_date(date):
            abort(400, f"'{date[:20]}' is not a date; dates look like 2026-11-23")
        with reading() as s:
            names = named(s)
            who = asked_sleeper(names)
            rows = s.nights(sleeper=who) if s else []
            entries = {r["date"]: Entry.from_row(r) for r in (s.diary(who) if s else [])}
        entry = entries.get(date) or Entry(date, who)
        pin_needed = _pin_set(cfg) and not session.get("may_change")
        page = {"date": date, "who": who, "names": names, "factors": FACTORS, "pin_needed": pin_needed,
                "comparisons": compare(rows, entries), "nights_noted": len(entries), "note_max": NOTE_MAX}
        if request.method == "GET":
            return render_template("diary.html", entry=entry, error=None, **page)
        _check_csrf()
        ticked = request.form.getlist("ticked")
        note = request.form.get("note", "").strip()
        entry = Entry(date, who, set(ticked), note)
        problem = entry_problem(ticked, note)
        if problem:
            return render_template("diary.html", entry=entry, error=problem[0].upper() + problem[1:] + ".", **page), 400
        if pin_needed:
            if not _pin_ok(request.form.get("pin", ""), cfg, wrong_pins, lock):
                return render_template("diary.html", entry=entry, error="That PIN is not right.", **page), 403
            session["may_change"] = True      # this phone gave the PIN: not asked again every evening
        leave_request(cfg.web.requests_dir, DIARY, date=date, sleeper=who, ticked=sorted(entry.ticked), note=note)
        whose = f"{who}'s diary" if who else "The diary"
        return render_template("done.html", message=f"{whose} for the night of {date} is saved; the recorder "
                                                    "stores it within a minute.")

    @app.route("/unlock", methods=["GET", "POST"])
    def unlock():
        nxt = request.args.get("next", "/")
        if not nxt.startswith("/") or nxt.startswith("//"):
            nxt = "/"
        if request.method == "POST":
            _check_csrf()
            if _pin_ok(request.form.get("pin", ""), cfg, wrong_pins, lock):
                session["unlocked"] = True
                return redirect(nxt)
            return render_template("unlock.html", error="That PIN is not right.", next=nxt), 403
        return render_template("unlock.html", error=None, next=nxt)

    # -- the JSON API -----------------------------------------------------------
    @app.get("/api/nights")
    def api_nights():
        with reading() as s:
            rows = s.nights(sleeper=asked_sleeper(named(s))) if s else []
        keep = ("date", "hours_in_bed", "lm_count", "plm_count", "series_count", "plmi", "lmi",
                "periodicity_index", "closed")
        return jsonify(nights=[{k: r[k] for k in keep} for r in rows])

    @app.get("/api/night/<date>")
    def api_night(date):
        date = None if date == "last" else date
        pair = pair_or_none(date)
        if pair is not None:
            with reading() as s:
                return jsonify(stored_nights_of_both(s, pair[0], date))
        return jsonify(night_or_404(date))

    @app.get("/api/status")
    def api_status():
        with reading() as s:
            return jsonify(status_of(s, cfg))

    return app


def named(store: Store | None) -> list[str]:
    """The names of the sleepers whose nights the store holds (none for the one sleeper of a bed)."""
    return [who for who in store.sleepers() if who] if store else []


def counted_as_shared(night: dict, cfg: Config) -> bool:
    """Whether the night was counted as a shared bed: as it was recorded (older nights: today's setting)."""
    kept = night["night"].get("scored_with")
    return kept["shared_bed"] if kept else cfg.detection.shared_bed


def valid_date(text: str) -> bool:
    if not DATE_RE.match(text or ""):
        return False
    try:
        dt.date.fromisoformat(text)
    except ValueError:
        return False
    return True


def status_of(store: Store | None, cfg: Config) -> dict:
    """Is the daemon alive, when did the last sample come, how is the sensor, how full is the disk."""
    now = time.time()
    out = {"daemon": "no data yet", "alive": False, "last_sample": None, "last_sample_age_s": None,
           "sensor": sensor_status.words(sensor_status.UNKNOWN), "sensor_status": sensor_status.UNKNOWN,
           "gaps": 0, "in_bed": None, "nights": 0, "disk_free_gb": None, "disk_free_percent": None}
    path = Path(store.path if store else cfg.store.database)
    note = crash_note_path(path)
    try:
        crash = json.loads(note.read_text())
        out["daemon_error"] = (f"the recorder could not start ({dt.datetime.fromtimestamp(crash['at']):%d %b %H:%M}): "
                               f"{crash['message']}")
    except (OSError, ValueError, KeyError):
        pass
    try:
        du = shutil.disk_usage(path.parent if path.parent.exists() else "/")
        out["disk_free_gb"] = round(du.free / 1e9, 1)
        out["disk_free_percent"] = round(100 * du.free / du.total, 1)
    except OSError:
        pass
    if store is None:
        return out
    daemon = store.get_state(State.DAEMON)
    health = store.latest_health()
    reset = store.get_state(State.STORE_RESET)
    if reset:
        out["store_reset"] = (f"the database was damaged on {dt.datetime.fromtimestamp(reset['at']):%d %b %Y %H:%M}; "
                              f"it was kept as {reset['moved_to']} and a fresh one started")
    out["nights"] = store.count_nights()
    if daemon:
        age = now - daemon.get("flushed_utc", 0)
        stopped = bool(daemon.get("stopped"))
        out["alive"] = age < ALIVE_S and not stopped
        source = daemon.get("source", "")
        if stopped:
            ended = source.startswith("recording")
            out["daemon"] = f"stopped: the {source} ended" if ended else "stopped"
        else:
            out["daemon"] = "running" if out["alive"] else f"silent for {int(age // 60)} min"
        last = daemon["last_sample_utc"]
        out["last_sample"] = dt.datetime.fromtimestamp(last).astimezone().isoformat(timespec="seconds")
        # a replayed or simulated night can end after this clock's now: its age would be negative
        out["last_sample_age_s"] = round(now - last, 1) if last <= now else None
        out["source"] = source
        out["in_bed"] = daemon.get("in_bed")
    status = health["status"] if health else sensor_status.UNKNOWN
    out["sensor"] = sensor_status.words(status)
    out["gaps"] = int(health["gap_samples"] or 0) if health else 0
    fault = store.get_state(State.SENSOR_FAULT)
    if fault:
        status = sensor_status.FAULT
        out["sensor"] = f"fault since {dt.datetime.fromtimestamp(fault['at']):%H:%M}: {fault['error']}"
    out["sensor_status"] = status
    out["mqtt"] = _mqtt_words(store.get_state(State.MQTT), cfg)
    out["mqtt_on"] = bool(cfg.mqtt.host)
    return out


def _mqtt_words(state: dict | None, cfg: Config) -> str:
    """Publishing to Home Assistant, in a sentence."""
    if not cfg.mqtt.host:
        return "off: no broker is set ([mqtt] host)"
    if state is None:
        return f"set to publish to {cfg.mqtt.host}:{cfg.mqtt.port}; the recorder has not said more yet"
    dropped = (f"; {state['dropped']} live values were dropped while the broker was away (the latest of each "
               "was sent when it came back)") if state.get("dropped") else ""
    if state.get("connected"):
        return f"publishing to {state['broker']}{dropped}"
    return f"not connected to {state['broker']}: {state.get('error') or 'connecting'}{dropped}"


def _secret(path: str) -> bytes:
    """The cookie key: kept in a file when it can be, so a restart does not log everyone out."""
    p = Path(path)
    try:
        if p.exists():
            return p.read_bytes()
        key = secrets.token_bytes(32)
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(key)
        p.chmod(0o600)
        return key
    except OSError:
        return secrets.token_bytes(32)


def _csrf_token() -> str:
    if "csrf" not in session:
        session["csrf"] = secrets.token_urlsafe(24)
    return session["csrf"]


def _check_csrf() -> None:
    sent = request.form.get("csrf", "")
    if not sent or not hmac.compare_digest(sent, session.get("csrf", "")):
        abort(400, "the form has expired; reload the page and try again")


def _pin_set(cfg: Config) -> bool:
    """Whether the household set a PIN for changes (install.sh does)."""
    try:
        return bool(Path(cfg.web.pin_file).read_text().strip())
    except OSError:
        return False


def _pin_ok(pin: str, cfg: Config, wrong: dict, lock: threading.Lock) -> bool:
    """Check the PIN; each wrong one in a row from the same address waits longer."""
    who = request.remote_addr or "?"
    with lock:
        misses = [t for t in wrong.get(who, []) if time.time() - t < 600]
    if misses:
        time.sleep(min(PIN_DELAY_S * len(misses), 10.0))
    try:
        stored = Path(cfg.web.pin_file).read_text().strip()
    except OSError:
        stored = ""
    ok = bool(stored) and bool(pin) and check_password_hash(stored, pin)
    with lock:
        wrong[who] = [] if ok else misses + [time.time()]
    return ok
