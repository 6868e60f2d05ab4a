#!/usr/bin/env bash
# The project's two entry points (see README.md):
#   ./dev.sh demo   set up, then inspect the bundled demo file and open the inspect notebook in JupyterLab
#   ./dev.sh app    set up, then serve the inspect notebook as a code-free web app (Voila): form, verdict, tabs
# Both open working copies in workspace/ (git-ignored, jupytext pairing off there): using them changes no tracked file.
#   ./dev.sh test   set up (including Debian's nginx and chromium for the server and browser tests, and Node with
#                   Viv's loaders: the contrast-limit oracle and the viewer conformance suite), then run every test
set -euo pipefail
cd "$(dirname "$0")"
VENV=${VENV:-.venv}
PY=${PYTHON:-python3}

need_python() {
  "$PY" -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
    || { echo "Python 3.11 or newer is needed (found: $("$PY" --version 2>&1))." >&2; exit 2; }
}

setup_venv() {  # $1: the extras to install
  need_python
  [ -x "$VENV/bin/python" ] || "$PY" -m venv "$VENV"
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --upgrade pip
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -e ".[$1]"
}

apt_install() {  # install Debian packages when their command is missing
  local missing=()
  command -v /usr/sbin/nginx >/dev/null 2>&1 || missing+=(nginx-light)
  command -v chromium >/dev/null 2>&1 || missing+=(chromium)
  command -v npm >/dev/null 2>&1 || missing+=(nodejs npm)
  [ ${#missing[@]} -eq 0 ] && return 0
  local sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  echo "Installing Debian packages: ${missing[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

WORKSPACE=${WORKSPACE:-workspace}

workspace() {  # working copies of the notebooks, unpaired, in a git-ignored folder (see tools/make_workspace.py)
  "$PY" tools/make_workspace.py "$WORKSPACE" >/dev/null
}

case "${1:-}" in
  demo)
    setup_venv notebooks,pixels
    "$VENV/bin/python" -m ometiff_helpers --demo
    workspace
    root_flag=()
    [ "$(id -u)" -ne 0 ] || root_flag=(--allow-root)
    exec "$VENV/bin/jupyter" lab "${root_flag[@]}" --ServerApp.root_dir="$WORKSPACE" \
      "$WORKSPACE/inspect_remote_ometiff.ipynb"
    ;;
  workspace)  # only make the working copies (the browser tests use this)
    workspace
    ;;
  app)
    setup_venv notebooks
    workspace
    exec "$VENV/bin/voila" --Voila.ip=127.0.0.1 --port="${PORT:-8866}" \
      "$WORKSPACE/inspect_remote_ometiff.ipynb"
    ;;
  test)
    apt_install
    setup_venv test
    (cd tests/viv && npm ci --no-audit --no-fund --silent)  # Viv's own loaders and getChannelStats: the viewer oracle
    "$VENV/bin/ruff" check .
    "$VENV/bin/ruff" format --check .
    "$VENV/bin/lint-imports"
    exec "$VENV/bin/python" -m pytest --nbval --nbval-current-env --nbval-sanitize-with notebooks/sanitize.cfg tests notebooks
    ;;
  *)
    echo "usage: ./dev.sh demo | ./dev.sh app | ./dev.sh test" >&2
    exit 2
    ;;
esac
