#!/usr/bin/env bash
# Debian packages kravsak needs beyond Python: WeasyPrint's Pango (letters as PDF) and the fonts the
# letters use; poppler-utils only for `kravsak letters samples --png` (the pictures in docs/letters);
# chromium for the browser tests of the pages (Playwright drives it; no `playwright install`).
# Installs what is missing when run as root (CI runs as root); otherwise says what to install.
set -euo pipefail
PACKAGES=(libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 fonts-liberation2 fonts-dejavu-core poppler-utils chromium)
command -v dpkg-query >/dev/null || { echo "system-deps: not a Debian system; install Pango >= 1.44 and Liberation fonts"; exit 0; }
missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -ne 0 ]; then
  echo "system-deps: missing ${missing[*]}: run 'sudo apt-get install ${missing[*]}'" >&2
  exit 1
fi
echo "system-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}"
