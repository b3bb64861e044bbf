#!/usr/bin/env bash
# Start the real loopback test peers (DNS, DNSBL, Postfix MXs, postgrey, smtp-sink, Dovecot, PostgreSQL).
#
#   test/peers/up.sh                  stop recorded peers, wipe the state dir, start all
#   test/peers/up.sh --restart NAME   restart one recorded peer (e.g. dnsmasq after new zone data)
#
# The first form refuses (exit 75) while external test runs use the peers (WARMUP_PEERS_FORCE=1 overrides).
#
# State dir: ${WARMUP_PEERS_DIR:-/tmp/warmup-peers}. See test/peers/README.md.
set -euo pipefail
# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

RESTART=""
if [ "${1:-}" = "--restart" ]; then
  RESTART=${2:?usage: up.sh --restart NAME}
  case " $ALL_PEERS " in *" $RESTART "*) ;; *) log "unknown peer '$RESTART' (known: $ALL_PEERS)"; exit 2 ;; esac
elif [ $# -gt 0 ]; then
  echo "usage: up.sh [--restart NAME]" >&2; exit 2
fi

# ---------------------------------------------------------------- packages
# Installing is a step of its own (test/peers/install.sh, the `pretest` script), outside any
# timeout: here only a quick check, so a missing package fails fast with what to run.
ensure_packages() {
  bash "$PEERS_HERE/install.sh" --check || { log "start the tests with npm test, or run test/peers/install.sh first"; exit 1; }
}

# ---------------------------------------------------------------- daemons
# start_daemon NAME CMD... : run CMD in the background, own session, logs to $LOGS/NAME.log
start_daemon() {
  local name=$1; shift
  setsid "$@" </dev/null >>"$LOGS/$name.log" 2>&1 9>&- &
  record_pid "$name" $!
}

fail_peer() {
  local name=$1 why=$2 logfile=${3:-$LOGS/$1.log}
  log "peer '$name' failed: $why"
  if [ -f "$logfile" ]; then
    log "---- tail of $logfile ----"
    tail -n 25 "$logfile" >&2 || true
    log "----"
  fi
  if [ -z "$RESTART" ]; then stop_all; else stop_recorded "$name"; fi
  exit 1
}

# wait_ready NAME SECONDS CHECK-CMD... : poll CHECK until it succeeds, the process dies, or time is up.
wait_ready() {
  local name=$1 secs=$2; shift 2
  local deadline=$((SECONDS + secs)) pid
  while :; do
    if "$@" >/dev/null 2>&1; then return 0; fi
    pid=$(recorded_pid "$name")
    [ -n "$pid" ] || fail_peer "$name" "process $(cut -d' ' -f1 "$PIDS/$name.pid" 2>/dev/null) exited"
    [ "$SECONDS" -ge "$deadline" ] && fail_peer "$name" "not answering after ${secs}s"
    sleep 0.1
  done
}

check_dig() { # SERVER PORT NAME TYPE EXPECTED-SUBSTRING
  dig +short +time=1 +tries=1 -p "$2" "@$1" "$3" "$4" | grep -qF -- "$5"
}

check_connect() { # HOST PORT
  timeout 2 bash -c 'exec 3<>"/dev/tcp/$0/$1"' "$1" "$2"
}

start_dnsmasq() {
  start_daemon dnsmasq /usr/sbin/dnsmasq --keep-in-foreground --conf-file="$DIR/dnsmasq.conf"
  wait_ready dnsmasq 10 check_dig "$DNS_ADDR" "$DNS_PORT" mx.postfix.test A 127.0.0.53
}

start_rbldnsd() {
  start_daemon rbldnsd /usr/sbin/rbldnsd -n -u rbldns -b "$RBL_ADDR/$RBL_PORT" -w "$DIR/rbldnsd" -c 1s -a \
    zen.dnsbl.test:ip4set:zen.txt broken.dnsbl.test:ip4set:broken.txt all.dnsbl.test:ip4set:all.txt
  wait_ready rbldnsd 10 check_dig "$RBL_ADDR" "$RBL_PORT" 2.0.0.127.zen.dnsbl.test A 127.0.0.2
}

start_postgrey() {
  start_daemon postgrey /usr/sbin/postgrey --inet="$POSTGREY_ADDR:$POSTGREY_PORT" --dbdir="$DIR/postgrey" \
    --user=postgrey --group=postgrey --delay="$GREY_DELAY" --lookup-by-host --auto-whitelist-clients=0 \
    --hostname=mx.grey.test --whitelist-clients="$DIR/postgrey/whitelist_clients" \
    --whitelist-recipients="$DIR/postgrey/whitelist_recipients"
  wait_ready postgrey 15 check_connect "$POSTGREY_ADDR" "$POSTGREY_PORT"
}

start_mx() {
  start_postfix postfix "$PF" "$DIR/postfix-queue" || fail_peer postfix "the MX did not start" "$LOGS/postfix-ctl.log"
  wait_ready postfix 10 check_banner "$MX_ADDR" "$MX_PORT" "220 "
  wait_ready postfix 10 check_banner "$RATE_ADDR" "$RATE_PORT" "220 "
  wait_ready postfix 10 check_banner "$GREY_ADDR" "$GREY_PORT" "220 "
}

start_smtp_sink() {
  start_daemon smtp-sink /usr/sbin/smtp-sink -u nobody -h mx.sink.test "$SINK_ADDR:$SINK_PORT" 1000
  wait_ready smtp-sink 10 check_banner "$SINK_ADDR" "$SINK_PORT" "220 "
}

start_dovecot() {
  start_daemon dovecot /usr/sbin/dovecot -F -c "$DIR/dovecot/dovecot.conf"
  wait_ready dovecot 10 check_banner "$IMAP_ADDR" "$IMAP_PORT" "* OK"
}

# TLS for the sslmode tests (made once per state dir; keys never leave it): a CA of this run, a
# server certificate signed by it and named db.warmup.test only (so verify-full on $PG_ADDR fails
# on the name where verify-ca passes), and a second CA that signed nothing.
pg_tls() {
  local t="$PG_DIR/tls" ec=(-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes)
  [ -f "$t/server.crt" ] && return 0
  mkdir -p "$t"
  { openssl req -x509 "${ec[@]}" -days 30 -subj "/CN=warmup test CA" -keyout "$t/ca.key" -out "$t/ca.crt" &&
    openssl req -x509 "${ec[@]}" -days 30 -subj "/CN=warmup other CA" -keyout "$t/other-ca.key" -out "$t/other-ca.crt" &&
    openssl req "${ec[@]}" -subj "/CN=db.warmup.test" -keyout "$t/server.key" -out "$t/server.csr" &&
    printf 'subjectAltName=DNS:db.warmup.test\n' >"$t/server.ext" &&
    openssl x509 -req -in "$t/server.csr" -CA "$t/ca.crt" -CAkey "$t/ca.key" -CAcreateserial -days 30 \
      -extfile "$t/server.ext" -out "$t/server.crt"; } >>"$LOGS/postgres-ctl.log" 2>&1 ||
    fail_peer postgres "making the TLS certificates failed" "$LOGS/postgres-ctl.log"
  chmod 600 "$t/server.key"
  if [ "$(id -u)" = 0 ]; then chown -R postgres:postgres "$t"; fi
}

# PostgreSQL 15: a private cluster in $PG_DIR (initdb once; a restart keeps its databases), on
# $PG_ADDR:$PG_PORT and a unix socket in $PG_DIR. Each test file creates a database of its own
# (createPostgresDatabase in peers.ts).
start_postgres() {
  mkdir -p "$PG_DIR"
  touch "$LOGS/postgres.log" "$LOGS/postgres-ctl.log"
  if [ "$(id -u)" = 0 ]; then chown postgres:postgres "$PG_DIR" "$LOGS/postgres.log"; fi
  chmod 700 "$PG_DIR"
  if [ ! -f "$PG_DIR/data/PG_VERSION" ]; then
    rm -rf "$PG_DIR/data"
    as_pg "$PG_BIN/initdb" -D "$PG_DIR/data" -A trust -U warmup -E UTF8 --no-locale --no-sync \
      </dev/null >>"$LOGS/postgres-ctl.log" 2>&1 9>&- || fail_peer postgres "initdb failed" "$LOGS/postgres-ctl.log"
    as_pg tee "$PG_DIR/data/pg_hba.conf" >/dev/null <<EOF
# generated by test/peers/up.sh: loopback only; $PG_PASSWORD_USER must give its password
local all all trust
host all $PG_PASSWORD_USER 127.0.0.0/8 scram-sha-256
host all all 127.0.0.0/8 trust
EOF
  fi
  pg_tls
  # Test data is disposable: no fsync. Each test file opens a pool of its own: room for many.
  as_pg "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -l "$LOGS/postgres.log" -w -t 60 \
    -o "-k $PG_DIR -c listen_addresses=$PG_ADDR -p $PG_PORT -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=400 -c shared_buffers=64MB -c ssl=on -c ssl_cert_file=$PG_DIR/tls/server.crt -c ssl_key_file=$PG_DIR/tls/server.key" \
    start </dev/null >>"$LOGS/postgres-ctl.log" 2>&1 9>&- || fail_peer postgres "pg_ctl start failed" "$LOGS/postgres.log"
  record_pid postgres "$(head -n 1 "$PG_DIR/data/postmaster.pid" | tr -dc 0-9)"
  wait_ready postgres 30 pg_isready -q -h "$PG_ADDR" -p "$PG_PORT" -U warmup -d postgres
  local psql=("$PG_BIN/psql" -q -X -v ON_ERROR_STOP=1 -h "$PG_ADDR" -p "$PG_PORT" -U warmup -d postgres)
  if ! "${psql[@]}" -tAc "select 1 from pg_database where datname = 'warmup'" | grep -q 1; then
    { "${psql[@]}" -c "create database warmup" && "${psql[@]}" -c "create role $PG_PASSWORD_USER login createdb password '$PG_PASSWORD'"; } \
      >>"$LOGS/postgres-ctl.log" 2>&1 9>&- || fail_peer postgres "creating the test database failed" "$LOGS/postgres-ctl.log"
  fi
}

# The postgres entry of peers.json (also patched in alone by `up.sh --restart postgres`).
postgres_json() {
  cat <<EOF
{ "host": "$PG_ADDR", "port": $PG_PORT, "user": "warmup", "database": "warmup", "socketDir": "$PG_DIR",
    "url": "postgres://warmup@$PG_ADDR:$PG_PORT/warmup", "passwordUser": "$PG_PASSWORD_USER", "password": "$PG_PASSWORD",
    "tls": { "ca": "$PG_DIR/tls/ca.crt", "otherCa": "$PG_DIR/tls/other-ca.crt", "serverName": "db.warmup.test" } }
EOF
}

# patch_peers_json KEY JSON: set one key of an existing peers.json, leaving the others as they are.
patch_peers_json() {
  node -e '
    const fs = require("fs"); const [file, key, value] = process.argv.slice(1);
    const peers = JSON.parse(fs.readFileSync(file, "utf8")); peers[key] = JSON.parse(value);
    fs.writeFileSync(file + ".tmp", JSON.stringify(peers, null, 2) + "\n"); fs.renameSync(file + ".tmp", file);
  ' "$DIR/peers.json" "$1" "$2"
}

start_peer() {
  case "$1" in
    postgres) start_postgres ;;
    dnsmasq) start_dnsmasq ;;
    rbldnsd) start_rbldnsd ;;
    postgrey) start_postgrey ;;
    postfix) start_mx ;;
    smtp-sink) start_smtp_sink ;;
    dovecot) start_dovecot ;;
    mta) start_mta || fail_peer mta "the production MTA did not start" "$LOGS/mta-ctl.log" ;;
  esac
}
# shellcheck source=mta.sh
. "$PEERS_HERE/mta.sh"

# ---------------------------------------------------------------- configs
write_configs() {
  mkdir -p "$PIDS" "$LOGS" "$DIR/dns.d" "$DIR/rbldnsd" "$DIR/postgrey" "$PF" "$DIR/postfix-queue" "$DIR/postfix-data" \
    "$DIR/mail" "$DIR/dovecot/run" "$DIR/dovecot/state"
  chmod 755 "$DIR" "$PIDS" "$LOGS" "$DIR/dns.d" "$DIR/rbldnsd" "$PF" "$DIR/dovecot" "$DIR/mail"

  # ---- dnsmasq
  local dnsbl_fwd="$RBL_ADDR"
  [ "$RBL_PORT" != 53 ] && dnsbl_fwd="$RBL_ADDR#$RBL_PORT"
  cat >"$DIR/dnsmasq.conf" <<EOF
# generated by test/peers/up.sh
port=$DNS_PORT
listen-address=$DNS_ADDR
bind-interfaces
no-hosts
no-resolv
no-poll
cache-size=0
log-facility=-
pid-file=
local=/test/
local=/127.in-addr.arpa/
server=/dnsbl.test/$dnsbl_fwd
conf-file=$PEERS_HERE/dns/base.conf
conf-dir=$DIR/dns.d,*.conf
EOF
  echo "# test-added zone data: one *.conf per test, dnsmasq syntax (see addDnsRecords)" >"$DIR/dns.d/README"

  # ---- rbldnsd (files must be readable by user rbldns)
  cat >"$DIR/rbldnsd/zen.txt" <<'EOF'
:127.0.0.2:Listed: $
# RFC 5782 test entry
127.0.0.2
EOF
  cat >"$DIR/rbldnsd/broken.txt" <<'EOF'
:127.0.0.2:Listed: $
# a broken DNSBL: the 127.0.0.2 test entry is NOT listed
EOF
  cat >"$DIR/rbldnsd/all.txt" <<'EOF'
:127.0.0.2:Listed (everything): $
# lists every IPv4 address (/0 is not accepted by ip4set; two /1 halves are)
0.0.0.0/1
128.0.0.0/1
EOF
  chmod 644 "$DIR"/rbldnsd/*.txt

  # ---- postgrey
  : >"$DIR/postgrey/whitelist_clients"
  : >"$DIR/postgrey/whitelist_recipients"
  chown postgrey:postgrey "$DIR/postgrey"
  chmod 755 "$DIR/postgrey"

  # ---- postfix (queue and data dirs must live outside the config dir: postfix-script
  # insists everything under config_directory is owned by root)
  chown postfix "$DIR/postfix-data"
  cat >"$PF/main.cf" <<EOF
# generated by test/peers/up.sh: a private receiving MX on loopback, no outbound delivery
compatibility_level = 3.6
queue_directory = $DIR/postfix-queue
data_directory = $DIR/postfix-data
maillog_file = $LOGS/postfix.log
maillog_file_prefixes = $LOGS
myhostname = mx.postfix.test
mydomain = postfix.test
myorigin = \$myhostname
mydestination =
local_recipient_maps =
alias_maps =
alias_database =
inet_interfaces = loopback-only
inet_protocols = ipv4
mynetworks = 127.0.0.1/32
# loopback clients are NOT exempt from anvil limits
smtpd_client_event_limit_exceptions =
anvil_rate_time_unit = 60s
# never look anything up in the (non-loopback) system DNS
smtpd_peername_lookup = no
disable_dns_lookups = yes
smtp_dns_support_level = disabled
default_transport = error:5.7.1 outbound delivery disabled on the test MX
relay_transport = error:5.7.1 outbound delivery disabled on the test MX
local_transport = error:5.7.1 local delivery disabled on the test MX
biff = no
append_dot_mydomain = no
in_flow_delay = 0
smtpd_error_sleep_time = 0
delay_warning_time = 0
message_size_limit = 52428800
virtual_mailbox_domains = postfix.test nomx.test multi.test ratelimit.test grey.test
# any sane local part is a valid recipient (regexp tables may not substitute \$N here, so the
# Maildir path is chosen by Dovecot's LDA: $DIR/mail/<domain>/<localpart>/)
virtual_mailbox_maps = regexp:$PF/mailbox.regexp
virtual_transport = dovecot
dovecot_destination_recipient_limit = 1
junk_destination_recipient_limit = 1
smtpd_relay_restrictions = reject_unauth_destination
smtpd_client_restrictions = check_client_access cidr:$PF/junk.cidr, check_client_access cidr:$PF/verdicts.cidr
smtpd_recipient_restrictions =
grey_recipient_restrictions = reject_unauth_destination, check_policy_service inet:$POSTGREY_ADDR:$POSTGREY_PORT
EOF
  cat >"$PF/master.cf" <<EOF
# generated by test/peers/up.sh
$MX_ADDR:$MX_PORT      inet n - n - - smtpd -o myhostname=mx.postfix.test
$RATE_ADDR:$RATE_PORT  inet n - n - - smtpd -o myhostname=mx.ratelimit.test -o smtpd_client_message_rate_limit=$RATE_LIMIT
$GREY_ADDR:$GREY_PORT  inet n - n - - smtpd -o myhostname=mx.grey.test -o smtpd_recipient_restrictions=\$grey_recipient_restrictions
pickup     unix  n - n 60   1 pickup
cleanup    unix  n - n -    0 cleanup
qmgr       unix  n - n 300  1 qmgr
rewrite    unix  - - n -    - trivial-rewrite
bounce     unix  - - n -    0 bounce
defer      unix  - - n -    0 bounce
trace      unix  - - n -    0 bounce
verify     unix  - - n -    1 verify
flush      unix  n - n 1000? 0 flush
proxymap   unix  - - n -    - proxymap
proxywrite unix  - - n -    1 proxymap
smtp       unix  - - n -    - smtp
relay      unix  - - n -    - smtp
showq      unix  n - n -    - showq
error      unix  - - n -    - error
retry      unix  - - n -    - error
discard    unix  - - n -    - discard
local      unix  - n n -    - local
virtual    unix  - n n -    - virtual
# delivery into the Maildir tree through Dovecot's LDA (runs as mail:mail)
dovecot    unix  - n n -    - pipe flags=DORhu user=mail:mail argv=/usr/lib/dovecot/dovecot-lda -c $DIR/dovecot/dovecot.conf -e -d \${user}@\${domain} -f \${sender}
# inbox placement: mail from the junk client IP is routed here (FILTER junk:junk) -> Maildir/.Junk/
junk       unix  - n n -    - pipe flags=DORhu user=mail:mail argv=/usr/lib/dovecot/dovecot-lda -c $DIR/dovecot/dovecot.conf -e -d \${user}@\${domain} -f \${sender} -m Junk
anvil      unix  - - n -    1 anvil
scache     unix  - - n -    1 scache
postlog    unix-dgram n - n - 1 postlogd
EOF
  cat >"$PF/mailbox.regexp" <<'EOF'
# valid recipients: any local part made of these characters (no '/', no leading dot)
/^[a-z0-9][a-z0-9._+=-]*@[a-z0-9][a-z0-9.-]*$/	OK
EOF
  cat >"$PF/junk.cidr" <<EOF
# mail from this client IP is delivered into Maildir/.Junk/ instead of INBOX
$JUNK_CLIENT_IP/32	FILTER junk:junk
EOF
  cat >"$PF/verdicts.cidr" <<'EOF'
# per-client-IP verdicts, e.g. "127.0.0.9/32 554 5.7.1 blocked"; apply with: postfix -c DIR reload
EOF

  # ---- mail tree shared by Postfix (writer) and Dovecot (reader), owned by mail(8)
  local u
  for u in seed1 seed2 seed3; do
    mkdir -p "$DIR/mail/postfix.test/$u"/{cur,new,tmp} "$DIR/mail/postfix.test/$u/.Junk"/{cur,new,tmp}
    touch "$DIR/mail/postfix.test/$u/.Junk/maildirfolder"
  done
  chown -R mail:mail "$DIR/mail"

  # ---- dovecot
  cat >"$DIR/dovecot/users" <<EOF
seed1@postfix.test:{PLAIN}seedpass:8:8::$DIR/mail/postfix.test/seed1::
seed2@postfix.test:{PLAIN}seedpass:8:8::$DIR/mail/postfix.test/seed2::
seed3@postfix.test:{PLAIN}seedpass:8:8::$DIR/mail/postfix.test/seed3::
EOF
  chmod 644 "$DIR/dovecot/users"
  touch "$LOGS/dovecot-lda.log"
  chown mail:mail "$LOGS/dovecot-lda.log"
  cat >"$DIR/dovecot/dovecot.conf" <<EOF
# generated by test/peers/up.sh: private IMAP server over the Postfix Maildir tree
instance_name = warmup-peers
base_dir = $DIR/dovecot/run
state_dir = $DIR/dovecot/state
protocols = imap
listen = $IMAP_ADDR
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
auth_failure_delay = 0
first_valid_uid = 8
first_valid_gid = 8
log_path = $LOGS/dovecot.log
default_internal_user = dovecot
default_login_user = dovenull
mail_location = maildir:$DIR/mail/%d/%n
passdb {
  driver = passwd-file
  args = scheme=PLAIN username_format=%u $DIR/dovecot/users
}
userdb {
  driver = passwd-file
  args = username_format=%u $DIR/dovecot/users
}
# any other recipient (for Postfix -> dovecot-lda deliveries; no IMAP login without a passdb entry)
userdb {
  driver = static
  args = uid=8 gid=8 home=$DIR/mail/%d/%n allow_all_users=yes
}
postmaster_address = postmaster@postfix.test
lda_mailbox_autocreate = yes
lda_mailbox_autosubscribe = yes
protocol lda {
  # dovecot-lda runs as mail(8): it cannot write the master's root-owned log
  log_path = $LOGS/dovecot-lda.log
}
namespace inbox {
  inbox = yes
  separator = /
  mailbox Junk {
    special_use = \Junk
    auto = subscribe
  }
}
service imap-login {
  inet_listener imap {
    address = $IMAP_ADDR
    port = $IMAP_PORT
  }
  inet_listener imaps {
    port = 0
  }
}
service stats {
  unix_listener stats-writer {
    mode = 0666
  }
}
EOF
}

write_peers_json() {
  cat >"$DIR/peers.json.tmp" <<EOF
{
  "dir": "$DIR",
  "repoPeersDir": "$PEERS_HERE",
  "dns": { "host": "$DNS_ADDR", "port": $DNS_PORT },
  "dnsbl": { "host": "$RBL_ADDR", "port": $RBL_PORT, "zoneDir": "$DIR/rbldnsd",
             "zones": { "zen.dnsbl.test": "zen.txt", "broken.dnsbl.test": "broken.txt", "all.dnsbl.test": "all.txt" } },
  "mx": { "host": "$MX_ADDR", "port": $MX_PORT, "hostname": "mx.postfix.test", "domains": ["postfix.test", "nomx.test", "multi.test"] },
  "ratelimit": { "host": "$RATE_ADDR", "port": $RATE_PORT, "hostname": "mx.ratelimit.test", "domain": "ratelimit.test", "messagesPerMinute": $RATE_LIMIT },
  "grey": { "host": "$GREY_ADDR", "port": $GREY_PORT, "hostname": "mx.grey.test", "domain": "grey.test", "delaySeconds": $GREY_DELAY },
  "postgrey": { "host": "$POSTGREY_ADDR", "port": $POSTGREY_PORT },
  "sink": { "host": "$SINK_ADDR", "port": $SINK_PORT, "hostname": "mx.sink.test", "domain": "sink.test" },
  "dead": { "host": "$DEAD_ADDR", "port": $MX_PORT, "domain": "dead.test" },
  "postgres": $(postgres_json),
  "imap": { "host": "$IMAP_ADDR", "port": $IMAP_PORT, "users": ["seed1@postfix.test", "seed2@postfix.test", "seed3@postfix.test"], "password": "seedpass" },
  "postfix": { "configDir": "$PF", "verdictsFile": "$PF/verdicts.cidr", "logFile": "$LOGS/postfix.log", "junkClientIp": "$JUNK_CLIENT_IP" },
  "mailDir": "$DIR/mail",
  "dnsConfDir": "$DIR/dns.d",
  "pidsDir": "$PIDS",
  "logsDir": "$LOGS",
  "sendingIps": { "first": "127.0.0.2", "last": "127.0.0.40", "ptr": "mta<N>.warmup.test" }
}
EOF
  mv "$DIR/peers.json.tmp" "$DIR/peers.json"
}

# ---------------------------------------------------------------- main
take_lock
# Not for --restart NAME: restarting one peer is what tests themselves do (peers.ts restartDnsmasq).
[ -n "$RESTART" ] || refuse_if_users
if [ -n "$RESTART" ]; then
  [ -f "$MARKER" ] || { log "no peers state in $DIR (run up.sh first)"; exit 1; }
  stop_recorded "$RESTART"
  start_peer "$RESTART"
  # a state dir started before this peer existed: its peers.json gets the entry
  if [ "$RESTART" = postgres ]; then patch_peers_json postgres "$(postgres_json)"; fi
  exit 0
fi

t0=$SECONDS
ensure_packages

if [ -e "$DIR" ]; then
  if [ -f "$MARKER" ]; then
    stop_all
    find "$DIR" -mindepth 1 -delete
  elif [ -n "$(ls -A "$DIR" 2>/dev/null)" ]; then
    log "$DIR exists, is not empty and is not a warmup-peers state dir; refusing to wipe it"
    exit 1
  fi
fi
mkdir -p "$DIR"
touch "$MARKER"
write_configs

for name in $ALL_PEERS; do
  start_peer "$name"
done
write_peers_json
log "all peers up in $((SECONDS - t0))s; state in $DIR (peers.json)"
