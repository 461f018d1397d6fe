# Start and stop a throwaway PostgreSQL cluster on 127.0.0.1 (sourced by scripts/test.sh).
# Exports BENCH_TEST_POSTGRES_URL, a SQLAlchemy URL the PostgreSQL tests use.

start_test_postgres() {
  local bin
  bin="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)"
  if [ -z "$bin" ]; then echo "postgres: not installed; the PostgreSQL tests will fail" >&2; return 0; fi
  BENCH_PG_DIR="$(mktemp -d /tmp/bench-pg.XXXXXX)"
  local as=""
  if [ "$(id -u)" -eq 0 ]; then chown postgres "$BENCH_PG_DIR"; as="runuser -u postgres --"; fi
  local port
  port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
  $as "$bin/initdb" -D "$BENCH_PG_DIR/data" -U bench --auth=trust -E UTF8 >/dev/null
  $as "$bin/pg_ctl" -D "$BENCH_PG_DIR/data" -o "-h 127.0.0.1 -p $port -k $BENCH_PG_DIR" \
      -l "$BENCH_PG_DIR/log" -w start >/dev/null
  BENCH_PG_STOP="$as $bin/pg_ctl -D $BENCH_PG_DIR/data -m fast -w stop"
  export BENCH_TEST_POSTGRES_URL="postgresql+psycopg://bench@127.0.0.1:$port/postgres"
  echo "postgres: test server on 127.0.0.1:$port"
}

stop_test_postgres() {
  if [ -n "${BENCH_PG_STOP:-}" ]; then $BENCH_PG_STOP >/dev/null 2>&1 || true; rm -rf "$BENCH_PG_DIR"; fi
}
