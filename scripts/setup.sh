#!/usr/bin/env bash
# Installs everything the tests and `npm start` need, on a fresh Debian machine with Node 20 and npm:
#   - Debian packages: Chromium (browser tests), the reference Python stack (numpy/scipy/sklearn/anndata/h5py),
#     libkrb5-dev and ripgrep (code-server's native modules / its ripgrep download stand-in);
#   - the project's npm packages (npm ci);
#   - code-server 4.100.3 (VS Code 1.100.3, the last release for Node 20) and playwright-core in .tools/,
#     apart from the project's own dependencies because they need special install settings.
# Idempotent: each step is skipped when its result is already there.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
log() { printf '[setup] %s\n' "$*"; }

APT_PACKAGES=(chromium fonts-dejavu-core libkrb5-dev ripgrep
  python3-venv python3-numpy python3-scipy python3-h5py python3-sklearn python3-anndata python3-torch python3-pytest
  slurm-wlm)  # slurm-wlm: the local single-node Slurm of scripts/slurm-local.sh (Slurm run target tests)
missing=()
for p in "${APT_PACKAGES[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then
  log "apt-get install ${missing[*]}"
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi

# npm packages of the project. onnxruntime-node's install script would download CUDA add-ons: skip it.
export ONNXRUNTIME_NODE_INSTALL=skip
stamp=node_modules/.scwb-lock-stamp
if [ ! -f "$stamp" ] || ! cmp -s package-lock.json "$stamp"; then
  log "npm ci"
  npm ci --no-audit --no-fund --loglevel=error
  cp package-lock.json "$stamp"
fi

# code-server + playwright-core for the extension-host and browser tests.
TOOLS="$ROOT/.tools"
CS_VERSION=4.100.3
if [ ! -x "$TOOLS/node_modules/.bin/code-server" ] || [ ! -d "$TOOLS/node_modules/playwright-core" ]; then
  log "installing code-server $CS_VERSION and playwright-core into .tools/"
  mkdir -p "$TOOLS/tmp"
  export TMPDIR="$TOOLS/tmp"
  # @vscode/ripgrep's postinstall downloads ripgrep from GitHub; seed its cache with Debian's rg instead.
  rgcache="$TMPDIR/vscode-ripgrep-cache-1.15.11"
  mkdir -p "$rgcache" "$TMPDIR/rg"
  cp /usr/bin/rg "$TMPDIR/rg/rg"
  tar czf "$rgcache/ripgrep-v13.0.0-10-x86_64-unknown-linux-musl.tar.gz" -C "$TMPDIR/rg" rg
  cat > "$TOOLS/package.json" <<JSON
{ "name": "scwb-test-tools", "private": true }
JSON
  (
    cd "$TOOLS"
    # node-gyp builds against Debian's Node headers; code-server's postinstall refuses root without unsafe-perm;
    # node-pty's postinstall runs npx, which must not prompt.
    npm_config_nodedir=/usr npm_config_unsafe_perm=true npm_config_yes=true \
      npm install --no-audit --no-fund --loglevel=error "code-server@$CS_VERSION" playwright-core@1
  )
  rm -rf "$TMPDIR"
fi
log "ready"
