//! The driver's hand-written Windows constants (`driver/src/constants.rs`) against Microsoft's
//! metadata (`windows-sys`) or, for the items the metadata lacks, the documented header value.

#![forbid(unsafe_code)]

// driver/ builds only for the Windows target (its modules use wdk-sys), so its crate cannot be a
// dependency here. Its constants live in one file that uses nothing but integer types and
// ferrofilter-core, which is compiled into this test as a module of its own.
#[path = "../../driver/src/constants.rs"]
mod driver_constants;

use driver_constants as dc;
use ferrofilter_abi::check::assert_all;
use ferrofilter_abi::{check, documented};
use windows_sys::Wdk::Storage::FileSystem as wfs;
use windows_sys::Wdk::Storage::FileSystem::Minifilters as flt;
use windows_sys::Wdk::System::SystemServices as ss;
use windows_sys::Win32::Foundation as f;
use windows_sys::Win32::System::Ioctl as ioctl;

#[test]
fn filter_manager_constants_match_fltkernel_h() {
    let checks = [
        check!(dc::IRP_MJ_OPERATION_END, flt::IRP_MJ_OPERATION_END),
        check!(dc::FLT_REGISTRATION_VERSION, flt::FLT_REGISTRATION_VERSION),
        check!(
            dc::FLT_REGISTRATION_VERSION,
            flt::FLT_REGISTRATION_VERSION_0203
        ),
        check!(dc::FLT_STREAM_CONTEXT, flt::FLT_STREAM_CONTEXT),
        check!(dc::FLT_STREAMHANDLE_CONTEXT, flt::FLT_STREAMHANDLE_CONTEXT),
        check!(dc::FLT_CONTEXT_END, flt::FLT_CONTEXT_END),
        check!(
            dc::FLTFL_FILTER_UNLOAD_MANDATORY,
            flt::FLTFL_FILTER_UNLOAD_MANDATORY
        ),
        check!(
            dc::FLTFL_POST_OPERATION_DRAINING,
            flt::FLTFL_POST_OPERATION_DRAINING
        ),
        check!(
            dc::FLT_FLUSH_TYPE_FLUSH_AND_PURGE,
            flt::FLT_FLUSH_TYPE_FLUSH_AND_PURGE
        ),
        check!(
            dc::FLTFL_IO_OPERATION_DO_NOT_UPDATE_BYTE_OFFSET,
            flt::FLTFL_IO_OPERATION_DO_NOT_UPDATE_BYTE_OFFSET
        ),
    ];
    assert_eq!(assert_all(&checks), 10);
}

#[test]
fn irp_codes_modes_and_flags_match_wdm_h() {
    let checks = [
        check!(dc::IRP_MJ_CREATE, ss::IRP_MJ_CREATE),
        check!(dc::IRP_MJ_WRITE, ss::IRP_MJ_WRITE),
        check!(dc::IRP_MJ_SET_INFORMATION, ss::IRP_MJ_SET_INFORMATION),
        check!(
            dc::IRP_MJ_FILE_SYSTEM_CONTROL,
            ss::IRP_MJ_FILE_SYSTEM_CONTROL
        ),
        check!(dc::IRP_MJ_CLEANUP, ss::IRP_MJ_CLEANUP),
        check!(dc::IRP_MN_USER_FS_REQUEST, ss::IRP_MN_USER_FS_REQUEST),
        check!(dc::IRP_MN_KERNEL_CALL, ss::IRP_MN_KERNEL_CALL),
        check!(dc::IRP_NOCACHE, ss::IRP_NOCACHE),
        check!(dc::USER_MODE, ss::UserMode),
        check!(dc::KERNEL_MODE, ss::KernelMode),
        check!(
            dc::FILE_DEVICE_NETWORK_FILE_SYSTEM,
            ioctl::FILE_DEVICE_NETWORK_FILE_SYSTEM
        ),
        check!(dc::METHOD_BUFFERED, ioctl::METHOD_BUFFERED),
        check!(dc::GENERIC_READ, f::GENERIC_READ),
        check!(dc::FILE_OPEN, wfs::FILE_OPEN),
        check!(dc::FILE_NON_DIRECTORY_FILE, wfs::FILE_NON_DIRECTORY_FILE),
        check!(dc::STATUS_TIMEOUT.0, f::STATUS_TIMEOUT.cast_unsigned()),
        check!(dc::OBJ_KERNEL_HANDLE, f::OBJ_KERNEL_HANDLE),
        check!(dc::OBJ_FORCE_ACCESS_CHECK, f::OBJ_FORCE_ACCESS_CHECK),
    ];
    assert_eq!(assert_all(&checks), 18);
}

#[test]
fn constants_missing_from_the_metadata_match_the_headers() {
    // windows-sys has no KMDF items and no dpfilter.h items; the values are the headers'
    // (see ferrofilter_abi::documented for where each comes from).
    let checks = [
        check!(
            dc::WDF_DRIVER_INIT_NON_PNP_DRIVER,
            documented::WDF_DRIVER_INIT_NON_PNP_DRIVER
        ),
        check!(dc::DPFLTR_IHVDRIVER_ID, documented::DPFLTR_IHVDRIVER_ID),
        check!(dc::DPFLTR_ERROR_LEVEL, documented::DPFLTR_ERROR_LEVEL),
        check!(dc::DPFLTR_WARNING_LEVEL, documented::DPFLTR_WARNING_LEVEL),
        check!(dc::DPFLTR_TRACE_LEVEL, documented::DPFLTR_TRACE_LEVEL),
        check!(dc::DPFLTR_INFO_LEVEL, documented::DPFLTR_INFO_LEVEL),
    ];
    assert_eq!(assert_all(&checks), 6);
}

/// Compiles only when `value` has the type of the callback's single parameter.
fn fits_arg_1<A, R>(_callback: Option<unsafe extern "system" fn(A) -> R>, _value: A) {}

/// Compiles only when `value` has the type of the callback's third parameter.
fn fits_arg_3<A, B, C, D, R>(
    _callback: Option<unsafe extern "system" fn(A, B, C, D) -> R>,
    _value: C,
) {
}

/// Compiles only when `value` has the type of the callback's fourth parameter.
fn fits_arg_4<A, B, C, D, R>(
    _callback: Option<unsafe extern "system" fn(A, B, C, D) -> R>,
    _value: D,
) {
}

/// Each constant has the type of the `windows-sys` field or callback parameter it is stored in or
/// compared with (the WDK bindings use the same C types): a wrong width fails to compile.
#[test]
fn constants_have_the_types_of_the_fields_they_fill() {
    for major in [
        dc::IRP_MJ_CREATE,
        dc::IRP_MJ_WRITE,
        dc::IRP_MJ_SET_INFORMATION,
        dc::IRP_MJ_FILE_SYSTEM_CONTROL,
        dc::IRP_MJ_CLEANUP,
        dc::IRP_MJ_OPERATION_END,
    ] {
        let operation = flt::FLT_OPERATION_REGISTRATION {
            MajorFunction: major,
            ..Default::default()
        };
        assert_eq!(operation.MajorFunction, major);
        fits_arg_4(operation.PostOperation, dc::FLTFL_POST_OPERATION_DRAINING);
    }

    let registration = flt::FLT_REGISTRATION {
        Version: dc::FLT_REGISTRATION_VERSION,
        ..Default::default()
    };
    assert_eq!(registration.Version, dc::FLT_REGISTRATION_VERSION);
    fits_arg_1(
        registration.FilterUnloadCallback,
        dc::FLTFL_FILTER_UNLOAD_MANDATORY,
    );
    fits_arg_3(
        registration.InstanceSetupCallback,
        dc::FILE_DEVICE_NETWORK_FILE_SYSTEM,
    );

    for context_type in [
        dc::FLT_STREAM_CONTEXT,
        dc::FLT_STREAMHANDLE_CONTEXT,
        dc::FLT_CONTEXT_END,
    ] {
        let context = flt::FLT_CONTEXT_REGISTRATION {
            ContextType: context_type,
            ..Default::default()
        };
        assert_eq!(context.ContextType, context_type);
    }

    // KPROCESSOR_MODE, as FLT_CALLBACK_DATA.RequestorMode holds it.
    for mode in [dc::USER_MODE, dc::KERNEL_MODE] {
        let data = flt::FLT_CALLBACK_DATA {
            RequestorMode: mode,
            ..Default::default()
        };
        assert_eq!(data.RequestorMode, mode);
    }

    for minor in [dc::IRP_MN_USER_FS_REQUEST, dc::IRP_MN_KERNEL_CALL] {
        let iopb = flt::FLT_IO_PARAMETER_BLOCK {
            MinorFunction: minor,
            IrpFlags: dc::IRP_NOCACHE,
            ..Default::default()
        };
        assert_eq!(
            (iopb.MinorFunction, iopb.IrpFlags),
            (minor, dc::IRP_NOCACHE)
        );
    }

    // The remaining constants are ULONG / ACCESS_MASK parameters of WDF and Ob calls, which
    // windows-sys does not declare (KMDF) or declares as plain u32; their width is u32.
    let _: [u32; 12] = [
        dc::FLT_FLUSH_TYPE_FLUSH_AND_PURGE,
        dc::FLTFL_IO_OPERATION_DO_NOT_UPDATE_BYTE_OFFSET,
        dc::GENERIC_READ,
        dc::FILE_OPEN,
        dc::FILE_NON_DIRECTORY_FILE,
        dc::METHOD_BUFFERED,
        dc::WDF_DRIVER_INIT_NON_PNP_DRIVER,
        dc::DPFLTR_IHVDRIVER_ID,
        dc::DPFLTR_ERROR_LEVEL,
        dc::DPFLTR_WARNING_LEVEL,
        dc::DPFLTR_TRACE_LEVEL,
        dc::DPFLTR_INFO_LEVEL,
    ];
}
