#!/usr/bin/env bash
# Refreshes the checked-in minimal DSFR dist of the web application from the npm package @gouvfr/dsfr
# (no CDN: the pages load only their own files). Only what the pages use is kept: the minified CSS (its
# icons are inline data URIs), the module JS, the woff2 fonts and the favicon (~1.5 MB instead of 88 MB).
# Usage: deploy/vendor-dsfr.sh [version]   (needs npm; the output is committed)
set -euo pipefail
version="${1:-1.15.3}"  # the version the templates were written against
dest="$(cd "$(dirname "$0")/.." && pwd)/services/pfmp/src/aplypro_pfmp/entrypoints/web/static/dsfr"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && npm pack -q "@gouvfr/dsfr@${version}" >/dev/null && tar xzf gouvfr-dsfr-"${version}".tgz)
dist="$tmp/package/dist"
rm -rf "$dest" && mkdir -p "$dest/fonts" "$dest/favicon"
cp "$dist/dsfr.min.css" "$dist/dsfr.module.min.js" "$dest/"
cp "$dist"/fonts/*.woff2 "$dest/fonts/"
cp "$dist/favicon/favicon.svg" "$dest/favicon/"
echo "$version" > "$dest/VERSION"
echo "DSFR $version vendored into $dest"
