#!/usr/bin/env bash
# npm run bench -- <name>: run bench/<name>.mjs (each prints its figure). No name lists them.
set -euo pipefail
cd "$(dirname "$0")/.."
if [[ $# -eq 0 ]]; then
  echo "benchmarks:"; for f in bench/*.mjs; do n=$(basename "$f" .mjs); [[ $n == lib ]] || echo "  $n"; done; exit 0
fi
name=$1; shift
[[ -f bench/$name.mjs ]] || { echo "bench: no benchmark \"$name\" (see npm run bench)" >&2; exit 2; }
bash scripts/setup.sh >&2
exec node bench/"$name".mjs "$@"
