#!/usr/bin/env bash
# Post-update clean-up.
set -euo pipefail
. "$(dirname "$0")/../step.sh"
step "Removing old images"
