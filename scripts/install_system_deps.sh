#!/usr/bin/env bash
# Installs the Debian packages video I/O, headless MuJoCo rendering and the planning page's browser test need,
# only when some are missing.
set -euo pipefail
packages=(ffmpeg libegl1 libegl-mesa0 libgl1-mesa-dri libopengl0 libosmesa6 chromium)
missing=()
for pkg in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
[ ${#missing[@]} -eq 0 ] && exit 0
echo "installing system packages: ${missing[*]}"
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
