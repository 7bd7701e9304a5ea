#!/usr/bin/env python3
"""Make a copy of wdk-build 0.6.0 usable as a build dependency on a non-Windows host.

wdk-build refuses to compile off Windows (`compile_error!` in `set_var` / `remove_var`) and reads
the registry to find the WDK. With `WDKContentRoot` set, the registry is never consulted, so the
copy drops the registry look-up (and its `windows` crate dependency) off Windows and lets the
environment helpers call `std::env` as they do on Windows. Nothing else changes: the bindgen
options, header lists, preprocessor definitions and link directives are wdk-build's own.

Usage: patch-wdk-build.py <copy of wdk-build-0.6.0>
"""
import pathlib
import sys

root = pathlib.Path(sys.argv[1])


def edit(relative, old, new):
    path = root / relative
    text = path.read_text()
    if old not in text:
        sys.exit(f"patch-wdk-build: {relative}: expected text not found (not wdk-build 0.6.0?):\n{old}")
    path.write_text(text.replace(old, new, 1))


COMPILE_ERROR = '''    compile_error!(
        "windows-drivers-rs is designed to be run on a Windows host machine in a WDK environment. \\
         Please build using a Windows target."
    );'''

# The environment helpers: std::env off Windows too (build scripts are single-threaded here).
edit("src/utils.rs", COMPILE_ERROR, "    // SAFETY: build scripts set variables before spawning threads.\n    unsafe { env::set_var(_key, _value) }")
edit("src/utils.rs", COMPILE_ERROR, "    // SAFETY: build scripts remove variables before spawning threads.\n    unsafe { env::remove_var(_key) }")

# The registry: Windows only.
edit("src/utils.rs", "use windows::{", "#[cfg(windows)]\nuse windows::{")
edit("src/utils.rs", "    if let Some(path) = read_registry_key_string_value(\n        HKEY_LOCAL_MACHINE,\n        s!(r\"SOFTWARE\\Microsoft",
     "    #[cfg(windows)]\n    if let Some(path) = read_registry_key_string_value(\n        HKEY_LOCAL_MACHINE,\n        s!(r\"SOFTWARE\\Microsoft")
edit("src/utils.rs", "    if let Some(path) = read_registry_key_string_value(\n        HKEY_LOCAL_MACHINE,\n        s!(r\"SOFTWARE\\Wow6432Node",
     "    #[cfg(windows)]\n    if let Some(path) = read_registry_key_string_value(\n        HKEY_LOCAL_MACHINE,\n        s!(r\"SOFTWARE\\Wow6432Node")
edit("src/utils.rs", "fn read_registry_key_string_value(", "#[cfg(windows)]\nfn read_registry_key_string_value(")
edit("src/utils.rs", "    mod read_registry_key_string_value {", "    #[cfg(windows)]\n    mod read_registry_key_string_value {")
edit("Cargo.toml", "[dependencies.windows]", "[target.'cfg(windows)'.dependencies.windows]")
edit("Cargo.toml", "[dev-dependencies.windows]", "[target.'cfg(windows)'.dev-dependencies.windows]")
edit("src/utils.rs", "    ffi::{CStr, OsStr},", "    ffi::OsStr,")
edit("src/utils.rs", "#[cfg(windows)]\nuse windows::{", "#[cfg(windows)]\nuse std::ffi::CStr;\n#[cfg(windows)]\nuse windows::{")

# cargo-make's symlink of the driver makefile: the host's own symlink call.
for _ in range(2):
    edit("src/cargo_make.rs", "std::os::windows::fs::symlink_file(", "symlink_file(")
edit("src/cargo_make.rs", "\nuse ", "\n#[cfg(windows)]\nuse std::os::windows::fs::symlink_file;\n#[cfg(unix)]\nuse std::os::unix::fs::symlink as symlink_file;\nuse ")
