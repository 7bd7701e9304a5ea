//! The control device from user mode: create, `DeviceIoControl`, cleanup and close of
//! `\\.\FerroFilter` as the I/O manager sends them, and the disclosure check on every output.

use super::super::nt::{STATUS_INVALID_HANDLE, STATUS_SUCCESS};
use super::super::rules::Violation;
use super::super::wdf::{
    Body, Object, REQUEST_TYPE_CREATE, REQUEST_TYPE_DEVICE_CONTROL, Reply, RequestData,
    RequestState, STATUS_INVALID_DEVICE_STATE,
};
use super::super::{Kernel, with, with_deferred};
use core::ffi::c_void;

use super::{IoctlReply, run_work_items, target_complete};

pub(super) fn control_device(
    k: &mut Kernel,
) -> Option<(u32, super::super::wdf::DeviceSetup, Option<u32>)> {
    let device = k.wdf.device?;
    match k.wdf.get(device).map(|o| &o.body) {
        Some(Body::Device {
            setup,
            queue,
            finished: Some(_),
            ..
        }) => Some((device, *setup, *queue)),
        _ => None,
    }
}

pub(super) fn blank_request(kind: i32, file: u32, irp: u64, stack_size: i8) -> RequestData {
    RequestData {
        file: Some(file),
        ..RequestData::new(kind, false, irp, stack_size)
    }
}

pub(super) fn device_stack_size(k: &mut Kernel, device: u32) -> i8 {
    match k.wdf.get(device).map(|o| &o.body) {
        Some(Body::Device {
            device_object,
            finished,
            ..
        }) => {
            let now = device_object.StackSize;
            if finished.is_some_and(|at| at != now) {
                k.report(Violation::FrameworkStructureWritten {
                    field: "DEVICE_OBJECT.StackSize of the live control device",
                });
            }
            now
        }
        _ => 1,
    }
}

/// The pipe honours cancellation again, and completes the reads whose cancel it ignored with
/// `STATUS_CANCELLED` (callable from [`Machine::during_next_wait`]).
pub fn honour_cancels() {
    let ignored = with(|k| {
        k.wdf.target_ignores_cancel = false;
        k.wdf
            .pending_at_targets()
            .into_iter()
            .filter(|&r| k.wdf.request(r).is_some_and(|d| d.cancel_requested))
            .collect::<Vec<_>>()
    });
    for request in ignored {
        target_complete(request, super::super::wdf::STATUS_CANCELLED, 0);
    }
}

/// `CreateFile(\\.\FerroFilter)` from another thread (for [`Machine::during_next_wait`]).
///
/// # Errors
/// As [`Machine::open_control`].
pub fn open_control_from_another_thread() -> Result<u64, i32> {
    open_control()
}

pub(super) fn open_control() -> Result<u64, i32> {
    let prepared = with(|k| {
        let (device, setup, _) =
            control_device(k).ok_or(super::super::wdf::STATUS_OBJECT_NAME_NOT_FOUND)?;
        // SAFETY: null attributes; the context comes from the device's file object attributes.
        let body = Body::File {
            device,
            io_refs: 0,
            closing: false,
            close: setup.file_close,
        };
        // SAFETY: null attributes; the context comes from the device's file object attributes.
        let (file, file_handle) = unsafe { k.wdf.create(body, core::ptr::null(), Some(device)) }?;
        if let Some((type_info, size)) = setup.file_context {
            k.wdf.attach_context(file, type_info, size);
        }
        let irp = k.wdf.next_irp();
        let stack = device_stack_size(k, device);
        let (_, request) = k
            .wdf
            .new_request(blank_request(REQUEST_TYPE_CREATE, file, irp, stack), device)
            .ok_or(super::super::nt::STATUS_INSUFFICIENT_RESOURCES)?;
        k.wdf.file_io_reference(file);
        Ok::<_, i32>((
            k.wdf.handle(device),
            file,
            file_handle,
            request,
            irp,
            setup.file_create,
        ))
    });
    let (device, file, file_handle, request, irp, create) = prepared?;
    match create {
        // SAFETY: the driver's EvtDeviceFileCreate with the device, the create request and the
        // new file object, at PASSIVE_LEVEL.
        Some(create) => super::super::pool::into_driver(|| unsafe {
            create(
                device as *mut c_void,
                request as *mut c_void,
                file_handle as *mut c_void,
            );
        }),
        None => complete_framework(request, STATUS_SUCCESS),
    }
    let reply = with(|k| k.wdf.replies.remove(&irp));
    let status = reply.map_or_else(
        || {
            with(|k| {
                k.report(Violation::BadArgument {
                    routine: "EvtDeviceFileCreate",
                    detail: "returned without completing the create request".to_owned(),
                });
            });
            STATUS_INVALID_DEVICE_STATE
        },
        |reply| reply.status,
    );
    with_deferred(|k, deferred| {
        if status < 0 {
            // A failed create: the framework deletes the file object; no cleanup or close.
            k.wdf.delete(file, deferred);
            return Err(status);
        }
        k.world.next_control += 4;
        let handle = k.world.next_control | 0x1000_0000;
        k.world.control.insert(handle, file);
        Ok(handle)
    })
}

pub(super) fn complete_framework(request: usize, status: i32) {
    // The framework's own completion when the driver registered no callback.
    with(|k| {
        if let Some(index) = k.wdf.index(request)
            && let Some(data) = k.wdf.request(index)
        {
            data.state = RequestState::Completed;
            let irp = data.irp;
            k.wdf.replies.insert(
                irp,
                Reply {
                    status,
                    information: 0,
                    output: Vec::new(),
                },
            );
        }
    });
}

pub(super) fn close_control(handle: u64) -> Result<(), i32> {
    let found = with(|k| {
        let file = k.world.control.remove(&handle)?;
        let (_, setup, _) = control_device(k)?;
        Some((file, k.wdf.handle(file), setup.file_cleanup))
    });
    let Some((file, file_handle, cleanup)) = found else {
        return Err(STATUS_INVALID_HANDLE);
    };
    if let Some(cleanup) = cleanup {
        // SAFETY: the driver's EvtFileCleanup for a file object whose create succeeded.
        super::super::pool::into_driver(|| unsafe { cleanup(file_handle as *mut c_void) });
    }
    // EvtFileClose runs once no request references the file object any more.
    with_deferred(|k, deferred| {
        k.wdf.file_io_reference(file);
        if let Some(Object {
            body: Body::File { closing, .. },
            ..
        }) = k.wdf.get_mut(file)
        {
            *closing = true;
        }
        k.wdf.file_io_release(file, deferred);
    });
    Ok(())
}

pub(super) fn ioctl(handle: u64, code: u32, input: &[u8], output_length: usize) -> IoctlReply {
    let prepared = with(|k| {
        let file = *k.world.control.get(&handle)?;
        let (device, setup, queue) = control_device(k)?;
        let irp = k.wdf.next_irp();
        let stack = device_stack_size(k, device);
        let mut data = blank_request(REQUEST_TYPE_DEVICE_CONTROL, file, irp, stack);
        data.code = code;
        data.input_length = input.len();
        data.output_length = output_length;
        data.buffer = vec![0; input.len().max(output_length)];
        data.buffer[..input.len()].copy_from_slice(input);
        let (index, request) = k.wdf.new_request(data, device)?;
        k.wdf.file_io_reference(file);
        Some((
            k.wdf.handle(device),
            index,
            request,
            irp,
            setup.in_caller_context,
            queue,
        ))
    });
    let Some((device, index, request, irp, in_caller, queue)) = prepared else {
        return IoctlReply {
            status: STATUS_INVALID_HANDLE,
            information: 0,
            output: Vec::new(),
            pending: None,
        };
    };
    match in_caller {
        Some(callback) => {
            // SAFETY: the driver's EvtIoInCallerContext in the requesting thread, at
            // PASSIVE_LEVEL, with a request it has not queued yet.
            super::super::pool::into_driver(|| unsafe {
                callback(device as *mut c_void, request as *mut c_void);
            });
            let queued = with(|k| {
                let position = k.world.enqueued.iter().position(|&r| r == index);
                position.map(|p| k.world.enqueued.remove(p))
            });
            if queued.is_some() {
                dispatch_to_queue(index);
            }
        }
        None if queue.is_some() => dispatch_to_queue(index),
        None => {}
    }
    run_work_items();
    with(|k| match k.wdf.replies.remove(&irp) {
        Some(reply) => {
            disclosure_check(k, code, &reply.output);
            IoctlReply {
                status: reply.status,
                information: reply.information,
                output: reply.output,
                pending: None,
            }
        }
        None => IoctlReply {
            status: 0x103, // STATUS_PENDING
            information: 0,
            output: Vec::new(),
            pending: Some(irp),
        },
    })
}

/// An IOCTL output must not carry a framework handle or the address of driver memory.
///
/// `INSPECT`'s output is its `InspectOutput` header followed by bytes of the caller's file,
/// which are the file's and may hold any value: only the header is checked. Public so that the
/// verifier's own tests can hand it an output.
pub fn disclosure_check(k: &mut Kernel, code: u32, output: &[u8]) {
    let output = if code == ferrofilter_core::protocol::ioctl::INSPECT {
        let header = size_of::<ferrofilter_core::protocol::InspectOutput>();
        &output[..output.len().min(header)]
    } else {
        output
    };
    let mut found = Vec::new();
    let mut suspects = Vec::new();
    for (index, chunk) in output.chunks_exact(8).enumerate() {
        let value = u64::from_le_bytes(chunk.try_into().unwrap_or([0; 8]));
        let flt_object = value & 0xFFFF_F000_0000_0000 == 0xFFFF_C000_0000_0000;
        if super::super::wdf::is_handle_value(value) || flt_object {
            found.push(index * 8);
        } else if value > 0xFFFF {
            suspects.push((index * 8, usize::try_from(value).unwrap_or(0)));
        }
    }
    if !suspects.is_empty() {
        for (start, size) in k.wdf.context_ranges() {
            for &(offset, address) in &suspects {
                if address >= start && address < start + size {
                    found.push(offset);
                }
            }
        }
        for &(offset, address) in &suspects {
            if k.io.file(address).is_some() || k.flt.contexts.contains_key(&address) {
                found.push(offset);
            }
        }
    }
    found.sort_unstable();
    found.dedup();
    for offset in found {
        k.report(Violation::KernelAddressDisclosed { code, offset });
    }
}

/// Called by `WdfDeviceEnqueueRequest`.
pub fn enqueued(index: u32) {
    with(|k| k.world.enqueued.push(index));
}

/// Presents a request to the device's default queue (or holds it while the queue is stopped).
pub fn dispatch_to_queue(index: u32) {
    let call = with(|k| {
        let (_, _, queue) = control_device(k)?;
        let queue = queue?;
        let queue_handle = k.wdf.handle(queue);
        let (output, input, code) = k
            .wdf
            .request(index)
            .map(|d| (d.output_length, d.input_length, d.code))?;
        match k.wdf.get_mut(queue).map(|o| &mut o.body) {
            Some(Body::Queue {
                stopped: true,
                waiting,
                ..
            }) => {
                waiting.push_back(index);
                None
            }
            Some(Body::Queue {
                device_control: Some(callback),
                ..
            }) => Some((
                *callback,
                queue_handle,
                k.wdf.handle(index),
                output,
                input,
                code,
            )),
            _ => None,
        }
    });
    if let Some((callback, queue, request, output, input, code)) = call {
        // SAFETY: the driver's EvtIoDeviceControl with its queue and a request presented to it,
        // at PASSIVE_LEVEL (the queue's execution level).
        super::super::pool::into_driver(|| unsafe {
            callback(
                queue as *mut c_void,
                request as *mut c_void,
                output,
                input,
                code,
            );
        });
    }
}
