#!/usr/bin/env bash
# Installs the Debian libraries weasyprint needs (pango) and the optional one that makes its font
# subsetting ~6x faster (harfbuzz-subset), and chromium for the web application's browser tests (they are
# skipped, with the reason, where it is missing). Does nothing where they are present; where apt-get is
# missing or we are not root it only prints a note: rendering then needs those libraries from elsewhere.
set -u
have() { ldconfig -p 2>/dev/null | grep -q "$1"; }
missing=()
have libpango-1.0.so.0 || missing+=(libpango-1.0-0)
have libpangoft2-1.0.so.0 || missing+=(libpangoft2-1.0-0)
have libharfbuzz-subset.so.0 || missing+=(libharfbuzz-subset0)
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
[ ${#missing[@]} -eq 0 ] && exit 0
if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}") >/dev/null 2>&1 \
    || echo "note: could not install ${missing[*]}; PDF rendering may be slower or unavailable, browser tests skipped" >&2
else
  echo "note: ${missing[*]} not installed (needs apt-get as root); PDF rendering may be slower or unavailable, browser tests skipped" >&2
fi
exit 0
