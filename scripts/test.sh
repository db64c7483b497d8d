#!/usr/bin/env bash
# `npm test`: installs what is missing, builds, and runs every layer:
#   lint (ESLint) and type checks (tsc --noEmit, host and webview configs),
#   unit tests (mocha in Node over src/core, against numpy/scipy/sklearn/anndata references),
#   worker tests (pytest over resources/worker on Debian's torch 1.13 CPU, then again on torch 2.x CPU in a venv
#   made from the wheels on disk, with bench/gpu/run.sh --smoke),
#   extension-host tests (mocha inside code-server's real VS Code extension host),
#   end-to-end tests (Chromium driving the workbench that `npm start` serves).
# Ends with one line `N passed, N failed` (all layers added up); exits non-zero when anything failed.
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
ART="$ROOT/.test-artifacts"
rm -rf "$ART"; mkdir -p "$ART"
passed=0; failed=0
stage() { printf '\n== %s\n' "$*"; }
count_check() { # name, then the command: one check that passes or fails as a whole
  local name=$1; shift
  if "$@"; then passed=$((passed + 1)); echo "ok: $name"; else failed=$((failed + 1)); echo "FAILED: $name"; fi
}
add_layer() { # layer name: add the counts its runner wrote to .test-artifacts/<layer>.json
  local f="$ART/$1.json"
  if [ -f "$f" ]; then
    passed=$((passed + $(node -p "require('$f').passes")))
    failed=$((failed + $(node -p "require('$f').failures")))
  else
    failed=$((failed + 1)); echo "FAILED: the $1 layer reported nothing"
  fi
}
finish() { printf '\n%s passed, %s failed\n' "$passed" "$failed"; [ "$failed" = 0 ]; exit $?; }

stage "setup (apt, npm ci, code-server)"
if ! bash scripts/setup.sh; then failed=$((failed + 1)); echo "FAILED: setup"; finish; fi

stage "build"
if ! node scripts/build.mjs; then failed=$((failed + 1)); echo "FAILED: build"; finish; fi

stage "lint and type checks"
count_check "eslint" node_modules/.bin/eslint --no-error-on-unmatched-pattern src test webview scripts bin bench
count_check "tsc --noEmit (extension, core, tests)" node_modules/.bin/tsc -p . --noEmit
count_check "tsc --noEmit (webviews)" node_modules/.bin/tsc -p tsconfig.webview.json
count_check "no import circles (src, webview)" node scripts/check-import-cycles.js

stage "local Slurm (scripts/slurm-local.sh) for the Slurm run target tests"
# A real single-node Slurm in a network namespace (root needed). When it cannot start, SCWB_SLURM_BIN stays unset
# and the Slurm tests fail with the reason (test/helpers/slurm.ts); they are never skipped.
if SLURM_BIN=$(bash scripts/slurm-local.sh start); then
  export SCWB_SLURM_BIN=$SLURM_BIN
  trap 'bash scripts/slurm-local.sh stop >/dev/null 2>&1 || true' EXIT
else
  echo "the local Slurm did not start: the Slurm tests will fail"
fi

stage "unit tests (Node)"
node scripts/run-mocha.js unit; add_layer unit

pytest_layer() { # layer name, python: the worker's pytest suite; its JUnit XML is counted into $ART/<layer>.json
  local layer=$1 py=$2
  PYTHONDONTWRITEBYTECODE=1 "$py" -m pytest resources/worker/tests -p no:cacheprovider -q \
    --junitxml="$ART/$layer.xml"
  # a missing or unreadable XML counts as a failure (add_layer finds no JSON)
  /usr/bin/python3 - "$ART/$layer.xml" "$ART/$layer.json" <<'PY' || echo "FAILED: reading $layer.xml"
import json, sys, xml.etree.ElementTree as ET
root = ET.parse(sys.argv[1]).getroot()
suites = [root] if root.tag == "testsuite" else root.findall("testsuite")
n = lambda key: sum(int(s.get(key, 0)) for s in suites)
failures = n("failures") + n("errors")
passes = n("tests") - failures - n("skipped")
with open(sys.argv[2], "w") as f:
    json.dump({"passes": passes, "failures": failures}, f)
PY
  add_layer "$layer"
}

stage "worker tests (pytest on Debian torch 1.13 CPU)"
# resources/worker/tests: the Python training worker, on Debian's python (torch 1.13 CPU).
pytest_layer pytest /usr/bin/python3

stage "worker tests (pytest on torch 2.x CPU, venv from the wheels on disk)"
# The same suite on the torch that GPU users run (SDPA, torch.amp, weights_only, the ONNX exporter, DDP), in a venv
# made once from resources/worker/requirements-torch2.txt (scripts/torch2-venv.sh); then the GPU benchmark's --smoke.
# Missing wheels fail the layer with what is missing; it is never skipped.
if TORCH2_PY=$(bash scripts/torch2-venv.sh); then
  pytest_layer pytest-torch2 "$TORCH2_PY"
  count_check "bench/gpu/run.sh --smoke (torch 2 CPU)" bash bench/gpu/run.sh --smoke --python "$TORCH2_PY"
else
  failed=$((failed + 1)); echo "FAILED: the torch-2 worker layer (no venv: see above)"
fi

stage "extension-host tests (VS Code 1.100 in code-server)"
node test/harness/run-host-tests.js; add_layer host

stage "end-to-end tests (Chromium + npm start)"
node scripts/run-mocha.js e2e; add_layer e2e
# every e2e step's screenshot is kept as a test artifact (test/e2e/workbench.js shot(): <flow>-<nn>-<step>.png)
echo "screenshots kept: $(find "$ART/screenshots" -name '*.png' 2>/dev/null | wc -l) in .test-artifacts/screenshots/"

finish
