#!/usr/bin/env bash
# The whole test suite: setup, lint of the layering, then every package's tests with node's runner.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
# Lint is part of the suite: type-aware ESLint (no floating promises, no `any`, explicit types at
# module boundaries) and Prettier.
npx --no-install eslint packages
npx --no-install prettier --check . --log-level warn
mapfile -t files < <(find packages -path '*/dist/test/*' -name '*.test.js' -not -path '*/node_modules/*' | sort)
if ((${#files[@]} == 0)); then echo "test: no test files found" >&2; exit 1; fi
# Concurrency 2: the machine has 2 cores; heavy tests (registry, images) serialize themselves.
exec node --test --test-concurrency=2 --test-timeout=600000 --test-reporter=spec "${files[@]}"
