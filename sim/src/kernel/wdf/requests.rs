//! `WDFREQUEST`: parameters, buffers, completion, cancellation, forwarding and sending to a
//! target, with the request rules the verifier enforces.
#![allow(non_snake_case, reason = "the framework's method names")]

use super::super::layout::{WDF_DRIVER_GLOBALS, WDF_OBJECT_ATTRIBUTES, WDF_REQUEST_PARAMETERS};
use super::super::nt::{STATUS_INSUFFICIENT_RESOURCES, STATUS_SUCCESS};
use super::super::{DISPATCH_LEVEL, Kernel, Violation, with, with_deferred};
use core::ffi::c_void;

use super::{
    Body, CompletionRoutine, Object, REQUEST_TYPE_READ, Reply, RequestData, RequestState,
    STATUS_BUFFER_TOO_SMALL, STATUS_CANCELLED, STATUS_INVALID_DEVICE_STATE,
    STATUS_INVALID_PARAMETER, STATUS_REQUEST_NOT_ACCEPTED, out_handle, resolve, write_out,
};

pub(super) fn with_request<R>(
    routine: &'static str,
    max_irql: u8,
    request: *mut c_void,
    f: impl FnOnce(&mut Kernel, u32) -> R,
) -> Option<R> {
    with(|k| {
        k.enter(routine, max_irql);
        let index = resolve(k, routine, request, "WDFREQUEST")?;
        Some(f(k, index))
    })
}

pub(super) unsafe extern "C" fn WdfRequestGetStatus(
    _globals: *mut WDF_DRIVER_GLOBALS,
    request: *mut c_void,
) -> i32 {
    super::super::pool::as_kernel(|| {
        with_request(
            "WdfRequestGetStatus",
            DISPATCH_LEVEL,
            request,
            |k, index| {
                k.wdf
                    .request(index)
                    .map_or(STATUS_INVALID_PARAMETER, |data| data.status)
            },
        )
        .unwrap_or(STATUS_INVALID_PARAMETER)
    })
}

pub(super) unsafe extern "C" fn WdfRequestGetFileObject(
    _globals: *mut WDF_DRIVER_GLOBALS,
    request: *mut c_void,
) -> *mut c_void {
    super::super::pool::as_kernel(|| {
        with_request(
            "WdfRequestGetFileObject",
            DISPATCH_LEVEL,
            request,
            |k, index| {
                let file = k.wdf.request(index).and_then(|data| data.file)?;
                Some(k.wdf.handle(file) as *mut c_void)
            },
        )
        .flatten()
        .unwrap_or(core::ptr::null_mut())
    })
}

pub(super) unsafe extern "C" fn WdfRequestGetParameters(
    _globals: *mut WDF_DRIVER_GLOBALS,
    request: *mut c_void,
    parameters: *mut WDF_REQUEST_PARAMETERS,
) {
    super::super::pool::as_kernel(|| {
        let values = with_request(
            "WdfRequestGetParameters",
            DISPATCH_LEVEL,
            request,
            |k, index| {
                k.wdf
                    .request(index)
                    .map(|data| (data.kind, data.output_length, data.input_length, data.code))
            },
        )
        .flatten();
        let Some((kind, output, input, code)) = values else {
            return;
        };
        // SAFETY: the driver passes its parameters structure, initialized with its size.
        let parameters = unsafe { &mut *parameters };
        if usize::from(parameters.Size) != size_of::<WDF_REQUEST_PARAMETERS>() {
            with(|k| {
                k.report(Violation::BadArgument {
                    routine: "WdfRequestGetParameters",
                    detail: format!(
                        "Size {} (WDF_REQUEST_PARAMETERS_INIT sets {})",
                        parameters.Size,
                        size_of::<WDF_REQUEST_PARAMETERS>()
                    ),
                });
            });
            return;
        }
        parameters.Type = kind;
        parameters.MinorFunction = 0;
        parameters.Parameters.DeviceIoControl =
            super::super::layout::WDF_DEVICE_IO_CONTROL_PARAMETERS {
                OutputBufferLength: output,
                InputBufferLength: input,
                IoControlCode: code,
                Type3InputBuffer: core::ptr::null_mut(),
            };
    });
}

fn retrieve(
    routine: &'static str,
    request: *mut c_void,
    minimum: usize,
    input: bool,
    buffer: *mut *mut c_void,
    length: *mut usize,
) -> i32 {
    let found = with_request(routine, DISPATCH_LEVEL, request, |k, index| {
        if k.fails(routine) {
            return Err(STATUS_INSUFFICIENT_RESOURCES);
        }
        let data = k.wdf.request(index).ok_or(STATUS_INVALID_PARAMETER)?;
        let size = if input {
            data.input_length
        } else {
            data.output_length
        };
        if size == 0 {
            return Err(STATUS_BUFFER_TOO_SMALL);
        }
        if size < minimum {
            return Err(STATUS_BUFFER_TOO_SMALL);
        }
        Ok((data.buffer.as_mut_ptr(), size))
    })
    .unwrap_or(Err(STATUS_INVALID_PARAMETER));
    match found {
        Ok((address, size)) => {
            // SAFETY: the driver's out pointers (length is optional).
            unsafe { write_out(buffer, address.cast()) };
            // SAFETY: as above.
            unsafe { write_out(length, size) };
            STATUS_SUCCESS
        }
        Err(status) => status,
    }
}

/// `WdfRequestRetrieveInputBuffer` and `WdfRequestRetrieveOutputBuffer`: one retrieval under
/// each routine's own name, `$input` choosing the buffer.
macro_rules! retrieve_routine {
    ($name:ident, $input:literal) => {
        pub(super) unsafe extern "C" fn $name(
            _globals: *mut WDF_DRIVER_GLOBALS,
            request: *mut c_void,
            minimum: usize,
            buffer: *mut *mut c_void,
            length: *mut usize,
        ) -> i32 {
            super::super::pool::as_kernel(|| {
                retrieve(stringify!($name), request, minimum, $input, buffer, length)
            })
        }
    };
}

retrieve_routine!(WdfRequestRetrieveInputBuffer, true);
retrieve_routine!(WdfRequestRetrieveOutputBuffer, false);

pub(super) unsafe extern "C" fn WdfRequestRetrieveOutputMemory(
    _globals: *mut WDF_DRIVER_GLOBALS,
    request: *mut c_void,
    memory: *mut *mut c_void,
) -> i32 {
    super::super::pool::as_kernel(|| {
        let created = with_request(
            "WdfRequestRetrieveOutputMemory",
            DISPATCH_LEVEL,
            request,
            |k, index| {
                if k.fails("WdfRequestRetrieveOutputMemory") {
                    return Err(STATUS_INSUFFICIENT_RESOURCES);
                }
                let size = k.wdf.request(index).map_or(0, |data| data.output_length);
                if size == 0 {
                    return Err(STATUS_BUFFER_TOO_SMALL);
                }
                // SAFETY: null attributes.
                unsafe {
                    k.wdf.create(
                        Body::Memory { request: index },
                        core::ptr::null(),
                        Some(index),
                    )
                }
                .map(|(_, handle)| handle)
            },
        )
        .unwrap_or(Err(STATUS_INVALID_PARAMETER));
        // SAFETY: the driver's out pointer.
        unsafe { out_handle(created, memory) }
    })
}

pub(super) unsafe extern "C" fn WdfRequestSetCompletionRoutine(
    _globals: *mut WDF_DRIVER_GLOBALS,
    request: *mut c_void,
    routine: Option<CompletionRoutine>,
    context: *mut c_void,
) {
    super::super::pool::as_kernel(|| {
        with_request(
            "WdfRequestSetCompletionRoutine",
            DISPATCH_LEVEL,
            request,
            |k, index| {
                if let Some(data) = k.wdf.request(index) {
                    data.routine = routine.map(|routine| (routine, context as usize));
                }
            },
        );
    });
}

pub(super) unsafe extern "C" fn WdfRequestCreate(
    _globals: *mut WDF_DRIVER_GLOBALS,
    attributes: *const WDF_OBJECT_ATTRIBUTES,
    target: *mut c_void,
    request: *mut *mut c_void,
) -> i32 {
    super::super::pool::as_kernel(|| {
        let created = with(|k| {
            k.enter("WdfRequestCreate", DISPATCH_LEVEL);
            let stack_size = if target.is_null() {
                1
            } else {
                let index = resolve(k, "WdfRequestCreate", target, "WDFIOTARGET")
                    .ok_or(STATUS_INVALID_PARAMETER)?;
                match k.wdf.get(index).map(|object| &object.body) {
                    Some(Body::Target(data)) => data.device_object.StackSize.saturating_add(1),
                    _ => 1,
                }
            };
            if k.fails("WdfRequestCreate") {
                return Err(STATUS_INSUFFICIENT_RESOURCES);
            }
            let irp = k.wdf.next_irp();
            let data = RequestData::new(REQUEST_TYPE_READ, true, irp, stack_size);
            let driver = k.wdf.driver;
            // SAFETY: the attributes are null or the driver's.
            unsafe {
                k.wdf
                    .create(Body::Request(Box::new(data)), attributes, driver)
            }
            .map(|(_, h)| h)
        });
        // SAFETY: the driver's out pointer.
        unsafe { out_handle(created, request) }
    })
}

pub(super) unsafe extern "C" fn WdfRequestCompleteWithInformation(
    _globals: *mut WDF_DRIVER_GLOBALS,
    request: *mut c_void,
    status: i32,
    information: usize,
) {
    super::super::pool::as_kernel(|| {
        with_deferred(|k, deferred| {
            k.enter("WdfRequestCompleteWithInformation", DISPATCH_LEVEL);
            let Some(index) = resolve(
                k,
                "WdfRequestCompleteWithInformation",
                request,
                "WDFREQUEST",
            ) else {
                return;
            };
            let handle = format!("{request:p}");
            let Some(data) = k.wdf.request(index) else {
                return;
            };
            match data.state {
                RequestState::Sent | RequestState::Returned => {
                    k.report(Violation::CompletedWhileSent { handle });
                    return;
                }
                RequestState::Completed => {
                    k.report(Violation::DoubleCompletion { handle });
                    return;
                }
                RequestState::Owned => {}
            }
            if data.created {
                k.report(Violation::BadArgument {
                    routine: "WdfRequestCompleteWithInformation",
                    detail: "a request the driver created is deleted, not completed".to_owned(),
                });
                return;
            }
            data.state = RequestState::Completed;
            data.status = status;
            let shown = information.min(data.output_length).min(data.buffer.len());
            let reply = Reply {
                status,
                information,
                output: data.buffer[..shown].to_vec(),
            };
            let irp = data.irp;
            k.wdf.replies.insert(irp, reply);
            if let Some(object) = k.wdf.get_mut(index) {
                object.deleted = true;
            }
            k.wdf.release(index, deferred);
        });
    });
}

pub(super) unsafe extern "C" fn WdfRequestSend(
    _globals: *mut WDF_DRIVER_GLOBALS,
    request: *mut c_void,
    target: *mut c_void,
    _options: *mut c_void,
) -> u8 {
    super::super::pool::as_kernel(|| {
        let sent = with(|k| {
            k.enter_unlocked("WdfRequestSend", DISPATCH_LEVEL);
            let index = resolve(k, "WdfRequestSend", request, "WDFREQUEST")?;
            let target_index = resolve(k, "WdfRequestSend", target, "WDFIOTARGET")?;
            let handle = format!("{request:p}");
            let (target_open, target_stack) = match k.wdf.get(target_index).map(|o| &o.body) {
                Some(Body::Target(data)) => (data.open, data.device_object.StackSize),
                _ => (false, 0),
            };
            let fails = k.fails("WdfRequestSend");
            let sync = {
                let ppm = k.faults_sync_ppm();
                k.chance(ppm)
            };
            let data = k.wdf.request(index)?;
            let problem = if data.state != RequestState::Owned {
                Some(Violation::SendWhileSent { handle })
            } else if data.formatted.map(|(t, _)| t) != Some(target_index) {
                data.status = STATUS_INVALID_PARAMETER;
                Some(Violation::NotFormatted { handle })
            } else {
                None
            };
            if let Some(problem) = problem {
                k.report(problem);
                return Some(Err(()));
            }
            let data = k.wdf.request(index)?;
            // FxIoTarget: the IRP needs a stack location for every device of the target's stack.
            let status = if !target_open {
                Some(STATUS_INVALID_DEVICE_STATE)
            } else if data.stack_size <= target_stack {
                Some(STATUS_REQUEST_NOT_ACCEPTED)
            } else if fails {
                Some(STATUS_INSUFFICIENT_RESOURCES)
            } else {
                None
            };
            if let Some(status) = status {
                data.status = status;
                return Some(Err(()));
            }
            data.state = RequestState::Sent;
            data.sent_to = Some(target_index);
            data.cancel_requested = false;
            if let Some(Object {
                body: Body::Target(target),
                ..
            }) = k.wdf.get_mut(target_index)
            {
                target.pending.push(index);
            }
            Some(Ok(sync))
        });
        match sent {
            Some(Ok(sync)) => {
                if sync {
                    // The target finishes it before IoCallDriver returns: the completion routine
                    // runs inside WdfRequestSend, as it can on Windows.
                    let index = with(|k| k.wdf.index(request as usize));
                    if let Some(index) = index {
                        super::super::machine::target_complete(index, STATUS_SUCCESS, 0);
                        super::super::machine::deliver(index);
                    }
                }
                1
            }
            _ => 0,
        }
    })
}

pub(super) unsafe extern "C" fn WdfRequestCancelSentRequest(
    _globals: *mut WDF_DRIVER_GLOBALS,
    request: *mut c_void,
) -> u8 {
    super::super::pool::as_kernel(|| {
        let cancel = with(|k| {
            k.enter_unlocked("WdfRequestCancelSentRequest", DISPATCH_LEVEL);
            let index = resolve(k, "WdfRequestCancelSentRequest", request, "WDFREQUEST")?;
            let ignores = k.wdf.target_ignores_cancel;
            let data = k.wdf.request(index)?;
            if data.state != RequestState::Sent || data.cancel_requested {
                return Some((false, None));
            }
            data.cancel_requested = true;
            Some((true, (!ignores).then_some(index)))
        });
        match cancel {
            Some((attempted, complete)) => {
                if let Some(index) = complete {
                    super::super::machine::target_complete(index, STATUS_CANCELLED, 0);
                }
                u8::from(attempted)
            }
            None => 0,
        }
    })
}
