#!/usr/bin/env bash
# Prints the path of a working Python 3.12 interpreter (a pyenv shim may exist without the version active).
set -euo pipefail
for candidate in python3.12 "$HOME"/.pyenv/versions/3.12*/bin/python3.12 /usr/local/bin/python3.12 /usr/bin/python3.12; do
  if "$candidate" -c 'import sys; assert sys.version_info[:2] == (3, 12)' 2>/dev/null; then
    command -v "$candidate" || echo "$candidate"
    exit 0
  fi
done
echo "error: no Python 3.12 found; install it (e.g. 'apt-get install python3.12' or 'pyenv install 3.12') and retry" >&2
exit 1
