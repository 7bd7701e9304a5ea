//! Steps that go to the driver's control device as `DeviceIoControl`s: inspect, purge requests,
//! keys, purge status.

use std::collections::BTreeMap;

use ferrofilter_core::NtStatus;
use ferrofilter_core::protocol::{
    self, HandleInput, HandleKeysInfo, InspectInput, InspectOutput, PurgeRequestOutput, ioctl,
};
use serde_json::{Map, Value, json};
use zerocopy::{FromBytes, IntoBytes};

use crate::scenario::keys_info_json;

use super::{Runner, Seen};

pub(super) fn handle_input(handle: u64) -> Vec<u8> {
    HandleInput::new(handle).as_bytes().to_vec()
}

impl Runner {
    /// `INSPECT` on the control device: the driver reads through the caller's own file object.
    pub(super) fn inspect(
        &self,
        handle: u64,
        offset: u64,
        length: u32,
        seen: &mut Seen,
    ) -> NtStatus {
        let buf = InspectInput::new(handle, offset, length)
            .as_bytes()
            .to_vec();
        let room = size_of::<InspectOutput>() + length as usize;
        let (status, output) = self.ioctl(ioctl::INSPECT, &buf, room);
        if status.is_success()
            && let Ok((head, rest)) = InspectOutput::read_from_prefix(&output)
        {
            let read = (head.bytes_read as usize).min(rest.len());
            seen.data = rest[..read].to_vec();
        }
        status
    }

    /// `PURGE_REQUEST` on the control device for the handle.
    pub(super) fn purge(
        &mut self,
        index: usize,
        handle: u64,
        seen: &mut Seen,
        out: &mut Map<String, Value>,
    ) -> NtStatus {
        let (ioctl_status, output) = self.ioctl(
            ioctl::PURGE_REQUEST,
            &handle_input(handle),
            size_of::<PurgeRequestOutput>(),
        );
        out.insert("ioctl_status".into(), json!(ioctl_status.to_string()));
        let Ok(reply) = protocol::decode::<PurgeRequestOutput>(&output) else {
            return ioctl_status;
        };
        let outcome = match reply.outcome {
            protocol::PURGE_OUTCOME_DONE => "done",
            protocol::PURGE_OUTCOME_HELD => "held",
            _ => "failed",
        };
        out.insert("outcome".into(), json!(outcome));
        if reply.outcome == protocol::PURGE_OUTCOME_HELD {
            seen.held = true;
            let file = self
                .handles
                .values()
                .find(|live| live.handle == handle)
                .map(|live| live.file);
            if let Some(file) = file {
                self.held.entry(file).or_default().push_back(index);
            }
        }
        NtStatus(reply.status)
    }

    pub(super) fn query_keys(&self, handle: u64) -> (NtStatus, Option<Value>) {
        let (status, output) = self.ioctl(
            ioctl::QUERY_KEYS,
            &handle_input(handle),
            size_of::<HandleKeysInfo>(),
        );
        let keys = status
            .is_success()
            .then(|| protocol::decode::<HandleKeysInfo>(&output).ok())
            .flatten()
            .map(|info| keys_info_json(&info));
        (status, keys)
    }

    /// The replies to forwarded reads that came back (delivered now), counted by status name,
    /// and the reads the target still holds.
    pub(super) fn replies(&mut self, out: &mut Map<String, Value>) {
        self.machine.deliver_all();
        let mut by_status: BTreeMap<String, u32> = BTreeMap::new();
        for (_, reply) in self.machine.take_replies() {
            let status = NtStatus::from_i32(reply.status);
            let name = status
                .name()
                .map_or_else(|| status.to_string(), str::to_owned);
            *by_status.entry(name).or_default() += 1;
        }
        out.insert("replies".into(), json!(by_status));
        out.insert(
            "pending_at_target".into(),
            json!(self.machine.pending_at_target().len()),
        );
    }

    pub(super) fn purge_status(&self, out: &mut Map<String, Value>) -> NtStatus {
        let (status, _) = self.ioctl(ioctl::PURGE_STATUS, &[], 4096);
        let (Some(head), mut rows) = self.purge_rows() else {
            return status;
        };
        // Records list the streams by path, whatever order the driver keeps them in.
        rows.sort_by(|a, b| a.0.cmp(&b.0));
        let rows: Vec<Value> = rows
            .iter()
            .map(|(path, row)| {
                let (fs_count, fs_held, _) = self.fs_numbers(path);
                json!({
                    "path": path,
                    "count": row.count,
                    "held": row.held,
                    "handles": row.handles,
                    "enables": row.enables,
                    "disables": row.disables,
                    "fs_count": fs_count,
                    "fs_held": fs_held,
                })
            })
            .collect();
        out.insert("streams".into(), Value::Array(rows));
        out.insert("streams_total".into(), json!(head.streams_total));
        out.insert("held_total".into(), json!(head.held_total));
        out.insert("windows_open".into(), json!(head.windows_open));
        out.insert("reissued_total".into(), json!(head.reissued));
        out.insert("torn_down_total".into(), json!(head.torn_down));
        status
    }
}
