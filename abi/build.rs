//! Generates Rust declarations of `wdk-decls/` (the project's own WDK headers) for this host, so
//! the tests can compare the headers' layouts and values with Microsoft's metadata.
//!
//! bindgen runs clang for `x86_64-pc-windows-msvc` with wdk-build's preprocessor definitions, so
//! clang lays the structures out as on x64 Windows; the C integer types map to an LLP64 set
//! (`crate::wdk_decls::llp64`: `long` is 32 bits), so the host compiles them with the same layout, and
//! bindgen's own layout tests (sizes and offsets as clang computed them for Windows) prove that
//! inside the generated module. Needs libclang (Debian: `libclang-dev`).

use std::env;
use std::path::PathBuf;

const HEADERS: &[&str] = &["ntifs.h", "ntddk.h", "ntstrsafe.h", "wdf.h", "fltKernel.h"];
const DEFINES: &[&str] = &[
    "_WIN64",
    "_AMD64_",
    "AMD64",
    "_KERNEL_MODE",
    "KMDF_VERSION_MAJOR=1",
    "KMDF_VERSION_MINOR=33",
];

fn main() {
    let root = PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").expect("cargo sets it"))
        .join("../wdk-decls/Include");
    let root = root.canonicalize().expect("wdk-decls/Include exists");
    println!("cargo::rerun-if-changed={}", root.display());
    let sdk = root.join("10.0.22621.0");
    let includes = [
        sdk.join("km/crt"),
        sdk.join("km"),
        sdk.join("shared"),
        root.join("wdf/kmdf/1.33"),
    ];

    let contents = HEADERS.iter().fold(String::new(), |mut text, header| {
        text.push_str("#include \"");
        text.push_str(header);
        text.push_str(
            "\"
",
        );
        text
    });
    let builder = bindgen::Builder::default()
        .header_contents("wdk-decls.h", &contents)
        .clang_arg("--target=x86_64-pc-windows-msvc")
        .clang_args(["-fms-extensions", "-fms-compatibility", "-fno-builtin"])
        .clang_args(includes.iter().map(|d| format!("-I{}", d.display())))
        .clang_args(DEFINES.iter().map(|d| format!("-D{d}")))
        .detect_include_paths(false)
        .use_core()
        // Types, constants and variables: the routines are the driver's business, not the oracle's.
        .with_codegen_config(bindgen::CodegenConfig::TYPES | bindgen::CodegenConfig::VARS)
        .rust_edition(bindgen::RustEdition::Edition2024)
        .ctypes_prefix("crate::wdk_decls::llp64")
        .allowlist_file(format!("{}/.*", regex_escape(&root.display().to_string())))
        .default_enum_style(bindgen::EnumVariation::ModuleConsts)
        .layout_tests(true)
        .derive_default(true)
        .generate_comments(false);
    let out = PathBuf::from(env::var_os("OUT_DIR").expect("cargo sets it")).join("wdk_decls.rs");
    builder
        .generate()
        .expect("bindgen over wdk-decls (libclang is required: apt-get install libclang-dev)")
        .write_to_file(&out)
        .expect("OUT_DIR is writable");
}

fn regex_escape(text: &str) -> String {
    text.chars()
        .flat_map(|c| {
            let escape = ".+*?()|[]{}^$\\".contains(c);
            escape.then_some('\\').into_iter().chain(Some(c))
        })
        .collect()
}
