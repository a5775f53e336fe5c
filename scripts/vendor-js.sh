#!/usr/bin/env bash
# Vendor the browser libraries IntelGraph serves itself (no CDN at run time) into static/vendor/.
# Repeatable: versions are pinned here; run it after changing one, review and commit static/vendor/.
# Each package's licence file is copied next to its files.
set -euo pipefail
cd "$(dirname "$0")/.."
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# GraphiQL, at the versions graphene-django's own template expects.
packages=(
  "graphiql@2.4.7"
  "react@17.0.2"
  "react-dom@17.0.2"
  "whatwg-fetch@3.6.2"
  "graphql-ws@5.13.1"
  "@graphiql/plugin-explorer@0.1.15"
)
# Cytoscape.js and the fCoSE layout (with its two layout libraries) for the Explorer canvas: UMD builds.
graph_packages=(
  "cytoscape@3.35.0"
  "cytoscape-fcose@2.2.0"
  "cose-base@2.2.0"
  "layout-base@2.0.1"
)
(cd "$work" && npm init -y >/dev/null &&
  npm install --no-audit --no-fund --ignore-scripts --silent "${packages[@]}" "${graph_packages[@]}")

copy() {  # package, file inside it, destination folder under static/vendor
  local package=$1 file=$2 dest=static/vendor/$3
  mkdir -p "$dest"
  cp "$work/node_modules/$package/$file" "$dest/"
  for licence in LICENSE LICENSE.md LICENSE.txt license; do
    if [ -f "$work/node_modules/$package/$licence" ]; then
      cp "$work/node_modules/$package/$licence" "$dest/LICENSE.$(basename "$package")"
      break
    fi
  done
}
rm -rf static/vendor/graphiql
copy graphiql graphiql.min.css graphiql
copy graphiql graphiql.min.js graphiql
copy react umd/react.production.min.js graphiql
copy react-dom umd/react-dom.production.min.js graphiql
copy whatwg-fetch dist/fetch.umd.js graphiql
copy graphql-ws umd/graphql-ws.min.js graphiql
copy @graphiql/plugin-explorer dist/style.css graphiql
copy @graphiql/plugin-explorer dist/graphiql-plugin-explorer.umd.js graphiql
# The packages ship no source maps beside their bundles: drop the references, or collectstatic's
# manifest storage refuses the missing .map files (MissingFileError) in production.
sed -i -E '/^\/\/# sourceMappingURL=|^\/\*# sourceMappingURL=.*\*\/$/d' static/vendor/graphiql/*.js static/vendor/graphiql/*.css
printf '%s\n' "${packages[@]}" > static/vendor/graphiql/VERSIONS
echo "vendored into static/vendor/graphiql:"; ls static/vendor/graphiql

rm -rf static/vendor/cytoscape
copy cytoscape dist/cytoscape.min.js cytoscape
copy layout-base layout-base.js cytoscape
copy cose-base cose-base.js cytoscape
copy cytoscape-fcose cytoscape-fcose.js cytoscape
printf '%s\n' "${graph_packages[@]}" > static/vendor/cytoscape/VERSIONS
echo "vendored into static/vendor/cytoscape:"; ls static/vendor/cytoscape
