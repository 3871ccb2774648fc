#!/usr/bin/env bash
# Installs Debian's PyTorch (python3-torch) for the tests that load what `retain export` writes in real PyTorch, only
# when Debian's python3 cannot import torch yet. Prints the interpreter's path (/usr/bin/python3: the system one, which
# Debian's package installs into; another python3 on PATH, such as a pyenv one, does not see it).
# Idempotent: once installed it only checks the import.
set -uo pipefail

fail() { echo "setup-pytorch: error: $1" >&2; exit 1; }

python=/usr/bin/python3
if [[ -x $python ]] && "$python" -c 'import torch' >/dev/null 2>&1; then echo "$python"; exit 0; fi

echo "setup-pytorch: installing python3-torch (Debian)" >&2
log=$(mktemp -t setup-pytorch.XXXXXX.log)
apt=(apt-get install -y -q --no-install-recommends -o DPkg::Lock::Timeout=300 python3-torch)
export DEBIAN_FRONTEND=noninteractive
# A failure on stale package lists is cured by one update.
"${apt[@]}" >"$log" 2>&1 || { apt-get update -q >>"$log" 2>&1 && "${apt[@]}" >>"$log" 2>&1; } ||
  fail "apt-get install python3-torch failed; see $log"
"$python" -c 'import torch' >>"$log" 2>&1 || fail "python3-torch is installed but $python cannot import torch; see $log"
rm -f "$log"
echo "$python"
