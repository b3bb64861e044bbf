#!/usr/bin/env bash
# Stop the test peers started by up.sh: exactly the PIDs recorded in $DIR/pids/ (postfix via
# `postfix -c DIR stop`). Leaves logs and mail in the state dir for post-mortems. Refuses (exit 75)
# while external test runs use the peers (WARMUP_PEERS_FORCE=1 overrides).
set -euo pipefail
# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
take_lock
refuse_if_users
[ -d "$PIDS" ] || exit 0
stop_all
log "peers stopped ($DIR)"
