#!/usr/bin/env bash
# Pre-update checks, run from the staging clone before anything changes.
set -euo pipefail
. "$(dirname "$0")/../step.sh"
echo "checking $1 before installing it over ${HOIST_FROM:-nothing}"
step "Checking free space" "Checking the services can stop"
