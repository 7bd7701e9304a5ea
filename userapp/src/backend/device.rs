//! The device backend: `\\.\FerroFilter` through windows-rs, with a named pipe as each session's
//! I/O target.
//!
//! **Unverified here**: this module is compiled only on Windows and has never run; it was written
//! against the windows-rs 0.62 bindings and type-checked for `x86_64-pc-windows-msvc`, no more.
//!
//! Every IOCTL is issued on an overlapped handle with its own event. The status a request
//! completed with is read from `OVERLAPPED::Internal`, where the I/O manager stores the
//! `IO_STATUS_BLOCK.Status` (an NTSTATUS), and the byte count from `InternalHigh`; a call that
//! fails before pending gives a Win32 error, mapped back to the NTSTATUS the driver used.

use std::path::Path;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use ferrofilter_core::NtStatus;
use ferrofilter_core::control::handle_access;
use ferrofilter_core::protocol::{Command, USER_PATH, ioctl};
use windows::Win32::Foundation::{
    CloseHandle, ERROR_IO_PENDING, ERROR_PIPE_CONNECTED, GENERIC_READ, GENERIC_WRITE, HANDLE,
    WAIT_OBJECT_0,
};
use windows::Win32::Storage::FileSystem::{
    CreateFileW, FILE_ATTRIBUTE_NORMAL, FILE_FLAG_FIRST_PIPE_INSTANCE, FILE_FLAG_OVERLAPPED,
    FILE_SHARE_DELETE, FILE_SHARE_READ, FILE_SHARE_WRITE, OPEN_EXISTING, PIPE_ACCESS_DUPLEX,
    WriteFile,
};
use windows::Win32::System::IO::{CancelIoEx, DeviceIoControl, OVERLAPPED};
use windows::Win32::System::Pipes::{
    ConnectNamedPipe, CreateNamedPipeW, PIPE_READMODE_BYTE, PIPE_REJECT_REMOTE_CLIENTS,
    PIPE_TYPE_BYTE, PIPE_WAIT,
};
use windows::Win32::System::Threading::{CreateEventW, INFINITE, WaitForSingleObject};
use windows::core::HSTRING;

use super::{Backend, BackendKind, Completion, Forwarded, Reply, VerifierSummary};
use crate::error::CliError;

/// Bytes each forwarded read asks the pipe for; `target_complete` writes this many per request.
const READ_SIZE: usize = 16;
/// How long to wait for a straggler before giving up on it.
const GRACE: Duration = Duration::from_secs(5);

/// A kernel handle closed with `CloseHandle` when dropped.
#[derive(Debug)]
pub struct OwnedHandle(HANDLE);

impl OwnedHandle {
    /// Takes ownership of `handle`.
    #[must_use]
    pub const fn new(handle: HANDLE) -> Self {
        Self(handle)
    }

    /// The handle's value, as `QUERY_KEYS` and `PURGE_REQUEST` take it.
    #[must_use]
    pub fn raw(&self) -> u64 {
        self.0.0 as usize as u64
    }

    /// The handle.
    #[must_use]
    pub const fn get(&self) -> HANDLE {
        self.0
    }
}

impl Drop for OwnedHandle {
    fn drop(&mut self) {
        if !self.0.is_invalid() {
            // SAFETY: the handle is owned by this value and closed once, here.
            let _ = unsafe { CloseHandle(self.0) };
        }
    }
}

/// The Win32 error inside a windows-rs error (`HRESULT_FROM_WIN32`), if it is one.
fn win32_code(error: &windows::core::Error) -> Option<u32> {
    let hr = error.code().0.cast_unsigned();
    (hr & 0xFFFF_0000 == 0x8007_0000).then_some(hr & 0xFFFF)
}

/// The NTSTATUS behind a Win32 error from a call that failed before pending (the inverse of
/// `RtlNtStatusToDosError` for the statuses the driver uses).
fn status_from_win32(code: u32) -> NtStatus {
    match code {
        1 => NtStatus::INVALID_DEVICE_REQUEST,
        5 => NtStatus::ACCESS_DENIED,
        6 => NtStatus::INVALID_HANDLE,
        22 => NtStatus::INVALID_DEVICE_STATE,
        32 => NtStatus::SHARING_VIOLATION,
        50 => NtStatus::NOT_SUPPORTED,
        87 => NtStatus::INVALID_PARAMETER,
        122 => NtStatus::BUFFER_TOO_SMALL,
        234 => NtStatus::BUFFER_OVERFLOW,
        995 => NtStatus::CANCELLED,
        1168 => NtStatus::NOT_FOUND,
        1306 => NtStatus::REVISION_MISMATCH,
        1450 => NtStatus::INSUFFICIENT_RESOURCES,
        _ => NtStatus::UNSUCCESSFUL,
    }
}

fn new_event() -> Result<OwnedHandle, CliError> {
    // SAFETY: no security attributes, no name; the returned handle is owned by the caller.
    let event = unsafe { CreateEventW(None, true, false, None) }
        .map_err(|error| CliError::Failed(format!("CreateEventW: {error}")))?;
    Ok(OwnedHandle(event))
}

/// One overlapped operation: the `OVERLAPPED`, its event and its buffer live in one box whose
/// address does not change until the operation has finished.
struct Pending {
    overlapped: OVERLAPPED,
    event: OwnedHandle,
    buffer: [u8; READ_SIZE],
    token: usize,
}

impl Pending {
    fn new(token: usize) -> Result<Box<Self>, CliError> {
        let event = new_event()?;
        let mut pending = Box::new(Self {
            overlapped: OVERLAPPED::default(),
            event,
            buffer: [0; READ_SIZE],
            token,
        });
        pending.overlapped.hEvent = pending.event.get();
        Ok(pending)
    }

    /// Whether the operation has finished, waiting up to `wait`.
    fn finished(&self, wait: Duration) -> bool {
        let ms = u32::try_from(wait.as_millis()).unwrap_or(INFINITE - 1);
        // SAFETY: the event is a valid handle owned by this value.
        unsafe { WaitForSingleObject(self.event.get(), ms) == WAIT_OBJECT_0 }
    }

    /// The NTSTATUS the I/O manager stored; read only after [`Pending::finished`].
    #[expect(clippy::cast_possible_truncation, reason = "an NTSTATUS is 32 bits")]
    const fn status(&self) -> NtStatus {
        NtStatus(self.overlapped.Internal as u32)
    }
}

/// The pipe ferroctl serves as the driver's I/O target: reads the driver forwards to it pend until
/// ferroctl writes.
struct PipeTarget {
    pipe: OwnedHandle,
}

static PIPES: AtomicU32 = AtomicU32::new(0);

/// One handle of `\\.\FerroFilter` and the pipe it forwards to.
pub struct DeviceSession {
    device: Option<OwnedHandle>,
    pipe: Option<PipeTarget>,
    pipe_leaf: String,
    /// Boxed: the system writes each one's `OVERLAPPED` and buffer until it completes, so they
    /// must not move when the list grows.
    #[expect(
        clippy::vec_box,
        reason = "a pending OVERLAPPED and its buffer must stay at one address"
    )]
    pending: Vec<Box<Pending>>,
    ready: Vec<Completion>,
    next_token: usize,
}

impl DeviceSession {
    /// Opens `\\.\FerroFilter` for overlapped I/O.
    ///
    /// # Errors
    /// [`CliError::Unreachable`] saying what to do when the driver is not loaded or access is
    /// denied.
    pub fn open() -> Result<Self, CliError> {
        // SAFETY: a valid path; no security attributes or template; the handle is owned below.
        let device = unsafe {
            CreateFileW(
                &HSTRING::from(USER_PATH),
                (GENERIC_READ | GENERIC_WRITE).0,
                FILE_SHARE_READ | FILE_SHARE_WRITE,
                None,
                OPEN_EXISTING,
                FILE_FLAG_OVERLAPPED,
                None,
            )
        }
        .map_err(|error| match win32_code(&error) {
            Some(2 | 3) => CliError::Unreachable(format!(
                "{USER_PATH} does not exist: the ferrofilter driver is not loaded. Install it \
                 (docs/install.md), then run `fltmc load ferrofilter` from an elevated prompt"
            )),
            Some(5) => CliError::Unreachable(format!(
                "access to {USER_PATH} denied: the control device admits only Administrators \
                 and SYSTEM; run ferroctl from an elevated prompt"
            )),
            _ => CliError::Unreachable(format!("opening {USER_PATH}: {error}")),
        })?;
        let serial = PIPES.fetch_add(1, Ordering::Relaxed);
        Ok(Self {
            device: Some(OwnedHandle(device)),
            pipe: None,
            pipe_leaf: format!("ferroctl-{}-{serial}", std::process::id()),
            pending: Vec::new(),
            ready: Vec::new(),
            next_token: 0,
        })
    }

    fn device(&self) -> Option<HANDLE> {
        self.device.as_ref().map(OwnedHandle::get)
    }

    /// Creates the pipe and starts an overlapped `ConnectNamedPipe`; returns the connect
    /// operation when it pends.
    fn create_pipe(&mut self) -> Result<Option<Box<Pending>>, CliError> {
        let name = HSTRING::from(format!("\\\\.\\pipe\\{}", self.pipe_leaf));
        // SAFETY: a valid name; default security; the handle is owned below.
        let pipe = unsafe {
            CreateNamedPipeW(
                &name,
                PIPE_ACCESS_DUPLEX | FILE_FLAG_OVERLAPPED | FILE_FLAG_FIRST_PIPE_INSTANCE,
                PIPE_TYPE_BYTE | PIPE_READMODE_BYTE | PIPE_WAIT | PIPE_REJECT_REMOTE_CLIENTS,
                1,
                4096,
                4096,
                0,
                None,
            )
        };
        if pipe.is_invalid() {
            return Err(CliError::Failed(format!(
                "CreateNamedPipeW {name}: {}",
                windows::core::Error::from_thread()
            )));
        }
        let pipe = OwnedHandle(pipe);
        let mut connect = Pending::new(usize::MAX)?;
        // SAFETY: the pipe is valid; `connect` is boxed and outlives the operation (it is waited
        // for or cancelled in `open_target`).
        let started = unsafe { ConnectNamedPipe(pipe.get(), Some(&raw mut connect.overlapped)) };
        self.pipe = Some(PipeTarget { pipe });
        match started {
            Ok(()) => Ok(None),
            Err(error) if win32_code(&error) == Some(ERROR_PIPE_CONNECTED.0) => Ok(None),
            Err(error) if win32_code(&error) == Some(ERROR_IO_PENDING.0) => Ok(Some(connect)),
            Err(error) => Err(CliError::Failed(format!("ConnectNamedPipe: {error}"))),
        }
    }

    /// Issues one overlapped `DeviceIoControl`; `Ok(true)` when it pends.
    fn start(
        &self,
        code: u32,
        input: &[u8],
        output: *mut u8,
        output_len: usize,
        overlapped: *mut OVERLAPPED,
    ) -> Result<bool, NtStatus> {
        let device = self.device().ok_or(NtStatus::INVALID_HANDLE)?;
        let in_len = u32::try_from(input.len()).map_err(|_| NtStatus::INVALID_PARAMETER)?;
        let out_len = u32::try_from(output_len).map_err(|_| NtStatus::INVALID_PARAMETER)?;
        // SAFETY: `input` is valid for `in_len` bytes and `output` for `out_len` bytes, and both
        // and `overlapped` stay valid until the operation finishes (the callers wait for it, or
        // keep it boxed until it does).
        let result = unsafe {
            DeviceIoControl(
                device,
                code,
                (!input.is_empty()).then_some(input.as_ptr().cast()),
                in_len,
                (out_len > 0).then_some(output.cast()),
                out_len,
                None,
                Some(overlapped),
            )
        };
        match result {
            Ok(()) => Ok(false),
            Err(error) if win32_code(&error) == Some(ERROR_IO_PENDING.0) => Ok(true),
            Err(error) => Err(win32_code(&error).map_or(NtStatus::UNSUCCESSFUL, status_from_win32)),
        }
    }
}

impl Backend for DeviceSession {
    fn kind(&self) -> BackendKind {
        BackendKind::Device
    }

    fn ioctl(&mut self, code: u32, input: &[u8], output: &mut [u8]) -> Reply {
        let Ok(mut op) = Pending::new(0) else {
            return Reply {
                status: NtStatus::INSUFFICIENT_RESOURCES,
                information: 0,
            };
        };
        let overlapped = &raw mut op.overlapped;
        match self.start(code, input, output.as_mut_ptr(), output.len(), overlapped) {
            Ok(true) => {
                // Synchronous for the caller: wait for it, however long the driver takes.
                let _ = op.finished(Duration::from_millis(u64::from(INFINITE - 1)));
            }
            Ok(false) => {}
            Err(status) if status == NtStatus::BUFFER_OVERFLOW => {
                // A warning: the I/O manager still filled in the status block.
            }
            Err(status) => {
                return Reply {
                    status,
                    information: 0,
                };
            }
        }
        Reply {
            status: op.status(),
            information: op.overlapped.InternalHigh.min(output.len()),
        }
    }

    fn open_target(&mut self, input: &[u8]) -> Result<Reply, CliError> {
        let connect = self.create_pipe()?;
        let reply = self.ioctl(ioctl::OPEN_TARGET, input, &mut []);
        if let Some(connect) = connect {
            if reply.status.is_success() && connect.finished(GRACE) {
                return Ok(reply);
            }
            if let Some(pipe) = &self.pipe {
                // SAFETY: cancels only the connect operation, whose OVERLAPPED is still alive.
                let _ = unsafe { CancelIoEx(pipe.pipe.get(), Some(&raw const connect.overlapped)) };
            }
            if !connect.finished(GRACE) {
                // Keep its memory valid for as long as the kernel may write to it.
                Box::leak(connect);
            }
            if reply.status.is_success() {
                return Err(CliError::Failed(
                    "the driver opened the target, but the pipe never saw it connect".to_owned(),
                ));
            }
        }
        Ok(reply)
    }

    fn target_name(&self) -> String {
        format!("\\??\\pipe\\{}", self.pipe_leaf)
    }

    fn forward(&mut self, input: &[u8]) -> Result<Forwarded, NtStatus> {
        let token = self.next_token;
        self.next_token += 1;
        let mut op = Pending::new(token).map_err(|_| NtStatus::INSUFFICIENT_RESOURCES)?;
        let buffer = op.buffer.as_mut_ptr();
        let overlapped = &raw mut op.overlapped;
        if self.start(ioctl::FORWARD, input, buffer, READ_SIZE, overlapped)? {
            self.pending.push(op);
        } else {
            // Finished at once (the pipe had data): report it with the next collect.
            self.ready.push(Completion {
                token,
                status: op.status(),
            });
        }
        Ok(Forwarded {
            token,
            request_id: None,
        })
    }

    fn target_complete(&mut self, count: usize) -> Result<usize, CliError> {
        let Some(pipe) = &self.pipe else {
            return Err(CliError::Failed("no target is open".to_owned()));
        };
        let count = count.min(self.pending.len());
        let data = [0xF0u8; READ_SIZE];
        for _ in 0..count {
            let mut write = Pending::new(0)?;
            // SAFETY: `data` and the boxed OVERLAPPED stay alive until the write is waited for.
            let started = unsafe {
                WriteFile(
                    pipe.pipe.get(),
                    Some(&data),
                    None,
                    Some(&raw mut write.overlapped),
                )
            };
            match started {
                Ok(()) => {}
                Err(error) if win32_code(&error) == Some(ERROR_IO_PENDING.0) => {
                    if !write.finished(GRACE) {
                        Box::leak(write);
                        return Err(CliError::Failed(
                            "a write to the target pipe did not finish".to_owned(),
                        ));
                    }
                }
                Err(error) => {
                    return Err(CliError::Failed(format!("WriteFile to the pipe: {error}")));
                }
            }
        }
        Ok(count)
    }

    fn collect(&mut self, wait: Duration) -> Vec<Completion> {
        let mut done = std::mem::take(&mut self.ready);
        if done.is_empty()
            && let Some(first) = self.pending.first()
        {
            let _ = first.finished(wait);
        }
        self.pending.retain(|op| {
            if op.finished(Duration::ZERO) {
                done.push(Completion {
                    token: op.token,
                    status: op.status(),
                });
                false
            } else {
                true
            }
        });
        done.sort_by_key(|c| c.token);
        done
    }

    fn outstanding(&self) -> usize {
        self.pending.len() + self.ready.len()
    }

    fn close(&mut self) -> Result<Vec<Completion>, CliError> {
        let device = self
            .device
            .take()
            .ok_or_else(|| CliError::Failed("the handle is already closed".to_owned()))?;
        // Cleanup in the driver cancels and completes everything this handle forwarded.
        drop(device);
        Ok(self.collect(Duration::from_millis(200)))
    }

    fn verifier(&mut self) -> Option<VerifierSummary> {
        None
    }
}

impl Drop for DeviceSession {
    fn drop(&mut self) {
        if let Some(device) = &self.device {
            // SAFETY: cancels this process's I/O on its own handle.
            let _ = unsafe { CancelIoEx(device.get(), None) };
        }
        self.device = None;
        for op in self.pending.drain(..) {
            if !op.finished(GRACE) {
                // Still owned by the kernel: keep its memory valid.
                Box::leak(op);
            }
        }
        self.pipe = None;
    }
}

/// Opens FILE, sharing everything, so its handle can name the stream in `command`: with
/// `GENERIC_READ` plus the access the driver checks that handle for (`ObReferenceObjectByHandle`
/// with core's `handle_access` and `UserMode`; a handle without it is refused with
/// `STATUS_ACCESS_DENIED`).
///
/// # Errors
/// [`CliError::File`] with the Win32 error.
pub fn open_file_for(file: &Path, command: &Command<'_>) -> Result<OwnedHandle, CliError> {
    let required = handle_access(command);
    // SAFETY: a valid path; no security attributes or template; the handle is owned below.
    let handle = unsafe {
        CreateFileW(
            &HSTRING::from(file.as_os_str()),
            GENERIC_READ.0 | required,
            FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE,
            None,
            OPEN_EXISTING,
            FILE_ATTRIBUTE_NORMAL,
            None,
        )
    }
    .map_err(|error| CliError::file(format!("opening {}", file.display()), error.into()))?;
    Ok(OwnedHandle(handle))
}
