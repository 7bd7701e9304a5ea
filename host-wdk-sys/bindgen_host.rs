//! The bindgen set-up for generating `wdk-decls/` for a non-Windows host, shared by this crate's
//! build script (wdk-sys's items) and driver/build.rs (the Filter Manager items), so both see
//! the headers the same way: clang targets `x86_64-pc-windows-msvc` with wdk-build's
//! preprocessor definitions (x64 Windows layouts), and C integer types are named through an
//! LLP64 module (`long` is 32 bits) that the host compiles with the same sizes.

use std::path::{Path, PathBuf};

use bindgen::Builder;

/// The include tree: the repository's `wdk-decls/Include`.
pub fn wdk_decls_root(manifest_dir: &Path) -> PathBuf {
    manifest_dir
        .join("../wdk-decls/Include")
        .canonicalize()
        .expect("wdk-decls/Include exists")
}

/// A builder over `header_contents`, with C types named `<ctypes>::c_ulong` etc.
pub fn builder(root: &Path, header_contents: &str, ctypes: &str) -> Builder {
    const DEFINES: &[&str] = &[
        "_WIN64",
        "_AMD64_",
        "AMD64",
        "_KERNEL_MODE",
        "KMDF_VERSION_MAJOR=1",
        "KMDF_VERSION_MINOR=33",
    ];
    let sdk = root.join("10.0.22621.0");
    let includes = [
        sdk.join("km/crt"),
        sdk.join("km"),
        sdk.join("shared"),
        root.join("wdf/kmdf/1.33"),
    ];
    Builder::default()
        .header_contents("wdk-decls.h", header_contents)
        .clang_arg("--target=x86_64-pc-windows-msvc")
        .clang_args(["-fms-extensions", "-fms-compatibility", "-fno-builtin"])
        .clang_args(includes.iter().map(|d| format!("-I{}", d.display())))
        .clang_args(DEFINES.iter().map(|d| format!("-D{d}")))
        .detect_include_paths(false)
        .use_core()
        .ctypes_prefix(ctypes)
        .rust_edition(bindgen::RustEdition::Edition2024)
        .default_enum_style(bindgen::EnumVariation::ModuleConsts)
        .derive_default(true)
        .generate_cstr(true)
        .must_use_type("NTSTATUS")
        .layout_tests(true)
        .generate_comments(false)
}
