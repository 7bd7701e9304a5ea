//! What a step's record says: the statuses, breaks, held and re-issued operations, completions
//! of pended ones, and the stream's counts as the file system and the driver's mirror see them.

use ferrofilter_core::NtStatus;
use ferrofilter_core::protocol::{PurgeStatusHeader, PurgeStreamEntry, ioctl};
use ferrofilter_model::oplock::{Ack, OplockLevel};
use serde_json::{Map, Value, json};
use zerocopy::FromBytes;

use crate::fs::{BreakAction, FileObjectId, HeldIo};
use crate::kernel::{Violation, volume};

use super::{Live, Runner, Seen};

pub(super) fn level_name(level: OplockLevel) -> &'static str {
    match level {
        OplockLevel::None => "none",
        OplockLevel::Level1 => "level1",
        OplockLevel::Batch => "batch",
        OplockLevel::Level2 => "level2",
        OplockLevel::Read => "R",
        OplockLevel::ReadHandle => "RH",
        OplockLevel::ReadWrite => "RW",
        OplockLevel::ReadWriteHandle => "RWH",
    }
}

pub(super) const fn ack_name(ack: Ack) -> &'static str {
    match ack {
        Ack::NotRequired => "none",
        Ack::RequiredNoWait => "no_wait",
        Ack::RequiredWait => "wait",
    }
}

/// A settled operation as records show it.
pub(super) fn settled(
    op: &str,
    step: usize,
    handle: &str,
    holder: &str,
    status: NtStatus,
) -> Value {
    json!({
        "op": op,
        "step": step,
        "handle": handle,
        "holder": holder,
        "status": status.to_string(),
        "status_name": status.name(),
    })
}

impl Runner {
    /// Takes in what one kernel operation did.
    pub(super) fn absorb(&self, seen: &mut Seen, done: &volume::Completed) {
        seen.retried += done.retried;
        if seen.window_status.is_none() {
            seen.window_status = done.window_status;
        }
        for (io, status) in &done.reissued {
            seen.reissued.push(self.file_system_settled(io, *status));
        }
        if let Some(outcome) = &done.outcome {
            seen.breaks.extend(outcome.breaks.iter().copied());
            seen.closed.extend(outcome.closed.iter().copied());
            seen.switched.extend(outcome.switched.iter().copied());
            if outcome.wait.is_some() {
                seen.wait = outcome.wait;
                seen.waiting_for.clone_from(&outcome.waiting_for);
            }
            seen.held |= outcome.held;
            seen.deleted |= outcome.deleted;
            seen.data.clone_from(&outcome.data);
            for io in &outcome.cancelled {
                seen.cancelled
                    .push(self.file_system_settled(io, NtStatus::CANCELLED));
            }
        }
    }

    pub(super) fn file_system_settled(&self, io: &HeldIo, status: NtStatus) -> Value {
        settled(
            io.kind.name(),
            io.step,
            &self.name_of(io.file_object),
            "file_system",
            status,
        )
    }

    /// What became of the purge requests the driver held, as the kernel sees it: a flush the
    /// driver issued through a file object re-issued that file object's oldest held request; a
    /// reference the driver dropped without a flush completed one (`STATUS_CANCELLED`).
    pub(super) fn settle_held(&mut self, seen: &mut Seen, own_flush: bool) {
        let flushed = self
            .machine
            .kernel(|k| std::mem::take(&mut k.volume.flushed));
        for (open, outcome) in flushed {
            if own_flush {
                continue;
            }
            let file = self.opens.get(&open).copied();
            let Some(step) = file.and_then(|f| self.held.get_mut(&f)?.pop_front()) else {
                continue;
            };
            seen.reissued.push(settled(
                "purge",
                step,
                &self.name_of(open),
                "filter",
                outcome.status,
            ));
        }
        let files: Vec<usize> = self.held.keys().copied().collect();
        for file in files {
            let left = self.machine.kernel(|k| volume::driver_references(k, file)) as usize;
            let name = self
                .files
                .get(&file)
                .map(|(n, _)| n.clone())
                .unwrap_or_default();
            if let Some(queue) = self.held.get_mut(&file) {
                while queue.len() > left {
                    if let Some(step) = queue.pop_front() {
                        seen.cancelled.push(settled(
                            "purge",
                            step,
                            &name,
                            "filter",
                            NtStatus::CANCELLED,
                        ));
                    }
                }
            }
        }
        self.held.retain(|_, queue| !queue.is_empty());
    }

    /// Handles the file system closed for their owners are gone from the scenario.
    pub(super) fn forget_closed(&mut self, closed: &[FileObjectId]) {
        for open in closed {
            if let Some(name) = self.names.get(open).cloned() {
                self.handles.remove(&name);
            }
        }
    }

    pub(super) fn seen_fields(&self, seen: &Seen, out: &mut Map<String, Value>) {
        let breaks: Vec<Value> = seen
            .breaks
            .iter()
            .map(|b| {
                json!({
                    "handle": self.name_of(b.file_object),
                    "from": level_name(b.from),
                    "to": level_name(b.to),
                    "ack": ack_name(b.ack),
                    "owner_closed": b.owner_closed,
                })
            })
            .collect();
        out.insert("breaks".into(), Value::Array(breaks));
        out.insert("held".into(), Value::Bool(seen.held));
        out.insert("retried".into(), json!(seen.retried));
        out.insert(
            "window_status".into(),
            json!(seen.window_status.map(|s| s.to_string())),
        );
        out.insert("reissued".into(), Value::Array(seen.reissued.clone()));
        out.insert("cancelled".into(), Value::Array(seen.cancelled.clone()));
        // Only when there is something to say, so records of steps without them keep their
        // shape.
        let names = |opens: &[FileObjectId]| -> Value {
            opens
                .iter()
                .map(|open| json!(self.name_of(*open)))
                .collect()
        };
        if !seen.waiting_for.is_empty() {
            out.insert("waiting_for".into(), names(&seen.waiting_for));
        }
        if !seen.switched.is_empty() {
            out.insert("switched".into(), names(&seen.switched));
        }
        if !seen.completed.is_empty() {
            out.insert("completed".into(), Value::Array(seen.completed.clone()));
        }
    }

    /// The operations that pended and now completed (or were cancelled): records for them,
    /// their effects on this step's record, and the handle a completed `open` made.
    pub(super) fn settle_resumed(&mut self, resumed: Vec<volume::Resumed>, seen: &mut Seen) {
        for volume::Resumed { wait, mut done } in resumed {
            let nested = std::mem::take(&mut done.resumed);
            let data = done.outcome.as_ref().map(|o| o.data.clone());
            self.absorb(seen, &done);
            if let Some(pending) = self.pending.remove(&wait) {
                let mut entry = Map::new();
                entry.insert("step".into(), json!(pending.step));
                entry.insert("op".into(), json!(pending.op));
                entry.insert("handle".into(), json!(pending.handle));
                let mut status = NtStatus::from_i32(done.status);
                if pending.is_open {
                    status = self
                        .opened(
                            &pending.handle,
                            &pending.path,
                            &done,
                            pending.cf,
                            seen,
                            &mut entry,
                        )
                        .unwrap_or(status);
                }
                if let Some(to) = &pending.renamed_to
                    && status.is_success()
                {
                    self.follow_rename(&pending.path, to);
                }
                if pending.op == "read"
                    && let Some(data) = data
                {
                    entry.insert("data".into(), json!(String::from_utf8_lossy(&data)));
                }
                entry.insert("status".into(), json!(status.to_string()));
                entry.insert("status_name".into(), json!(status.name()));
                seen.completed.push(Value::Object(entry));
            }
            self.settle_resumed(nested, seen);
        }
    }

    /// A create completed with `done`: the handle joins the scenario as `name`, a `cf_flags`
    /// open requests its oplock and, when that fails, closes the handle again (a background
    /// `CfOpenFileWithOplock` fails and leaves no handle). The status to report instead of the
    /// create's, if any.
    pub(super) fn opened(
        &mut self,
        name: &str,
        path: &str,
        done: &volume::Completed,
        cf: Option<(OplockLevel, BreakAction)>,
        seen: &mut Seen,
        out: &mut Map<String, Value>,
    ) -> Option<NtStatus> {
        let (Some(value), Some(open)) = (done.handle, done.file) else {
            return None;
        };
        let file = self
            .machine
            .kernel(|k| k.io.handle(value).map(|entry| entry.file))
            .unwrap_or_default();
        self.handles.insert(
            name.to_owned(),
            Live {
                handle: value,
                file,
            },
        );
        self.names.insert(open, name.to_owned());
        self.files.insert(file, (name.to_owned(), path.to_owned()));
        self.opens.insert(open, file);
        if let Some((level, action)) = cf {
            let mut granted = volume::request_oplock(value, level, action);
            let oplock_status = NtStatus::from_i32(granted.status);
            out.insert("oplock_status".into(), json!(oplock_status.to_string()));
            let mut extra = Seen::default();
            self.absorb(&mut extra, &granted);
            seen.breaks.extend(extra.breaks);
            seen.closed.extend(extra.closed);
            seen.cancelled.extend(extra.cancelled);
            let resumed = std::mem::take(&mut granted.resumed);
            self.settle_resumed(resumed, seen);
            if !oplock_status.is_success() {
                let mut closed = volume::close(value);
                self.absorb(seen, &closed);
                let resumed = std::mem::take(&mut closed.resumed);
                self.settle_resumed(resumed, seen);
                self.handles.remove(name);
                self.names.remove(&open);
                self.files.remove(&file);
                self.opens.remove(&open);
                return Some(oplock_status);
            }
        }
        if let (_, Some(keys)) = self.query_keys(value) {
            out.insert("keys".into(), keys);
        }
        None
    }

    /// The driver's `PURGE_STATUS` rows by path: the driver numbers its streams in the order it
    /// attached their contexts, which the kernel saw.
    pub(super) fn purge_rows(
        &self,
    ) -> (Option<PurgeStatusHeader>, Vec<(String, PurgeStreamEntry)>) {
        let (status, output) = self.ioctl(ioctl::PURGE_STATUS, &[], 4096);
        let Ok((head, _)) = PurgeStatusHeader::read_from_prefix(&output) else {
            return (None, Vec::new());
        };
        if !status.is_success() {
            return (None, Vec::new());
        }
        let mut rows = Vec::new();
        let mut at = size_of::<PurgeStatusHeader>();
        for _ in 0..head.returned {
            let Some(Ok((row, _))) = output.get(at..).map(PurgeStreamEntry::read_from_prefix)
            else {
                break;
            };
            at += size_of::<PurgeStreamEntry>();
            rows.push(row);
        }
        rows.sort_by_key(|row| row.stream_id);
        let paths = self.machine.kernel(|k| k.volume.streams_with_context());
        let named = if paths.len() == rows.len() {
            paths.into_iter().zip(rows).collect()
        } else {
            Vec::new()
        };
        (Some(head), named)
    }

    pub(super) fn fs_numbers(&self, path: &str) -> (u32, usize, &'static str) {
        self.machine.kernel(|k| {
            k.volume.fs.stream(path).map_or((0, 0, "none"), |s| {
                (
                    s.purge.count(),
                    s.purge.held_len(),
                    level_name(s.oplock.level()),
                )
            })
        })
    }

    pub(super) fn stream_fields(&self, path: &str, out: &mut Map<String, Value>) {
        let (_, rows) = self.purge_rows();
        let mirror = rows
            .iter()
            .find(|(p, _)| p == path)
            .map_or(0, |(_, row)| row.count);
        let filter_held: u32 = self.machine.kernel(|k| {
            self.files
                .iter()
                .filter(|(_, (_, p))| p == path)
                .map(|(file, _)| volume::driver_references(k, *file))
                .sum()
        });
        let (count, fs_held, oplock) = self.fs_numbers(path);
        out.insert("path".into(), json!(path));
        out.insert("purge_count".into(), json!(count));
        out.insert("mirror_count".into(), json!(mirror));
        out.insert("fs_held".into(), json!(fs_held));
        out.insert("filter_held".into(), json!(filter_held));
        out.insert("oplock".into(), json!(oplock));
    }

    /// A lock or unlock record's view of the stream's byte-range locks.
    pub(super) fn lock_fields(&self, path: &str, out: &mut Map<String, Value>) {
        let (granted, waiting) = self.machine.kernel(|k| {
            k.volume
                .fs
                .stream(path)
                .map_or((0, 0), |s| (s.locks.granted().len(), s.locks.waiting()))
        });
        out.insert("locks".into(), json!(granted));
        out.insert("lock_waiters".into(), json!(waiting));
    }

    /// The verifier's mirror rule, after every step: while the filter is attached, the counts
    /// it reports for its streams are the file system's counts of those streams.
    pub(super) fn check_mirror(&self) {
        let (Some(_), rows) = self.purge_rows() else {
            return;
        };
        let attached = self.machine.kernel(|k| k.flt.attached);
        if !attached {
            return;
        }
        let below: Vec<&String> = self
            .below_filter
            .iter()
            .filter_map(|file| self.files.get(file).map(|(_, path)| path))
            .collect();
        let rows: Vec<_> = rows
            .into_iter()
            .filter(|(path, _)| !below.contains(&path))
            .collect();
        let mut mirror: Vec<u32> = rows.iter().map(|(_, row)| row.count).collect();
        let mut file_system: Vec<u32> = rows
            .iter()
            .map(|(path, _)| self.fs_numbers(path).0)
            .collect();
        mirror.sort_unstable();
        file_system.sort_unstable();
        if mirror != file_system {
            self.machine.kernel(|k| {
                k.report(Violation::MirrorDiverged {
                    file_system,
                    mirror,
                });
            });
        }
    }
}
