//! The tracker steps: control-device owners, their pipe targets, forwards and group cancels.

use ferrofilter_core::protocol::{
    self, CancelGroupInput, CancelOutput, ForwardInput, OpenTargetInput, PartialIdInfo, ioctl,
};
use ferrofilter_core::{CancelId, NtStatus};
use serde_json::{Map, Value, json};
use zerocopy::IntoBytes;

use super::Runner;

/// The pipe every owner forwards to (the machine's default pipe, which the caller may open).
pub(super) const PIPE: &str = "\\??\\pipe\\ferro";

pub(super) fn no_owner(out: &mut Map<String, Value>) -> NtStatus {
    out.insert("error".into(), json!("no open owner by this name"));
    NtStatus::INVALID_HANDLE
}

impl Runner {
    /// `CreateFile(\\.\FerroFilter)`, `GET_PARTIAL_ID` and `OPEN_TARGET` (the pipe) for each
    /// of `count` owners; stops at the first that fails.
    pub(super) fn owner_open(
        &mut self,
        owner: &str,
        count: u32,
        out: &mut Map<String, Value>,
    ) -> NtStatus {
        out.insert("owner".into(), json!(owner));
        let mut opened = 0u32;
        let mut status = NtStatus::SUCCESS;
        for i in 0..count {
            let name = if count == 1 {
                owner.to_owned()
            } else {
                format!("{owner}#{i}")
            };
            if self.owners.contains_key(&name) {
                out.insert(
                    "error".into(),
                    json!(format!("owner `{name}` is already open")),
                );
                status = NtStatus::INVALID_PARAMETER;
                break;
            }
            let handle = match self.machine.open_control() {
                Ok(handle) => handle,
                Err(failed) => {
                    status = NtStatus::from_i32(failed);
                    break;
                }
            };
            let reply = self.machine.ioctl(
                handle,
                ioctl::GET_PARTIAL_ID,
                &[],
                size_of::<PartialIdInfo>(),
            );
            let partial = protocol::decode::<PartialIdInfo>(&reply.output)
                .ok()
                .and_then(|info| u8::try_from(info.partial).ok());
            let target = self.machine.ioctl(
                handle,
                ioctl::OPEN_TARGET,
                &OpenTargetInput::with_name(PIPE),
                0,
            );
            match partial {
                Some(partial) if target.status >= 0 => {
                    if count == 1 {
                        out.insert("partial".into(), json!(partial));
                    }
                    self.owners.insert(name, (handle, partial));
                    opened += 1;
                }
                _ => {
                    status = NtStatus::from_i32(if target.status < 0 {
                        target.status
                    } else {
                        reply.status
                    });
                    let _ = self.machine.close_control(handle);
                    break;
                }
            }
        }
        out.insert("opened".into(), json!(opened));
        status
    }

    /// `count` FORWARDs from `owner`; the step's status is `STATUS_PENDING` when every one was
    /// forwarded (pends at the target), else the first refusal's.
    pub(super) fn forward(
        &mut self,
        owner: &str,
        group: u64,
        count: u32,
        out: &mut Map<String, Value>,
    ) -> NtStatus {
        out.insert("owner".into(), json!(owner));
        let Some(&(handle, partial)) = self.owners.get(owner) else {
            return no_owner(out);
        };
        let cancel_id = if group == 0 {
            0
        } else {
            CancelId::new(partial, group).0
        };
        let buf = ForwardInput::new(cancel_id).as_bytes().to_vec();
        let (mut pending, mut refused) = (0u32, 0u32);
        let mut status = NtStatus::PENDING;
        for _ in 0..count {
            let reply = self.machine.ioctl(handle, ioctl::FORWARD, &buf, 16);
            if reply.pending.is_some() {
                pending += 1;
            } else {
                if refused == 0 {
                    status = NtStatus::from_i32(reply.status);
                }
                refused += 1;
            }
        }
        out.insert("cancel_id".into(), json!(format!("0x{cancel_id:016X}")));
        out.insert("forwarded".into(), json!(pending));
        out.insert("refused".into(), json!(refused));
        self.replies(out);
        status
    }

    /// `CANCEL_GROUP` from `owner` naming group `group` of `group_owner`'s partial ID.
    pub(super) fn cancel_group(
        &mut self,
        owner: &str,
        group_owner: &str,
        group: u64,
        out: &mut Map<String, Value>,
    ) -> NtStatus {
        out.insert("owner".into(), json!(owner));
        let (Some(&(handle, _)), Some(&(_, partial))) =
            (self.owners.get(owner), self.owners.get(group_owner))
        else {
            return no_owner(out);
        };
        let buf = CancelGroupInput::new(CancelId::new(partial, group).0)
            .as_bytes()
            .to_vec();
        let reply =
            self.machine
                .ioctl(handle, ioctl::CANCEL_GROUP, &buf, size_of::<CancelOutput>());
        if let Ok(answer) = protocol::decode::<CancelOutput>(&reply.output) {
            out.insert("attempted".into(), json!(answer.attempted));
        }
        self.replies(out);
        NtStatus::from_i32(reply.status)
    }
}
