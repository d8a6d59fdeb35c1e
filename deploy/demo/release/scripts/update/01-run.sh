#!/usr/bin/env bash
# Brings the services up at the installed release (also run to bring the
# old release back after a failed update).
set -euo pipefail
. "$(dirname "$0")/../step.sh"
step "Stopping the old services" "Migrating data" "Starting the services at $1"
cat app/hello.txt
