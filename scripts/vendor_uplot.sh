#!/usr/bin/env bash
# Refresh the vendored uPlot (static/vendor/uplot/) from the npm registry: the pinned version,
# checked against the registry's published integrity hash, so no page ever loads it from a CDN.
set -euo pipefail
VERSION=${UPLOT_VERSION:-1.6.32}
INTEGRITY=${UPLOT_INTEGRITY:-sha512-KIMVnG68zvu5XXUbC4LQEPnhwOxBuLyW1AHtpm6IKTXImkbLgkMy+jabjLgSLMasNuGGzQm/ep3tOkyTxpiQIw==}
cd "$(dirname "$0")/.."
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
(cd "$work" && npm pack --silent "uplot@$VERSION" >/dev/null)
tarball="$work/uplot-$VERSION.tgz"
actual="sha512-$(openssl dgst -sha512 -binary "$tarball" | base64 -w0)"
if [ "$actual" != "$INTEGRITY" ]; then
  echo "uplot@$VERSION: integrity $actual does not match the pinned $INTEGRITY" >&2
  exit 1
fi
tar -xzf "$tarball" -C "$work"
target=static/vendor/uplot
rm -rf "$target" && mkdir -p "$target"
cp "$work/package/dist/uPlot.iife.min.js" "$work/package/dist/uPlot.min.css" \
  "$work/package/LICENSE" "$target/"
echo "$VERSION" > "$target/VERSION"
echo "uPlot $VERSION vendored into $target"
