#!/usr/bin/env bash
# The system tools the tests drive, each beside the Debian package that provides it.
# `make test` runs this first: it installs the packages of the missing tools when it can
# (as root, or with sudo that needs no password) and otherwise stops with the one command
# to run. Only what is missing is installed: a tool already on PATH is used as it is.
set -euo pipefail

TOOLS=(
    "promtool prometheus"
    "prometheus prometheus"
    "prometheus-alertmanager prometheus-alertmanager"
    "amtool prometheus-alertmanager"
    "systemd-analyze systemd"
    "kubectl kubernetes-client" # Debian has no package named kubectl
    "chromium chromium"
    "chromedriver chromium-driver"
)

# Sets `commands` and `packages` (each package once) to what is missing.
find_missing() {
    local entry command package
    commands=() packages=()
    for entry in "${TOOLS[@]}"; do
        read -r command package <<<"$entry"
        command -v "$command" >/dev/null && continue
        commands+=("$command")
        [[ " ${packages[*]} " == *" $package "* ]] || packages+=("$package")
    done
    # Debian's python3 creates no venv without ensurepip, which python3-venv adds.
    if ! "${PYTHON:-python3}" -c "import ensurepip" 2>/dev/null; then
        commands+=(venv)
        packages+=(python3-venv)
    fi
}

find_missing
[ "${#commands[@]}" -eq 0 ] && exit 0

echo "missing: ${commands[*]} (Debian packages: ${packages[*]})" >&2
install="apt-get update && apt-get install -y --no-install-recommends ${packages[*]}"
if ! command -v apt-get >/dev/null; then
    echo "no apt-get here: install ${commands[*]} with this system's package manager" >&2
    exit 1
elif [ "$(id -u)" -eq 0 ]; then
    as_root=(env)
elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then
    as_root=(sudo env)
elif command -v sudo >/dev/null; then
    echo "run: sudo sh -c '$install'" >&2
    exit 1
else
    echo "run: su -c '$install'" >&2
    exit 1
fi

"${as_root[@]}" apt-get update -qq
"${as_root[@]}" DEBIAN_FRONTEND=noninteractive \
    apt-get install -y -qq --no-install-recommends "${packages[@]}"

find_missing
if [ "${#commands[@]}" -gt 0 ]; then
    echo "still missing after the install: ${commands[*]}" >&2
    exit 1
fi
