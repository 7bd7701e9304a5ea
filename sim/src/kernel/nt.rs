//! ntoskrnl's side: IRQL and spin locks, events, UUIDs, `DbgPrintEx`, the object manager's
//! file objects and the caller's handle table.
#![allow(
    non_snake_case,
    non_upper_case_globals,
    reason = "the kernel's exported names"
)]

use core::ffi::{c_char, c_void};
use std::collections::HashMap;

use super::layout::{DEVICE_OBJECT, FILE_OBJECT, GUID, IO_STATUS_BLOCK, KEVENT, OBJECT_ATTRIBUTES};
use super::{DISPATCH_LEVEL, Kernel, PASSIVE_LEVEL, Violation, with};

/// `STATUS_SUCCESS`.
pub const STATUS_SUCCESS: i32 = 0;
/// `STATUS_TIMEOUT`.
pub const STATUS_TIMEOUT: i32 = 0x102;
/// `STATUS_INVALID_HANDLE`.
pub const STATUS_INVALID_HANDLE: i32 = 0xC000_0008_u32.cast_signed();
/// `STATUS_ACCESS_DENIED`.
pub const STATUS_ACCESS_DENIED: i32 = 0xC000_0022_u32.cast_signed();
/// `STATUS_OBJECT_TYPE_MISMATCH`.
pub const STATUS_OBJECT_TYPE_MISMATCH: i32 = 0xC000_0024_u32.cast_signed();
/// `STATUS_INSUFFICIENT_RESOURCES`.
pub const STATUS_INSUFFICIENT_RESOURCES: i32 = 0xC000_009A_u32.cast_signed();

/// `UserMode`.
const USER_MODE: i8 = 1;
/// `IO_TYPE_FILE`.
const IO_TYPE_FILE: i16 = 5;

/// What a file object stands for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FileKind {
    /// A file on the simulated volume (the file system's open, by its id).
    Volume(u64),
    /// Anything else (a pipe opened as a target).
    Other(u64),
}

/// A file object the I/O manager created.
pub struct FileObj {
    memory: Box<FILE_OBJECT>,
    /// What it is.
    pub kind: FileKind,
    /// References (the handle's and every `ObReferenceObject*`).
    pub refs: u32,
}

/// A pipe that exists, with whether its ACL lets the calling user open it for reading.
#[derive(Clone, Debug)]
pub struct Pipe {
    /// The NT name, e.g. `\??\pipe\ferro`.
    pub name: Vec<u16>,
    /// The caller's token passes the pipe's access check.
    pub caller_allowed: bool,
}

/// One entry of the calling process's handle table.
#[derive(Clone, Copy, Debug)]
pub struct HandleEntry {
    /// The file object's address.
    pub file: usize,
    /// The access granted to the handle.
    pub granted: u32,
}

/// The I/O manager's file objects and the caller's handle table.
#[derive(Default)]
pub struct Io {
    /// The pipes the named-pipe file system has.
    pub pipes: Vec<Pipe>,
    /// The named-pipe file system's device (one stack location).
    pub pipe_device: Option<Box<DEVICE_OBJECT>>,
    next_pipe_open: u64,
    next_kernel_handle: u64,
    files: HashMap<usize, FileObj>,
    handles: HashMap<u64, HandleEntry>,
    next_handle: u64,
    /// File objects whose last reference is gone, for the file system's close.
    pub closed: Vec<FileKind>,
}

impl Io {
    /// A new file object with one reference (the caller's).
    pub fn create_file(&mut self, kind: FileKind) -> usize {
        // SAFETY: FILE_OBJECT is plain data (integers and raw pointers); all-zero is valid.
        let mut memory: Box<FILE_OBJECT> = Box::new(unsafe { core::mem::zeroed() });
        memory.Type = IO_TYPE_FILE;
        memory.Size = i16::try_from(size_of::<FILE_OBJECT>()).unwrap_or(i16::MAX);
        let address = core::ptr::from_mut(memory.as_mut()) as usize;
        self.files.insert(
            address,
            FileObj {
                memory,
                kind,
                refs: 1,
            },
        );
        address
    }

    /// Puts `file` in the caller's handle table with `granted` access; the handle owns the
    /// reference the creation took. User handle values are multiples of 4, as on Windows.
    pub fn insert_handle(&mut self, file: usize, granted: u32) -> u64 {
        self.next_handle += 4;
        let handle = self.next_handle;
        self.handles.insert(handle, HandleEntry { file, granted });
        handle
    }

    /// A kernel handle (top bit set) for `file`.
    pub fn insert_kernel_handle(&mut self, file: usize, granted: u32) -> u64 {
        self.next_kernel_handle += 4;
        let handle = (1 << 63) | self.next_kernel_handle;
        self.handles.insert(handle, HandleEntry { file, granted });
        handle
    }

    /// Says what a file object stands for once its open exists.
    pub fn set_kind(&mut self, address: usize, kind: FileKind) {
        if let Some(file) = self.files.get_mut(&address) {
            file.kind = kind;
        }
    }

    /// The handle's entry.
    #[must_use]
    pub fn handle(&self, handle: u64) -> Option<HandleEntry> {
        self.handles.get(&handle).copied()
    }

    /// Closes a handle; returns its file object. The handle's reference is dropped by
    /// [`Io::dereference`] once the caller has run cleanup.
    pub fn remove_handle(&mut self, handle: u64) -> Option<usize> {
        self.handles.remove(&handle).map(|entry| entry.file)
    }

    /// The file object at `address`.
    #[must_use]
    pub fn file(&self, address: usize) -> Option<&FileObj> {
        self.files.get(&address)
    }

    /// The caller's handle of the file object at `address`, if it has one.
    #[must_use]
    pub fn handle_of(&self, address: usize) -> Option<u64> {
        self.handles
            .iter()
            .find(|(_, entry)| entry.file == address)
            .map(|(handle, _)| *handle)
    }

    /// The file object of the file system's open `id`.
    #[must_use]
    pub fn file_of(&self, kind: FileKind) -> Option<usize> {
        self.files
            .iter()
            .find(|(_, file)| file.kind == kind)
            .map(|(address, _)| *address)
    }

    /// Takes one more reference on a live file object (`ObReferenceObject`); the new count.
    pub fn reference(&mut self, address: usize) -> Option<u32> {
        let file = self.files.get_mut(&address)?;
        file.refs += 1;
        Some(file.refs)
    }

    /// Drops one reference; at zero the file object is freed and its close queued.
    ///
    /// `None` when the object is not a live file object or has no reference left.
    pub fn dereference(&mut self, address: usize) -> Option<u32> {
        let file = self.files.get_mut(&address)?;
        file.refs = file.refs.checked_sub(1)?;
        let left = file.refs;
        if left == 0
            && let Some(file) = self.files.remove(&address)
        {
            debug_assert_eq!(core::ptr::from_ref(file.memory.as_ref()) as usize, address);
            self.closed.push(file.kind);
        }
        Some(left)
    }

    /// Open handles.
    #[must_use]
    pub fn handle_count(&self) -> usize {
        self.handles.len()
    }

    /// Live file objects and their references, for the unload check.
    pub fn live(&self) -> impl Iterator<Item = &FileObj> {
        self.files.values()
    }
}

// ---- IRQL and spin locks ---------------------------------------------------------------------

/// `KeGetCurrentIrql`.
#[unsafe(no_mangle)]
pub extern "C" fn KeGetCurrentIrql() -> u8 {
    super::pool::as_kernel(|| with(|k| k.irql))
}

fn acquire(k: &mut Kernel, routine: &'static str, lock: usize) -> u8 {
    k.enter(routine, DISPATCH_LEVEL);
    if k.held_locks.contains(&lock) {
        k.report(Violation::RecursiveSpinLock { routine });
    }
    k.held_locks.push(lock);
    let old = k.irql;
    k.irql = DISPATCH_LEVEL;
    old
}

/// Releases `lock`, back to `old`. Returns whether no spin lock is held any more, the point at
/// which another processor may run.
pub(crate) fn release(k: &mut Kernel, routine: &'static str, lock: usize, old: u8) -> bool {
    match k.held_locks.iter().rposition(|&held| held == lock) {
        Some(position) => {
            k.held_locks.remove(position);
        }
        None => k.report(Violation::ReleaseNotHeld { routine }),
    }
    k.irql = old;
    k.held_locks.is_empty()
}

/// `ExAcquireSpinLockExclusive`.
///
/// # Safety
/// `lock` is the address of the caller's `EX_SPIN_LOCK`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ExAcquireSpinLockExclusive(lock: *mut i32) -> u8 {
    super::pool::as_kernel(|| with(|k| acquire(k, "ExAcquireSpinLockExclusive", lock as usize)))
}

/// `ExReleaseSpinLockExclusive`.
///
/// # Safety
/// `lock` was acquired by [`ExAcquireSpinLockExclusive`], which returned `old`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ExReleaseSpinLockExclusive(lock: *mut i32, old: u8) {
    super::pool::as_kernel(|| {
        let free = with(|k| release(k, "ExReleaseSpinLockExclusive", lock as usize, old));
        if free {
            super::machine::maybe_preempt();
        }
    });
}

// ---- events ----------------------------------------------------------------------------------

/// `KeInitializeEvent`.
///
/// # Safety
/// `event` points to a `KEVENT` the caller owns.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn KeInitializeEvent(event: *mut KEVENT, kind: i32, state: u8) {
    super::pool::as_kernel(|| {
        with(|k| k.enter("KeInitializeEvent", DISPATCH_LEVEL));
        // SAFETY: the caller passes its own, writable KEVENT.
        let event = unsafe { &mut *event };
        event.Header.Type = u8::try_from(kind).unwrap_or(0);
        event.Header.SignalState = i32::from(state != 0);
        event.Header.WaitListHead = [core::ptr::null_mut(); 2];
    });
}

/// `KeSetEvent`: returns the previous state.
///
/// # Safety
/// `event` points to an initialized `KEVENT`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn KeSetEvent(event: *mut KEVENT, _increment: i32, _wait: u8) -> i32 {
    super::pool::as_kernel(|| {
        with(|k| k.enter("KeSetEvent", DISPATCH_LEVEL));
        // SAFETY: the caller passes an initialized event it keeps alive across the call.
        let header = unsafe { &mut (*event).Header };
        core::mem::replace(&mut header.SignalState, 1)
    })
}

/// `KeClearEvent`.
///
/// # Safety
/// `event` points to an initialized `KEVENT`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn KeClearEvent(event: *mut KEVENT) {
    super::pool::as_kernel(|| {
        with(|k| k.enter("KeClearEvent", DISPATCH_LEVEL));
        // SAFETY: as for KeSetEvent.
        unsafe { (*event).Header.SignalState = 0 };
    });
}

/// `KeWaitForSingleObject` on an event. While it is not signalled the other processors run:
/// the target's finished requests go through their completion routines. When nothing is left
/// to run, a wait with a timeout times out (the simulated clock moves on); an infinite one is a
/// hang, reported as such.
///
/// # Safety
/// `object` points to an initialized `KEVENT`; `timeout` is null or points to a relative time.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn KeWaitForSingleObject(
    object: *mut c_void,
    _reason: i32,
    _mode: i8,
    _alertable: u8,
    timeout: *mut i64,
) -> i32 {
    super::pool::as_kernel(|| {
        let event = object.cast::<KEVENT>();
        with(|k| k.enter("KeWaitForSingleObject", PASSIVE_LEVEL));
        super::machine::run_waiting_threads();
        loop {
            // SAFETY: the caller keeps the event alive while it waits on it.
            let header = unsafe { &mut (*event).Header };
            if header.SignalState != 0 {
                if header.Type == 1 {
                    header.SignalState = 0;
                }
                return STATUS_SUCCESS;
            }
            if !super::machine::run_other_processor() {
                if timeout.is_null() {
                    with(|k| {
                        k.report(Violation::UnloadIncomplete {
                            detail: "an infinite wait that nothing can satisfy".to_owned(),
                        });
                    });
                }
                // SAFETY: a non-null timeout points to the caller's LARGE_INTEGER.
                let relative = if timeout.is_null() {
                    0
                } else {
                    // SAFETY: a non-null timeout points to the caller's LARGE_INTEGER.
                    unsafe { *timeout }
                };
                super::machine::advance_clock(relative.unsigned_abs());
                return STATUS_TIMEOUT;
            }
        }
    })
}

// ---- UUIDs and debug output ------------------------------------------------------------------

/// `ExUuidCreate`: a random (version 4) UUID from the seeded source.
///
/// # Safety
/// `uuid` points to a writable GUID.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ExUuidCreate(uuid: *mut GUID) -> i32 {
    super::pool::as_kernel(|| {
        let value = with(|k| {
            k.enter("ExUuidCreate", PASSIVE_LEVEL);
            if k.fails("ExUuidCreate") {
                return None;
            }
            let bits =
                u128::from(k.random_below(u64::MAX)) << 64 | u128::from(k.random_below(u64::MAX));
            Some(bits)
        });
        let Some(bits) = value else {
            // RPC_S_UUID_NO_ADDRESS is a warning; the documented failure is an NTSTATUS error.
            return STATUS_INSUFFICIENT_RESOURCES;
        };
        let bytes = bits.to_le_bytes();
        let guid = GUID {
            Data1: u32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]),
            Data2: u16::from_le_bytes([bytes[4], bytes[5]]),
            Data3: (u16::from_le_bytes([bytes[6], bytes[7]]) & 0x0FFF) | 0x4000,
            Data4: [
                (bytes[8] & 0x3F) | 0x80,
                bytes[9],
                bytes[10],
                bytes[11],
                bytes[12],
                bytes[13],
                bytes[14],
                bytes[15],
            ],
        };
        // SAFETY: the caller passes a writable GUID.
        unsafe { uuid.write(guid) };
        STATUS_SUCCESS
    })
}

/// Where the C `DbgPrintEx` (kernel/dbgprint.c, which formats the variadic arguments) hands
/// the formatted line.
///
/// # Safety
/// `text` is a NUL-terminated string.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ferrofilter_sim_debug_print(
    component: u32,
    level: u32,
    text: *const c_char,
) {
    super::pool::as_kernel(|| {
        // SAFETY: the C side passes its NUL-terminated buffer.
        let text = unsafe { core::ffi::CStr::from_ptr(text) }
            .to_string_lossy()
            .trim_end()
            .to_owned();
        with(|k| {
            if k.keep_log {
                k.log.push(format!("[{component}:{level}] {text}"));
            }
        });
    });
}

// ---- the object manager ----------------------------------------------------------------------

/// The object type `IoFileObjectType` points to.
#[repr(C)]
pub struct ObjectType {
    name: [u8; 8],
}

static mut FILE_OBJECT_TYPE: ObjectType = ObjectType {
    name: *b"File\0\0\0\0",
};

/// `IoFileObjectType` (wdm.h `extern POBJECT_TYPE *IoFileObjectType`).
#[unsafe(no_mangle)]
pub static mut IoFileObjectType: *mut *mut ObjectType = &raw mut FILE_OBJECT_TYPE_POINTER;

static mut FILE_OBJECT_TYPE_POINTER: *mut ObjectType = &raw mut FILE_OBJECT_TYPE;

fn file_object_type() -> usize {
    (&raw const FILE_OBJECT_TYPE) as usize
}

/// `GENERIC_READ` and its file-specific meaning.
const GENERIC_READ: u32 = 0x8000_0000;
/// `FILE_GENERIC_READ`.
const FILE_GENERIC_READ: u32 = 0x0012_0089;
/// `GENERIC_WRITE`.
const GENERIC_WRITE: u32 = 0x4000_0000;
/// `FILE_GENERIC_WRITE`.
const FILE_GENERIC_WRITE: u32 = 0x0012_0116;
/// `GENERIC_ALL`.
const GENERIC_ALL: u32 = 0x1000_0000;
/// `FILE_ALL_ACCESS`.
const FILE_ALL_ACCESS: u32 = 0x001F_01FF;

/// The file-specific rights a desired access stands for (the file object type's generic
/// mapping).
#[must_use]
pub const fn map_generic(access: u32) -> u32 {
    let mut mapped = access & !(GENERIC_READ | GENERIC_WRITE | GENERIC_ALL | 0x2000_0000);
    if access & GENERIC_READ != 0 {
        mapped |= FILE_GENERIC_READ;
    }
    if access & GENERIC_WRITE != 0 {
        mapped |= FILE_GENERIC_WRITE;
    }
    if access & GENERIC_ALL != 0 {
        mapped |= FILE_ALL_ACCESS;
    }
    mapped
}

/// `ObReferenceObjectByHandle` for file handles of the calling process.
///
/// # Safety
/// `object` is a writable out pointer; `object_type` is null or an object type pointer.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ObReferenceObjectByHandle(
    handle: *mut c_void,
    desired_access: u32,
    object_type: *mut c_void,
    access_mode: i8,
    object: *mut *mut c_void,
    _handle_information: *mut c_void,
) -> i32 {
    super::pool::as_kernel(|| {
        let result = with(|k| {
            k.enter("ObReferenceObjectByHandle", PASSIVE_LEVEL);
            if k.fails("ObReferenceObjectByHandle") {
                return Err(STATUS_INSUFFICIENT_RESOURCES);
            }
            let value = handle as u64;
            // Kernel handles have the top bit set; user mode may not name them.
            if access_mode == USER_MODE && value >> 63 != 0 {
                return Err(STATUS_INVALID_HANDLE);
            }
            let entry = k.io.handle(value).ok_or(STATUS_INVALID_HANDLE)?;
            if !object_type.is_null() && object_type as usize != file_object_type() {
                return Err(STATUS_OBJECT_TYPE_MISMATCH);
            }
            let wanted = map_generic(desired_access);
            if access_mode == USER_MODE && wanted & !entry.granted != 0 {
                return Err(STATUS_ACCESS_DENIED);
            }
            let file =
                k.io.files
                    .get_mut(&entry.file)
                    .ok_or(STATUS_INVALID_HANDLE)?;
            file.refs += 1;
            Ok(entry.file)
        });
        match result {
            Ok(address) => {
                // SAFETY: the caller passes a writable out pointer.
                unsafe { object.write(address as *mut c_void) };
                STATUS_SUCCESS
            }
            Err(status) => status,
        }
    })
}

/// `ObfDereferenceObject` (file objects are the only objects the driver references).
///
/// # Safety
/// `object` is an object the caller holds a reference on.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ObfDereferenceObject(object: *mut c_void) -> isize {
    super::pool::as_kernel(|| {
        let left = with(|k| {
            k.enter("ObfDereferenceObject", DISPATCH_LEVEL);
            if let Some(left) = k.io.dereference(object as usize) {
                isize::try_from(left).unwrap_or(isize::MAX)
            } else {
                {
                    k.report(Violation::ReferenceUnderflow {
                        routine: "ObfDereferenceObject",
                        handle: format!("{object:p}"),
                    });
                    0
                }
            }
        });
        super::machine::after_dereference();
        left
    })
}

// ---- files by name -------------------------------------------------------------------------------

/// `OBJ_KERNEL_HANDLE`.
const OBJ_KERNEL_HANDLE: u32 = 0x200;
/// `OBJ_FORCE_ACCESS_CHECK`.
const OBJ_FORCE_ACCESS_CHECK: u32 = 0x400;
/// `STATUS_OBJECT_NAME_NOT_FOUND`.
const STATUS_OBJECT_NAME_NOT_FOUND: i32 = 0xC000_0034_u32.cast_signed();
/// `STATUS_INVALID_PARAMETER`.
const STATUS_INVALID_PARAMETER: i32 = 0xC000_000D_u32.cast_signed();

/// `ZwCreateFile`, for the pipes of the named-pipe file system. A kernel-mode caller's open is
/// not access-checked unless `OBJ_FORCE_ACCESS_CHECK` asks for it, as on Windows; then the
/// calling thread's token (the user's) must pass the pipe's ACL.
///
/// # Safety
/// The pointers are valid as `ZwCreateFile` documents.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ZwCreateFile(
    handle: *mut *mut c_void,
    desired_access: u32,
    attributes: *mut OBJECT_ATTRIBUTES,
    io_status: *mut IO_STATUS_BLOCK,
    _allocation_size: *mut i64,
    _file_attributes: u32,
    _share_access: u32,
    _disposition: u32,
    _options: u32,
    _ea_buffer: *mut c_void,
    _ea_length: u32,
) -> i32 {
    super::pool::as_kernel(|| {
        // SAFETY: the caller passes valid object attributes with a name.
        let attributes = unsafe { &*attributes };
        let name: Vec<u16> = if attributes.ObjectName.is_null() {
            Vec::new()
        } else {
            // SAFETY: as above.
            let name = unsafe { &*attributes.ObjectName };
            // SAFETY: the name's buffer holds Length bytes.
            unsafe { core::slice::from_raw_parts(name.Buffer, usize::from(name.Length) / 2) }
                .to_vec()
        };
        let flags = attributes.Attributes;
        let opened = with(|k| {
            k.enter("ZwCreateFile", PASSIVE_LEVEL);
            if flags & OBJ_KERNEL_HANDLE == 0 {
                k.report(Violation::BadArgument {
                routine: "ZwCreateFile",
                detail:
                    "a driver's handle without OBJ_KERNEL_HANDLE lands in the caller's handle table"
                        .to_owned(),
            });
            }
            let pipe = k.io.pipes.iter().find(|p| p.name == name).cloned();
            let Some(pipe) = pipe else {
                return Err(STATUS_OBJECT_NAME_NOT_FOUND);
            };
            if flags & OBJ_FORCE_ACCESS_CHECK != 0 && !pipe.caller_allowed {
                return Err(STATUS_ACCESS_DENIED);
            }
            k.io.next_pipe_open += 1;
            let id = k.io.next_pipe_open;
            let file = k.io.create_file(FileKind::Other(id));
            Ok(k.io.insert_kernel_handle(file, map_generic(desired_access)))
        });
        let status = match opened {
            Ok(value) => {
                // SAFETY: the caller's out pointer.
                unsafe { handle.write(value as *mut c_void) };
                STATUS_SUCCESS
            }
            Err(status) => status,
        };
        if !io_status.is_null() {
            // SAFETY: the caller's IO_STATUS_BLOCK.
            unsafe {
                io_status.write(IO_STATUS_BLOCK {
                    Status: status,
                    Reserved: 0,
                    Information: 0,
                });
            }
        }
        status
    })
}

/// `ZwClose` of a kernel handle.
///
/// # Safety
/// A handle the caller opened.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ZwClose(handle: *mut c_void) -> i32 {
    super::pool::as_kernel(|| {
        let status = with(|k| {
            k.enter("ZwClose", PASSIVE_LEVEL);
            let Some(file) = k.io.remove_handle(handle as u64) else {
                return STATUS_INVALID_HANDLE;
            };
            let _ = k.io.dereference(file);
            STATUS_SUCCESS
        });
        super::machine::after_dereference();
        status
    })
}

/// `IoGetRelatedDeviceObject`: the top of the stack a file object was opened on.
///
/// # Safety
/// A referenced file object.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn IoGetRelatedDeviceObject(file: *mut FILE_OBJECT) -> *mut DEVICE_OBJECT {
    super::pool::as_kernel(|| {
        with(|k| {
            k.enter("IoGetRelatedDeviceObject", DISPATCH_LEVEL);
            if k.io.file(file as usize).is_none() {
                k.report(Violation::UseAfterFree {
                    routine: "IoGetRelatedDeviceObject",
                    handle: format!("{file:p}"),
                });
                return core::ptr::null_mut();
            }
            let device = k.io.pipe_device.get_or_insert_with(|| {
                // SAFETY: DEVICE_OBJECT is plain data; all-zero is valid.
                let mut device: Box<DEVICE_OBJECT> = Box::new(unsafe { core::mem::zeroed() });
                device.Type = 3;
                device.StackSize = 1;
                device.DeviceType = 0x11; // FILE_DEVICE_NAMED_PIPE
                device
            });
            core::ptr::from_mut(device.as_mut())
        })
    })
}

#[allow(dead_code, reason = "documented status kept beside the others")]
const _: i32 = STATUS_INVALID_PARAMETER;
