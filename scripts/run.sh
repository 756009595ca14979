#!/usr/bin/env bash
# Command 1 of the README: install everything, initialise the database and the
# instance on the embedded defaults (SQLite, embedded CA, SoftHSM2 tokens), load
# the demo data and serve the app at http://127.0.0.1:5000.
source "$(dirname "$0")/lib.sh"
apt_install $APT_RUNTIME
venv_install ""
cd "$ROOT"
export RA_INSTANCE_PATH=${RA_INSTANCE_PATH:-$ROOT/instance}
flask --app ra db upgrade
flask --app ra ca init
flask --app ra demo
echo
echo ">> http://127.0.0.1:${PORT:-5000}  (Ctrl-C stops it)"
exec flask --app ra run --host 127.0.0.1 --port "${PORT:-5000}"
