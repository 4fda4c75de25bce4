#!/usr/bin/env bash
# kickwatch installer for Raspberry Pi OS Bookworm (and Debian 12, for testing).
#
#   sudo ./install.sh              install or update; a second run changes nothing
#   sudo ./install.sh --uninstall  remove the services and the code, keep the nights
#   sudo ./install.sh --uninstall --purge   ... and the nights, config and PIN too
#
# Environment: KICKWATCH_PIN=123456 sets the household PIN without asking;
# KICKWATCH_SKIP_PIP=1 skips pip (tests with no network); KICKWATCH_SOURCED=1 lets a
# test source this file and call one function.
#
# set -e: a failed step stops the install at that step, rather than carrying on
# and starting services on a half-installed system. Each step says what it did.

set -euo pipefail

PREFIX=${KICKWATCH_PREFIX:-/opt/kickwatch}
ETC=${KICKWATCH_ETC:-/etc/kickwatch}
STATE=/var/lib/kickwatch
WEB_STATE=/var/lib/kickwatch-web
UNIT_DIR=${KICKWATCH_UNIT_DIR:-/etc/systemd/system}
BOOT_CONFIG=${KICKWATCH_BOOT_CONFIG:-/boot/firmware/config.txt}
LOG=${KICKWATCH_LOG:-/var/log/kickwatch-install.log}
PORT=8080
SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
CHANGED=0
REBOOT=0

say() { printf '%s\n' "$*"; }
# run a noisy command into the log; if it fails, say which step and show the end of the log
logged() {
    if ! "$@" >>"$LOG" 2>&1; then
        say "  ! failed: $* (the end of $LOG follows)" >&2
        tail -n 15 "$LOG" >&2
        exit 1
    fi
}
changed() { CHANGED=$((CHANGED + 1)); say "  + $*"; }
unchanged() { say "  = $*"; }

require_root() {
    if [ "$(id -u)" -ne 0 ]; then
        say "install.sh must run as root: sudo ./install.sh" >&2
        exit 1
    fi
}

check_os() {
    local id="" version=""
    if [ -r /etc/os-release ]; then
        # shellcheck disable=SC1091
        . /etc/os-release
        id=${ID:-}
        version=${VERSION_ID:-}
    fi
    case "$id:$version" in
        debian:12 | raspbian:12) unchanged "system: $PRETTY_NAME" ;;
        *) say "  ! this is ${PRETTY_NAME:-an unknown system}; kickwatch is made for Raspberry Pi OS Bookworm / Debian 12" ;;
    esac
}

install_packages() {
    local want=(python3 python3-venv python3-pip python3-numpy) missing=() pkg
    for extra in python3-lgpio python3-spidev avahi-daemon; do
        if apt-cache show "$extra" >/dev/null 2>&1; then want+=("$extra"); fi
    done
    for pkg in "${want[@]}"; do
        dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
    done
    if [ ${#missing[@]} -eq 0 ]; then
        unchanged "packages: ${want[*]}"
        return
    fi
    DEBIAN_FRONTEND=noninteractive logged apt-get install -y -qq --no-install-recommends "${missing[@]}"
    changed "installed ${missing[*]}"
}

enable_spi() {
    if [ -e /dev/spidev0.0 ]; then
        unchanged "SPI is on (/dev/spidev0.0)"
        return
    fi
    REBOOT=1
    if [ -f "$BOOT_CONFIG" ] && grep -qE '^dtparam=spi=on' "$BOOT_CONFIG"; then
        unchanged "SPI is set in $BOOT_CONFIG (it appears after a reboot)"
    elif command -v raspi-config >/dev/null 2>&1; then
        raspi-config nonint do_spi 0
        changed "enabled SPI with raspi-config"
    elif [ -f "$BOOT_CONFIG" ]; then
        printf '\n# kickwatch: the strip ADC is on SPI\ndtparam=spi=on\n' >>"$BOOT_CONFIG"
        changed "added dtparam=spi=on to $BOOT_CONFIG"
    else
        say "  ! no raspi-config and no $BOOT_CONFIG: enable SPI yourself (not a Pi?)"
        REBOOT=0
    fi
}

ensure_group() {
    if getent group "$1" >/dev/null; then return; fi
    groupadd --system "$1"
    changed "created group $1"
}

create_users() {
    ensure_group spi
    ensure_group gpio
    ensure_group kickwatch
    ensure_group kickwatch-web
    if ! id kickwatch >/dev/null 2>&1; then
        useradd --system --gid kickwatch --groups spi,gpio,kickwatch-web --home-dir "$STATE" \
            --no-create-home --shell /usr/sbin/nologin kickwatch
        changed "created user kickwatch (groups spi, gpio)"
    else
        unchanged "user kickwatch"
    fi
    if ! id kickwatch-web >/dev/null 2>&1; then
        useradd --system --gid kickwatch-web --groups kickwatch --home-dir "$WEB_STATE" \
            --no-create-home --shell /usr/sbin/nologin kickwatch-web
        changed "created user kickwatch-web (reads the nights, nothing else)"
    else
        unchanged "user kickwatch-web"
    fi
}

# kickwatch's Python packages: every top-level folder with an __init__.py but the tests and benchmarks
# (found, not listed, so a new package is never left behind)
packages() {
    (cd "$SRC" && for init in */__init__.py; do dirname "$init"; done | grep -vx -e tests -e bench)
}

source_stamp() {
    # shellcheck disable=SC2046  # one word per package
    (cd "$SRC" && find pyproject.toml $(packages) -type f \( -name '*.py' -o -name '*.toml' \
        -o -name '*.html' -o -name '*.css' \) -print0 | sort -z | xargs -0 sha256sum | sha256sum | cut -d' ' -f1)
}

install_code() {
    local stamp
    stamp=$(source_stamp)
    if [ -x "$PREFIX/venv/bin/kickwatch" ] && [ "$(cat "$PREFIX/.stamp" 2>/dev/null)" = "$stamp" ]; then
        unchanged "kickwatch code in $PREFIX"
        return
    fi
    mkdir -p "$PREFIX/src"
    rm -rf "$PREFIX/src"
    mkdir -p "$PREFIX/src"
    # shellcheck disable=SC2046  # one word per package
    (cd "$SRC" && tar cf - pyproject.toml README.md $(packages) systemd hardware) | tar xf - -C "$PREFIX/src"
    if [ ! -x "$PREFIX/venv/bin/python" ]; then
        # system site packages: apt's lgpio, spidev and numpy serve the venv (PEP 668)
        python3 -m venv --system-site-packages "$PREFIX/venv"
    fi
    if [ "${KICKWATCH_SKIP_PIP:-0}" != 1 ]; then
        logged "$PREFIX/venv/bin/pip" install --quiet --no-cache-dir "$PREFIX/src"
        # what was installed must start: a package left out fails here, not at the first boot
        logged "$PREFIX/venv/bin/kickwatch" --help
    fi
    printf '%s\n' "$stamp" >"$PREFIX/.stamp"
    changed "installed kickwatch into $PREFIX/venv"
}

write_config() {
    mkdir -p "$ETC"
    if [ -f "$ETC/kickwatch.toml" ]; then
        unchanged "config $ETC/kickwatch.toml (yours, left as it is)"
        return
    fi
    {
        "$PREFIX/venv/bin/kickwatch" config
        printf '\n# Written by install.sh. Change [source] kind to the ADC you wired (mcp3208, mcp3008, ads1256).\n'
    } >"$ETC/kickwatch.toml.new"
    sed -i 's/^kind = "sim"/kind = "mcp3208"/' "$ETC/kickwatch.toml.new"
    mv "$ETC/kickwatch.toml.new" "$ETC/kickwatch.toml"
    chmod 0644 "$ETC/kickwatch.toml"
    changed "wrote a commented config $ETC/kickwatch.toml"
}

set_pin() {
    if [ -s "$ETC/pin" ]; then
        unchanged "household PIN (already set)"
        return
    fi
    local pin=${KICKWATCH_PIN:-}
    if [ -z "$pin" ] && [ -t 0 ]; then
        read -r -s -p "  Household PIN for the dashboard (empty: make one up): " pin
        echo
    fi
    local generated=0
    if [ -z "$pin" ]; then
        pin=$(python3 -c 'import secrets; print(f"{secrets.randbelow(10**6):06d}")')
        generated=1
    fi
    PIN="$pin" "$PREFIX/venv/bin/python" -c \
        'import os; from werkzeug.security import generate_password_hash as h; print(h(os.environ["PIN"]))' \
        >"$ETC/pin"
    chown root:kickwatch-web "$ETC/pin"
    chmod 0640 "$ETC/pin"
    if [ "$generated" = 1 ]; then
        changed "household PIN: $pin  (write it down: it is shown only this once)"
    else
        changed "household PIN set"
    fi
}

make_state() {
    local made=0
    for d in "$STATE" "$WEB_STATE" "$WEB_STATE/requests"; do
        if [ ! -d "$d" ]; then mkdir -p "$d"; made=1; fi
    done
    chown kickwatch:kickwatch "$STATE"
    chmod 0750 "$STATE"
    chown kickwatch-web:kickwatch-web "$WEB_STATE" "$WEB_STATE/requests"
    chmod 0770 "$WEB_STATE" "$WEB_STATE/requests"
    if [ "$made" = 1 ]; then changed "state in $STATE and $WEB_STATE"; else unchanged "state folders"; fi
}

install_units() {
    local unit any=0
    for unit in kickwatch.service kickwatch-web.service; do
        if cmp -s "$SRC/systemd/$unit" "$UNIT_DIR/$unit"; then continue; fi
        install -m 0644 "$SRC/systemd/$unit" "$UNIT_DIR/$unit"
        any=1
    done
    if [ "$any" = 1 ]; then
        systemctl daemon-reload
        changed "installed systemd units"
    else
        unchanged "systemd units"
    fi
}

announce_mdns() {
    if [ ! -d /etc/avahi/services ]; then
        say "  - no avahi: open the dashboard by the Pi's address instead of kickwatch.local"
        return
    fi
    local file=/etc/avahi/services/kickwatch.service
    local service_xml="<?xml version=\"1.0\" standalone='no'?>
<!DOCTYPE service-group SYSTEM \"avahi-service.dtd\">
<service-group><name>kickwatch</name><service><type>_http._tcp</type><port>$PORT</port></service></service-group>"
    if [ "$(cat "$file" 2>/dev/null)" = "$service_xml" ]; then
        unchanged "mDNS announcement"
    else
        printf '%s\n' "$service_xml" >"$file"
        changed "announced the dashboard over mDNS"
    fi
    if [ "$(hostname)" = raspberrypi ] && command -v hostnamectl >/dev/null; then
        hostnamectl set-hostname kickwatch
        changed "renamed this Pi kickwatch (kickwatch.local)"
    fi
}

start_services() {
    local unit
    for unit in kickwatch.service kickwatch-web.service; do
        if systemctl is-enabled --quiet "$unit" 2>/dev/null; then
            unchanged "$unit enabled"
        else
            logged systemctl enable --now "$unit"
            changed "enabled and started $unit"
        fi
    done
}

uninstall() {
    local purge=${1:-0} unit
    for unit in kickwatch.service kickwatch-web.service; do
        if [ -f "$UNIT_DIR/$unit" ]; then
            systemctl disable --now "$unit" >>"$LOG" 2>&1 || true
            rm -f "$UNIT_DIR/$unit"
            changed "removed $unit"
        fi
    done
    systemctl daemon-reload || true
    rm -f /etc/avahi/services/kickwatch.service
    if [ -d "$PREFIX" ]; then rm -rf "$PREFIX"; changed "removed $PREFIX"; fi
    if [ "$purge" = 1 ]; then
        rm -rf "$STATE" "$WEB_STATE" "$ETC"
        changed "removed the nights, the config and the PIN"
    else
        say "  = kept the nights in $STATE and the config in $ETC (--purge removes them)"
    fi
}

main() {
    require_root
    mkdir -p "$(dirname "$LOG")"
    exec > >(tee -a "$LOG") 2>&1
    say "kickwatch install, $(date -Is)"
    if [ "${1:-}" = "--uninstall" ]; then
        uninstall "$([ "${2:-}" = "--purge" ] && echo 1 || echo 0)"
        return
    fi
    check_os
    install_packages
    enable_spi
    create_users
    install_code
    write_config
    set_pin
    make_state
    install_units
    announce_mdns
    start_services
    if [ "$CHANGED" = 0 ]; then
        say "Nothing changed: kickwatch was already installed."
    fi
    if [ "$REBOOT" = 1 ]; then
        say "Reboot once for SPI to appear (sudo reboot); kickwatch starts by itself afterwards."
    fi
    local addr
    addr=$(hostname -I 2>/dev/null | cut -d' ' -f1)
    say "The dashboard: http://kickwatch.local:$PORT/ or http://${addr:-this-pi}:$PORT/"
    say "Check the sensor: sudo -u kickwatch $PREFIX/venv/bin/kickwatch doctor"
}

if [ "${KICKWATCH_SOURCED:-0}" != 1 ]; then
    main "$@"
fi
