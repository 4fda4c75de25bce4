"""install.sh, run twice in a real Debian 12 root (debootstrap), with recording fakes
of systemctl and raspi-config; and the systemd units, verified and scored by systemd."""
from __future__ import annotations

import os
import re
import shlex
import shutil
import socket
import subprocess
import time
from pathlib import Path

import pytest

from tests.conftest import ROOT

FAKE_SYSTEMCTL = """#!/bin/sh
# records every call; 'is-enabled' answers from what was enabled before
echo "systemctl $*" >> /var/log/fake-systemctl.log
case "$1" in
  is-enabled) grep -q "enable --now $3" /var/log/fake-systemctl.log 2>/dev/null ;;
  *) exit 0 ;;
esac
"""
FAKE_RASPI_CONFIG = """#!/bin/sh
echo "raspi-config $*" >> /var/log/fake-raspi-config.log
[ "$*" = "nonint do_spi 0" ] && echo "dtparam=spi=on" >> /boot/firmware/config.txt
exit 0
"""


def sh(*args, **kw):
    return subprocess.run(args, capture_output=True, text=True, **kw)


def test_shellcheck_is_clean():
    files = [str(ROOT / "install.sh"), str(ROOT / "scripts" / "system-deps.sh"), str(ROOT / ".ci" / "run")]
    r = sh("shellcheck", *files)
    assert r.returncode == 0, r.stdout


def _units_with_stub(tmp_path) -> list[str]:
    stub = tmp_path / "kickwatch"
    stub.write_text("#!/bin/sh\n")
    stub.chmod(0o755)
    out = []
    for unit in ("kickwatch.service", "kickwatch-web.service"):
        text = (ROOT / "systemd" / unit).read_text().replace("/opt/kickwatch/venv/bin/kickwatch", str(stub))
        (tmp_path / unit).write_text(text)
        out.append(str(tmp_path / unit))
    return out


def test_units_verify_cleanly(tmp_path):
    r = sh("systemd-analyze", "verify", "--man=no", *_units_with_stub(tmp_path))
    assert r.returncode == 0 and r.stderr.strip() == "", r.stderr


@pytest.mark.parametrize("unit,limit", [("kickwatch.service", 2.0), ("kickwatch-web.service", 2.0)])
def test_units_are_hardened(unit, limit, capsys):
    r = sh("systemd-analyze", "security", "--offline=true", str(ROOT / "systemd" / unit))
    score = float(re.search(r"Overall exposure level for \S+: ([\d.]+)", r.stdout).group(1))
    with capsys.disabled():
        print(f"\n  systemd-analyze security {unit}: exposure {score}")
    assert score <= limit


def test_daemon_unit_reaches_spi_and_gpio_without_private_devices():
    text = (ROOT / "systemd" / "kickwatch.service").read_text()
    assert "DevicePolicy=closed" in text and "DeviceAllow=/dev/spidev0.0 rw" in text
    assert "PrivateDevices=yes" not in text
    assert "RestartPreventExitStatus=78" in text and "Type=notify" in text and "WatchdogSec=" in text


def test_daemon_unit_reaches_a_broker_in_the_house_and_nothing_outside():
    text = (ROOT / "systemd" / "kickwatch.service").read_text()
    assert "PrivateNetwork=yes" not in text and "AF_INET AF_INET6" in text    # [mqtt] host can be reached
    assert "IPAddressDeny=any" in text
    allowed = next(ln for ln in text.splitlines() if ln.startswith("IPAddressAllow=")).split("=", 1)[1].split()
    assert set(allowed) <= {"localhost", "link-local", "multicast", "10.0.0.0/8", "172.16.0.0/12",
                            "192.168.0.0/16", "fc00::/7"}


@pytest.fixture(scope="module")
def debian_root(tmp_path_factory):
    if os.geteuid() != 0:
        pytest.skip("needs root to build a Debian root (CI runs as root)")
    if not shutil.which("debootstrap"):
        pytest.fail("debootstrap is missing: scripts/system-deps.sh test installs it")
    root = tmp_path_factory.mktemp("deb12")
    root.chmod(0o755)    # it is "/" inside: the services' own users must be able to walk it
    r = sh("debootstrap", "--variant=minbase",
           "--include=python3,python3-venv,python3-pip,python3-numpy,ca-certificates",
           "bookworm", str(root), "http://deb.debian.org/debian")
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
    (root / "usr/local/bin/systemctl").write_text(FAKE_SYSTEMCTL)
    (root / "usr/local/bin/systemctl").chmod(0o755)
    (root / "usr/bin/raspi-config").write_text(FAKE_RASPI_CONFIG)
    (root / "usr/bin/raspi-config").chmod(0o755)
    (root / "boot/firmware").mkdir(parents=True)
    (root / "boot/firmware/config.txt").write_text("# Pi config\n")
    (root / "etc/systemd/system").mkdir(parents=True, exist_ok=True)
    shutil.copy("/etc/resolv.conf", root / "etc/resolv.conf")
    # this machine reaches the registries through its own certificate authority and pip settings
    shutil.copy("/etc/ssl/certs/ca-certificates.crt", root / "etc/ssl/certs/ca-certificates.crt")
    if os.path.exists("/etc/pip.conf"):
        shutil.copy("/etc/pip.conf", root / "etc/pip.conf")
    files = sh("git", "ls-files", cwd=ROOT).stdout.split()
    for f in files:
        dest = root / "src/kickwatch" / f
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / f, dest)
    # a booted system has /proc and /dev; the installer's log (process substitution) needs them
    mounts = [root / "proc", root / "dev"]
    sh("mount", "-t", "proc", "proc", str(mounts[0]))
    sh("mount", "--bind", "/dev", str(mounts[1]))
    try:
        yield root
    finally:
        for m in reversed(mounts):
            sh("umount", "-l", str(m))


def run_install(root, *args):
    env = {"PATH": "/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin", "KICKWATCH_PIN": "246810", "LANG": "C.UTF-8",
           **{k: v for k, v in os.environ.items() if k.startswith("PIP_") and k != "PIP_FIND_LINKS"}}
    return subprocess.run(["chroot", str(root), "bash", "/src/kickwatch/install.sh", *args],
                          capture_output=True, text=True, env=env, timeout=1200)


@pytest.fixture(scope="module")
def installed(debian_root):
    first = run_install(debian_root)
    log = debian_root / "var/log/kickwatch-install.log"
    assert first.returncode == 0, first.stdout[-3000:] + first.stderr[-3000:] + log.read_text()[-3000:]
    second = run_install(debian_root)
    assert second.returncode == 0, second.stdout[-3000:] + second.stderr[-3000:]
    return debian_root, first.stdout, second.stdout


def test_first_run_installs_everything(installed):
    root, first, _ = installed
    assert "created user kickwatch" in first and "enabled SPI with raspi-config" in first
    assert "Reboot once" in first and "http://kickwatch.local:8080/" in first
    passwd = (root / "etc/passwd").read_text()
    assert re.search(r"^kickwatch:x:\d+:\d+::/var/lib/kickwatch:/usr/sbin/nologin$", passwd, re.M)
    assert re.search(r"^kickwatch-web:", passwd, re.M)
    groups = (root / "etc/group").read_text()
    assert re.search(r"^spi:x:\d+:.*kickwatch", groups, re.M) and re.search(r"^gpio:x:\d+:.*kickwatch", groups, re.M)
    assert (root / "etc/systemd/system/kickwatch.service").read_text() == (ROOT / "systemd/kickwatch.service").read_text()
    assert (root / "etc/systemd/system/kickwatch-web.service").exists()
    assert "dtparam=spi=on" in (root / "boot/firmware/config.txt").read_text()
    log = (root / "var/log/fake-systemctl.log").read_text()
    assert "enable --now kickwatch.service" in log and "enable --now kickwatch-web.service" in log
    assert (root / "var/log/kickwatch-install.log").exists()


def test_config_and_pin_are_written_and_valid(installed):
    root, _, _ = installed
    cfg = root / "etc/kickwatch/kickwatch.toml"
    assert 'kind = "mcp3208"' in cfg.read_text()
    r = subprocess.run(["chroot", str(root), "/opt/kickwatch/venv/bin/kickwatch", "config", "--check",
                        "/etc/kickwatch/kickwatch.toml"], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    pin = root / "etc/kickwatch/pin"
    assert oct(pin.stat().st_mode & 0o777) == "0o640" and "246810" not in pin.read_text()
    assert (root / "var/lib/kickwatch").is_dir()


def test_second_run_changes_nothing(installed):
    _, _, second = installed
    assert "Nothing changed" in second, second
    assert "  + " not in second, second


def unit_settings(unit: str) -> dict:
    """The [Service] settings of one of our units, as systemd reads them (later lines add to earlier ones)."""
    out: dict[str, list[str]] = {}
    for line in (ROOT / "systemd" / unit).read_text().splitlines():
        if "=" in line and not line.startswith(("#", "[")):
            key, value = line.split("=", 1)
            out.setdefault(key, []).append(value)
    return out


def start_as_unit(root: Path, unit: str) -> subprocess.Popen:
    """The unit's own ExecStart, as its User and groups, with its umask and working directory, in the root.

    What systemd does before that (its state and runtime folders, owned by the unit's user)
    is done here the same way; the sandboxing options are systemd's and are scored above.
    """
    u = unit_settings(unit)
    user, group = u["User"][0], u["Group"][0]
    groups = ",".join(g for line in u.get("SupplementaryGroups", []) for g in line.split())
    mode = u.get("StateDirectoryMode", ["0755"])[0]
    for name in (n for line in u.get("StateDirectory", []) for n in line.split()):
        sh("chroot", str(root), "install", "-d", "-o", user, "-g", group, "-m", mode, f"/var/lib/{name}")
    for name in (n for line in u.get("RuntimeDirectory", []) for n in line.split()):
        sh("chroot", str(root), "install", "-d", "-o", user, "-g", group, "-m", "0755", f"/run/{name}")
    cwd = u.get("WorkingDirectory", ["/"])[0]
    command = (f"umask {u.get('UMask', ['0022'])[0]} && cd {shlex.quote(cwd)} && exec {u['ExecStart'][0]}")
    return subprocess.Popen([shutil.which("chroot"), str(root), "setpriv", f"--reuid={user}", f"--regid={group}",
                             f"--groups={groups}" if groups else "--clear-groups", "--", "sh", "-c", command],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={"PATH": "/usr/bin:/bin:/usr/sbin:/sbin", "LANG": "C.UTF-8"})


def fetch_inside(root: Path, url: str) -> tuple[int, str]:
    code = ("import sys, urllib.request, urllib.error\n"
            "try:\n    r = urllib.request.urlopen(sys.argv[1], timeout=5); print(r.status); print(r.read().decode(errors=\"replace\"))\n"
            "except urllib.error.HTTPError as e:\n    print(e.code); print(e.read().decode(errors=\"replace\"))\n")
    r = sh("chroot", str(root), "python3", "-c", code, url)
    status, _, body = r.stdout.partition("\n")
    return int(status or 0), body


def test_both_units_start_as_installed_and_serve_a_night(installed):
    """The daemon's ExecStart records a night (from a recording, set in the household's config), then the
    dashboard's ExecStart serves it as its own user, read-only on the daemon's folder."""
    from sensor.recording import write_recording
    from tests.conftest import cached_night

    root, _, _ = installed
    night = root / "var/lib/kickwatch-test/night.npz"
    rec, _ = cached_night(1.5, 40, "severe")
    write_recording(night, rec)
    night.parent.chmod(0o755)
    night.chmod(0o644)
    cfg = root / "etc/kickwatch/kickwatch.toml"
    installed_cfg = cfg.read_text()
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    text = re.sub(r'^kind = "mcp3208"$', 'kind = "/var/lib/kickwatch-test/night.npz"', installed_cfg, flags=re.M)
    text = re.sub(r'^speed = "realtime"$', 'speed = "max"', text, flags=re.M)
    text = re.sub(r"^port = 8080$", f"port = {port}", text, flags=re.M)
    assert text.count("night.npz") == 1 and f"port = {port}" in text
    cfg.write_text(text)
    web = None
    try:
        daemon = start_as_unit(root, "kickwatch.service")
        out, err = daemon.communicate(timeout=300)
        assert daemon.returncode == 0, err
        assert "1 night(s) stored in /var/lib/kickwatch/kickwatch.db" in out, out
        web = start_as_unit(root, "kickwatch-web.service")
        base = f"http://127.0.0.1:{port}"
        for _ in range(100):
            if fetch_inside(root, base + "/api/status")[0] == 200 or web.poll() is not None:
                break
            time.sleep(0.2)
        assert web.poll() is None, web.communicate()[1]
        status, body = fetch_inside(root, base + "/api/status")
        assert status == 200 and '"sensor_status"' in body and '"nights":1' in body.replace(" ", ""), body
        date = re.search(r'"date": ?"(\d{4}-\d\d-\d\d)"', fetch_inside(root, base + "/api/nights")[1]).group(1)
        for route, words in (("/", 'id="lm-count"'), (f"/night/{date}", 'id="lm-count"'), ("/status", "Recorder"),
                             (f"/night/{date}/recording.edf", "0       ")):
            status, body = fetch_inside(root, base + route)
            assert status == 200 and words in body, (route, status, body[:300])
        assert fetch_inside(root, base + "/night/2099-01-01")[0] == 404
    finally:
        if web is not None:
            web.terminate()
            web.wait(10)
        cfg.write_text(installed_cfg)


def test_uninstall_keeps_the_nights(installed):
    root, _, _ = installed
    (root / "var/lib/kickwatch/kickwatch.db").write_text("nights")
    r = run_install(root, "--uninstall")
    assert r.returncode == 0, r.stderr
    assert not (root / "opt/kickwatch").exists() and not (root / "etc/systemd/system/kickwatch.service").exists()
    assert (root / "var/lib/kickwatch/kickwatch.db").exists() and (root / "etc/kickwatch/kickwatch.toml").exists()


def test_functions_can_be_sourced_one_at_a_time(tmp_path):
    env = dict(os.environ, KICKWATCH_SOURCED="1", KICKWATCH_BOOT_CONFIG=str(tmp_path / "config.txt"))
    (tmp_path / "config.txt").write_text("# pi\n")
    script = f"source {ROOT / 'install.sh'}; enable_spi; enable_spi; echo CHANGED=$CHANGED"
    r = subprocess.run(["bash", "-c", script], capture_output=True, text=True, env=env)
    if Path("/dev/spidev0.0").exists() or shutil.which("raspi-config"):
        pytest.skip("this machine has SPI or raspi-config of its own")
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "config.txt").read_text().count("dtparam=spi=on") == 1
    assert "CHANGED=1" in r.stdout
