//! Small functions for calling KMDF: structure sizes, `WDF_OBJECT_ATTRIBUTES_INIT`, and turning
//! an `NTSTATUS` into a `Result` over core's [`NtStatus`].
//!
//! Unverified here: written from wdfobject.h / wdffuncenum.h (KMDF 1.33); never compiled.

use ferrofilter_core::NtStatus;
use wdk_sys::{
    _WDF_EXECUTION_LEVEL, _WDF_SYNCHRONIZATION_SCOPE, NTSTATUS, ULONG, WDF_OBJECT_ATTRIBUTES,
};

/// `WDF_STRUCTURE_SIZE(T)` (wdffuncenum.h): `(ULONG)sizeof(T)`.
#[allow(
    clippy::cast_possible_truncation,
    reason = "the const assertion proves the size fits in a ULONG"
)]
pub const fn struct_size<T>() -> ULONG {
    const {
        assert!(size_of::<T>() <= ULONG::MAX as usize);
    }
    size_of::<T>() as ULONG
}

/// `WDF_OBJECT_ATTRIBUTES_INIT` (wdfobject.h): zeroed, sized, execution level and
/// synchronization scope inherited from the parent.
pub fn object_attributes() -> WDF_OBJECT_ATTRIBUTES {
    WDF_OBJECT_ATTRIBUTES {
        Size: struct_size::<WDF_OBJECT_ATTRIBUTES>(),
        ExecutionLevel: _WDF_EXECUTION_LEVEL::WdfExecutionLevelInheritFromParent,
        SynchronizationScope: _WDF_SYNCHRONIZATION_SCOPE::WdfSynchronizationScopeInheritFromParent,
        ..WDF_OBJECT_ATTRIBUTES::default()
    }
}

/// `NT_SUCCESS(status)` as a `Result`.
pub const fn check(status: NTSTATUS) -> Result<(), NtStatus> {
    let status = NtStatus::from_i32(status);
    if status.is_success() {
        Ok(())
    } else {
        Err(status)
    }
}

/// A `static` holding kernel structures with raw pointers (registration tables, constant
/// `UNICODE_STRING`s), which Rust does not consider `Sync` by themselves.
#[repr(transparent)]
pub struct Shared<T>(pub T);

// SAFETY: `Shared` is only used for statics that are never written after their constant
// initializer; the kernel only reads them, so sharing them between threads is sound.
unsafe impl<T> Sync for Shared<T> {}
