# Shared by .ci/run, .ci/build-sys and .ci/real-wdk-check: the real windows-drivers-rs build
# (wdk-sys 0.5.2's and driver/build.rs's bindgen runs, wdk-sys's wdf.c) on a Linux host, for
# x86_64-pc-windows-msvc, against the WDK tree in $WDKContentRoot. Source it from the repository
# root; then run `wdk_cargo <cargo subcommand> [args]`.
#
# What differs from a Windows host, and why:
# - wdk-build refuses non-Windows hosts and reads the registry; a copy patched by
#   patch-wdk-build.py (environment helpers and registry only) is used through [patch.crates-io].
# - The driver's build dependencies are host-matched, so `--features wdk-any-host` enables them.
# - Debian's rustc-web / cargo-web with rust-web-src build core and alloc for the target
#   (-Zbuild-std); libclang 22 runs bindgen; clang-cl-22 / llvm-lib-22 compile wdk-sys's wdf.c.
# - rustc compiles core for x86_64-pc-windows-msvc with `target_has_reliable_f16` / `_f128` set
#   (`rustc --print cfg`), so core's f16 parsing calls __truncsfhf2 / __extendhfsf2; cargo does
#   not hand those unstable cfgs to build scripts, so compiler_builtins' build script would leave
#   the f16 / f128 routines out and a link that pulls that part of core fails on undefined
#   symbols. The two CARGO_CFG_ variables give its build script what rustc says.

wdk_linux_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo_root="$(cd "$wdk_linux_dir/../.." && pwd)"
wdk_state="$repo_root/target/wdk-linux"

# Installs the Debian packages the real build needs, if any is missing.
wdk_install_tools() {
  local packages=(gcc libc6-dev rustc-web cargo-web rust-web-src rust-web-clippy clang-22 libclang-22-dev lld-22 llvm-22)
  if ! dpkg -s "${packages[@]}" >/dev/null 2>&1; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq "${packages[@]}" >/dev/null
  fi
}

# The patched wdk-build, made from the crates.io source cargo fetched for the lock file.
wdk_prepare_build_crate() {
  local source
  (cd "$repo_root" && cargo fetch -q)
  source="$(ls -d "${CARGO_HOME:-$HOME/.cargo}"/registry/src/*/wdk-build-0.6.0 | head -n1)"
  if [[ ! -f "$source/Cargo.toml" ]]; then
    echo "wdk-linux: wdk-build 0.6.0 source not found after cargo fetch" >&2
    return 1
  fi
  rm -rf "$wdk_state/wdk-build"
  mkdir -p "$wdk_state"
  cp -r "$source" "$wdk_state/wdk-build"
  python3 "$wdk_linux_dir/patch-wdk-build.py" "$wdk_state/wdk-build"
}

# Runs Debian's cargo for the driver's target with the real build scripts. $WDKContentRoot must be
# set; CARGO_TARGET_DIR defaults to target/wdk-build-out. (wdk-build finds the workspace as the parent of
# the nearest directory named `target` above OUT_DIR, so a target directory must not be named so.)
wdk_cargo() {
  local subcommand="$1"
  shift
  [[ -n "${WDKContentRoot:-}" ]] || { echo "wdk-linux: WDKContentRoot is not set" >&2; return 1; }
  [[ -d "$wdk_state/wdk-build" ]] || wdk_prepare_build_crate
  (
    cd "$repo_root"
    # The patched path source drops wdk-build's checksum from the lock file; put it back after.
    cp Cargo.lock "$wdk_state/Cargo.lock.saved"
    trap 'cp "$wdk_state/Cargo.lock.saved" Cargo.lock' EXIT
    env -u RUSTUP_TOOLCHAIN \
      PATH="/usr/bin:$PATH" RUSTC=/usr/bin/rustc RUSTDOC=/usr/bin/rustdoc RUSTC_BOOTSTRAP=1 \
      LIBCLANG_PATH=/usr/lib/llvm-22/lib \
      CARGO_CFG_TARGET_HAS_RELIABLE_F16=1 CARGO_CFG_TARGET_HAS_RELIABLE_F128=1 \
      CC_x86_64_pc_windows_msvc=clang-cl-22 AR_x86_64_pc_windows_msvc=llvm-lib-22 \
      CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$repo_root/target/wdk-build-out}" \
      /usr/bin/cargo "$subcommand" \
      --config "patch.crates-io.wdk-build.path=\"$wdk_state/wdk-build\"" \
      -p ferrofilter --features wdk-any-host --target x86_64-pc-windows-msvc \
      -Zbuild-std=core,alloc,compiler_builtins "$@"
  )
}

# Fails if a cargo log shows a warning or error other than the one about the [patch] entry, which
# cargo also prints for the standard library's own lock file (-Zbuild-std), where it is unused.
wdk_log_clean() {
  local log="$1"
  if grep -E '^(warning|error)' "$log" | grep -vq "^warning: patch \`wdk-build"; then
    grep -E '^(warning|error)' -A8 "$log" | grep -v "^warning: patch \`wdk-build" >&2
    return 1
  fi
}

# Makes a kit root in $1 (WDKContentRoot) whose Include/ is the tree $2, with the (empty) library
# directories wdk-build requires to exist. Linking needs import libraries there (.ci/build-sys).
wdk_make_kit() {
  local kit="$1" include="$2"
  rm -rf "$kit"
  mkdir -p "$kit/Lib/10.0.22621.0/km/x64" "$kit/Lib/wdf/kmdf/x64/1.33"
  ln -s "$(cd "$include" && pwd)" "$kit/Include"
}
