//! The function table the driver calls through, at the `WDFFUNCENUM` indices of KMDF 1.33.
#![allow(non_snake_case, reason = "the framework's method names")]

use super::super::APC_LEVEL;
use super::super::layout::{IO_STATUS_BLOCK, WDF_REQUEST_COMPLETION_PARAMS};

use super::{
    REQUEST_TYPE_READ, TABLE_ENTRIES, WdfControlDeviceInitAllocate, WdfControlFinishInitializing,
    WdfDeviceCreate, WdfDeviceCreateSymbolicLink, WdfDeviceEnqueueRequest,
    WdfDeviceGetDefaultQueue, WdfDeviceInitAssignName, WdfDeviceInitFree,
    WdfDeviceInitSetFileObjectConfig, WdfDeviceInitSetIoInCallerContextCallback,
    WdfDeviceInitSetRequestAttributes, WdfDeviceWdmGetDeviceObject, WdfDriverCreate,
    WdfFileObjectGetDevice, WdfIoQueueCreate, WdfIoQueueGetDevice, WdfIoQueueStart, WdfIoQueueStop,
    WdfIoTargetClose, WdfIoTargetCreate, WdfIoTargetFormatRequestForRead, WdfIoTargetGetDevice,
    WdfIoTargetOpen, WdfIoTargetWdmGetTargetDeviceObject, WdfObjectDelete,
    WdfObjectDereferenceActual, WdfObjectGetTypedContextWorker, WdfObjectReferenceActual,
    WdfRequestCancelSentRequest, WdfRequestCompleteWithInformation, WdfRequestCreate,
    WdfRequestGetFileObject, WdfRequestGetParameters, WdfRequestGetStatus,
    WdfRequestRetrieveInputBuffer, WdfRequestRetrieveOutputBuffer, WdfRequestRetrieveOutputMemory,
    WdfRequestSend, WdfRequestSetCompletionRoutine, WdfSpinLockAcquire, WdfSpinLockCreate,
    WdfSpinLockRelease,
};

/// An untyped table entry.
pub type Entry = Option<unsafe extern "C" fn()>;

macro_rules! entries {
    ($($index:literal => $name:ident),* $(,)?) => {
        /// The methods the sim provides, by `WDFFUNCENUM` index (KMDF 1.33).
        pub const METHODS: &[(usize, &str)] = &[$(($index, stringify!($name))),*];

        /// The function table.
        #[must_use]
        pub fn table() -> Box<[Entry; TABLE_ENTRIES]> {
            let mut table: Box<[Entry; TABLE_ENTRIES]> = Box::new([None; TABLE_ENTRIES]);
            $(
                // SAFETY: the loader stores every method as an untyped function pointer; the
                // binding casts it back to the method's PFN type for its index, which is the
                // signature defined above.
                table[$index] = Some(unsafe {
                    core::mem::transmute::<*const (), unsafe extern "C" fn()>($name as *const ())
                });
            )*
            table
        }
    };
}

entries! {
    25 => WdfControlDeviceInitAllocate,
    27 => WdfControlFinishInitializing,
    31 => WdfDeviceWdmGetDeviceObject,
    54 => WdfDeviceInitFree,
    67 => WdfDeviceInitAssignName,
    71 => WdfDeviceInitSetFileObjectConfig,
    72 => WdfDeviceInitSetRequestAttributes,
    74 => WdfDeviceInitSetIoInCallerContextCallback,
    75 => WdfDeviceCreate,
    80 => WdfDeviceCreateSymbolicLink,
    91 => WdfDeviceEnqueueRequest,
    92 => WdfDeviceGetDefaultQueue,
    116 => WdfDriverCreate,
    139 => WdfFileObjectGetDevice,
    152 => WdfIoQueueCreate,
    154 => WdfIoQueueStart,
    155 => WdfIoQueueStop,
    157 => WdfIoQueueGetDevice,
    167 => WdfIoTargetCreate,
    168 => WdfIoTargetOpen,
    170 => WdfIoTargetClose,
    174 => WdfIoTargetGetDevice,
    178 => WdfIoTargetWdmGetTargetDeviceObject,
    183 => WdfIoTargetFormatRequestForRead,
    202 => WdfObjectGetTypedContextWorker,
    205 => WdfObjectReferenceActual,
    206 => WdfObjectDereferenceActual,
    208 => WdfObjectDelete,
    247 => WdfRequestCreate,
    253 => WdfRequestSend,
    254 => WdfRequestGetStatus,
    258 => WdfRequestCancelSentRequest,
    260 => WdfRequestSetCompletionRoutine,
    265 => WdfRequestCompleteWithInformation,
    266 => WdfRequestGetParameters,
    268 => WdfRequestRetrieveOutputMemory,
    269 => WdfRequestRetrieveInputBuffer,
    270 => WdfRequestRetrieveOutputBuffer,
    277 => WdfRequestGetFileObject,
    315 => WdfSpinLockCreate,
    316 => WdfSpinLockAcquire,
    317 => WdfSpinLockRelease,
}

/// The completion parameters a completion routine gets.
#[must_use]
pub fn completion_params(status: i32, information: usize) -> WDF_REQUEST_COMPLETION_PARAMS {
    WDF_REQUEST_COMPLETION_PARAMS {
        Size: u32::try_from(size_of::<WDF_REQUEST_COMPLETION_PARAMS>()).unwrap_or(u32::MAX),
        Type: REQUEST_TYPE_READ,
        IoStatus: IO_STATUS_BLOCK {
            Status: status,
            Reserved: 0,
            Information: information,
        },
        Parameters: [0; 6],
    }
}

#[allow(
    dead_code,
    reason = "APC_LEVEL is part of the IRQL vocabulary the table uses"
)]
const _: u8 = APC_LEVEL;
