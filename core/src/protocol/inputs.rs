//! The inputs built the one way a caller builds them: the current header and every reserved field
//! zero. ferroctl, the sim's own runners and the tests all build their inputs here.

extern crate alloc;

use alloc::vec::Vec;

use zerocopy::IntoBytes;

use super::{
    CancelGroupInput, CancelInput, ForwardInput, HandleInput, Header, InspectInput, OpenTargetInput,
};

impl OpenTargetInput {
    /// The whole `OPEN_TARGET` input naming `name`: this structure, then the name in UTF-16LE. A
    /// name of more than `u32::MAX` bytes says `u32::MAX`, which the driver refuses.
    #[must_use]
    pub fn with_name(name: &str) -> Vec<u8> {
        let name: Vec<u8> = name.encode_utf16().flat_map(u16::to_le_bytes).collect();
        let head = Self {
            header: Header::for_struct::<Self>(),
            name_bytes: u32::try_from(name.len()).unwrap_or(u32::MAX),
            reserved: 0,
        };
        let mut input = head.as_bytes().to_vec();
        input.extend_from_slice(&name);
        input
    }
}

impl ForwardInput {
    /// Forward one request tagged `cancel_id` (0: none).
    #[must_use]
    pub const fn new(cancel_id: u64) -> Self {
        Self {
            header: Header::for_struct::<Self>(),
            cancel_id,
            flags: 0,
            reserved: 0,
        }
    }
}

impl CancelInput {
    /// Cancel the request `request_id` names.
    #[must_use]
    pub const fn new(request_id: u64) -> Self {
        Self {
            header: Header::for_struct::<Self>(),
            request_id,
        }
    }
}

impl CancelGroupInput {
    /// Cancel every request tagged `cancel_id`.
    #[must_use]
    pub const fn new(cancel_id: u64) -> Self {
        Self {
            header: Header::for_struct::<Self>(),
            cancel_id,
        }
    }
}

impl HandleInput {
    /// Ask about the caller's `handle`.
    #[must_use]
    pub const fn new(handle: u64) -> Self {
        Self {
            header: Header::for_struct::<Self>(),
            handle,
            flags: 0,
            reserved: 0,
        }
    }
}

impl InspectInput {
    /// Read `length` bytes at `offset` of the caller's `handle`.
    #[must_use]
    pub const fn new(handle: u64, offset: u64, length: u32) -> Self {
        Self {
            header: Header::for_struct::<Self>(),
            handle,
            offset,
            length,
            reserved: 0,
        }
    }
}
