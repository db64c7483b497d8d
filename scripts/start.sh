#!/usr/bin/env bash
# `npm start`: install what is missing, build, package the extension, prepare a demo workspace and serve the
# workbench in a browser-based VS Code (code-server, 127.0.0.1 only) with the extension installed.
# Ctrl-C stops everything it started.
#   SCWB_PORT      port to serve on (default 8765)
#   SCWB_DEMO_DIR  where the demo workspace and code-server's state live (default .demo/ in the project)
#   SCWB_SKIP_BUILD=1  use the existing out/ (development only)
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
PORT=${SCWB_PORT:-8765}
DEMO=${SCWB_DEMO_DIR:-$ROOT/.demo}
STATE="$DEMO/state"
WS="$DEMO/workspace"

bash scripts/setup.sh
[ -n "${SCWB_SKIP_BUILD:-}" ] || node scripts/build.mjs

# The same installable package users get (npm run package), installed into a private extensions folder.
mkdir -p "$STATE"/{user,ext,xdg-config,xdg-data,xdg-cache,tmp,home}
VSIX="$STATE/scworkbench.vsix"
node_modules/.bin/vsce package --allow-missing-repository --no-rewrite-relative-links --skip-license -o "$VSIX" >/dev/null
export HOME="$STATE/home" TMPDIR="$STATE/tmp" XDG_CONFIG_HOME="$STATE/xdg-config" XDG_DATA_HOME="$STATE/xdg-data" XDG_CACHE_HOME="$STATE/xdg-cache"
CS="$ROOT/.tools/node_modules/.bin/code-server"
CSARGS=(--config "$STATE/config.yaml" --user-data-dir "$STATE/user" --extensions-dir "$STATE/ext"
  --disable-telemetry --disable-update-check --disable-getting-started-override --auth none)
"$CS" "${CSARGS[@]}" --install-extension "$VSIX" --force >/dev/null

node scripts/demo-workspace.js "$WS"

# No greeting but the workbench: code-server's (VS Code's) welcome page, and the git extension's "a git repository
# was found in the parent folders" prompt (the default demo workspace, .demo/, lies inside this repository), are
# turned off in the private user settings; a key the user set there already is kept.
node -e '
const fs = require("fs"), path = require("path");
const file = process.argv[1];
let s = {};
try { s = JSON.parse(fs.readFileSync(file, "utf8")); } catch { /* none yet, or not plain JSON: start afresh */ }
const defaults = {
  "workbench.startupEditor": "none",
  "workbench.welcomePage.walkthroughs.openOnInstall": false,
  "git.openRepositoryInParentFolders": "never",
};
for (const [k, v] of Object.entries(defaults)) if (!(k in s)) s[k] = v;
fs.mkdirSync(path.dirname(file), { recursive: true });
const tmp = file + ".tmp-" + process.pid;
fs.writeFileSync(tmp, JSON.stringify(s, null, 2) + "\n");
fs.renameSync(tmp, file);
' "$STATE/user/User/settings.json"

setsid "$CS" "${CSARGS[@]}" --bind-addr "127.0.0.1:$PORT" "$WS" >"$STATE/code-server.log" 2>&1 </dev/null &
CS_PID=$!
stop() { kill -TERM -- "-$CS_PID" 2>/dev/null || true; sleep 1; kill -KILL -- "-$CS_PID" 2>/dev/null || true; }
trap 'stop; exit 0' INT TERM
trap stop EXIT
for _ in $(seq 1 240); do
  curl -sf -o /dev/null "http://127.0.0.1:$PORT/healthz" && break
  kill -0 "$CS_PID" 2>/dev/null || { tail -20 "$STATE/code-server.log"; exit 1; }
  sleep 0.25
done
echo "scWorkbench is running: http://127.0.0.1:$PORT/?folder=$WS"
echo "(Ctrl-C stops it; code-server's log: $STATE/code-server.log)"
wait "$CS_PID"
