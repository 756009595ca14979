# Shared by scripts/run.sh and scripts/test.sh: what a fresh Debian 12 machine
# needs, installed as root. Every step is idempotent and quick when done before.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
VENV=${RA_VENV:-$ROOT/.venv}

# Debian packages: SoftHSM2 and OpenSC (PKCS#11 tokens and an independent tool to
# inspect them), WeasyPrint's Pango, fonts with Cyrillic, poppler (pdftotext),
# OpenSSL (independent certificate checks), Chromium (browser tests), PostgreSQL.
APT_RUNTIME="python3 python3-venv python3-pip softhsm2 opensc openssl libpango-1.0-0 libpangoft2-1.0-0
 libharfbuzz-subset0 fonts-dejavu-core shared-mime-info"
APT_TEST="poppler-utils chromium postgresql"

apt_install() {
  local missing=()
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    echo ">> apt-get install ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  fi
}

python_bin() {
  # Python 3.11: the machine's python3 (Debian 12 ships 3.11).
  local py
  for py in python3.11 python3; do
    if command -v "$py" >/dev/null && "$py" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))'; then
      echo "$py"; return
    fi
  done
  echo "Python 3.11 is required (Debian 12's python3)" >&2
  exit 1
}

venv_install() {
  # A virtual environment: Debian's system Python refuses pip installs (PEP 668).
  if [ ! -x "$VENV/bin/python" ]; then
    "$(python_bin)" -m venv "$VENV"
  fi
  # pip's output goes to a log, shown only if the install fails.
  if ! { "$VENV/bin/python" -m pip install -q --upgrade pip && \
         "$VENV/bin/python" -m pip install -q -e "$ROOT$1"; } >"$VENV/pip.log" 2>&1; then
    cat "$VENV/pip.log" >&2
    echo "!! pip install failed (log above)" >&2
    exit 1
  fi
  export PATH="$VENV/bin:$PATH"
}
