//! Runs parsed steps on the simulated kernel with the driver's own code loaded: files are
//! opened, written and closed through Filter Manager and the driver's registered callbacks
//! ([`crate::kernel::volume`]); purge, key and status requests go to its control device as
//! `DeviceIoControl`s. What a step reports is what the caller sees (statuses, IOCTL outputs)
//! and what the kernel sees (the file system's counts, breaks and held operations, the
//! references the driver holds, the flushes it issues) — never the driver's memory.

use std::collections::{BTreeMap, VecDeque};

use ferrofilter_core::protocol::{
    self, CancelGroupInput, CancelOutput, ForwardInput, HandleInput, HandleKeysInfo, Header,
    InspectInput, InspectOutput, OpenTargetInput, PartialIdInfo, PurgeRequestOutput,
    PurgeStatusHeader, PurgeStreamEntry, ioctl,
};
use ferrofilter_core::{CancelId, NtStatus};
use ferrofilter_model::cf::cf_open;
use ferrofilter_model::oplock::{Ack, OplockLevel};
use serde_json::{Map, Value, json};
use zerocopy::FromBytes;

use super::language::{self, Entry, Step, WriteMode};
use super::{StepRecord, keys_info_json, record};
use crate::fs::{BreakAction, BreakEvent, FileObjectId, HeldIo, LockRequest};
use crate::kernel::volume::{CreateArgs, CreateOptions, SimEcp};
use crate::kernel::{Machine, MachineConfig, Violation, volume};

/// A handle value no handle table has: the record for a name that is not open.
const NO_SUCH_HANDLE: u64 = 0xDEAD_0000;

/// The pipe every owner forwards to (the machine's default pipe, which the caller may open).
const PIPE: &str = "\\??\\pipe\\ferro";

/// `OPEN_TARGET` input naming `pipe`.
fn open_target_input(pipe: &str) -> Vec<u8> {
    let name: Vec<u8> = pipe.encode_utf16().flat_map(u16::to_le_bytes).collect();
    let head = OpenTargetInput {
        header: Header::for_struct::<OpenTargetInput>(),
        name_bytes: u32::try_from(name.len()).unwrap_or(u32::MAX),
        reserved: 0,
    };
    let mut input = vec![0u8; size_of::<OpenTargetInput>()];
    let _ = protocol::encode(&head, &mut input);
    input.extend_from_slice(&name);
    input
}

fn no_owner(out: &mut Map<String, Value>) -> NtStatus {
    out.insert("error".into(), json!("no open owner by this name"));
    NtStatus::INVALID_HANDLE
}

/// A step whose operation an oplock break pended, until its wait ends.
struct Pending {
    step: usize,
    op: String,
    /// The handle it was issued on, or for an `open` the name its handle gets.
    handle: String,
    path: String,
    /// An `open`, whose handle joins the scenario when it completes.
    is_open: bool,
    /// For a `cf_flags` open: the oplock to request then.
    cf: Option<(OplockLevel, BreakAction)>,
}

/// A scenario handle that is open.
struct Live {
    /// The caller's handle value.
    handle: u64,
    /// Its file object.
    file: usize,
}

/// One scenario on one machine.
pub(super) struct Runner {
    machine: Machine,
    control: u64,
    /// Scenario handle names that are open.
    handles: BTreeMap<String, Live>,
    /// The file system's opens → scenario names (kept after a close, for later records).
    names: BTreeMap<FileObjectId, String>,
    /// File objects → scenario names and paths (kept while the driver may reference them).
    files: BTreeMap<usize, (String, String)>,
    /// The file system's opens → their file objects.
    opens: BTreeMap<FileObjectId, usize>,
    /// Purge requests the driver answered "held", by file object: their steps, oldest first.
    held: BTreeMap<usize, VecDeque<usize>>,
    /// Control-device owners the scenario opened: handle and partial ID.
    owners: BTreeMap<String, (u64, u8)>,
    /// Named data-scan sections: the file object each was created through.
    sections: BTreeMap<String, usize>,
    /// File objects whose stream had FSCTLs sent below the filter: the filter's mirror of those
    /// streams' counts is not the file system's count, and the mirror rule leaves them out.
    below_filter: std::collections::BTreeSet<usize>,
    /// Pended operations by the file system's wait number.
    pending: BTreeMap<u64, Pending>,
}

fn level_name(level: OplockLevel) -> &'static str {
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

const fn ack_name(ack: Ack) -> &'static str {
    match ack {
        Ack::NotRequired => "none",
        Ack::RequiredNoWait => "no_wait",
        Ack::RequiredWait => "wait",
    }
}

/// A `lock` or `unlock` step on the handle.
fn lock_control(handle: u64, step: &Step) -> volume::Completed {
    match step {
        Step::Lock {
            offset,
            length,
            exclusive,
            fail_immediately,
            key,
            ..
        } => volume::lock(
            handle,
            LockRequest {
                offset: offset.0,
                length: length.0,
                key: key.0,
                exclusive: *exclusive,
                fail_immediately: *fail_immediately,
            },
        ),
        Step::Unlock {
            offset,
            length,
            key,
            ..
        } => volume::unlock(handle, offset.0, length.0, key.0),
        _ => volume::Completed::default(),
    }
}

fn handle_input(handle: u64) -> Vec<u8> {
    let input = HandleInput {
        header: Header::for_struct::<HandleInput>(),
        handle,
        flags: 0,
        reserved: 0,
    };
    let mut buf = vec![0u8; size_of::<HandleInput>()];
    let _ = protocol::encode(&input, &mut buf);
    buf
}

/// A settled operation as records show it.
fn settled(op: &str, step: usize, handle: &str, holder: &str, status: NtStatus) -> Value {
    json!({
        "op": op,
        "step": step,
        "handle": handle,
        "holder": holder,
        "status": status.to_string(),
        "status_name": status.name(),
    })
}

/// What the step's operations did, gathered for its record.
#[derive(Default)]
struct Seen {
    breaks: Vec<BreakEvent>,
    closed: Vec<FileObjectId>,
    held: bool,
    retried: u32,
    window_status: Option<NtStatus>,
    reissued: Vec<Value>,
    cancelled: Vec<Value>,
    data: Vec<u8>,
    deleted: bool,
    switched: Vec<FileObjectId>,
    wait: Option<u64>,
    waiting_for: Vec<FileObjectId>,
    /// Pended operations that completed, as records show them.
    completed: Vec<Value>,
}

impl Runner {
    /// Boots a machine and loads the driver; opens the control device.
    pub(super) fn new() -> Result<Self, NtStatus> {
        let machine = Machine::boot(&MachineConfig::default());
        if !machine.loaded() {
            return Err(NtStatus::from_i32(machine.entry_status()));
        }
        let control = machine.open_control().map_err(NtStatus::from_i32)?;
        Ok(Self {
            machine,
            control,
            handles: BTreeMap::new(),
            names: BTreeMap::new(),
            files: BTreeMap::new(),
            opens: BTreeMap::new(),
            held: BTreeMap::new(),
            owners: BTreeMap::new(),
            sections: BTreeMap::new(),
            below_filter: std::collections::BTreeSet::new(),
            pending: BTreeMap::new(),
        })
    }

    /// Closes what the scenario left open and unloads the driver; every violation the
    /// kernel saw, including what the driver left behind.
    pub(super) fn finish(mut self) -> Vec<Violation> {
        let mut open: Vec<u64> = self.handles.values().map(|live| live.handle).collect();
        // A close can let a pended create complete, whose handle is then closed too.
        let mut at = 0;
        while let Some(&handle) = open.get(at) {
            let done = volume::close(handle);
            let mut resumed: Vec<&volume::Resumed> = done.resumed.iter().collect();
            while let Some(one) = resumed.pop() {
                open.extend(one.done.handle);
                resumed.extend(one.done.resumed.iter());
            }
            at += 1;
        }
        volume::forget_pended();
        for (handle, _) in std::mem::take(&mut self.owners).into_values() {
            let _ = self.machine.close_control(handle);
        }
        while self.machine.complete_one_at_target(0, 0) {}
        self.machine.deliver_all();
        let _ = self.machine.close_control(self.control);
        match self.machine.unload(true) {
            Ok(unloaded) => unloaded.violations,
            Err(_) => self.machine.violations(),
        }
    }

    fn name_of(&self, open: FileObjectId) -> String {
        self.names
            .get(&open)
            .cloned()
            .unwrap_or_else(|| format!("open#{open}"))
    }

    fn ioctl(&self, code: u32, input: &[u8], output_length: usize) -> (NtStatus, Vec<u8>) {
        let reply = self.machine.ioctl(self.control, code, input, output_length);
        (NtStatus::from_i32(reply.status), reply.output)
    }

    fn handle_value(&self, name: &str) -> u64 {
        self.handles
            .get(name)
            .map_or(NO_SUCH_HANDLE, |live| live.handle)
    }

    /// Takes in what one kernel operation did.
    fn absorb(&self, seen: &mut Seen, done: &volume::Completed) {
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

    fn file_system_settled(&self, io: &HeldIo, status: NtStatus) -> Value {
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
    fn settle_held(&mut self, seen: &mut Seen, own_flush: bool) {
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
    fn forget_closed(&mut self, closed: &[FileObjectId]) {
        for open in closed {
            if let Some(name) = self.names.get(open).cloned() {
                self.handles.remove(&name);
            }
        }
    }

    fn seen_fields(&self, seen: &Seen, out: &mut Map<String, Value>) {
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
    fn settle_resumed(&mut self, resumed: Vec<volume::Resumed>, seen: &mut Seen) {
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
    fn opened(
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
    fn purge_rows(&self) -> (Option<PurgeStatusHeader>, Vec<(String, PurgeStreamEntry)>) {
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

    fn fs_numbers(&self, path: &str) -> (u32, usize, &'static str) {
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

    fn stream_fields(&self, path: &str, out: &mut Map<String, Value>) {
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
    fn lock_fields(&self, path: &str, out: &mut Map<String, Value>) {
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
    fn check_mirror(&self) {
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

    /// Runs one step; `records` are the earlier steps' records.
    #[allow(clippy::too_many_lines, reason = "one arm per op, each short")]
    pub(super) fn run(
        &mut self,
        index: usize,
        entry: &Entry,
        records: &[StepRecord],
    ) -> StepRecord {
        let mut out = Map::new();
        let (step, op) = (&entry.step, entry.op.as_str());
        let status = match step {
            Step::Expect(expect) => {
                let checked = entry.checks.and_then(|at| records.get(at));
                let prev = checked.map_or(Value::Null, StepRecord::to_json);
                if let Some(record) = checked {
                    out.insert("of_step".into(), json!(record.step));
                }
                let mut mismatches = Vec::new();
                for (key, expected) in &expect.fields {
                    let actual = prev.get(key).unwrap_or(&Value::Null);
                    if !super::expect::matches(expected, actual) {
                        mismatches
                            .push(json!({"field": key, "expected": expected, "actual": actual}));
                    }
                }
                let passed = mismatches.is_empty();
                out.insert("passed".into(), Value::Bool(passed));
                out.insert("mismatches".into(), Value::Array(mismatches));
                if passed {
                    NtStatus::SUCCESS
                } else {
                    NtStatus::UNSUCCESSFUL
                }
            }
            Step::Detach {} => {
                let status = self
                    .machine
                    .detach()
                    .map_or_else(NtStatus::from_i32, |()| NtStatus::SUCCESS);
                let mut seen = Seen::default();
                self.settle_held(&mut seen, false);
                self.seen_fields(&seen, &mut out);
                status
            }
            Step::PurgeStatus {} => self.purge_status(&mut out),
            Step::EndSection { section } => {
                out.insert("section".into(), json!(section.0));
                match self.sections.remove(&section.0) {
                    None => {
                        out.insert("error".into(), json!("no open section by this name"));
                        NtStatus::NOT_FOUND
                    }
                    Some(file) => {
                        let path = self
                            .files
                            .get(&file)
                            .map(|(_, p)| p.clone())
                            .unwrap_or_default();
                        let done = volume::end_section(file);
                        let mut seen = Seen::default();
                        self.absorb(&mut seen, &done);
                        self.settle_held(&mut seen, false);
                        self.seen_fields(&seen, &mut out);
                        self.stream_fields(&path, &mut out);
                        NtStatus::from_i32(done.status)
                    }
                }
            }
            Step::OwnerOpen { owner, count } => self.owner_open(owner, count.0, &mut out),
            Step::OwnerClose { owner } => {
                out.insert("owner".into(), json!(owner));
                match self.owners.remove(&owner.0) {
                    None => no_owner(&mut out),
                    Some((handle, _)) => {
                        let status = self
                            .machine
                            .close_control(handle)
                            .map_or_else(NtStatus::from_i32, |()| NtStatus::SUCCESS);
                        self.replies(&mut out);
                        status
                    }
                }
            }
            Step::Forward {
                owner,
                group,
                count,
            } => self.forward(owner, group.0, count.0, &mut out),
            Step::CancelGroup {
                owner,
                group_owner,
                group,
            } => self.cancel_group(
                owner,
                group_owner.as_ref().unwrap_or(owner),
                group.0,
                &mut out,
            ),
            Step::Complete { count, status } => {
                let mut completed = 0u32;
                while completed < count.0
                    && self
                        .machine
                        .complete_one_at_target(status.0.cast_signed(), 0)
                {
                    completed += 1;
                }
                out.insert("completed".into(), json!(completed));
                self.replies(&mut out);
                NtStatus::SUCCESS
            }
            Step::QueryKeys {
                handle,
                handle_value,
            } => {
                let value = match (handle, handle_value) {
                    (Some(name), _) => {
                        out.insert("handle".into(), json!(name));
                        self.handle_value(name)
                    }
                    (None, Some(v)) => v.0,
                    (None, None) => 0,
                };
                let (status, keys) = self.query_keys(value);
                if let Some(keys) = keys {
                    out.insert("keys".into(), keys);
                }
                status
            }
            Step::Open(open) => {
                let (handle, path) = (&open.handle.0, &open.path);
                out.insert("handle".into(), json!(handle));
                let mut params = open.params();
                let mut oplock = None;
                let on_break = open.on_break.map(language::OnBreak::action);
                let mut action = on_break.unwrap_or_default();
                if let Some(flags) = open.cf_flags {
                    match cf_open(flags.0) {
                        Ok(cf) => {
                            params.desired_access = cf.desired_access;
                            params.share_access = cf.share_access;
                            oplock = cf.oplock;
                            action = on_break.unwrap_or(BreakAction::Close);
                            out.insert(
                                "cf".into(),
                                json!({
                                    "desired_access": format!("0x{:08X}", cf.desired_access),
                                    "share_access": format!("0x{:X}", cf.share_access),
                                    "oplock": cf.oplock.map(level_name),
                                }),
                            );
                        }
                        Err(unknown) => {
                            out.insert("error".into(), json!(unknown.to_string()));
                            return record(index, op, unknown.status(), out);
                        }
                    }
                }
                let pended_name = self
                    .pending
                    .values()
                    .any(|p| p.is_open && p.handle == *handle);
                if self.handles.contains_key(handle) || pended_name {
                    out.insert("error".into(), json!("handle name already open"));
                    return record(index, op, NtStatus::INVALID_PARAMETER, out);
                }
                let args = CreateArgs {
                    path: path.clone(),
                    params,
                    kind: open.kind.stream(),
                    ecps: open
                        .ecps
                        .iter()
                        .map(|ecp| {
                            let e = ecp.encode();
                            SimEcp {
                                ecp_type: e.ecp_type,
                                from_user_mode: e.from_user_mode,
                                context: e.context,
                            }
                        })
                        .collect(),
                };
                let options = CreateOptions {
                    delete_on_close: open.delete_on_close,
                    requiring_oplock: open.requiring_oplock,
                    complete_if_oplocked: open.complete_if_oplocked,
                };
                let mut done = volume::create_with(&args, options);
                let mut seen = Seen::default();
                self.absorb(&mut seen, &done);
                let resumed = std::mem::take(&mut done.resumed);
                self.settle_resumed(resumed, &mut seen);
                let mut status = NtStatus::from_i32(done.status);
                let cf = oplock.map(|level| (level, action));
                if let Some(failed) = self.opened(handle, path, &done, cf, &mut seen, &mut out) {
                    status = failed;
                }
                if let Some(wait) = seen.wait {
                    self.pending.insert(
                        wait,
                        Pending {
                            step: index,
                            op: op.to_owned(),
                            handle: handle.clone(),
                            path: path.clone(),
                            is_open: true,
                            cf,
                        },
                    );
                }
                self.settle_held(&mut seen, false);
                self.forget_closed(&seen.closed.clone());
                self.seen_fields(&seen, &mut out);
                self.stream_fields(path, &mut out);
                if status == NtStatus::PENDING && !seen.held && seen.wait.is_none() {
                    status = NtStatus::UNSUCCESSFUL;
                }
                status
            }
            Step::Oplock { handle, .. }
            | Step::Ack { handle, .. }
            | Step::Read { handle, .. }
            | Step::Write { handle, .. }
            | Step::Lock { handle, .. }
            | Step::Unlock { handle, .. }
            | Step::SetInformation { handle, .. }
            | Step::SetDisposition { handle, .. }
            | Step::Rename { handle, .. }
            | Step::FsctlSetPurgeFailureMode { handle, .. }
            | Step::BeginDataScan { handle, .. }
            | Step::EndDataScan { handle }
            | Step::MapSection { handle }
            | Step::UnmapSection { handle }
            | Step::Purge { handle }
            | Step::Inspect { handle, .. }
            | Step::InspectNewHandle { handle, .. }
            | Step::Close { handle } => {
                let handle = &handle.0;
                out.insert("handle".into(), json!(handle));
                let Some(live) = self.handles.get(handle) else {
                    out.insert("error".into(), json!("no open handle by this name"));
                    return record(index, op, NtStatus::INVALID_HANDLE, out);
                };
                let (value, file) = (live.handle, live.file);
                let mut path = self
                    .files
                    .get(&file)
                    .map(|(_, p)| p.clone())
                    .unwrap_or_default();
                let mut seen = Seen::default();
                let status = self.handle_op(index, step, value, &mut seen, &mut out);
                if let Step::Rename { to, .. } = step
                    && status.is_success()
                {
                    // The stream keeps its file objects under its new name.
                    for (_, p) in self.files.values_mut().filter(|(_, p)| *p == path) {
                        p.clone_from(to);
                    }
                    path.clone_from(to);
                }
                if matches!(step, Step::Close { .. }) {
                    out.insert("deleted".into(), json!(seen.deleted));
                }
                if let Some(wait) = seen.wait {
                    self.pending.insert(
                        wait,
                        Pending {
                            step: index,
                            op: op.to_owned(),
                            handle: handle.clone(),
                            path: path.clone(),
                            is_open: false,
                            cf: None,
                        },
                    );
                }
                self.settle_held(&mut seen, matches!(step, Step::Purge { .. }));
                self.forget_closed(&seen.closed.clone());
                if matches!(step, Step::Close { .. }) {
                    self.handles.remove(handle);
                }
                if matches!(
                    step,
                    Step::Read { .. } | Step::Inspect { .. } | Step::InspectNewHandle { .. }
                ) {
                    out.insert("data".into(), json!(String::from_utf8_lossy(&seen.data)));
                }
                if matches!(step, Step::Lock { .. } | Step::Unlock { .. }) {
                    self.lock_fields(&path, &mut out);
                }
                self.seen_fields(&seen, &mut out);
                self.stream_fields(&path, &mut out);
                status
            }
        };
        self.check_mirror();
        record(index, op, status, out)
    }

    fn handle_op(
        &mut self,
        index: usize,
        step: &Step,
        handle: u64,
        seen: &mut Seen,
        out: &mut Map<String, Value>,
    ) -> NtStatus {
        let done = match step {
            Step::Oplock {
                level, on_break, ..
            } => volume::request_oplock(handle, level.oplock(), on_break.action()),
            Step::Ack { level, .. } => {
                volume::acknowledge(handle, level.map(language::AckLevel::oplock))
            }
            Step::Read { offset, length, .. } => volume::read(handle, offset.0, length.0),
            Step::InspectNewHandle { offset, length, .. } => {
                volume::read_through_own_open(handle, offset.0, length.0)
            }
            Step::Inspect { offset, length, .. } => {
                return self.inspect(handle, offset.0, length.0, seen);
            }
            Step::Write {
                offset,
                data,
                mode: WriteMode::Paging,
                ..
            } => volume::paging_write(handle, offset.0, data.as_bytes()),
            Step::Write {
                offset, data, mode, ..
            } => volume::write(
                handle,
                offset.0,
                data.as_bytes(),
                *mode == WriteMode::NonCached,
                index,
            ),
            Step::SetInformation { class, size, .. } => {
                out.insert("class".into(), json!(class));
                let resize = (*class != language::InfoClass::Basic).then_some(size.0);
                volume::set_information(handle, resize)
            }
            Step::FsctlSetPurgeFailureMode {
                requestor,
                flags,
                input_size,
                repeat,
                below_filter,
                ..
            } => {
                let input = language::purge_failure_input(*flags, *input_size);
                let (done, applied) = if *below_filter {
                    if let Some(file) = self.machine.kernel(|k| k.io.handle(handle).map(|e| e.file))
                    {
                        self.below_filter.insert(file);
                    }
                    volume::set_purge_failure_mode_below(handle, requestor.mode(), &input, repeat.0)
                } else {
                    let mut last = volume::Completed::default();
                    let mut applied = 0u32;
                    for _ in 0..repeat.0 {
                        let done = volume::set_purge_failure_mode(handle, requestor.mode(), &input);
                        applied += u32::from(done.status >= 0);
                        self.absorb(seen, &done);
                        last = done;
                    }
                    // Each call was taken in above; the last one's status is the step's.
                    let status = NtStatus::from_i32(last.status);
                    out.insert("applied".into(), json!(applied));
                    return status;
                };
                out.insert("applied".into(), json!(applied));
                done
            }
            Step::Lock { .. } | Step::Unlock { .. } => lock_control(handle, step),
            Step::SetDisposition { delete, .. } => volume::set_disposition(handle, *delete),
            Step::Rename {
                to,
                replace_if_exists,
                ..
            } => volume::rename(handle, to, *replace_if_exists),
            Step::BeginDataScan { section, .. } => {
                let done = volume::begin_data_scan(handle);
                if let Some(name) = section
                    && done.status >= 0
                    && let Some(file) = self.machine.kernel(|k| k.io.handle(handle).map(|e| e.file))
                {
                    self.sections.insert(name.0.clone(), file);
                }
                done
            }
            Step::EndDataScan { .. } => volume::end_data_scan(handle),
            Step::MapSection { .. } => volume::user_section(handle, true),
            Step::UnmapSection { .. } => volume::user_section(handle, false),
            Step::Purge { .. } => return self.purge(index, handle, seen, out),
            Step::Close { .. } => volume::close(handle),
            _ => volume::Completed::default(),
        };
        let mut done = done;
        self.absorb(seen, &done);
        let resumed = std::mem::take(&mut done.resumed);
        self.settle_resumed(resumed, seen);
        NtStatus::from_i32(done.status)
    }

    /// `INSPECT` on the control device: the driver reads through the caller's own file object.
    fn inspect(&self, handle: u64, offset: u64, length: u32, seen: &mut Seen) -> NtStatus {
        let input = InspectInput {
            header: Header::for_struct::<InspectInput>(),
            handle,
            offset,
            length,
            reserved: 0,
        };
        let mut buf = vec![0u8; size_of::<InspectInput>()];
        let _ = protocol::encode(&input, &mut buf);
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
    fn purge(
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

    fn query_keys(&self, handle: u64) -> (NtStatus, Option<Value>) {
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
    fn replies(&mut self, out: &mut Map<String, Value>) {
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

    /// `CreateFile(\\.\FerroFilter)`, `GET_PARTIAL_ID` and `OPEN_TARGET` (the pipe) for each
    /// of `count` owners; stops at the first that fails.
    fn owner_open(&mut self, owner: &str, count: u32, out: &mut Map<String, Value>) -> NtStatus {
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
            let target =
                self.machine
                    .ioctl(handle, ioctl::OPEN_TARGET, &open_target_input(PIPE), 0);
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
    fn forward(
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
        let input = ForwardInput {
            header: Header::for_struct::<ForwardInput>(),
            cancel_id,
            flags: 0,
            reserved: 0,
        };
        let mut buf = vec![0u8; size_of::<ForwardInput>()];
        let _ = protocol::encode(&input, &mut buf);
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
    fn cancel_group(
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
        let input = CancelGroupInput {
            header: Header::for_struct::<CancelGroupInput>(),
            cancel_id: CancelId::new(partial, group).0,
        };
        let mut buf = vec![0u8; size_of::<CancelGroupInput>()];
        let _ = protocol::encode(&input, &mut buf);
        let reply =
            self.machine
                .ioctl(handle, ioctl::CANCEL_GROUP, &buf, size_of::<CancelOutput>());
        if let Ok(answer) = protocol::decode::<CancelOutput>(&reply.output) {
            out.insert("attempted".into(), json!(answer.attempted));
        }
        self.replies(out);
        NtStatus::from_i32(reply.status)
    }

    fn purge_status(&self, out: &mut Map<String, Value>) -> NtStatus {
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
