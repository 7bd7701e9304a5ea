//! `INSPECT` through the driver's own code on the simulated kernel: the control device resolves
//! the caller's handle in the caller's context with `FILE_READ_DATA`, the filter decides with
//! core's `Filter::inspect` and reads with `FltReadFile` through the caller's own file object.
//! Expected values come from the protocol (`InspectOutput`, 16 bytes, then the data), from the
//! data written through the file system, and from REFERENCE §4 (a read under the handle's own
//! key breaks nothing the handle holds), not from the driver.

mod common;

use common::{close_and_unload, inspect_input, open_file};
use ferrofilter_core::NtStatus;
use ferrofilter_core::guid::Guid;
use ferrofilter_core::minifilter::MAX_INSPECT_LENGTH;
use ferrofilter_core::protocol::{FilterStatsInfo, Header, InspectOutput, ioctl};
use ferrofilter_model::oplock::{CreateParams, OplockLevel, access, share};
use ferrofilter_sim::fs::{BreakAction, CreateRequest, StreamKind};
use ferrofilter_sim::kernel::machine::disclosure_check;
use ferrofilter_sim::kernel::{IoctlReply, Machine, MachineConfig, Violation, flt, volume};
use zerocopy::{FromBytes, IntoBytes};

const TEXT: &[u8] = b"hello, inspect";
/// `sizeof(InspectOutput)`: the header (8) plus `bytes_read` and `reserved`.
const HEAD: usize = 16;

fn boot() -> (Machine, u64) {
    let machine = Machine::boot(&MachineConfig::default());
    assert!(machine.loaded(), "{:#?}", machine.log());
    let control = machine.open_control().expect("the control device opens");
    (machine, control)
}

fn open(path: &str, desired: u32) -> u64 {
    let created = open_file(path, desired);
    assert_eq!(created.status, 0, "create {path}");
    created.handle.expect("a handle")
}

/// A file holding [`TEXT`], written through the filter, and a handle with read and write access.
fn file_with_text(path: &str) -> u64 {
    let handle = open(path, access::FILE_READ_DATA | access::FILE_WRITE_DATA);
    assert_eq!(volume::write(handle, 0, TEXT, false, 0).status, 0);
    handle
}

fn inspect(machine: &Machine, control: u64, handle: u64, offset: u64, length: u32) -> IoctlReply {
    let out_len = HEAD + usize::try_from(length).unwrap();
    machine.ioctl(
        control,
        ioctl::INSPECT,
        &inspect_input(handle, offset, length),
        out_len,
    )
}

/// The bytes an answer carries, checked against its header.
fn data_of(reply: &IoctlReply) -> Vec<u8> {
    assert_eq!(reply.status, 0, "{reply:?}");
    let (out, rest) = InspectOutput::read_from_prefix(&reply.output).unwrap();
    assert_eq!((out.header.version, out.header.size), (1, 16));
    assert_eq!(out.reserved, 0);
    let n = usize::try_from(out.bytes_read).unwrap();
    assert_eq!(
        reply.information,
        HEAD + n,
        "information is header + bytes_read"
    );
    rest[..n].to_vec()
}

#[test]
fn inspect_returns_the_bytes_written_earlier() {
    let (machine, control) = boot();
    let handle = file_with_text("\\i.txt");
    assert_eq!(data_of(&inspect(&machine, control, handle, 0, 5)), b"hello");
    assert_eq!(
        data_of(&inspect(&machine, control, handle, 7, 7)),
        b"inspect"
    );
    // Across the end of the file: what there is.
    assert_eq!(
        data_of(&inspect(&machine, control, handle, 10, 100)),
        b"pect"
    );
    // At or after the end: the file system's STATUS_END_OF_FILE, nothing returned.
    for offset in [14, 1000] {
        let reply = inspect(&machine, control, handle, offset, 4);
        assert_eq!(
            NtStatus::from_i32(reply.status),
            NtStatus::END_OF_FILE,
            "{reply:?}"
        );
        assert_eq!(reply.information, 0);
    }
    // The read length is the output's room after the header when that is less than asked.
    let reply = machine.ioctl(
        control,
        ioctl::INSPECT,
        &inspect_input(handle, 0, 64),
        HEAD + 3,
    );
    assert_eq!(data_of(&reply), b"hel");
    // Each went through the caller's own file object.
    let file = machine.kernel(|k| k.io.handle(handle).unwrap().file);
    let reads = machine.kernel(|k| k.flt.reads.clone());
    assert_eq!(reads.len(), 6);
    assert!(reads.iter().all(|r| r.file == file), "{reads:#?}");
    // FILTER_STATS counts the inspects the filter planned (the EOF ones were planned too).
    let stats = machine.ioctl(control, ioctl::FILTER_STATS, &[], 256);
    let stats = FilterStatsInfo::read_from_prefix(&stats.output).unwrap().0;
    assert_eq!(stats.inspects, 6);
    close_and_unload(machine, control, &[handle]);
}

#[test]
fn inspect_breaks_no_oplock_the_same_handle_holds() {
    let (machine, control) = boot();
    let handle = file_with_text("\\o.txt");
    // The oplock is granted by the file system on the handle's own open (its key).
    let open = machine.kernel(|k| k.volume.open_of[&k.io.handle(handle).unwrap().file]);
    let granted = machine.kernel(|k| {
        k.volume
            .fs
            .request_oplock(open, OplockLevel::ReadWriteHandle, BreakAction::Acknowledge)
    });
    assert_eq!(granted.status, NtStatus::SUCCESS, "{granted:?}");
    let level = || {
        machine.kernel(|k| {
            let stream = k.volume.fs.stream("\\o.txt").unwrap();
            (stream.oplock.level(), !stream.oplock.holders().is_empty())
        })
    };
    assert_eq!(level(), (OplockLevel::ReadWriteHandle, true));
    assert_eq!(data_of(&inspect(&machine, control, handle, 0, 5)), b"hello");
    // The read carried the handle's own key: no break, the level is as granted.
    let reads = machine.kernel(|k| k.flt.reads.clone());
    assert_eq!(reads.len(), 1);
    assert!(reads[0].outcome.breaks.is_empty(), "{reads:#?}");
    assert_eq!(level(), (OplockLevel::ReadWriteHandle, true));
    // Negative control: the same read through an open of its own (no ECP, so another key)
    // breaks the handle's oplock (RWH -> RH, at that open), so the check above would see a
    // filter that read that way.
    let breaks = machine.kernel(|k| {
        let request = CreateRequest {
            path: "\\o.txt".to_owned(),
            params: CreateParams::open(access::FILE_READ_DATA, share::FILE_SHARE_ALL),
            kind: StreamKind::File,
            delete_on_close: false,
            requiring_oplock: false,
            complete_if_oplocked: false,
        };
        let other_key = Guid::from_fields(0x0BAD_0BAD, 0, 0, [9; 8]);
        let opened = k.volume.fs.create(&request, other_key);
        let own = opened.file_object.expect("the file system opens it");
        let read = k.volume.fs.read(own, 0, 5);
        let _ = k.volume.fs.close(own);
        [opened.breaks, read.breaks].concat()
    });
    assert_eq!(breaks.len(), 1, "{breaks:?}");
    assert_eq!(
        (breaks[0].from, breaks[0].to),
        (OplockLevel::ReadWriteHandle, OplockLevel::ReadHandle)
    );
    assert_eq!(level().0, OplockLevel::ReadHandle);
    close_and_unload(machine, control, &[handle]);
}

#[test]
fn inspect_leaves_the_callers_file_pointer_alone() {
    let (machine, control) = boot();
    let handle = file_with_text("\\p.txt");
    // A handle opened for synchronous I/O, its file pointer at 3.
    assert!(flt::open_synchronously(handle, 3).is_some());
    assert_eq!(
        data_of(&inspect(&machine, control, handle, 7, 7)),
        b"inspect"
    );
    assert_eq!(
        flt::byte_offset(handle),
        Some(3),
        "the caller's position moved"
    );
    close_and_unload(machine, control, &[handle]);
}

#[test]
fn inspect_refuses_what_the_handle_and_the_protocol_do_not_allow() {
    let (machine, control) = boot();
    let writer = file_with_text("\\r.txt");
    let attributes_only = open("\\r.txt", access::FILE_READ_ATTRIBUTES);
    let status = |reply: IoctlReply| {
        assert_eq!(reply.information, 0, "{reply:?}");
        NtStatus::from_i32(reply.status)
    };
    // A handle without FILE_READ_DATA: refused when it is resolved in the caller's context.
    assert_eq!(
        status(inspect(&machine, control, attributes_only, 0, 4)),
        NtStatus::ACCESS_DENIED
    );
    // Length 0, and above MAX_INSPECT_LENGTH with room for it: the filter's refusal.
    assert_eq!(
        status(inspect(&machine, control, writer, 0, 0)),
        NtStatus::INVALID_PARAMETER
    );
    assert_eq!(
        status(inspect(
            &machine,
            control,
            writer,
            0,
            MAX_INSPECT_LENGTH + 1
        )),
        NtStatus::INVALID_PARAMETER
    );
    // A handle value that is not in the caller's table.
    assert_eq!(
        status(inspect(&machine, control, 0x7770, 0, 4)),
        NtStatus::INVALID_HANDLE
    );
    // Malformed input: a reserved field set, a negative LARGE_INTEGER offset.
    let mut input = inspect_input(writer, 0, 4);
    input[28] = 1;
    assert_eq!(
        status(machine.ioctl(control, ioctl::INSPECT, &input, 64)),
        NtStatus::INVALID_PARAMETER
    );
    assert_eq!(
        status(inspect(&machine, control, writer, 1 << 63, 4)),
        NtStatus::INVALID_PARAMETER
    );
    // An output that cannot hold InspectOutput; an input shorter than InspectInput.
    assert_eq!(
        status(machine.ioctl(
            control,
            ioctl::INSPECT,
            &inspect_input(writer, 0, 4),
            HEAD - 1
        )),
        NtStatus::BUFFER_TOO_SMALL
    );
    assert_eq!(
        status(machine.ioctl(
            control,
            ioctl::INSPECT,
            &inspect_input(writer, 0, 4)[..31],
            64
        )),
        NtStatus::BUFFER_TOO_SMALL
    );
    // Nothing refused reached the file system.
    assert!(machine.kernel(|k| k.flt.reads.is_empty()));
    close_and_unload(machine, control, &[writer, attributes_only]);
}

/// 16 bytes that the kernel-address disclosure check takes for addresses: the filter's instance
/// handle (a Filter Manager object) and the address of the live file object behind `handle`.
fn address_bytes(machine: &Machine, handle: u64) -> Vec<u8> {
    let (_, _, instance) = flt::FilterManager::handles();
    let file = machine.kernel(|k| k.io.handle(handle).unwrap().file);
    let mut bytes = (instance as u64).to_le_bytes().to_vec();
    bytes.extend_from_slice(&(file as u64).to_le_bytes());
    bytes
}

/// A file may hold anything, addresses included: `INSPECT` returns its bytes after the header,
/// and the disclosure check looks only at the header, so file bytes that look like kernel
/// addresses are not a finding.
#[test]
fn file_bytes_that_look_like_kernel_addresses_are_not_a_disclosure() {
    let (machine, control) = boot();
    let handle = open(
        "\\addresses.bin",
        access::FILE_READ_DATA | access::FILE_WRITE_DATA,
    );
    let bytes = address_bytes(&machine, handle);
    assert_eq!(volume::write(handle, 0, &bytes, false, 0).status, 0);
    // Read so that the two values land on the output's 8-byte boundaries after the header,
    // where the check reads its words.
    let reply = inspect(&machine, control, handle, 0, 16);
    assert_eq!(data_of(&reply), bytes);
    assert!(
        machine.violations().is_empty(),
        "{:#?}",
        machine.violations()
    );
    close_and_unload(machine, control, &[handle]);
}

/// The negative control of the test above, on the check itself: the same values in a header
/// field of `INSPECT`'s output are still found, and after the header of another IOCTL's output
/// too; only `INSPECT`'s file data is left alone.
#[test]
fn the_disclosure_check_still_reads_inspects_header_and_other_outputs() {
    let (mut machine, control) = boot();
    let handle = open("\\header.bin", access::FILE_READ_DATA);
    let bytes = address_bytes(&machine, handle);
    let instance = bytes[..8].to_vec();
    // The header's `bytes_read` and `reserved` (bytes 8..16) hold the instance handle; the file
    // data after it holds both values.
    let mut output = InspectOutput {
        header: Header::for_struct::<InspectOutput>(),
        bytes_read: 16,
        reserved: 0,
    }
    .as_bytes()
    .to_vec();
    output[8..16].copy_from_slice(&instance);
    output.extend_from_slice(&bytes);
    machine.kernel(|k| disclosure_check(k, ioctl::INSPECT, &output));
    assert_eq!(
        machine.violations(),
        vec![Violation::KernelAddressDisclosed {
            code: ioctl::INSPECT,
            offset: 8
        }]
    );
    // The same bytes as another IOCTL's output: every word is read.
    machine.kernel(|k| disclosure_check(k, ioctl::PURGE_STATUS, &output));
    let offsets: Vec<usize> = machine.violations()[1..]
        .iter()
        .map(|v| match v {
            Violation::KernelAddressDisclosed { code, offset } => {
                assert_eq!(*code, ioctl::PURGE_STATUS);
                *offset
            }
            other => panic!("{other}"),
        })
        .collect();
    assert_eq!(offsets, [8, 16, 24]);
    assert!(volume::close(handle).status >= 0);
    machine.close_control(control).unwrap();
    let unloaded = machine.unload(false).expect("nothing open");
    assert_eq!(unloaded.violations.len(), 4, "{:#?}", unloaded.violations);
}
