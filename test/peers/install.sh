#!/usr/bin/env bash
# Install the Debian packages the tests need: the real peers (Postfix, Dovecot, dnsmasq, rbldnsd,
# postgrey, swaks, dig, script), Chromium for the report test, systemd for systemd-analyze and
# PostgreSQL 15. Run by `npm test` (the `pretest` script) before vitest starts, so a fresh machine
# installs as a step of its own, with apt's progress on stderr and no test timeout around it.
#
#   test/peers/install.sh           install what is missing (needs root or passwordless sudo)
#   test/peers/install.sh --check   list what is missing, exit 1 if anything is; install nothing
#
# Idempotent: when everything is installed it asks dpkg once and exits (~0.1 s), without
# `apt-get update`. Packages may not start their daemons (policy-rc.d), and Postfix is preseeded
# to "No configuration": the tests start private instances of every daemon themselves.
# WARMUP_SKIP_INSTALL=1 skips the step (machines whose packages are managed elsewhere).
set -euo pipefail

# Peers are installed as they were proven to work (with recommends); the two tools without them
# (Chromium alone pulls ~110 packages with recommends, ~25 without).
PEER_PACKAGES="postfix dovecot-imapd dnsmasq-base rbldnsd postgrey swaks bind9-dnsutils bsdutils postgresql-15 openssl"
TOOL_PACKAGES="chromium systemd"

log() { echo "warmup-install: $*" >&2; }

CHECK_ONLY=""
case "${1:-}" in
  "") ;;
  --check) CHECK_ONLY=1 ;;
  *) echo "usage: install.sh [--check]" >&2; exit 2 ;;
esac

if [ "${WARMUP_SKIP_INSTALL:-}" = 1 ] && [ -z "$CHECK_ONLY" ]; then
  log "WARMUP_SKIP_INSTALL=1: not checking the Debian packages"
  exit 0
fi

if ! command -v dpkg-query >/dev/null 2>&1; then
  log "dpkg-query not found: the tests expect Debian 12 (bookworm); install by hand: $PEER_PACKAGES $TOOL_PACKAGES"
  exit 1
fi

# missing PKG... -> prints the packages that are not fully installed ("ii"), space separated
missing() {
  local installed
  installed=$(dpkg-query -W -f='${db:Status-Abbrev} ${Package}\n' "$@" 2>/dev/null | awk '$1 == "ii" { print $2 }' || true)
  local p out=()
  for p in "$@"; do
    grep -qx -- "$p" <<<"$installed" || out+=("$p")
  done
  echo "${out[*]}"
}

need_peers=$(missing $PEER_PACKAGES)
need_tools=$(missing $TOOL_PACKAGES)
if [ -z "$need_peers$need_tools" ]; then
  [ -n "$CHECK_ONLY" ] || log "all test packages present"
  exit 0
fi
if [ -n "$CHECK_ONLY" ]; then
  log "missing Debian packages: $(echo $need_peers $need_tools) (run test/peers/install.sh or npm test)"
  exit 1
fi

SUDO=()
if [ "$(id -u)" != 0 ]; then
  if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    SUDO=(sudo -n)
  else
    log "missing Debian packages: $(echo $need_peers $need_tools)"
    log "installing them needs root: sudo test/peers/install.sh"
    exit 1
  fi
fi

started=$SECONDS
log "installing missing packages: $(echo $need_peers $need_tools) (apt output follows)"

# Keep packages from starting system-wide daemons (they would take :25, :143, :10023, :5432...).
made_policy=""
if [ ! -e /usr/sbin/policy-rc.d ]; then
  printf '#!/bin/sh\nexit 101\n' | "${SUDO[@]}" tee /usr/sbin/policy-rc.d >/dev/null
  "${SUDO[@]}" chmod 755 /usr/sbin/policy-rc.d
  made_policy=1
fi
cleanup() { if [ -n "$made_policy" ]; then "${SUDO[@]}" rm -f /usr/sbin/policy-rc.d; fi; }
trap cleanup EXIT

echo 'postfix postfix/main_mailer_type select No configuration' | "${SUDO[@]}" debconf-set-selections

# Another process (a parallel test run, unattended-upgrades) may hold the dpkg lock: wait for it.
APT=("${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 -o Dpkg::Use-Pty=0)

log "step 1/3: apt-get update"
"${APT[@]}" update >&2
if [ -n "$need_peers" ]; then
  log "step 2/3: apt-get install $need_peers ($((SECONDS - started)) s so far)"
  # shellcheck disable=SC2086
  "${APT[@]}" install -y $need_peers >&2
else
  log "step 2/3: peers present"
fi
if [ -n "$need_tools" ]; then
  log "step 3/3: apt-get install --no-install-recommends $need_tools ($((SECONDS - started)) s so far)"
  # shellcheck disable=SC2086
  "${APT[@]}" install -y --no-install-recommends $need_tools >&2
else
  log "step 3/3: tools present"
fi

still=$(missing $PEER_PACKAGES $TOOL_PACKAGES)
if [ -n "$still" ]; then
  log "apt-get finished but these are still not installed: $still"
  exit 1
fi
log "installed $(echo $need_peers $need_tools) in $((SECONDS - started)) s"
