//! The sim's Filter Manager: its verifier catches each ECP / FSCTL rule a filter can break
//! (negative controls), a well-behaved run reports nothing, and the file system's oplock breaks
//! follow the same-key rule.

use ferrofilter_core::NtStatus;
use ferrofilter_core::ecp::{GUID_ECP_OPLOCK_KEY, OplockKeyEcp, encode_oplock_key};
use ferrofilter_core::guid::Guid;
use ferrofilter_core::oplock::{CreateParams, OplockLevel, access, share};
use ferrofilter_core::purge::{FSCTL_SET_PURGE_FAILURE_MODE, SET_PURGE_FAILURE_MODE_ENABLED};
use ferrofilter_sim::fltmgr::{CreateArgs, FltMgr, SimEcp};
use ferrofilter_sim::fs::{BreakAction, StreamKind};
use ferrofilter_sim::verifier::Violation;
use proptest::prelude::*;

const KEY_A: Guid = Guid::from_fields(0xA, 0, 0, [0xA; 8]);
const KEY_B: Guid = Guid::from_fields(0xB, 0, 0, [0xB; 8]);

fn key_ecp(key: Guid) -> SimEcp {
    SimEcp {
        ecp_type: GUID_ECP_OPLOCK_KEY,
        from_user_mode: false,
        context: encode_oplock_key(OplockKeyEcp { key }).to_vec(),
    }
}

fn open(mgr: &mut FltMgr, key: Option<Guid>, desired_access: u32) -> u64 {
    let observed = mgr.create(&CreateArgs {
        path: "f".into(),
        params: CreateParams {
            disposition: ferrofilter_core::oplock::CreateDisposition::OpenIf,
            ..CreateParams::open(desired_access, share::FILE_SHARE_ALL)
        },
        kind: StreamKind::File,
        ecps: key.map(key_ecp).into_iter().collect(),
    });
    assert_eq!(observed.status, NtStatus::SUCCESS);
    observed.file_object.unwrap()
}

#[test]
fn a_well_behaved_run_reports_nothing() {
    let mut mgr = FltMgr::new();
    let fo = open(
        &mut mgr,
        Some(KEY_A),
        access::FILE_READ_DATA | access::FILE_WRITE_DATA,
    );
    let _ = mgr.request_oplock(fo, OplockLevel::ReadWriteHandle, BreakAction::Acknowledge);
    let _ = mgr.begin_data_scan(fo);
    let _ = mgr.write(fo, 0, b"x", false, 0);
    let _ = mgr.purge_request(fo, 1);
    let _ = mgr.inspect(fo, 0, 1);
    let _ = mgr.end_data_scan(fo);
    let _ = mgr.inspect_new_handle(fo, 0, 1);
    let _ = mgr.close(fo);
    assert_eq!(mgr.verifier().violations(), []);
    assert!(mgr.filter_issued_fsctls().is_empty());
}

#[test]
fn a_filter_that_modifies_an_ecp_is_caught() {
    let mut mgr = FltMgr::new();
    mgr.set_ecp_tamper(Some(Box::new(|ecps: &mut [SimEcp]| {
        if let Some(byte) = ecps.first_mut().and_then(|e| e.context.first_mut()) {
            *byte ^= 0xFF;
        }
    })));
    let _ = open(&mut mgr, Some(KEY_A), access::FILE_READ_DATA);
    assert!(matches!(
        mgr.verifier().violations().as_slice(),
        [Violation::EcpModified { index: 0, .. }]
    ));
}

#[test]
fn touching_an_ecp_list_after_its_create_is_caught() {
    let mut mgr = FltMgr::new();
    let _ = open(&mut mgr, Some(KEY_A), access::FILE_READ_DATA);
    let list = mgr.last_ecp_list();
    assert_eq!(mgr.read_ecp(list, 0), None);
    assert_eq!(
        mgr.verifier().violations(),
        [Violation::EcpUseAfterFree { list }]
    );
}

#[test]
fn a_filter_spoofing_the_callers_key_on_its_own_create_is_caught() {
    let mut mgr = FltMgr::new();
    let fo = open(
        &mut mgr,
        Some(KEY_A),
        access::FILE_READ_DATA | access::FILE_WRITE_DATA,
    );
    let _ = mgr.request_oplock(fo, OplockLevel::ReadWriteHandle, BreakAction::Acknowledge);
    // Spoofing the key would avoid the break, which is why a filter might be tempted.
    let spoofed = mgr.filter_create(
        "f",
        CreateParams::open(access::FILE_READ_DATA, share::FILE_SHARE_ALL),
        &[key_ecp(KEY_A)],
    );
    assert!(spoofed.breaks.is_empty());
    assert!(matches!(
        mgr.verifier().violations().as_slice(),
        [Violation::SystemEcpOnFilterCreate { .. }]
    ));
}

#[test]
fn a_filter_issuing_purge_failure_mode_is_caught_and_the_mirror_diverges() {
    let mut mgr = FltMgr::new();
    let fo = open(&mut mgr, None, access::FILE_READ_DATA);
    let _ = mgr.filter_issue_fsctl(
        fo,
        FSCTL_SET_PURGE_FAILURE_MODE,
        &SET_PURGE_FAILURE_MODE_ENABLED.to_le_bytes(),
    );
    let violations = mgr.verifier().violations();
    assert!(matches!(
        violations.as_slice(),
        [
            Violation::FilterIssuedPurgeFailureMode,
            Violation::MirrorDiverged {
                file_system: 1,
                mirror: 0,
                ..
            }
        ]
    ));
}

#[derive(Clone, Debug)]
enum Op {
    Open { key: bool, write: bool },
    Read(usize),
    Write(usize),
    Close(usize),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (any::<bool>(), any::<bool>()).prop_map(|(key, write)| Op::Open { key, write }),
        (0usize..6).prop_map(Op::Read),
        (0usize..6).prop_map(Op::Write),
        (0usize..6).prop_map(Op::Close),
    ]
}

proptest! {
    /// Through the whole stack, no operation ever breaks an oplock held under its own key, and
    /// the filter's mirror never leaves the file system's count.
    #[test]
    fn same_key_never_breaks_through_the_stack(
        level in prop_oneof![
            Just(OplockLevel::Read),
            Just(OplockLevel::ReadHandle),
            Just(OplockLevel::ReadWrite),
            Just(OplockLevel::ReadWriteHandle),
        ],
        ops in proptest::collection::vec(op(), 1..30),
    ) {
        let mut mgr = FltMgr::new();
        let owner = open(&mut mgr, Some(KEY_A), access::FILE_READ_DATA | access::FILE_WRITE_DATA);
        prop_assert_eq!(mgr.request_oplock(owner, level, BreakAction::Acknowledge).status, NtStatus::SUCCESS);
        let mut handles = vec![(owner, KEY_A)];
        for op in ops {
            let (observed, key) = match op {
                Op::Open { key, write } => {
                    let k = if key { KEY_A } else { KEY_B };
                    let rights = if write { access::FILE_READ_DATA | access::FILE_WRITE_DATA } else { access::FILE_READ_DATA };
                    let fo = open(&mut mgr, Some(k), rights);
                    handles.push((fo, k));
                    continue;
                }
                Op::Read(i) | Op::Write(i) | Op::Close(i) if handles.len() <= i => continue,
                Op::Read(i) => (mgr.read(handles[i].0, 0, 4), handles[i].1),
                Op::Write(i) => (mgr.write(handles[i].0, 0, b"w", false, 0), handles[i].1),
                Op::Close(i) => {
                    let (fo, _) = handles.remove(i);
                    let _ = mgr.close(fo);
                    continue;
                }
            };
            for b in &observed.breaks {
                let owner_key = mgr.handle_context(b.file_object).map(|c| c.keys.target);
                prop_assert_ne!(owner_key, Some(key), "a same-key operation broke {:?}", b);
            }
        }
        prop_assert_eq!(mgr.verifier().violations(), []);
    }
}

#[test]
fn the_control_device_serves_the_filter_ioctls() {
    use ferrofilter_core::protocol::{
        self, FilterStatsInfo, HandleInput, Header, PurgeStatusHeader, ioctl,
    };
    use ferrofilter_sim::device::SimDevice;
    use zerocopy::IntoBytes;

    let device = SimDevice::new(ferrofilter_sim::SimConfig::default()).unwrap();
    let handle = device.open().unwrap();
    let _ = open(&mut device.filter(), Some(KEY_A), access::FILE_READ_DATA);
    let mut out = [0u8; 512];
    let reply = device.ioctl(handle, ioctl::PURGE_STATUS, &[], &mut out);
    assert_eq!(reply.status, NtStatus::SUCCESS);
    let head: PurgeStatusHeader = protocol::decode(&out).unwrap();
    assert_eq!((head.streams_total, head.returned), (1, 1));
    let reply = device.ioctl(handle, ioctl::FILTER_STATS, &[], &mut out);
    assert_eq!(reply.information, size_of::<FilterStatsInfo>());
    let stats: FilterStatsInfo = protocol::decode(&out).unwrap();
    assert_eq!((stats.creates, stats.keys_from_single), (1, 1));
    let input = HandleInput {
        header: Header::for_struct::<HandleInput>(),
        handle: 0x104,
        flags: 0,
        reserved: 0,
    };
    let reply = device.ioctl(handle, ioctl::QUERY_KEYS, input.as_bytes(), &mut out);
    assert_eq!(reply.status, NtStatus::INVALID_HANDLE);
    let reply = device.ioctl(
        handle,
        ioctl::PURGE_REQUEST,
        &input.as_bytes()[..8],
        &mut out,
    );
    assert_eq!(reply.status, NtStatus::BUFFER_TOO_SMALL);
}
