#!/usr/bin/env bash
# Command 2 of the README: install what the tests need and run the whole suite,
# once on SQLite and once on PostgreSQL. A run that collects no test fails.
source "$(dirname "$0")/lib.sh"
apt_install $APT_RUNTIME $APT_TEST
venv_install "[test]"
cd "$ROOT"

# PostgreSQL: the machine's server on 127.0.0.1:5432 (trust auth, database
# `test`) when one answers; otherwise a throwaway cluster from Debian's package.
export RA_TEST_PG_URL=${RA_TEST_PG_URL:-postgresql+psycopg://postgres@127.0.0.1:5432/test}
if ! python - <<'PY' 2>/dev/null
import os, psycopg
url = os.environ["RA_TEST_PG_URL"].replace("postgresql+psycopg", "postgresql")
psycopg.connect(url, connect_timeout=3).close()
PY
then
  PGBIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
  PGDATA=$(mktemp -d /tmp/ra-pg.XXXXXX)
  chown postgres "$PGDATA"
  su postgres -s /bin/sh -c "$PGBIN/initdb -q -D $PGDATA -A trust -U postgres" >/dev/null
  su postgres -s /bin/sh -c "$PGBIN/pg_ctl -s -D $PGDATA -o '-p 55432 -k /tmp -c listen_addresses=127.0.0.1' -l $PGDATA/log start -w"
  trap 'su postgres -s /bin/sh -c "$PGBIN/pg_ctl -s -D $PGDATA stop -m fast" || true' EXIT
  su postgres -s /bin/sh -c "$PGBIN/createdb -h 127.0.0.1 -p 55432 test"
  export RA_TEST_PG_URL=postgresql+psycopg://postgres@127.0.0.1:55432/test
  echo ">> started a throwaway PostgreSQL on 127.0.0.1:55432"
fi

status=0
for db in sqlite postgresql; do
  echo ">> test suite on $db"
  set +e
  python -m pytest -q -p no:cacheprovider --db "$db" "$@"
  rc=$?
  set -e
  if [ $rc -eq 5 ]; then
    echo "!! pytest collected no tests on $db: that is a failure" >&2
    rc=1
  fi
  [ $rc -eq 0 ] || status=$rc
done
exit $status
