#!/usr/bin/env bash
# Pre-update check, run from the staging clone: fail before anything changes
# if Docker cannot be reached.
set -euo pipefail
. "$(dirname "$0")/../lib.sh"
echo "::progress 50 Checking that Docker answers"
docker version --format 'docker {{.Server.Version}}'
