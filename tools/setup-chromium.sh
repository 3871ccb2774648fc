#!/usr/bin/env bash
# Installs Debian's Chromium for the tests that render HTML headless, only when no chromium is on the machine.
# Prints the browser's path. Idempotent: once installed it only looks the command up.
set -uo pipefail

fail() { echo "setup-chromium: error: $1" >&2; exit 1; }

if browser=$(command -v chromium); then echo "$browser"; exit 0; fi
if [[ -x /usr/bin/chromium ]]; then echo /usr/bin/chromium; exit 0; fi

echo "setup-chromium: installing chromium (Debian)" >&2
log=$(mktemp -t setup-chromium.XXXXXX.log)
apt=(apt-get install -y -q -o DPkg::Lock::Timeout=300 chromium)
export DEBIAN_FRONTEND=noninteractive
# A failure on stale package lists is cured by one update.
"${apt[@]}" >"$log" 2>&1 || { apt-get update -q >>"$log" 2>&1 && "${apt[@]}" >>"$log" 2>&1; } ||
  fail "apt-get install chromium failed; see $log"
[[ -x /usr/bin/chromium ]] || fail "apt-get installed chromium but /usr/bin/chromium is missing; see $log"
rm -f "$log"
echo /usr/bin/chromium
