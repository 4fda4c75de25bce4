#!/usr/bin/env bash
# Installs the Debian packages kickwatch's set-up and tests need, only those missing.
# Safe to run again: it asks apt only when something is absent. Needs root (or sudo).
#   system-deps.sh base   python3 with venv and pip (for `make demo`)
#   system-deps.sh bench  base + mosquitto (bench.mqtt's broker)
#   system-deps.sh test   base + chromium (browser tests), shellcheck, debootstrap, mosquitto (the MQTT tests' broker), openssl (its TLS certificates)
set -euo pipefail

want=(python3 python3-venv python3-pip)
case "${1:-base}" in
    test) want+=(chromium shellcheck debootstrap mosquitto openssl) ;;
    bench) want+=(mosquitto) ;;
esac

missing=()
for pkg in "${want[@]}"; do
    case "$pkg" in
        python3-venv) python3 -c 'import ensurepip, venv' 2>/dev/null && continue ;;
        python3-pip) python3 -m pip --version >/dev/null 2>&1 && continue ;;
        python3) command -v python3 >/dev/null && continue ;;
        chromium) command -v chromium >/dev/null && continue ;;
        mosquitto) [ -x /usr/sbin/mosquitto ] && continue ;;
        *) command -v "$pkg" >/dev/null && continue ;;
    esac
    missing+=("$pkg")
done

[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -eq 0 ]; then
    sudo=()
elif command -v sudo >/dev/null; then
    sudo=(sudo)
else
    echo "system-deps: missing ${missing[*]} and not root: install them with apt-get" >&2
    exit 1
fi
echo "system-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -qq
"${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
