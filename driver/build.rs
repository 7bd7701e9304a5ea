//! Build script of the ferrofilter driver.
//!
//! On a Windows host with the WDK installed it configures the KMDF driver link
//! (`wdk_build::configure_wdk_binary_build`), generates Rust bindings for the Filter Manager
//! (`fltKernel.h`, which wdk-sys does not cover) into `OUT_DIR/fltmgr.rs`, and links `fltMgr.lib`.
//! On any other host it does nothing: the driver crate is an empty library there.
//!
//! With the `wdk-any-host` feature the same script runs on a non-Windows host against the WDK tree
//! in `WDKContentRoot` (`.ci/wdk-linux`): CI runs it over the project's own declaration headers,
//! `.ci/real-wdk-check` over a genuine WDK. Unverified here: a run on a Windows host.

#[cfg(any(windows, feature = "wdk-any-host"))]
fn main() -> Result<(), wdk_build::ConfigError> {
    windows_host::run()
}

#[cfg(not(any(windows, feature = "wdk-any-host")))]
fn main() {}

#[cfg(any(windows, feature = "wdk-any-host"))]
mod windows_host {
    use std::env;
    use std::path::PathBuf;

    use bindgen::CodegenConfig;
    use bindgen::callbacks::{DeriveTrait, ImplementsTrait, ParseCallbacks};
    use wdk_build::{BuilderExt, Config, ConfigError, IoError};

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
    ];

    /// Filter Manager types: `FLT_*`, `PFLT_*`, `PCFLT_*`, `PFLTOPLOCK_*` and the anonymous types
    /// nested in them (bindgen names those `_FLT_X__bindgen_ty_N`).
    const TYPES: &str = "_?P?C?FLT.*";

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

    pub fn run() -> Result<(), ConfigError> {
        wdk_build::configure_wdk_binary_build()?;

        let config = Config::from_env_auto()?;
        let out_dir = PathBuf::from(env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
        let output = out_dir.join("fltmgr.rs");

        // Only Filter Manager items are generated (`allowlist_recursively(false)`); every type they
        // refer to from ntifs.h / wdm.h is taken from wdk_sys, so a `PFILE_OBJECT` in a Filter
        // Manager structure is the same type as wdk_sys's and no definition is duplicated.
        let mut builder = bindgen::Builder::wdk_default(&config)?
            .with_codegen_config(CodegenConfig::FUNCTIONS | CodegenConfig::TYPES)
            .header_contents("ferrofilter-fltmgr.h", "#include \"fltKernel.h\"\n")
            .allowlist_recursively(false)
            .parse_callbacks(Box::new(WdkSysTypesAreCopy))
            .allowlist_type(TYPES)
            .raw_line("#[allow(unused_imports, clippy::wildcard_imports)]")
            .raw_line("use wdk_sys::*;");
        for function in FUNCTIONS {
            builder = builder.allowlist_function(*function);
        }

        builder
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
