//! Values and x64 layouts as the headers and documentation give them, for the items the tests
//! cannot take from `windows-sys`.
//!
//! Three kinds:
//! - Items `windows-sys` does not carry: KMDF (`wdfdriver.h`), `dpfilter.h`, the `CTL_CODE`
//!   macro and its reserved ranges, the layout of `FLT_PARAMETERS.Create.Options`.
//! - Fields `windows-sys` lays out wrongly. The headers mark some fields `POINTER_ALIGNMENT`
//!   (`DECLSPEC_ALIGN(8)` on x64, nothing on x86: wdm.h, fltKernel.h); the Win32 metadata drops
//!   the attribute (windows-rs issues #4404 and #4967, REFERENCE.md §10), so `windows-sys` packs
//!   those fields right after the previous one. [`flt_parameters_create`],
//!   [`flt_parameters_fsctl_buffered`] and [`io_stack_location`] give the header offsets.
//! - Sizes and offsets REFERENCE.md §10 records for the Filter Manager structs where
//!   `windows-sys` is right, so a C declaration header can be checked against both.
//!
//! Every offset below is in bytes on x64 and was derived from the header declarations
//! (WDK 10.0.22621.0: km/wdm.h, km/fltKernel.h) with `POINTER_ALIGNMENT` = 8-byte alignment.

/// `CTL_CODE` (wdm.h / devioctl.h):
/// `((DeviceType) << 16) | ((Access) << 14) | ((Function) << 2) | (Method)`.
#[must_use]
pub const fn ctl_code(device_type: u32, function: u32, method: u32, access: u32) -> u32 {
    (device_type << 16) | (access << 14) | (function << 2) | method
}

/// A control code split into its `CTL_CODE` fields (the inverse of [`ctl_code`]; wdm.h's
/// `DEVICE_TYPE_FROM_CTL_CODE` and `METHOD_FROM_CTL_CODE` give the first and last).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CtlCode {
    /// Bits 16..32, `DEVICE_TYPE_FROM_CTL_CODE`.
    pub device_type: u32,
    /// Bits 14..16 (`FILE_ANY_ACCESS`, `FILE_READ_ACCESS`, `FILE_WRITE_ACCESS`).
    pub access: u32,
    /// Bits 2..14.
    pub function: u32,
    /// Bits 0..2, `METHOD_FROM_CTL_CODE`.
    pub method: u32,
}

impl CtlCode {
    /// Splits `code`.
    #[must_use]
    pub const fn decode(code: u32) -> Self {
        Self {
            device_type: (code & 0xFFFF_0000) >> 16,
            access: (code >> 14) & 0x3,
            function: (code >> 2) & 0xFFF,
            method: code & 0x3,
        }
    }
}

/// The first device type not reserved for Microsoft: wdm.h, "values used by Microsoft
/// Corporation are in the range 0-32767, and 32768-65535 are reserved for use by customers".
pub const CUSTOMER_DEVICE_TYPE_MIN: u32 = 0x8000;
/// The first function code not reserved for Microsoft: wdm.h, "function codes 0-2047 are
/// reserved for Microsoft Corporation, and 2048-4095 are reserved for customers".
pub const CUSTOMER_FUNCTION_MIN: u32 = 0x800;

/// The altitudes of the "`FSFilter` Activity Monitor" load order group (REFERENCE.md §8; "Load
/// order groups and altitudes for minifilter drivers").
pub const ACTIVITY_MONITOR_ALTITUDES: core::ops::RangeInclusive<u32> = 360_000..=389_999;

/// `FLT_PARAMETERS.Create.Options` (fltKernel.h): "The low 24 bits contains `CreateOptions` flag
/// values. The high 8 bits contains the `CreateDisposition` values."
pub const CREATE_DISPOSITION_SHIFT: u32 = 24;
/// The create-options part of `FLT_PARAMETERS.Create.Options`.
pub const CREATE_OPTIONS_MASK: u32 = 0x00FF_FFFF;

/// `WdfDriverInitNonPnpDriver` (wdfdriver.h, KMDF 1.33, `WDF_DRIVER_INIT_FLAGS`;
/// microsoft/Windows-Driver-Frameworks `src/publicinc/wdf/kmdf/1.33/wdfdriver.h`). KMDF is not
/// in the Win32 metadata.
pub const WDF_DRIVER_INIT_NON_PNP_DRIVER: u32 = 0x0000_0001;

/// `DPFLTR_IHVDRIVER_ID` (dpfilter.h, `enum _DPFLTR_TYPE`; the public copy in mingw-w64,
/// `mingw-w64-headers/include/dpfilter.h`, has the same value). Not in the Win32 metadata.
pub const DPFLTR_IHVDRIVER_ID: u32 = 77;
/// `DPFLTR_ERROR_LEVEL` (dpfilter.h).
pub const DPFLTR_ERROR_LEVEL: u32 = 0;
/// `DPFLTR_WARNING_LEVEL` (dpfilter.h).
pub const DPFLTR_WARNING_LEVEL: u32 = 1;
/// `DPFLTR_TRACE_LEVEL` (dpfilter.h).
pub const DPFLTR_TRACE_LEVEL: u32 = 2;
/// `DPFLTR_INFO_LEVEL` (dpfilter.h).
pub const DPFLTR_INFO_LEVEL: u32 = 3;

/// `FLT_FSTYPE_CSVFS` (fltUserStructures.h, REFERENCE.md §10).
pub const FLT_FSTYPE_CSVFS: i32 = 27;
/// `FLT_FSTYPE_REFS` (fltUserStructures.h, REFERENCE.md §10).
pub const FLT_FSTYPE_REFS: i32 = 28;

/// `FLT_PARAMETERS.Create` on x64 (fltKernel.h):
///
/// ```c
/// PIO_SECURITY_CONTEXT SecurityContext;
/// ULONG Options;
/// USHORT POINTER_ALIGNMENT FileAttributes;
/// USHORT ShareAccess;
/// ULONG POINTER_ALIGNMENT EaLength;
/// PVOID EaBuffer;
/// LARGE_INTEGER AllocationSize;
/// ```
pub mod flt_parameters_create {
    /// `SecurityContext`.
    pub const SECURITY_CONTEXT: usize = 0;
    /// `Options`.
    pub const OPTIONS: usize = 8;
    /// `FileAttributes` (`POINTER_ALIGNMENT`).
    pub const FILE_ATTRIBUTES: usize = 16;
    /// `ShareAccess`.
    pub const SHARE_ACCESS: usize = 18;
    /// `EaLength` (`POINTER_ALIGNMENT`).
    pub const EA_LENGTH: usize = 24;
    /// `EaBuffer`.
    pub const EA_BUFFER: usize = 32;
    /// `AllocationSize`.
    pub const ALLOCATION_SIZE: usize = 40;
    /// The size of the struct.
    pub const SIZE: usize = 48;
}

/// `FLT_PARAMETERS.FileSystemControl.Buffered` (the `METHOD_BUFFERED` FSCTL parameters) on x64
/// (fltKernel.h):
///
/// ```c
/// ULONG OutputBufferLength;
/// ULONG POINTER_ALIGNMENT InputBufferLength;
/// ULONG POINTER_ALIGNMENT FsControlCode;
/// PVOID SystemBuffer;
/// ```
pub mod flt_parameters_fsctl_buffered {
    /// `OutputBufferLength`.
    pub const OUTPUT_BUFFER_LENGTH: usize = 0;
    /// `InputBufferLength` (`POINTER_ALIGNMENT`).
    pub const INPUT_BUFFER_LENGTH: usize = 8;
    /// `FsControlCode` (`POINTER_ALIGNMENT`).
    pub const FS_CONTROL_CODE: usize = 16;
    /// `SystemBuffer`.
    pub const SYSTEM_BUFFER: usize = 24;
    /// The size of the struct.
    pub const SIZE: usize = 32;
}

/// `IO_STACK_LOCATION` on x64 (wdm.h). Its `Parameters` union holds the same
/// `POINTER_ALIGNMENT` fields as `FLT_PARAMETERS`, which `windows-sys` lays out without the
/// alignment; the header fields around it are unaffected.
pub mod io_stack_location {
    /// `MajorFunction`.
    pub const MAJOR_FUNCTION: usize = 0;
    /// `MinorFunction`.
    pub const MINOR_FUNCTION: usize = 1;
    /// `Flags`.
    pub const FLAGS: usize = 2;
    /// `Control`.
    pub const CONTROL: usize = 3;
    /// `Parameters` (a union of pointer alignment).
    pub const PARAMETERS: usize = 8;
    /// `DeviceObject`.
    pub const DEVICE_OBJECT: usize = 40;
    /// `FileObject`.
    pub const FILE_OBJECT: usize = 48;
    /// `CompletionRoutine`.
    pub const COMPLETION_ROUTINE: usize = 56;
    /// `Context`.
    pub const CONTEXT: usize = 64;
    /// The size of the struct.
    pub const SIZE: usize = 72;

    /// `Parameters.Create`, relative to `Parameters`:
    /// `{ PIO_SECURITY_CONTEXT SecurityContext; ULONG Options; USHORT POINTER_ALIGNMENT
    /// FileAttributes; USHORT ShareAccess; ULONG POINTER_ALIGNMENT EaLength; }`.
    pub mod create {
        /// `SecurityContext`.
        pub const SECURITY_CONTEXT: usize = 0;
        /// `Options`.
        pub const OPTIONS: usize = 8;
        /// `FileAttributes` (`POINTER_ALIGNMENT`).
        pub const FILE_ATTRIBUTES: usize = 16;
        /// `ShareAccess`.
        pub const SHARE_ACCESS: usize = 18;
        /// `EaLength` (`POINTER_ALIGNMENT`).
        pub const EA_LENGTH: usize = 24;
    }

    /// `Parameters.FileSystemControl`, relative to `Parameters`:
    /// `{ ULONG OutputBufferLength; ULONG POINTER_ALIGNMENT InputBufferLength; ULONG
    /// POINTER_ALIGNMENT FsControlCode; PVOID Type3InputBuffer; }`.
    pub mod file_system_control {
        /// `OutputBufferLength`.
        pub const OUTPUT_BUFFER_LENGTH: usize = 0;
        /// `InputBufferLength` (`POINTER_ALIGNMENT`).
        pub const INPUT_BUFFER_LENGTH: usize = 8;
        /// `FsControlCode` (`POINTER_ALIGNMENT`).
        pub const FS_CONTROL_CODE: usize = 16;
        /// `Type3InputBuffer`.
        pub const TYPE3_INPUT_BUFFER: usize = 24;
    }
}

/// x64 sizes and offsets REFERENCE.md §10 records for structs `windows-sys` lays out correctly
/// (checked against [`crate::layouts`] by the tests).
pub mod reference {
    /// `sizeof(FLT_REGISTRATION)` (version 0x0203, ending with `SectionNotificationCallback`).
    pub const FLT_REGISTRATION_SIZE: usize = 112;
    /// Offset of the first callback of `FLT_REGISTRATION` (`FilterUnloadCallback`); the
    /// callbacks follow it 8 bytes apart.
    pub const FLT_REGISTRATION_CALLBACKS: usize = 24;
    /// `sizeof(FLT_OPERATION_REGISTRATION)`.
    pub const FLT_OPERATION_REGISTRATION_SIZE: usize = 32;
    /// `sizeof(FLT_CONTEXT_REGISTRATION)`.
    pub const FLT_CONTEXT_REGISTRATION_SIZE: usize = 56;
    /// `sizeof(FLT_CALLBACK_DATA)`.
    pub const FLT_CALLBACK_DATA_SIZE: usize = 88;
    /// `FLT_CALLBACK_DATA.Iopb`.
    pub const FLT_CALLBACK_DATA_IOPB: usize = 16;
    /// `FLT_CALLBACK_DATA.IoStatus`.
    pub const FLT_CALLBACK_DATA_IO_STATUS: usize = 24;
    /// `FLT_CALLBACK_DATA.RequestorMode`.
    pub const FLT_CALLBACK_DATA_REQUESTOR_MODE: usize = 80;
    /// `sizeof(FLT_IO_PARAMETER_BLOCK)`.
    pub const FLT_IO_PARAMETER_BLOCK_SIZE: usize = 72;
    /// `FLT_IO_PARAMETER_BLOCK.Parameters`.
    pub const FLT_IO_PARAMETER_BLOCK_PARAMETERS: usize = 24;
    /// `sizeof(FLT_PARAMETERS)`.
    pub const FLT_PARAMETERS_SIZE: usize = 48;
    /// `sizeof(FLT_RELATED_OBJECTS)`.
    pub const FLT_RELATED_OBJECTS_SIZE: usize = 48;
    /// `sizeof(OPLOCK_KEY_ECP_CONTEXT)` (REFERENCE.md §4).
    pub const OPLOCK_KEY_ECP_CONTEXT_SIZE: usize = 20;
    /// `sizeof(DUAL_OPLOCK_KEY_ECP_CONTEXT)`: 34 bytes of fields, padded to 4 (REFERENCE.md §4).
    pub const DUAL_OPLOCK_KEY_ECP_CONTEXT_SIZE: usize = 36;
    /// `sizeof(OPLOCK_KEY_CONTEXT)`.
    pub const OPLOCK_KEY_CONTEXT_SIZE: usize = 40;
    /// `sizeof(SET_PURGE_FAILURE_MODE_INPUT)`: one `ULONG Flags` (REFERENCE.md §5).
    pub const SET_PURGE_FAILURE_MODE_INPUT_SIZE: usize = 4;
}
