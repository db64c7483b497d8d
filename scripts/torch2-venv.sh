#!/usr/bin/env bash
# The torch-2 virtual environment of the worker's second test layer: made once with /usr/bin/python3 from the
# wheels on this machine's disk (the local package indexes pip's configuration names; never a remote registry),
# and reused while its inputs (resources/worker/requirements-torch2.txt, this script, the Python version) are
# unchanged. Prints the venv's python on stdout; on failure says what is missing on stderr and exits non-zero.
#   SCWB_TORCH2_VENV  where the venv lives (default .tools/venv-torch2, git-ignored)
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
REQ="$ROOT/resources/worker/requirements-torch2.txt"
VENV=${SCWB_TORCH2_VENV:-$ROOT/.tools/venv-torch2}
BASE=/usr/bin/python3
err() { printf 'torch-2 venv: %s\n' "$*" >&2; }
[ -x "$BASE" ] || { err "$BASE is missing (Debian's python3 makes the venv)"; exit 1; }
stamp=$( { cat "$REQ" "$0"; "$BASE" -VV; } | sha256sum | cut -d' ' -f1)
if [ -x "$VENV/bin/python" ] && [ "$(cat "$VENV/.scwb-stamp" 2>/dev/null)" = "$stamp" ]; then
  echo "$VENV/bin/python"; exit 0
fi
# the first local index pip's configuration names (file://...), else its find-links folder
index=""
for url in $("$BASE" -m pip config get global.extra-index-url 2>/dev/null) $("$BASE" -m pip config get global.index-url 2>/dev/null); do
  case "$url" in file://*) if [ -d "${url#file://}" ]; then index=$url; break; fi ;; esac
done
links=$("$BASE" -m pip config get global.find-links 2>/dev/null | awk '{print $1}')
if [ -z "$index" ] && { [ -z "$links" ] || [ ! -d "$links" ]; }; then
  err "no local package index or find-links folder in pip's configuration ('pip config list'); the torch-2 layer"
  err "needs these wheels on disk: $(grep -v '^#' "$REQ" | tr '\n' ' ')"
  exit 1
fi
rm -rf "$VENV"
mkdir -p "$(dirname "$VENV")"
if ! "$BASE" -m venv "$VENV" >&2; then err "could not create $VENV ('$BASE -m venv')"; exit 1; fi
log="$VENV/.pip-install.log"
# PIP_INDEX_URL at the local index: pip's default registry is unreachable here and would cost minutes of retries
if ! PIP_INDEX_URL=${index:-file:///nonexistent} PIP_EXTRA_INDEX_URL="" PIP_RETRIES=0 PIP_DISABLE_PIP_VERSION_CHECK=1 \
     "$VENV/bin/pip" install -q ${links:+--find-links "$links"} -r "$REQ" >"$log" 2>&1; then
  missing=$(grep -oE "(No matching distribution found for|Could not find a version that satisfies the requirement) [^ ]+" "$log" | awk '{print $NF}' | sort -u | tr '\n' ' ')
  err "pip could not install the wheels of $REQ from ${index:-$links}${missing:+; missing: $missing}"
  tail -n 5 "$log" >&2
  rm -rf "$VENV"
  exit 1
fi
echo "$stamp" >"$VENV/.scwb-stamp"
echo "$VENV/bin/python"
