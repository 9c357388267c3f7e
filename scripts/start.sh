#!/usr/bin/env bash
# npm start: set up, then run `palisade server` (arguments pass through).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh >&2
exec node packages/cli/bin/palisade.js server "$@"
