//! Filter Manager bindings: the `fltKernel.h` items `build.rs` generates into `OUT_DIR/fltmgr.rs`.
//! The header macros bindgen cannot translate (or translates to the wrong integer type) are in
//! `constants`, written out by hand with the header each comes from.
//!
//! Unverified here: the generated file has never been produced; the names re-exported below are
//! the C names from fltKernel.h / fltUserStructures.h as bindgen spells them (enums in wdk-build's
//! `ModuleConsts` style: `_FLT_PREOP_CALLBACK_STATUS::FLT_PREOP_SUCCESS_NO_CALLBACK`).

#[allow(
    missing_docs,
    dead_code,
    non_camel_case_types,
    non_snake_case,
    non_upper_case_globals,
    clippy::all,
    clippy::pedantic,
    clippy::undocumented_unsafe_blocks,
    clippy::multiple_unsafe_ops_per_block,
    reason = "bindgen output for fltKernel.h, kept as generated"
)]
mod generated {
    include!(concat!(env!("OUT_DIR"), "/fltmgr.rs"));
}

pub use generated::{
    _FLT_FILESYSTEM_TYPE, _FLT_POSTOP_CALLBACK_STATUS, _FLT_PREOP_CALLBACK_STATUS,
    _FLT_SET_CONTEXT_OPERATION, FLT_CONTEXT_REGISTRATION, FLT_CONTEXT_TYPE, FLT_FILESYSTEM_TYPE,
    FLT_FILTER_UNLOAD_FLAGS, FLT_INSTANCE_QUERY_TEARDOWN_FLAGS, FLT_INSTANCE_SETUP_FLAGS,
    FLT_OPERATION_REGISTRATION, FLT_POST_OPERATION_FLAGS, FLT_POSTOP_CALLBACK_STATUS,
    FLT_PREOP_CALLBACK_STATUS, FLT_REGISTRATION, FltAllocateContext, FltAllocateGenericWorkItem,
    FltFlushBuffers2, FltFreeGenericWorkItem, FltGetEcpListFromCallbackData,
    FltGetNextExtraCreateParameter, FltGetStreamContext, FltGetStreamHandleContext,
    FltGetVolumeFromFileObject, FltGetVolumeInstanceFromName, FltIsEcpFromUserMode,
    FltIsVolumeWritable, FltObjectDereference, FltQueueGenericWorkItem, FltReadFile,
    FltRegisterFilter, FltReleaseContext, FltSetStreamContext, FltSetStreamHandleContext,
    FltStartFiltering, FltUnregisterFilter, PCFLT_RELATED_OBJECTS, PFLT_CALLBACK_DATA,
    PFLT_CONTEXT, PFLT_FILTER, PFLT_GENERIC_WORKITEM, PFLT_INSTANCE, PFLT_IO_PARAMETER_BLOCK,
    PFLT_VOLUME,
};
