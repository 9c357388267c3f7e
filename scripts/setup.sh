#!/usr/bin/env bash
# Idempotent setup: the Debian packages the tests and benchmarks use, the npm packages, and the
# TypeScript build. Quick when everything is already present.
set -euo pipefail
cd "$(dirname "$0")/.."

# Debian packages: registry + image tools for real-registry tests, debootstrap for real Debian images,
# and the reference tools the differential tests compare with (dpkg/rpm/PEP 440/RubyGems/PHP/Go).
DEB_PACKAGES=(
  docker-registry skopeo umoci podman runc debootstrap zstd zip unzip git binutils gcc ca-certificates openssl
  apache2-utils rpm ruby php-cli golang-go python3-packaging chromium clang llvm libbpf-dev bpftool
)
missing=()
for p in "${DEB_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if ((${#missing[@]})); then
  if [[ $(id -u) -ne 0 ]]; then
    echo "setup: missing Debian packages: ${missing[*]} (run as root, or install them with apt-get)" >&2
    exit 1
  fi
  echo "setup: installing ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
# The Debian package starts a registry on :5000 through systemd where there is one; tests run their own.

# npm packages: install when node_modules is missing or older than the lockfile.
if [[ ! -d node_modules || ! -f node_modules/.package-lock.json || package-lock.json -nt node_modules/.package-lock.json ]]; then
  echo "setup: npm install" >&2
  npm install --no-audit --no-fund --loglevel=error
fi

# Build (incremental): the eBPF programs and their loader, then TypeScript.
bash scripts/build-sensor.sh
npx --no-install tsc -b packages/cli packages/testkit packages/server packages/rules packages/sensor
node scripts/bundle.mjs

# The web console (served by `palisade server` at /), rebuilt when its sources are newer.
if [[ -f packages/console/index.html ]]; then
  if [[ ! -f packages/console/dist/index.html ]] || [[ -n $(find packages/console/src packages/console/index.html packages/console/vite.config.ts -newer packages/console/dist/index.html 2>/dev/null | head -n 1) ]]; then
    # vite does not type-check; tsc does (strict), then vite bundles.
    (cd packages/console && npx --no-install tsc -p tsconfig.json && npx --no-install vite build --logLevel warn)
  fi
fi
