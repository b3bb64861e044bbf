#!/usr/bin/env bash
# Stop the test peers started by up.sh: exactly the PIDs recorded in $DIR/pids/ (postfix via
# `postfix -c DIR stop`). Leaves logs and mail in the state dir for post-mortems.
set -euo pipefail
# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
take_lock
[ -d "$PIDS" ] || exit 0
stop_all
log "peers stopped ($DIR)"
