//! Fuzzes `protocol::decode_command` over every IOCTL code the device defines plus random codes.
//!
//! Input: `[selector][input...]`; a selector below the number of known codes picks one, anything
//! else takes the next four bytes as the code.

#![no_main]

use ferrofilter_core::protocol::{Command, ProtocolError, decode_command};
use libfuzzer_sys::fuzz_target;

const KNOWN: &[u32] = &ferrofilter_core::protocol::ALL_IOCTLS;

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    let (code, input) = match KNOWN.get(usize::from(selector)) {
        Some(&code) => (code, rest),
        None => match rest {
            [a, b, c, d, input @ ..] => (u32::from_le_bytes([*a, *b, *c, *d]), input),
            _ => return,
        },
    };
    match decode_command(code, input) {
        Ok(Command::OpenTarget { name }) => {
            assert!(!name.is_empty() && name.len().is_multiple_of(2));
            assert!(name.len() <= input.len());
        }
        Ok(Command::QueryKeys { handle } | Command::PurgeRequest { handle }) => {
            assert_ne!(handle, 0);
        }
        Ok(Command::Inspect { handle, offset, .. }) => {
            assert_ne!(handle, 0);
            assert!(i64::try_from(offset).is_ok());
        }
        Ok(_) => assert!(KNOWN.contains(&code)),
        Err(ProtocolError::UnknownIoctl(c)) => {
            assert_eq!(c, code);
            assert!(!KNOWN.contains(&code));
        }
        Err(e) => {
            assert!(KNOWN.contains(&code));
            // Every refusal maps to a failure status.
            assert!(!e.status().is_success());
        }
    }
});
