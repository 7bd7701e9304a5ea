//! Runs parsed steps on the simulated kernel with the driver's own code loaded: files are
//! opened, written and closed through Filter Manager and the driver's registered callbacks
//! ([`crate::kernel::volume`]); purge, key and status requests go to its control device as
//! `DeviceIoControl`s. What a step reports is what the caller sees (statuses, IOCTL outputs)
//! and what the kernel sees (the file system's counts, breaks and held operations, the
//! references the driver holds, the flushes it issues) — never the driver's memory.

use std::collections::{BTreeMap, VecDeque};

use ferrofilter_core::NtStatus;
use ferrofilter_model::cf::cf_open;
use ferrofilter_model::oplock::OplockLevel;
use serde_json::{Map, Value, json};

use super::language::{self, Entry, Step, WriteMode};
use super::{StepRecord, record};
use crate::fs::{BreakAction, BreakEvent, FileObjectId, LockRequest};
use crate::kernel::volume::{CreateArgs, CreateOptions, SimEcp};
use crate::kernel::{Machine, MachineConfig, Violation, volume};

/// A handle value no handle table has: the record for a name that is not open.
const NO_SUCH_HANDLE: u64 = 0xDEAD_0000;

mod control;
mod records;
mod tracker;

use records::level_name;
use tracker::no_owner;

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
    /// For a `rename`: the new path its handles' streams take when it completes.
    renamed_to: Option<String>,
}

impl Pending {
    /// Step `step` (`op`) pending on `handle` over `path`: not an open, no rename.
    fn new(step: usize, op: &str, handle: &str, path: &str) -> Self {
        Self {
            step,
            op: op.to_owned(),
            handle: handle.to_owned(),
            path: path.to_owned(),
            is_open: false,
            cf: None,
            renamed_to: None,
        }
    }
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

    /// The stream at `from` keeps its file objects under its new name `to`.
    fn follow_rename(&mut self, from: &str, to: &str) {
        for (_, p) in self.files.values_mut().filter(|(_, p)| *p == from) {
            to.clone_into(p);
        }
    }

    /// An operation that pended (`wait`) completes later, in the record of the step that ends its
    /// wait; `pending` is what that record names.
    fn remember_pending(&mut self, wait: Option<u64>, pending: Pending) {
        if let Some(wait) = wait {
            self.pending.insert(wait, pending);
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
                self.remember_pending(
                    seen.wait,
                    Pending {
                        is_open: true,
                        cf,
                        ..Pending::new(index, op, handle, path)
                    },
                );
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
                    && status != NtStatus::PENDING
                {
                    self.follow_rename(&path, to);
                    path.clone_from(to);
                }
                if matches!(step, Step::Close { .. }) {
                    out.insert("deleted".into(), json!(seen.deleted));
                }
                self.remember_pending(
                    seen.wait,
                    Pending {
                        renamed_to: match step {
                            Step::Rename { to, .. } => Some(to.clone()),
                            _ => None,
                        },
                        ..Pending::new(index, op, handle, &path)
                    },
                );
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
}
