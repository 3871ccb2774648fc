# Sourced by ./retain. TorchSharp 0.107.0's native library needs GLIBCXX_3.4.32 (GCC >= 13.2 runtime). Debian 12
# ships at most GLIBCXX_3.4.30, so there we run the whole dotnet process on Debian 13's loader, glibc and libstdc++,
# kept privately in .runtime/ (the system's own dotnet and libraries are never modified). Where the system library is
# new enough this does nothing. Once done, the check costs a few milliseconds.

retain_system_has_glibcxx() {
  local lib
  lib=$(/sbin/ldconfig -p 2>/dev/null | awk '/libstdc\+\+\.so\.6 /{print $NF; exit}')
  [[ -n "$lib" ]] && grep -aq 'GLIBCXX_3\.4\.32' "$lib"
}

retain_setup_runtime() {
  local rt="$root/.runtime"
  if [[ ! -f "$rt/ready" ]]; then
    retain_system_has_glibcxx && return 0
    # Launchers started together on a fresh checkout take turns: the first sets the runtime up, the others wait for
    # it and then find it ready (they shared one .runtime.tmp before, and all of them failed).
    local lock status=0
    exec {lock}>"$root/.setup.lock"
    flock "$lock"
    [[ -f "$rt/ready" ]] || retain_install_runtime "$rt" || status=$?
    exec {lock}>&-
    [[ $status -eq 0 ]] || return "$status"
  fi
  export PATH="$rt/dotnet:$PATH" DOTNET_ROOT="$rt/dotnet" RETAIN_DOTNET_HOST="$rt/dotnet/dotnet"
}

# Downloads Debian 13's loader and C++ runtime into <rt>.tmp, points a copy of the dotnet muxer at them, and renames
# the folder to <rt> once it starts.
retain_install_runtime() {
  local rt="$1"
  local libdir="$rt/lib/usr/lib/x86_64-linux-gnu"
  local host="$rt/dotnet/dotnet"
  echo "retain: setting up a private C++ runtime for TorchSharp in .runtime/ (system libstdc++ lacks GLIBCXX_3.4.32)" >&2
  local tmp="$rt.tmp"
  rm -rf "$tmp" && mkdir -p "$tmp/lists/partial" "$tmp/cache/archives/partial" "$tmp/debs" || return 1
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
  mkdir -p "$tmp/lib" "$tmp/dotnet"
  local deb
  for deb in "$tmp"/debs/*.deb; do dpkg -x "$deb" "$tmp/lib" || return 2; done
  local tlib="$tmp/lib/usr/lib/x86_64-linux-gnu"
  local real_root
  real_root=$(dirname "$(readlink -f "$(command -v dotnet)")")
  cp "$real_root/dotnet" "$tmp/dotnet/dotnet"
  local entry
  for entry in host shared sdk packs sdk-manifests templates metadata; do
    [[ -e "$real_root/$entry" ]] && ln -s "$real_root/$entry" "$tmp/dotnet/$entry"
  done
  # The final paths are written into the muxer now, so the folder is renamed into place afterwards.
  "$tlib/ld-linux-x86-64.so.2" --library-path "$tlib" "$tmp/lib/usr/bin/patchelf" \
    --set-interpreter "$libdir/ld-linux-x86-64.so.2" --force-rpath --set-rpath "$libdir" "$tmp/dotnet/dotnet" || return 2
  rm -rf "$tmp/debs" "$tmp/cache" "$tmp/lists"
  rm -rf "$rt" && mv "$tmp" "$rt"
  if ! "$host" --info >/dev/null 2>&1; then
    echo "retain: error: the private runtime in .runtime/ does not start ($host --info failed); remove .runtime/ and retry." >&2
    return 2
  fi
  touch "$rt/ready"
}
