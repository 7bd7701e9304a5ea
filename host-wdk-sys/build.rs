//! Generates `wdk-decls/` (the project's own WDK declaration headers) for this host, in the shape
//! wdk-sys 0.5.2 gives the same items on Windows: `types.rs`, `constants.rs` (with the KMDF
//! function table named `WdfFunctions`, as wdk-build's callback names it) and `ntddk.rs`, plus
//! the `call_unsafe_wdf_function_binding!` wrapper that hands `types.rs` to wdk-macros.
//!
//! bindgen runs clang for `x86_64-pc-windows-msvc` with wdk-build's preprocessor definitions, so
//! clang lays the structures out as on x64 Windows; the C integer types map to an LLP64 set
//! (`crate::llp64`: `long` is 32 bits), so this host compiles them with the same layout, and
//! bindgen's layout tests in the output prove it. Needs libclang (Debian: `libclang-dev`).

use std::env;
use std::fs;
use std::path::{Path, PathBuf};

use bindgen::callbacks::{ItemInfo, ItemKind, ParseCallbacks};
use bindgen::{Builder, CodegenConfig};

const HEADERS: &[&str] = &["ntifs.h", "ntddk.h", "ntstrsafe.h", "wdf.h", "fltKernel.h"];
/// `WdfFunctions_<major:02>0<minor:02>`, as wdk-build computes it for KMDF 1.33.
const WDF_FUNCTION_TABLE: &str = "WdfFunctions_01033";

/// Gives the KMDF function table the name wdk-sys's callers (wdk-macros) use.
#[derive(Debug)]
struct WdfFunctionTableName;

impl ParseCallbacks for WdfFunctionTableName {
    fn generated_name_override(&self, item: ItemInfo<'_>) -> Option<String> {
        (matches!(item.kind, ItemKind::Var) && item.name == WDF_FUNCTION_TABLE)
            .then(|| "WdfFunctions".to_owned())
    }
}

#[path = "bindgen_host.rs"]
mod bindgen_host;

fn builder(root: &Path) -> Builder {
    let contents = HEADERS.iter().fold(String::new(), |mut text, header| {
        text.push_str("#include \"");
        text.push_str(header);
        text.push_str("\"\n");
        text
    });
    bindgen_host::builder(root, &contents, "crate::llp64")
        .allowlist_file(format!("{}/.*", regex_escape(&root.display().to_string())))
        .parse_callbacks(Box::new(WdfFunctionTableName))
}

fn main() {
    let manifest = PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").expect("cargo sets it"));
    let root = bindgen_host::wdk_decls_root(&manifest);
    println!("cargo::rerun-if-changed={}", root.display());
    let out = PathBuf::from(env::var_os("OUT_DIR").expect("cargo sets it"));

    for (file, config) in [
        ("types.rs", CodegenConfig::TYPES),
        ("constants.rs", CodegenConfig::VARS),
        ("ntddk.rs", CodegenConfig::FUNCTIONS),
    ] {
        let path = out.join(file);
        builder(&root)
            .with_codegen_config(config)
            .generate()
            .expect("bindgen over wdk-decls (libclang is required: apt-get install libclang-dev)")
            .write_to_file(&path)
            .expect("OUT_DIR is writable");
    }

    // wdk-sys's own wrapper: the proc macro needs the path of the generated types.
    let types = out.join("types.rs");
    let wrapper = format!(
        "/// Calls a KMDF method through the function table by name, as wdk-sys's macro does.\n\
         #[macro_export]\n\
         macro_rules! call_unsafe_wdf_function_binding {{\n\
         \x20   ( $($tt:tt)* ) => {{\n\
         \x20       $crate::__proc_macros::call_unsafe_wdf_function_binding!(r\"{}\", $($tt)*)\n\
         \x20   }}\n\
         }}\n",
        types.display()
    );
    fs::write(out.join("call_unsafe_wdf_function_binding.rs"), wrapper)
        .expect("OUT_DIR is writable");
}

/// `text` as a regular expression that matches it literally.
fn regex_escape(text: &str) -> String {
    text.chars()
        .flat_map(|c| {
            let escape = ".+*?()|[]{}^$\\".contains(c);
            escape.then_some('\\').into_iter().chain(Some(c))
        })
        .collect()
}
