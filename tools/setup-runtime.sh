# Sourced by ./retain. TorchSharp 0.107.0's native library needs GLIBCXX_3.4.32 (GCC >= 13.2 runtime). Debian 12
# ships at most GLIBCXX_3.4.30, so there we run the whole dotnet process on Debian 13's loader, glibc and libstdc++,
# kept privately in .runtime/ (the system's own dotnet and libraries are never modified). Where the system library is
# new enough this does nothing. Once done, the check costs a few milliseconds.

retain_system_has_glibcxx() {
  local lib
  lib=$(/sbin/ldconfig -p 2>/dev/null | awk '/libstdc\+\+\.so\.6 /{print $NF; exit}')
  [[ -n "$lib" ]] && grep -aq 'GLIBCXX_3\.4\.32' "$lib"
}

# Waits for this checkout's set-up lock (.setup.lock) and puts its descriptor in the variable named $1. Launchers
# started together on a fresh checkout take turns at each set-up step; each step checks again, once it has its turn,
# whether another launcher did it meanwhile.
retain_take_turn() {
  local -n fd=$1
  if ! exec {fd}>>"$root/.setup.lock"; then
    echo "retain: error: cannot write $root/.setup.lock (the checkout must be writable to set it up)" >&2
    return 2
  fi
  if ! flock -n "$fd"; then
    echo "retain: waiting for another retain command's set-up in this checkout" >&2
    flock "$fd"
  fi
}

retain_setup_runtime() {
  local rt="$root/.runtime"
  if [[ ! -f "$rt/ready" ]]; then
    retain_system_has_glibcxx && return 0
    # Launchers that shared one .runtime.tmp all failed; now the first sets the runtime up and the others find it ready.
    local lock status=0
    retain_take_turn lock || return 2
    [[ -f "$rt/ready" ]] || retain_install_runtime "$rt" {lock}>&- || status=$?
    exec {lock}>&-
    [[ $status -eq 0 ]] || return "$status"
  fi
  export PATH="$rt/dotnet:$PATH" DOTNET_ROOT="$rt/dotnet" RETAIN_DOTNET_HOST="$rt/dotnet/dotnet"
}

# Downloads Debian 13's loader and C++ runtime into <rt>.tmp, points a copy of the dotnet muxer at them, renames the
# folder to <rt> and checks that the muxer starts. Every step says when it fails (set -e does not reach in here: the
# caller tests the function's status).
retain_install_runtime() {
  local rt="$1"
  local libdir="$rt/lib/usr/lib/x86_64-linux-gnu"
  local host="$rt/dotnet/dotnet"
  echo "retain: setting up a private C++ runtime for TorchSharp in .runtime/ (system libstdc++ lacks GLIBCXX_3.4.32)" >&2
  local tmp="$rt.tmp"
  rm -rf "$tmp" && mkdir -p "$tmp/lists/partial" "$tmp/cache/archives/partial" "$tmp/debs" || { retain_runtime_failed "create $tmp"; return 2; }
  local uri
  uri=$(awk '/^URIs:/{print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null)
  [[ -n "$uri" ]] || uri=$(awk '/^deb /{print $2; exit}' /etc/apt/sources.list 2>/dev/null)
  if [[ -z "$uri" ]]; then
    echo "retain: error: no Debian mirror found in /etc/apt/sources.list.d/debian.sources or /etc/apt/sources.list" >&2
    return 2
  fi
  echo "deb [trusted=yes] $uri trixie main" > "$tmp/sources.list"
  local apt_opts=(-o "Dir::Etc::SourceList=$tmp/sources.list" -o Dir::Etc::SourceParts=/dev/null
                  -o "Dir::State::Lists=$tmp/lists" -o "Dir::Cache=$tmp/cache" -o Debug::NoLocking=1 -qq)
  # patchelf comes from the same place and runs on the private loader, so no package has to be installed.
  if ! apt-get "${apt_opts[@]}" update >"$tmp/apt.log" 2>&1 ||
     ! (cd "$tmp/debs" && apt-get "${apt_opts[@]}" download libc6 libstdc++6 libgcc-s1 patchelf) >>"$tmp/apt.log" 2>&1; then
    echo "retain: error: could not download libc6, libstdc++6, libgcc-s1, patchelf (Debian 13) from $uri; see $tmp/apt.log." >&2
    echo "retain: fix the network or mirror and run the command again (nothing was installed)." >&2
    return 2
  fi
  mkdir -p "$tmp/lib" "$tmp/dotnet" || { retain_runtime_failed "create $tmp/lib"; return 2; }
  local deb
  for deb in "$tmp"/debs/*.deb; do dpkg -x "$deb" "$tmp/lib" || { retain_runtime_failed "unpack $deb"; return 2; }; done
  local tlib="$tmp/lib/usr/lib/x86_64-linux-gnu"
  local real_root
  real_root=$(dirname "$(readlink -f "$(command -v dotnet)")")
  cp "$real_root/dotnet" "$tmp/dotnet/dotnet" || { retain_runtime_failed "copy $real_root/dotnet"; return 2; }
  local entry
  for entry in host shared sdk packs sdk-manifests templates metadata; do
    if [[ -e "$real_root/$entry" ]]; then
      ln -s "$real_root/$entry" "$tmp/dotnet/$entry" || { retain_runtime_failed "link $real_root/$entry"; return 2; }
    fi
  done
  # The final paths are written into the muxer now, so the folder is renamed into place afterwards.
  "$tlib/ld-linux-x86-64.so.2" --library-path "$tlib" "$tmp/lib/usr/bin/patchelf" \
    --set-interpreter "$libdir/ld-linux-x86-64.so.2" --force-rpath --set-rpath "$libdir" "$tmp/dotnet/dotnet" ||
    { retain_runtime_failed "point the dotnet muxer at the private loader (patchelf)"; return 2; }
  rm -rf "$tmp/debs" "$tmp/cache" "$tmp/lists"
  rm -rf "$rt" && mv "$tmp" "$rt" || { retain_runtime_failed "move $tmp to $rt"; return 2; }
  if ! "$host" --info >/dev/null 2>&1; then
    echo "retain: error: the private runtime in .runtime/ does not start ($host --info failed); remove .runtime/ and retry." >&2
    return 2
  fi
  touch "$rt/ready" || { retain_runtime_failed "write $rt/ready"; return 2; }
}

retain_runtime_failed() {
  echo "retain: error: setting up the private runtime in .runtime/: could not $1" >&2
}
