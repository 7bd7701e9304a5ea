//! `wdk-decls/` (the project's own WDK declaration headers) as bindgen generates them for this
//! host (see `build.rs`): what the tests compare with `windows-sys` and the documented offsets.

/// The C integer types of LLP64 Windows, which bindgen's output is written in terms of: `long`
/// is 32 bits there, unlike on 64-bit Linux.
#[allow(non_camel_case_types, reason = "the C type names bindgen refers to")]
pub mod llp64 {
    /// `char`.
    pub type c_char = i8;
    /// `signed char`.
    pub type c_schar = i8;
    /// `unsigned char`.
    pub type c_uchar = u8;
    /// `short`.
    pub type c_short = i16;
    /// `unsigned short`.
    pub type c_ushort = u16;
    /// `int`.
    pub type c_int = i32;
    /// `unsigned int`.
    pub type c_uint = u32;
    /// `long`: 32 bits on Windows.
    pub type c_long = i32;
    /// `unsigned long`: 32 bits on Windows.
    pub type c_ulong = u32;
    /// `long long`.
    pub type c_longlong = i64;
    /// `unsigned long long`.
    pub type c_ulonglong = u64;
    /// `void`.
    pub type c_void = core::ffi::c_void;
}

/// The generated declarations.
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
    reason = "bindgen output for wdk-decls, kept as generated"
)]
pub mod generated {
    include!(concat!(env!("OUT_DIR"), "/wdk_decls.rs"));
}
