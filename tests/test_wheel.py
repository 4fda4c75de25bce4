"""What a household installs: the wheel built from this checkout, in a fresh venv far from the
source tree, recording a short simulated night and serving every page of it.

Every other web test runs the source tree; this one runs only what `pip install .`
(and so install.sh) puts on a Pi, so a file left out of the package fails here.
"""
from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from tests.conftest import ROOT
from tests.webfixtures import wait_for_http


def _run(*args, cwd, env=None, timeout=600):
    r = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    assert r.returncode == 0, f"{' '.join(map(str, args))} failed ({r.returncode}):\n{r.stdout}\n{r.stderr}"
    return r


def _clean_env(home: Path) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "VIRTUAL_ENV", "KICKWATCH"))}
    env["HOME"] = str(home)
    env["PATH"] = f"{home / 'venv' / 'bin'}:/usr/bin:/bin"
    return env


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """A venv with only the built wheel (and its dependencies) in it, and a short night stored by it."""
    home = tmp_path_factory.mktemp("household")
    checkout = home / "checkout"      # the files of this checkout, and no build left over from before
    files = _run("git", "ls-files", "-z", "--cached", "--others", "--exclude-standard", cwd=ROOT).stdout
    for name in filter(None, files.split("\0")):
        if (ROOT / name).is_file():
            (checkout / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, checkout / name)
    _run(sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(home / "dist"), str(checkout), cwd=home)
    wheel = next((home / "dist").glob("kickwatch-*.whl"))
    _run(sys.executable, "-m", "venv", str(home / "venv"), cwd=home)
    env = _clean_env(home)
    _run(str(home / "venv" / "bin" / "pip"), "install", "-q", str(wheel), cwd=home, env=env)
    (home / "kickwatch.toml").write_text(
        '[source]\nsim_hours = 1.5\nsim_profile = "severe"\nsim_seed = 3\n'
        f'[store]\ndatabase = "{home / "data" / "kickwatch.db"}"\n'
        f'[web]\nrequests_dir = "{home / "requests"}"\nsecret_file = "{home / "secret"}"\npin_file = "{home / "pin"}"\n')
    env["KICKWATCH_CONFIG"] = str(home / "kickwatch.toml")
    _run("kickwatch", "run", "--source", "sim", "--speed", "max", cwd=home, env=env)
    return home, env


def test_the_wheel_carries_no_source_tree(installed):
    home, env = installed
    r = _run("python", "-c", "import web, appliance; print(web.__file__, appliance.__file__)", cwd=home, env=env)
    assert str(ROOT) not in r.stdout and "site-packages" in r.stdout


@pytest.fixture(scope="module")
def served(installed):
    home, env = installed
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen(["kickwatch", "web", "--host", "127.0.0.1", "--port", str(port)], cwd=home, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    base = f"http://127.0.0.1:{port}"
    try:
        assert wait_for_http(base + "/api/status"), proc.stdout.read() if proc.poll() is not None else "no answer"
        yield base
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def fetch(url: str) -> tuple[int, str, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=10) as r:
            return r.status, r.headers.get("Content-Type", ""), r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers.get("Content-Type", ""), e.read()


def test_every_route_serves_its_real_content(served):
    code, _, body = fetch(served + "/api/nights")
    assert code == 200
    nights = json.loads(body)["nights"]
    assert nights, "the daemon stored no night from an hour on the simulated strip"
    date = nights[0]["date"]
    pages = {
        "/": "id=\"lm-count\"", f"/night/{date}": "id=\"lm-count\"", "/nights": date, "/nights?days=90": date,
        f"/night/{date}/print": "Not a diagnosis", f"/print?from={date}&to={date}": "Not a diagnosis",
        "/status": "Recorder", f"/night/{date}/delete": "PIN", "/unlock": "PIN",
        f"/night/{date}/movements.csv": "onset_local", "/static/kickwatch.css": "body",
        "/api/status": "sensor_status", f"/api/night/{date}": "plmi", "/api/night/last": "plmi",
    }
    for route, content in pages.items():
        code, kind, body = fetch(served + route)
        assert code == 200, f"{route}: {code} {body[:300]!r}"
        assert content.encode() in body, f"{route} does not show {content!r}"
    code, kind, body = fetch(served + f"/night/{date}/recording.edf")
    assert code == 200 and body[:8] == b"0       ", "the EDF+ export"


@pytest.mark.parametrize("route,code,words", [
    ("/night/2099-01-01", 404, "no night of 2099-01-01"),
    ("/night/yesterday", 400, "is not a date"),
    ("/nights?days=7", 400, "days must be 30, 90 or 365"),
    ("/no/such/page", 404, "Not Found"),
    ("/api/night/2099-01-01", 404, "no night of 2099-01-01"),
])
def test_error_pages_serve_with_their_words(served, route, code, words):
    got, _, body = fetch(served + route)
    assert got == code and words.encode() in body, body[:300]


def test_the_installed_command_simulates_and_analyzes_a_recording(installed):
    home, env = installed
    _run("kickwatch", "simulate", str(home / "n.npz"), "--hours", "1.5", "--seed", "4", cwd=home, env=env)
    out = json.loads(_run("kickwatch", "analyze", str(home / "n.npz"), "--json", cwd=home, env=env).stdout)
    assert out["recording"]["fs"] == 250.0 and out["movements"] and out["summary"]["lm_count"] > 0
    r = subprocess.run(["kickwatch", "bogus"], cwd=home, env=env, capture_output=True, text=True)
    assert r.returncode == 64 and r.stderr.count("\n") == 1
