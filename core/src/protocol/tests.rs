use super::*;

#[test]
fn ctl_code_matches_devioctl() {
    // FSCTL_SET_PURGE_FAILURE_MODE = CTL_CODE(FILE_DEVICE_FILE_SYSTEM, 156, BUFFERED, ANY).
    assert_eq!(ctl_code(0x9, 156, 0, 0), 0x0009_0270);
    assert_eq!(ioctl::GET_VERSION, 0x8FF0_2000);
    assert_eq!(ioctl::FORWARD, 0x8FF0_E00C);
}

#[test]
fn round_trips_and_rejects_each_malformation() {
    let input = ForwardInput {
        header: Header::for_struct::<ForwardInput>(),
        cancel_id: 0x0700_0000_0000_0001,
        flags: 0,
        reserved: 0,
    };
    let mut buf = [0u8; 64];
    let n = encode(&input, &mut buf).unwrap();
    assert_eq!(n, 24);
    assert_eq!(
        decode_command(ioctl::FORWARD, &buf[..n]),
        Ok(Command::Forward {
            cancel_id: 0x0700_0000_0000_0001
        })
    );
    assert_eq!(
        decode_command(ioctl::FORWARD, &buf[..n - 1]),
        Err(ProtocolError::TooShort {
            needed: 24,
            got: 23
        })
    );
    let mut bad = buf;
    bad[0] = 2;
    assert_eq!(
        decode_command(ioctl::FORWARD, &bad[..n]),
        Err(ProtocolError::VersionMismatch { got: 2 })
    );
    let mut bad = buf;
    bad[4] = 16;
    assert_eq!(
        decode_command(ioctl::FORWARD, &bad[..n]).map_err(ProtocolError::status),
        Err(NtStatus::INVALID_PARAMETER)
    );
    let mut bad = buf;
    bad[16] = 1;
    assert_eq!(
        decode_command(ioctl::FORWARD, &bad[..n]),
        Err(ProtocolError::ReservedNotZero)
    );
    assert_eq!(
        decode_command(0x1234, &buf).map_err(ProtocolError::status),
        Err(NtStatus::INVALID_DEVICE_REQUEST)
    );
    assert!(encode(&input, &mut [0u8; 8]).is_err());
}

#[test]
fn stats_info_keeps_its_wire_layout_with_the_counts_nested() {
    // Header (8), four u32 (16), then the eight u64 counters in their wire order.
    assert_eq!(size_of::<StatsInfo>(), 88);
    assert_eq!(core::mem::offset_of!(StatsInfo, peak_outstanding), 20);
    assert_eq!(core::mem::offset_of!(StatsInfo, counts.forwarded), 24);
    assert_eq!(core::mem::offset_of!(StatsInfo, counts.refused), 64);
    assert_eq!(
        core::mem::offset_of!(StatsInfo, counts.unknown_completions),
        80
    );
}

#[test]
fn filter_stats_info_keeps_its_wire_layout_with_the_purge_counts_nested() {
    // Header (8), the eleven create, mode and inspect counters, then the six purge counters.
    assert_eq!(core::mem::offset_of!(FilterStatsInfo, inspects), 88);
    assert_eq!(
        core::mem::offset_of!(FilterStatsInfo, purge.purge_requests),
        96
    );
    assert_eq!(core::mem::offset_of!(FilterStatsInfo, purge.torn_down), 136);
}

#[test]
fn filter_ioctls_have_their_codes_and_sizes() {
    assert_eq!(ioctl::QUERY_KEYS, 0x8FF0_2040);
    assert_eq!(ioctl::PURGE_REQUEST, 0x8FF0_E044);
    assert_eq!(ioctl::PURGE_STATUS, 0x8FF0_2048);
    assert_eq!(ioctl::FILTER_STATS, 0x8FF0_204C);
    assert_eq!(size_of::<HandleInput>(), 24);
    assert_eq!(size_of::<HandleKeysInfo>(), 72);
    assert_eq!(size_of::<PurgeRequestOutput>(), 24);
    assert_eq!(size_of::<PurgeStatusHeader>(), 56);
    assert_eq!(size_of::<PurgeStreamEntry>(), 40);
    assert_eq!(size_of::<FilterStatsInfo>(), 144);
    // Codes are distinct.
    for (i, a) in ALL_IOCTLS.iter().enumerate() {
        assert!(ALL_IOCTLS[i + 1..].iter().all(|b| a != b));
    }
}

#[test]
fn handle_input_decodes_and_rejects_each_malformation() {
    let input = HandleInput {
        header: Header::for_struct::<HandleInput>(),
        handle: 0x1A4,
        flags: 0,
        reserved: 0,
    };
    let mut buf = [0u8; 24];
    encode(&input, &mut buf).unwrap();
    assert_eq!(
        decode_command(ioctl::QUERY_KEYS, &buf),
        Ok(Command::QueryKeys { handle: 0x1A4 })
    );
    assert_eq!(
        decode_command(ioctl::PURGE_REQUEST, &buf),
        Ok(Command::PurgeRequest { handle: 0x1A4 })
    );
    assert_eq!(
        decode_command(ioctl::QUERY_KEYS, &buf[..23]),
        Err(ProtocolError::TooShort {
            needed: 24,
            got: 23
        })
    );
    let mut bad = buf;
    bad[16] = 1;
    assert_eq!(
        decode_command(ioctl::PURGE_REQUEST, &bad),
        Err(ProtocolError::ReservedNotZero)
    );
    let mut bad = buf;
    bad[8..16].fill(0);
    assert_eq!(
        decode_command(ioctl::QUERY_KEYS, &bad),
        Err(ProtocolError::BadField("handle"))
    );
    assert_eq!(
        decode_command(ioctl::PURGE_STATUS, &[]),
        Ok(Command::PurgeStatus)
    );
    assert_eq!(
        decode_command(ioctl::FILTER_STATS, &[1, 2, 3]),
        Ok(Command::FilterStats)
    );
}

fn inspect_bytes(handle: u64, offset: u64, length: u32, reserved: u32) -> [u8; 32] {
    let input = InspectInput {
        header: Header::for_struct::<InspectInput>(),
        handle,
        offset,
        length,
        reserved,
    };
    let mut buf = [0u8; 32];
    assert_eq!(encode(&input, &mut buf), Ok(32));
    buf
}

#[test]
fn inspect_has_its_code_and_layout_and_rejects_each_malformation() {
    // CTL_CODE(0x8FF0, 0x814, METHOD_BUFFERED, FILE_ANY_ACCESS) = 0x8FF0 << 16 | 0x814 << 2.
    assert_eq!(ioctl::INSPECT, 0x8FF0_2050);
    assert_eq!(size_of::<InspectInput>(), 32);
    assert_eq!(size_of::<InspectOutput>(), 16);
    let buf = inspect_bytes(0x1A4, 4096, 16, 0);
    // The layout the protocol defines: header, handle, offset, length, reserved.
    assert_eq!(&buf[0..8], &[1, 0, 0, 0, 32, 0, 0, 0]);
    assert_eq!(&buf[8..16], &0x1A4_u64.to_le_bytes());
    assert_eq!(&buf[16..24], &4096_u64.to_le_bytes());
    assert_eq!(&buf[24..28], &16_u32.to_le_bytes());
    assert_eq!(
        decode_command(ioctl::INSPECT, &buf),
        Ok(Command::Inspect {
            handle: 0x1A4,
            offset: 4096,
            length: 16
        })
    );
    // The length is the filter's to judge; decoding keeps 0 and too-long lengths.
    assert_eq!(
        decode_command(ioctl::INSPECT, &inspect_bytes(8, 0, 0, 0)),
        Ok(Command::Inspect {
            handle: 8,
            offset: 0,
            length: 0
        })
    );
    assert_eq!(
        decode_command(ioctl::INSPECT, &buf[..31]),
        Err(ProtocolError::TooShort {
            needed: 32,
            got: 31
        })
    );
    assert_eq!(
        decode_command(ioctl::INSPECT, &buf[..31]).map_err(ProtocolError::status),
        Err(NtStatus::BUFFER_TOO_SMALL)
    );
    for (bad, error) in [
        (
            inspect_bytes(0x1A4, 0, 16, 1),
            ProtocolError::ReservedNotZero,
        ),
        (
            inspect_bytes(0, 0, 16, 0),
            ProtocolError::BadField("handle"),
        ),
        (
            inspect_bytes(0x1A4, 1 << 63, 16, 0),
            ProtocolError::BadField("offset"),
        ),
    ] {
        assert_eq!(decode_command(ioctl::INSPECT, &bad), Err(error));
        assert_eq!(error.status(), NtStatus::INVALID_PARAMETER);
    }
    assert_eq!(
        decode_command(ioctl::INSPECT, &inspect_bytes(8, i64::MAX as u64, 1, 0)),
        Ok(Command::Inspect {
            handle: 8,
            offset: i64::MAX as u64,
            length: 1
        })
    );
    // A HandleInput is not an InspectInput: its header names another size.
    let mut other = buf;
    other[4] = 24;
    assert_eq!(
        decode_command(ioctl::INSPECT, &other),
        Err(ProtocolError::SizeMismatch {
            expected: 32,
            got: 24
        })
    );
}

#[test]
fn open_target_checks_the_name_length() {
    let fixed = OpenTargetInput {
        header: Header::for_struct::<OpenTargetInput>(),
        name_bytes: 4,
        reserved: 0,
    };
    let mut buf = [0u8; 20];
    encode(&fixed, &mut buf).unwrap();
    buf[16..20].copy_from_slice(&[b'p', 0, b'x', 0]);
    assert_eq!(
        decode_command(ioctl::OPEN_TARGET, &buf),
        Ok(Command::OpenTarget {
            name: &[b'p', 0, b'x', 0]
        })
    );
    assert!(decode_command(ioctl::OPEN_TARGET, &buf[..19]).is_err());
    buf[8] = 3;
    assert_eq!(
        decode_command(ioctl::OPEN_TARGET, &buf),
        Err(ProtocolError::BadField("name_bytes"))
    );
}
