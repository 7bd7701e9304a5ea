//! The minifilter's shared state: core's [`Filter`] (decisions and counters) and the list of live
//! stream contexts, behind one executive spin lock in a `static`.
//!
//! Each stream's core state (`StreamContext<HeldPurge>`) lives inside the Filter Manager stream
//! context ([`StreamCtx`], nonpaged) and is only touched while this lock is held. The contexts are
//! also linked into an intrusive list so the control device can report every stream without
//! allocating: linking and unlinking happen under the lock, in `contexts`.
//!
//! Lock rules (as for every spin lock in this driver): held only around core calls and list
//! edits, never across a call down the stack, a wait, an allocation that may page, or a
//! completion; taken at IRQL <= `DISPATCH_LEVEL`; never nested. Functions that take it are never
//! placed in the `PAGE` section, even when they run at `PASSIVE_LEVEL`.
//!
//! Unverified here: never run.

use core::ptr;
use core::sync::atomic::{AtomicU64, Ordering};

use ferrofilter_core::NtStatus;
use ferrofilter_core::guid::Guid;
use ferrofilter_core::minifilter::{Filter, KeySource, StreamContext};
use ferrofilter_core::ports::SpinLock;
use wdk_sys::ntddk::ExUuidCreate;
use wdk_sys::{GUID, PFILE_OBJECT};

use crate::fltmgr::PFLT_INSTANCE;
use crate::lock::ExSpinLock;

/// A purge request the filter holds (or is about to run): the caller's own file object, so the
/// flush + purge goes through the caller's handle.
#[derive(Debug)]
pub struct HeldPurge {
    /// Referenced (`ObReferenceObjectByHandle` on the caller's handle); the reference is dropped
    /// by `purge::release` when the request is finished, cancelled or torn down.
    pub file_object: PFILE_OBJECT,
    /// The instance the stream context belongs to. Not referenced: it stays valid while the
    /// stream context exists (Filter Manager frees an instance's contexts before the instance),
    /// and a work item that carries released requests is queued on it (which holds its rundown).
    pub instance: PFLT_INSTANCE,
}

// SAFETY: the two pointers are kernel object addresses usable from any thread; the token owns one
// reference on the file object and moves between threads only through the state lock or a work
// item's context.
unsafe impl Send for HeldPurge {}

/// The Filter Manager stream context (`FLT_STREAM_CONTEXT`), allocated by `FltAllocateContext`
/// from nonpaged pool and written in full right after allocation. Everything but `id` is guarded
/// by the state lock.
#[repr(C)]
pub struct StreamCtx {
    /// An opaque, never-reused number the control device reports instead of an address.
    pub id: u64,
    /// The instance this context was set on.
    pub instance: PFLT_INSTANCE,
    /// The core's per-stream state.
    pub state: StreamContext<HeldPurge>,
    prev: *mut StreamCtx,
    next: *mut StreamCtx,
    linked: bool,
}

impl StreamCtx {
    /// A context that is not linked yet.
    pub fn new(id: u64, instance: PFLT_INSTANCE) -> Self {
        Self {
            id,
            instance,
            state: StreamContext::new(),
            prev: ptr::null_mut(),
            next: ptr::null_mut(),
            linked: false,
        }
    }
}

/// The intrusive list of live stream contexts.
pub struct StreamList {
    head: *mut StreamCtx,
}

impl StreamList {
    const fn new() -> Self {
        Self {
            head: ptr::null_mut(),
        }
    }

    /// Links `node` at the head.
    ///
    /// # Safety
    /// `node` must be a live, initialized, unlinked [`StreamCtx`] that stays allocated until
    /// [`StreamList::unlink`] removed it; the state lock must be held.
    pub unsafe fn link(&mut self, node: *mut StreamCtx) {
        // SAFETY: `node` is live and only reached under the lock (caller).
        let entry = unsafe { &mut *node };
        entry.prev = ptr::null_mut();
        entry.next = self.head;
        entry.linked = true;
        if !self.head.is_null() {
            // SAFETY: a linked node is live until unlinked, which takes this lock.
            unsafe { (*self.head).prev = node };
        }
        self.head = node;
    }

    /// Unlinks `node` if it is linked.
    ///
    /// # Safety
    /// `node` must be a live, initialized [`StreamCtx`]; the state lock must be held.
    pub unsafe fn unlink(&mut self, node: *mut StreamCtx) {
        // SAFETY: `node` is live and only reached under the lock (caller).
        let entry = unsafe { &mut *node };
        if !entry.linked {
            return;
        }
        if entry.prev.is_null() {
            self.head = entry.next;
        } else {
            // SAFETY: linked neighbours are live until unlinked under this lock.
            unsafe { (*entry.prev).next = entry.next };
        }
        if !entry.next.is_null() {
            // SAFETY: as above.
            unsafe { (*entry.next).prev = entry.prev };
        }
        entry.prev = ptr::null_mut();
        entry.next = ptr::null_mut();
        entry.linked = false;
    }

    /// Every linked context, head first. Valid only while the lock is held.
    pub fn iter(&self) -> impl Iterator<Item = &StreamCtx> {
        let mut at = self.head;
        core::iter::from_fn(move || {
            if at.is_null() {
                return None;
            }
            // SAFETY: linked nodes are live while the lock (held by the caller of `iter`, which
            // borrows the list from inside `with`) prevents unlinking.
            let node = unsafe { &*at };
            at = node.next;
            Some(node)
        })
    }
}

/// Everything behind the lock.
pub struct FilterState {
    /// The core's decisions and counters.
    pub filter: Filter,
    /// Live stream contexts.
    pub streams: StreamList,
}

// SAFETY: the raw pointers in the list point to nonpaged Filter Manager contexts that are only
// dereferenced under the lock; `Filter` holds plain data.
unsafe impl Send for FilterState {}

static STATE: ExSpinLock<Option<FilterState>> = ExSpinLock::new(None);

/// Runs `f` with the state lock held (`DISPATCH_LEVEL` inside). The state is created on first
/// use (no allocation: both parts start empty).
pub fn with<R>(f: impl FnOnce(&mut FilterState) -> R) -> R {
    STATE.with(|slot| {
        f(slot.get_or_insert_with(|| FilterState {
            filter: Filter::new(),
            streams: StreamList::new(),
        }))
    })
}

/// Runs `f` on the core state of `stream` with the lock held, together with the filter.
///
/// # Safety
/// `stream` must be a live, initialized stream context (a reference from `FltGetStreamContext`
/// or `FltAllocateContext` is held by the caller).
pub unsafe fn with_stream<R>(
    stream: *mut StreamCtx,
    f: impl FnOnce(&mut Filter, &mut StreamContext<HeldPurge>) -> R,
) -> R {
    with(|state| {
        // SAFETY: live and initialized (caller); its `state` is only touched under this lock,
        // which is held.
        let ctx = unsafe { &mut *stream };
        f(&mut state.filter, &mut ctx.state)
    })
}

static NEXT_STREAM_ID: AtomicU64 = AtomicU64::new(1);
static NEXT_FALLBACK_KEY: AtomicU64 = AtomicU64::new(1);

/// Back to the state of a fresh image: no filter state (the core's counters start again at zero,
/// the stream list empty) and both counters at 1. Called by `DriverEntry` before anything can
/// reach the state; on Windows it finds the initial values already.
pub fn reset() {
    // Taken out under the lock and dropped after it is released (its memory goes back to the
    // pool outside the lock).
    let _previous = STATE.with(Option::take);
    NEXT_STREAM_ID.store(1, Ordering::Relaxed);
    NEXT_FALLBACK_KEY.store(1, Ordering::Relaxed);
}

/// A new opaque stream number.
pub fn next_stream_id() -> u64 {
    NEXT_STREAM_ID.fetch_add(1, Ordering::Relaxed)
}

/// wdk-sys `GUID` to core's [`Guid`].
pub const fn guid(value: &GUID) -> Guid {
    Guid::from_fields(value.Data1, value.Data2, value.Data3, value.Data4)
}

/// The [`KeySource`] port: one key made before the state lock is taken (`ExUuidCreate` needs
/// `PASSIVE_LEVEL`; the core asks for at most one key per create, and only inside the lock).
pub struct PreparedKey(Guid);

impl PreparedKey {
    /// A fresh UUID from `ExUuidCreate`; if that fails, a key from a driver-wide counter in a
    /// range no UUID generator produces (version nibble 0), so it still differs from every other
    /// key. `PASSIVE_LEVEL`.
    pub fn fresh() -> Self {
        let mut uuid = GUID::default();
        // SAFETY: `uuid` is a live local; ExUuidCreate is called at PASSIVE_LEVEL (pre-create).
        let status = NtStatus::from_i32(unsafe { ExUuidCreate(&raw mut uuid) });
        if status.is_success() {
            return Self(guid(&uuid));
        }
        log!(
            Warning,
            "ExUuidCreate failed: {status:?}; using a counter key"
        );
        let n = NEXT_FALLBACK_KEY.fetch_add(1, Ordering::Relaxed);
        Self(Guid::from_fields(
            0xFFFF_FFFE,
            0xFFFF,
            0x0000,
            n.to_be_bytes(),
        ))
    }
}

impl PreparedKey {
    /// The key.
    pub const fn key(&self) -> Guid {
        self.0
    }
}

impl KeySource for PreparedKey {
    fn unique_key(&mut self) -> Guid {
        self.0
    }
}
