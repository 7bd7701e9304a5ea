//! The driver's filter callbacks on the simulated kernel: creates with oplock-key ECPs reach
//! its pre- and post-create through Filter Manager's ECP routines, its stream-handle contexts
//! answer `QUERY_KEYS`, its purge-failure-mode mirror follows the file system's count through
//! its FSCTL callbacks, a purge request is held while the window is open and re-issued (through
//! a work item and `FltFlushBuffers2`) when it closes, and unload leaves no context behind.
//! Expected values are the reference's (REFERENCE §4, §5), not the driver's.

mod common;

use common::close_and_unload;
use ferrofilter_core::guid::Guid;
use ferrofilter_core::protocol::{
    HandleInput, HandleKeysInfo, KEY_ORIGIN_DUAL_ECP, KEY_ORIGIN_SINGLE_ECP, KEY_ORIGIN_UNIQUE,
    PURGE_OUTCOME_HELD, PurgeRequestOutput, PurgeStatusHeader, PurgeStreamEntry, ioctl,
};
use ferrofilter_model::fastfat::RequestorMode;
use ferrofilter_model::oplock::{CreateParams, access, share};
use ferrofilter_sim::fs::StreamKind;
use ferrofilter_sim::kernel::volume::{CreateArgs, SimEcp};
use ferrofilter_sim::kernel::{Machine, MachineConfig, Violation, flt, fsctl, volume};
use zerocopy::{FromBytes, IntoBytes};

/// `GUID_ECP_OPLOCK_KEY` {48850596-3050-4be7-9863-fec350ce8d7f} (REFERENCE §4).
const ECP_OPLOCK_KEY: Guid = Guid::from_fields(
    0x4885_0596,
    0x3050,
    0x4be7,
    [0x98, 0x63, 0xfe, 0xc3, 0x50, 0xce, 0x8d, 0x7f],
);
/// `GUID_ECP_DUAL_OPLOCK_KEY` {41621a14-b08b-4df1-b676-a05ffdf01bea} (REFERENCE §4).
const ECP_DUAL_OPLOCK_KEY: Guid = Guid::from_fields(
    0x4162_1a14,
    0xb08b,
    0x4df1,
    [0xb6, 0x76, 0xa0, 0x5f, 0xfd, 0xf0, 0x1b, 0xea],
);
const KEY_A: Guid = Guid::from_fields(0x1111_1111, 0x2222, 0x3333, [4, 4, 4, 4, 4, 4, 4, 4]);
const KEY_B: Guid = Guid::from_fields(0x5555_5555, 0x6666, 0x7777, [8, 8, 8, 8, 8, 8, 8, 8]);
/// `SET_PURGE_FAILURE_MODE_ENABLED` / `_DISABLED` (REFERENCE §5).
const ENABLED: u32 = 1;
const DISABLED: u32 = 2;

/// `OPLOCK_KEY_ECP_CONTEXT { GUID OplockKey; ULONG Reserved; }`, 20 bytes.
fn single_key(key: Guid) -> Vec<u8> {
    let mut bytes = key.to_le_bytes().to_vec();
    bytes.extend_from_slice(&[0; 4]);
    bytes
}

/// `DUAL_OPLOCK_KEY_ECP_CONTEXT`: parent, target, the two `...Set` BOOLEANs, padding to 36.
fn dual_key(parent: Guid, target: Guid) -> Vec<u8> {
    let mut bytes = parent.to_le_bytes().to_vec();
    bytes.extend_from_slice(&target.to_le_bytes());
    bytes.extend_from_slice(&[1, 1, 0, 0]);
    bytes
}

fn open(path: &str, desired: u32, ecps: Vec<SimEcp>) -> volume::Completed {
    volume::create(&CreateArgs {
        path: path.to_owned(),
        params: CreateParams {
            disposition: ferrofilter_model::oplock::CreateDisposition::OpenIf,
            ..CreateParams::open(desired, share::FILE_SHARE_ALL)
        },
        kind: StreamKind::File,
        ecps,
    })
}

fn handle_input(handle: u64) -> Vec<u8> {
    HandleInput::new(handle).as_bytes().to_vec()
}

fn keys_of(machine: &Machine, control: u64, handle: u64) -> HandleKeysInfo {
    let reply = machine.ioctl(control, ioctl::QUERY_KEYS, &handle_input(handle), 256);
    assert_eq!(
        reply.status,
        0,
        "QUERY_KEYS: {reply:?} {:#?}",
        machine.log()
    );
    HandleKeysInfo::read_from_prefix(&reply.output).unwrap().0
}

fn boot() -> (Machine, u64) {
    let machine = Machine::boot(&MachineConfig::default());
    assert!(machine.loaded(), "{:#?}", machine.log());
    let control = machine.open_control().expect("the control device opens");
    (machine, control)
}

#[test]
fn a_single_key_ecp_is_the_handles_key_and_is_left_as_it_came() {
    let (machine, control) = boot();
    let ecp = SimEcp {
        ecp_type: ECP_OPLOCK_KEY,
        from_user_mode: false,
        context: single_key(KEY_A),
    };
    let created = open("\\a.txt", access::FILE_READ_DATA, vec![ecp]);
    assert_eq!(created.status, 0);
    // Filter Manager compares each ECP with what was attached once the create completes.
    let violations = machine.violations();
    assert!(violations.is_empty(), "{violations:?}");
    let handle = created.handle.unwrap();
    let keys = keys_of(&machine, control, handle);
    assert_eq!(keys.target, KEY_A.to_le_bytes());
    assert_eq!(keys.origin, KEY_ORIGIN_SINGLE_ECP);
    assert_eq!(keys.from_user_mode, 0);
    close_and_unload(machine, control, &[handle]);
}

#[test]
fn a_user_mode_ecp_is_not_honoured() {
    let (machine, control) = boot();
    let ecp = SimEcp {
        ecp_type: ECP_OPLOCK_KEY,
        from_user_mode: true,
        context: single_key(KEY_A),
    };
    let handle = open("\\u.txt", access::FILE_READ_DATA, vec![ecp])
        .handle
        .unwrap();
    let keys = keys_of(&machine, control, handle);
    assert_ne!(keys.target, KEY_A.to_le_bytes());
    assert_eq!(keys.origin, KEY_ORIGIN_UNIQUE);
    assert_eq!(keys.from_user_mode, 1);
    close_and_unload(machine, control, &[handle]);
}

#[test]
fn a_dual_key_ecp_gives_parent_and_target() {
    let (machine, control) = boot();
    let ecp = SimEcp {
        ecp_type: ECP_DUAL_OPLOCK_KEY,
        from_user_mode: false,
        context: dual_key(KEY_A, KEY_B),
    };
    let handle = open("\\d.txt", access::FILE_READ_DATA, vec![ecp])
        .handle
        .unwrap();
    let keys = keys_of(&machine, control, handle);
    assert_eq!(keys.origin, KEY_ORIGIN_DUAL_ECP);
    assert_eq!(keys.parent, KEY_A.to_le_bytes());
    assert_eq!(keys.target, KEY_B.to_le_bytes());
    close_and_unload(machine, control, &[handle]);
}

fn purge_rows(machine: &Machine, control: u64) -> (PurgeStatusHeader, Vec<PurgeStreamEntry>) {
    let reply = machine.ioctl(control, ioctl::PURGE_STATUS, &[], 4096);
    assert_eq!(reply.status, 0, "{reply:?}");
    let (header, rest) = PurgeStatusHeader::read_from_prefix(&reply.output).unwrap();
    let rows = rest
        .chunks_exact(size_of::<PurgeStreamEntry>())
        .take(header.returned as usize)
        .map(|row| PurgeStreamEntry::read_from_bytes(row).unwrap())
        .collect();
    (header, rows)
}

#[test]
fn the_mirror_follows_the_file_systems_count_and_a_held_purge_is_reissued() {
    let (machine, control) = boot();
    let handle = open(
        "\\p.txt",
        access::FILE_READ_DATA | access::FILE_WRITE_DATA,
        Vec::new(),
    )
    .handle
    .unwrap();
    let fsctl = |flags: u32| {
        volume::set_purge_failure_mode(handle, RequestorMode::Kernel, &flags.to_le_bytes()).status
    };
    assert_eq!(fsctl(ENABLED), 0);
    assert_eq!(fsctl(ENABLED), 0);
    assert_eq!(fsctl(DISABLED), 0);
    let fs_count = machine.kernel(|k| k.volume.fs.stream("\\p.txt").unwrap().purge.count());
    assert_eq!(fs_count, 1);
    let (_, rows) = purge_rows(&machine, control);
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].count, fs_count, "the filter's mirror");

    // While the window is open a purge request is held (REFERENCE §5) ...
    let reply = machine.ioctl(control, ioctl::PURGE_REQUEST, &handle_input(handle), 64);
    assert_eq!(reply.status, 0, "{reply:?} {:#?}", machine.log());
    let answer = PurgeRequestOutput::read_from_prefix(&reply.output)
        .unwrap()
        .0;
    assert_eq!(answer.outcome, PURGE_OUTCOME_HELD);
    assert_eq!(answer.held, 1);
    let flushes_before = machine.kernel(|k| k.flt.flushes.len());
    // ... and re-issued when the count drops to zero: the filter flushes through the caller's
    // file object from a work item, and the file system purges.
    assert_eq!(fsctl(DISABLED), 0);
    let flushes = machine.kernel(|k| k.flt.flushes[flushes_before..].to_vec());
    assert_eq!(flushes.len(), 1, "{:#?}", machine.log());
    assert_eq!(flushes[0].1, 0);
    let (_, rows) = purge_rows(&machine, control);
    assert_eq!((rows[0].count, rows[0].held), (0, 0));
    close_and_unload(machine, control, &[handle]);
}

#[test]
fn a_purge_request_needs_write_access_on_the_named_handle() {
    let (machine, control) = boot();
    let handle = open("\\r.txt", access::FILE_READ_DATA, Vec::new())
        .handle
        .unwrap();
    let reply = machine.ioctl(control, ioctl::PURGE_REQUEST, &handle_input(handle), 64);
    // ObReferenceObjectByHandle with FILE_WRITE_DATA on a read-only handle.
    assert_eq!(reply.status, 0xC000_0022_u32.cast_signed(), "{reply:?}");
    close_and_unload(machine, control, &[handle]);
}

/// A filter that sends `FSCTL_SET_PURGE_FAILURE_MODE` itself, as the driver never does: only
/// Filter Manager may (REFERENCE §5). Called here as such a filter would call it, through
/// `FltFsControlFile` with its instance and the caller's file object: the verifier reports it;
/// the FSCTL still reaches the file system, which counts it; it starts below the filter's
/// instance, so the filter's own FSCTL callbacks never see it and its mirror (`PURGE_STATUS`)
/// stays where it was.
#[test]
fn a_filter_sending_set_purge_failure_mode_is_reported_and_the_mirror_is_left_behind() {
    let (mut machine, control) = boot();
    let handle = open(
        "\\m.txt",
        access::FILE_READ_DATA | access::FILE_WRITE_DATA,
        Vec::new(),
    )
    .handle
    .unwrap();
    let file = machine.kernel(|k| k.io.handle(handle).unwrap().file);
    let (_, _, instance) = flt::FilterManager::handles();
    let fs_count = || machine.kernel(|k| k.volume.fs.stream("\\m.txt").unwrap().purge.count());
    let send = |code: u32, flags: u32| {
        let mut input = flags.to_le_bytes();
        let mut returned = u32::MAX;
        // SAFETY: the instance handle is the filter's live instance; `file` is the file object
        // behind the open `handle`; `input` is 4 readable bytes and `returned` a writable local,
        // both live for the call, which is synchronous; no output buffer, length 0.
        let status = unsafe {
            fsctl::FltFsControlFile(
                instance as *mut core::ffi::c_void,
                file as *mut core::ffi::c_void,
                code,
                input.as_mut_ptr().cast(),
                4,
                core::ptr::null_mut(),
                0,
                &raw mut returned,
            )
        };
        assert_eq!(returned, 0, "no output");
        status
    };
    assert_eq!(fs_count(), 0);
    assert!(machine.violations().is_empty());

    assert_eq!(send(fsctl::FSCTL_SET_PURGE_FAILURE_MODE, ENABLED), 0);
    assert_eq!(
        machine.violations(),
        vec![Violation::FilterIssuedPurgeFailureMode]
    );
    assert_eq!(fs_count(), 1, "the file system counted it");
    let (_, rows) = purge_rows(&machine, control);
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].count, 0, "the filter's mirror did not see it");

    // Any other FSCTL is one the sim's file system does not take from a filter; not a finding.
    let fsctl_lock_volume = 0x0009_0018;
    assert_eq!(
        send(fsctl_lock_volume, 0),
        0xC000_0010_u32.cast_signed(),
        "STATUS_INVALID_DEVICE_REQUEST"
    );
    assert_eq!(machine.violations().len(), 1);
    assert_eq!(fs_count(), 1);

    assert!(volume::close(handle).status >= 0);
    machine.close_control(control).unwrap();
    let unloaded = machine.unload(false).expect("nothing open");
    assert_eq!(
        unloaded.violations,
        vec![Violation::FilterIssuedPurgeFailureMode]
    );
}
