# shellcheck shell=bash
# Shared settings and helpers for up.sh, down.sh and mta.sh. Sourced, not executed.

PEERS_HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
DIR=${WARMUP_PEERS_DIR:-/tmp/warmup-peers}
case "$DIR" in
  /*) ;;
  *) DIR="$PWD/$DIR" ;;
esac
case "$DIR" in
  *[[:space:]]*) echo "warmup-peers: WARMUP_PEERS_DIR must not contain spaces: '$DIR'" >&2; exit 2 ;;
esac

# Fixed loopback addresses; ports configurable.
DNS_ADDR=127.0.0.60
DNS_PORT=${WARMUP_DNS_PORT:-53}
RBL_ADDR=127.0.0.61
RBL_PORT=${WARMUP_RBL_PORT:-53}
MX_ADDR=127.0.0.53
MX_PORT=${WARMUP_MX_PORT:-25}
RATE_ADDR=127.0.0.54
RATE_PORT=${WARMUP_RATELIMIT_PORT:-25}
GREY_ADDR=127.0.0.55
GREY_PORT=${WARMUP_GREY_PORT:-25}
SINK_ADDR=127.0.0.56
SINK_PORT=${WARMUP_SINK_PORT:-25}
DEAD_ADDR=127.0.0.57
IMAP_ADDR=127.0.0.62
IMAP_PORT=${WARMUP_IMAP_PORT:-143}
POSTGREY_ADDR=127.0.0.1
POSTGREY_PORT=${WARMUP_POSTGREY_PORT:-10023}
JUNK_CLIENT_IP=127.0.0.39
RATE_LIMIT=5
GREY_DELAY=2
# PostgreSQL (a private cluster in $DIR/postgres; user warmup, trust on loopback; user warmup_pw
# must give its password, for the credential tests)
PG_ADDR=127.0.0.90
PG_PORT=${WARMUP_PG_PORT:-5432}
PG_BIN=/usr/lib/postgresql/15/bin
PG_DIR="$DIR/postgres"
PG_PASSWORD_USER=warmup_pw
PG_PASSWORD=warmup-pw-secret

# as_pg CMD...: run CMD as the postgres user when we are root (PostgreSQL refuses to run as root)
as_pg() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

PIDS="$DIR/pids"
LOGS="$DIR/logs"
PF="$DIR/postfix"
# the production MTA of the routing tests (test/peers/mta.sh): its state and its config dir
MTA="$DIR/mta"
MTA_CF="$MTA/etc"
MARKER="$DIR/.warmup-peers"

log() { echo "warmup-peers: $*" >&2; }

# Serialize up.sh/down.sh runs on one state dir (two vitest runs may start at the same time).
take_lock() {
  exec 9>"$DIR.lock"
  if ! flock -w 120 9; then log "could not lock $DIR.lock within 120s"; exit 1; fi
}

# External test runs (WARMUP_PEERS=external) register as users of the running peers: a file named
# by the vitest main-process PID in $USERS, holding its start time (empty in the older format;
# test/peers/users.ts). Exit status of a refusal:
USERS="$DIR.users"
PEERS_IN_USE=75

# refuse_if_users: exit $PEERS_IN_USE, naming them, while live users exist (a dead user's file is
# removed), unless WARMUP_PEERS_FORCE=1. Call it right after take_lock, before any daemon is
# touched: a user registers and then waits for $DIR.lock to be free, so either it is seen here or it
# starts after this script has finished.
refuse_if_users() {
  local f pid start live=""
  for f in "$USERS"/*; do
    pid=${f##*/}
    case "$pid" in "" | 0* | *[!0-9]*) continue ;; esac
    start=$(tr -dc 0-9 <"$f" 2>/dev/null) || start=""
    if pid_started "$pid" "$start"; then live="$live $pid"; else rm -f "$f"; fi
  done
  [ -z "$live" ] && return 0
  if [ "${WARMUP_PEERS_FORCE:-}" = 1 ]; then
    log "WARMUP_PEERS_FORCE=1: going on although external test runs use the peers (vitest pids:$live)"
    return 0
  fi
  log "refusing: external test runs use the peers (vitest pids:$live, registered in $USERS); wait for them to finish, or override with WARMUP_PEERS_FORCE=1"
  exit "$PEERS_IN_USE"
}

# pid_alive PID -> 0 if the process exists and is not a zombie
pid_alive() {
  local pid=$1 state
  [ -n "$pid" ] && [ -r "/proc/$pid/stat" ] || return 1
  state=$(sed -E 's/^[0-9]+ \(.*\) ([A-Za-z]).*/\1/' "/proc/$pid/stat" 2>/dev/null) || return 1
  [ "$state" != Z ]
}

# proc_start_time PID: prints when PID started (field 22 of /proc/PID/stat, clock ticks since boot);
# fails if it cannot be read. Field 2, the command, may hold spaces and ')': count after the last ')'.
proc_start_time() {
  local stat fields
  stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
  read -r -a fields <<<"${stat##*)}"
  [ -n "${fields[19]:-}" ] && echo "${fields[19]}"
}

# pid_started PID START -> 0 if pid_alive PID and, START given, PID started then (a PID reused by
# another process after a crash is not the one recorded). Without START (older records), or if the
# start time cannot be read, the PID alone decides: as users.ts pidAlive.
pid_started() {
  local now
  pid_alive "$1" || return 1
  [ -n "$2" ] || return 0
  now=$(proc_start_time "$1") || return 0
  [ "$now" = "$2" ]
}

# record_pid NAME PID: $PIDS/NAME.pid holds "PID START" (START: its start time, see proc_start_time),
# so a PID reused by another process after a crash or reboot is never taken for the peer and stopped.
record_pid() {
  echo "$2 $(proc_start_time "$2" || true)" >"$PIDS/$1.pid"
}

# recorded_pid NAME -> the PID recorded for NAME if that process still runs (pid_started), else nothing.
# A file of an older up.sh holds the PID alone: the PID alone decides, as before.
recorded_pid() {
  local pid start
  [ -f "$PIDS/$1.pid" ] || return 0
  read -r pid start <"$PIDS/$1.pid" || true
  case "$pid" in "" | *[!0-9]*) return 0 ;; esac
  if pid_started "$pid" "${start:-}"; then echo "$pid"; fi
}

# wait_gone PID SECONDS
wait_gone() {
  local pid=$1 deadline=$((SECONDS + $2))
  while pid_alive "$pid"; do
    [ "$SECONDS" -ge "$deadline" ] && return 1
    sleep 0.05
  done
  return 0
}

check_banner() { # HOST PORT PREFIX: the server on HOST:PORT greets with a line starting with PREFIX
  timeout 3 bash -c '
    exec 3<>"/dev/tcp/$0/$1" || exit 1
    IFS= read -r -t 2 line <&3 || exit 1
    case "$line" in "$2"*) exit 0 ;; *) exit 1 ;; esac' "$1" "$2" "$3"
}

# The two private Postfix instances, the MX (postfix: $PF, started by up.sh) and the production
# MTA (mta: $MTA_CF, test/peers/mta.sh), are driven by the functions below, NAME naming which.

# postfix_ctl NAME CONFIG-DIR CMD...: a postfix command under a pty so its complaints are visible
# (no syslog here), into $LOGS/NAME-ctl.log.
postfix_ctl() {
  local name=$1 cf=$2; shift 2
  script -qec "postfix -c $cf $*" /dev/null </dev/null >>"$LOGS/$name-ctl.log" 2>&1 9>&-
}

# start_postfix NAME CONFIG-DIR QUEUE-DIR: `postfix start`, then wait (10 s at most) for its master
# and record that PID in $PIDS/NAME.pid. On failure: says why and returns 1 (the caller shows the log).
start_postfix() {
  local name=$1 cf=$2 queue=$3 deadline=$((SECONDS + 10)) pid=""
  postfix_ctl "$name" "$cf" start || { log "$name: postfix start failed"; return 1; }
  while :; do
    pid=""
    [ -s "$queue/pid/master.pid" ] && pid=$(tr -dc 0-9 <"$queue/pid/master.pid")
    [ -n "$pid" ] && pid_alive "$pid" && break
    [ "$SECONDS" -ge "$deadline" ] && { log "$name: no master.pid after 10s"; return 1; }
    sleep 0.1
  done
  record_pid "$name" "$pid"
}

# stop_recorded NAME: stop the PID recorded in $PIDS/NAME.pid (only that PID, and only while it is
# the process recorded: a PID since reused by another process is left alone).
stop_recorded() {
  local name=$1 file="$PIDS/$1.pid" pid
  [ -f "$file" ] || return 0
  pid=$(recorded_pid "$name")
  if [ -n "$pid" ]; then
    local cf=""
    case "$name" in postfix) cf=$PF ;; mta) cf=$MTA_CF ;; esac
    if [ -n "$cf" ] && [ -f "$cf/main.cf" ]; then
      postfix -c "$cf" stop >>"$LOGS/$name-ctl.log" 2>&1 || true
      wait_gone "$pid" 10 || true
    elif [ "$name" = postgres ] && [ -d "$PG_DIR/data" ]; then
      # fast shutdown: open sessions are cut (SIGTERM alone would wait for every client)
      as_pg "$PG_BIN/pg_ctl" -D "$PG_DIR/data" stop -m fast -w -t 20 >>"$LOGS/postgres-ctl.log" 2>&1 || true
      wait_gone "$pid" 10 || true
    fi
    if pid_alive "$pid"; then
      kill -TERM "$pid" 2>/dev/null || true
      if ! wait_gone "$pid" 5; then
        log "$name (pid $pid) ignored SIGTERM, sending SIGKILL"
        kill -KILL "$pid" 2>/dev/null || true
        wait_gone "$pid" 2 || log "$name (pid $pid) still alive after SIGKILL"
      fi
    fi
  fi
  rm -f "$file"
}

# mta: the production Postfix of the routing tests (test/peers/mta.sh), started last
ALL_PEERS="dnsmasq rbldnsd postgrey postfix smtp-sink dovecot postgres mta"

stop_all() {
  local name
  # reverse dependency order: MX before postgrey, dnsmasq last
  for name in mta postgres dovecot smtp-sink postfix postgrey rbldnsd dnsmasq; do
    stop_recorded "$name"
  done
}
