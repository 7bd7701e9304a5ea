//! Build script of the ferrofilter driver: the Filter Manager bindings (`fltKernel.h`, which
//! wdk-sys does not cover) into `OUT_DIR/fltmgr.rs`, generated with one set of Filter Manager
//! options ([`fltmgr`]) over one of two bases:
//!
//! - **for Windows** (`x86_64-pc-windows-msvc`): wdk-build's `wdk_default` builder over the WDK in
//!   use, after `configure_wdk_binary_build` set up the KMDF driver link, and `fltMgr.lib` is
//!   linked. That is a Windows host's build, or any other host's with the `wdk-any-host`
//!   feature (`.ci/wdk-linux`: CI runs it over the project's own declaration headers,
//!   `.ci/real-wdk-check` over a genuine WDK);
//! - **for the host** (any other target): the project's own declaration headers `wdk-decls/`,
//!   as `ferrofilter-host-wdk-sys` generates them (x64 Windows layouts, LLP64 C types), so the
//!   driver compiles against the same shapes off Windows.
//!
//! Unverified here: a run on a Windows host.

#[path = "../host-wdk-sys/bindgen_host.rs"]
mod bindgen_host;

fn main() {
    let target_windows = std::env::var("CARGO_CFG_TARGET_OS").is_ok_and(|os| os == "windows");
    if target_windows {
        windows_target::run();
    } else {
        host_target::run();
    }
}

/// The Filter Manager part of the generation, the same for both bases.
mod fltmgr {
    use bindgen::callbacks::{DeriveTrait, ImplementsTrait, ParseCallbacks};
    use bindgen::{Builder, CodegenConfig};

    /// The Filter Manager routines the driver calls. Everything else in fltKernel.h stays out of
    /// the bindings so a header change cannot break code that does not use it.
    const FUNCTIONS: &[&str] = &[
        // Registration and attach.
        "FltRegisterFilter",
        "FltStartFiltering",
        "FltUnregisterFilter",
        "FltIsVolumeWritable",
        // Create: the ECP list, read only.
        "FltGetEcpListFromCallbackData",
        "FltGetNextExtraCreateParameter",
        "FltIsEcpFromUserMode",
        // Stream and stream-handle contexts.
        "FltAllocateContext",
        "FltReleaseContext",
        "FltGetStreamContext",
        "FltSetStreamContext",
        "FltGetStreamHandleContext",
        "FltSetStreamHandleContext",
        // The control device: from a caller's file object to this filter's instance.
        "FltGetVolumeFromFileObject",
        "FltGetVolumeInstanceFromName",
        "FltObjectDereference",
        // The purge path.
        "FltFlushBuffers2",
        "FltAllocateGenericWorkItem",
        "FltQueueGenericWorkItem",
        "FltFreeGenericWorkItem",
        // The control device's inspect: a read through the caller's own file object.
        "FltReadFile",
        // Declared so that driver code could send an FSCTL below its instance; the driver does
        // not. FSCTL_SET_PURGE_FAILURE_MODE is Filter Manager's alone (the sim's verifier
        // reports a filter sending it; .ci/planted-bugs plants such a call).
        "FltFsControlFile",
    ];

    /// Filter Manager types: `FLT_*`, `PFLT_*`, `PCFLT_*`, `PFLTOPLOCK_*` and the anonymous types
    /// nested in them (bindgen names those `_FLT_X__bindgen_ty_N`).
    const TYPES: &str = "_?P?C?FLT.*";

    /// The header the bindings are generated from.
    pub const HEADER: &str = "#include \"fltKernel.h\"\n";

    /// Tells bindgen that the `wdk_sys` types the Filter Manager items refer to are `Copy`.
    ///
    /// With `allowlist_recursively(false)` bindgen does not see those types' definitions, assumes
    /// they might not be `Copy`, and then emits every union over them (`FLT_PARAMETERS` and its
    /// members) as a struct of `__BindgenUnionField` wrappers in which `Parameters.Create.Options`
    /// does not exist. The claim is true: wdk-sys generates them with the same `wdk_default`
    /// options, which derive `Copy` for every plain C type. Were it ever false, rustc would
    /// reject the generated union ("unions cannot contain fields that may need dropping"), so a
    /// wrong answer cannot compile into wrong code.
    #[derive(Debug)]
    struct WdkSysTypesAreCopy;

    impl ParseCallbacks for WdkSysTypesAreCopy {
        fn blocklisted_type_implements_trait(
            &self,
            _name: &str,
            derive_trait: DeriveTrait,
        ) -> Option<ImplementsTrait> {
            matches!(derive_trait, DeriveTrait::Copy).then_some(ImplementsTrait::Yes)
        }
    }

    /// Only Filter Manager items are generated (`allowlist_recursively(false)`); every type they
    /// refer to from ntifs.h / wdm.h is taken from `wdk_sys`, so a `PFILE_OBJECT` in a Filter
    /// Manager structure is the same type as `wdk_sys`'s and no definition is duplicated.
    pub fn configure(builder: Builder) -> Builder {
        let mut builder = builder
            .with_codegen_config(CodegenConfig::FUNCTIONS | CodegenConfig::TYPES)
            .allowlist_recursively(false)
            .parse_callbacks(Box::new(WdkSysTypesAreCopy))
            .allowlist_type(TYPES)
            .raw_line("#[allow(unused_imports, clippy::wildcard_imports)]")
            .raw_line("use wdk_sys::*;");
        for function in FUNCTIONS {
            builder = builder.allowlist_function(*function);
        }
        builder
    }

    /// Where the bindings go.
    pub fn output() -> std::path::PathBuf {
        std::path::PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"))
            .join("fltmgr.rs")
    }
}

#[cfg(any(windows, feature = "wdk-any-host"))]
mod windows_target {
    use wdk_build::{BuilderExt, Config, IoError};

    pub fn run() {
        if let Err(error) = generate() {
            panic!("the WDK build of the driver failed: {error}");
        }
    }

    fn generate() -> Result<(), wdk_build::ConfigError> {
        wdk_build::configure_wdk_binary_build()?;
        let config = Config::from_env_auto()?;
        let output = super::fltmgr::output();
        super::fltmgr::configure(
            bindgen::Builder::wdk_default(&config)?
                .header_contents("ferrofilter-fltmgr.h", super::fltmgr::HEADER),
        )
        .generate()
        .expect("the Filter Manager bindings should generate")
        .write_to_file(&output)
        .map_err(|source| IoError::with_path(&output, source))?;

        // fltMgr.lib lives in the WDK's km library directory, which configure_wdk_binary_build
        // already put on the link search path. Linked the way wdk-sys links ntoskrnl.lib.
        println!("cargo::rustc-link-lib=static:-bundle=fltMgr");
        Ok(())
    }
}

#[cfg(not(any(windows, feature = "wdk-any-host")))]
mod windows_target {
    pub fn run() {
        panic!(
            "building ferrofilter for Windows on this host needs the WDK build: the \
             `wdk-any-host` feature with the patched wdk-build of .ci/wdk-linux (see \
             docs/building-on-linux.md)"
        );
    }
}

mod host_target {
    use std::path::PathBuf;

    use super::bindgen_host;

    pub fn run() {
        let manifest =
            PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("cargo sets it"));
        let root = bindgen_host::wdk_decls_root(&manifest);
        println!("cargo::rerun-if-changed={}", root.display());
        let output = super::fltmgr::output();
        super::fltmgr::configure(bindgen_host::builder(
            &root,
            super::fltmgr::HEADER,
            "wdk_sys::llp64",
        ))
        .generate()
        .expect("the Filter Manager bindings over wdk-decls (libclang is required)")
        .write_to_file(&output)
        .expect("OUT_DIR is writable");
    }
}
