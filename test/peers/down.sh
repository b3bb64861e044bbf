#!/usr/bin/env bash
# Stop the test peers started by up.sh: exactly the PIDs recorded in $DIR/pids/ (postfix via
# `postfix -c DIR stop`). Leaves logs, mail and peers.json (renamed peers.stopped.json) in the state
# dir for post-mortems. Refuses (exit 75) while external test runs use the peers
# (WARMUP_PEERS_FORCE=1 overrides).
set -euo pipefail
# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
take_lock
refuse_if_users
if [ -d "$PIDS" ]; then
  stop_all
  log "peers stopped ($DIR)"
fi
# peers.json is what says the peers run (global-setup.ts, peers.ts loadPeers): once they are
# stopped, an external run must fail with "start up.sh first", not with connection errors. Set
# aside rather than deleted: it names what ran, for post-mortems; up.sh wipes it with the state dir.
if [ -f "$DIR/peers.json" ]; then mv -f "$DIR/peers.json" "$DIR/peers.stopped.json"; fi
