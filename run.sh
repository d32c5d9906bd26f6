#!/usr/bin/env bash
# One-command set-up and run:  bash run.sh app   |   bash run.sh test [pytest args]
# Creates .venv (if missing), installs requirements.txt into it (app) or requirements-dev.txt, which
# includes it (test: pytest, benchmarks, ONNX), again only when those files changed, then starts the
# Gradio app or runs the test suite. For the browser test it installs Debian's chromium with apt-get
# when it is missing and apt-get is usable (as root or through sudo).
set -euo pipefail
cd "$(dirname "$0")"
VENV="${VENV:-.venv}"
PY="${PYTHON:-python3}"

if [ ! -x "$VENV/bin/python" ]; then
  echo "creating virtual environment $VENV"
  "$PY" -m venv "$VENV"
  "$VENV/bin/python" -m pip install --quiet --upgrade pip
fi
cmd="${1:-app}"
shift || true
req=requirements.txt
[ "$cmd" = test ] && req=requirements-dev.txt
stamp="$VENV/.${req%.txt}.sha256"
want=$(cat requirements.txt "$req" | sha256sum | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  echo "installing $req into $VENV (torch is large; the first time takes a few minutes)"
  "$VENV/bin/python" -m pip install --quiet -r "$req"
  echo "$want" > "$stamp"
fi
case "$cmd" in
  app)
    exec "$VENV/bin/python" app.py "$@"
    ;;
  test)
    if [ ! -x /usr/bin/chromium ]; then
      SUDO=""; [ "$(id -u)" -ne 0 ] && command -v sudo >/dev/null && SUDO="sudo -n"
      if command -v apt-get >/dev/null; then
        echo "installing Debian's chromium for the browser test"
        ($SUDO apt-get update -qq && $SUDO apt-get install -y -qq chromium >/dev/null) \
          || echo "could not install chromium: the browser test will be skipped"
      fi
    fi
    exec "$VENV/bin/python" -m pytest "$@"
    ;;
  *)
    echo "usage: bash run.sh app|test [args]" >&2
    exit 2
    ;;
esac
