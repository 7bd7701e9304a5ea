//! The sim backend: the driver's own code, loaded in-process on the simulated kernel
//! (`ferrofilter_sim::kernel`). Every IOCTL goes to the driver's queue through the control
//! device, files are opened on the simulated volume through its filter, and a forwarded request
//! pends at the pipe the handle opened until the target completes it or it is cancelled.

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;
use std::time::Duration;

use ferrofilter_core::NtStatus;
use ferrofilter_sim::SimConfig;
use ferrofilter_sim::kernel::volume::CreateArgs;
use ferrofilter_sim::kernel::{Machine, MachineConfig, volume};

use super::{Backend, BackendKind, Completion, Forwarded, Reply, VerifierSummary};
use crate::error::CliError;

/// How many sessions (pipes `\??\pipe\ferroctl-sim-N`) a host offers.
const PIPES: u32 = 257;
/// Bytes the pipe returns for a completed read.
const READ_BYTES: usize = 0;

/// One loaded driver that any number of [`SimSession`]s (handles) share.
pub struct SimHost {
    machine: RefCell<Machine>,
    /// Requests whose completion the host has seen, by IRP number, with their status.
    finished: RefCell<HashMap<u64, NtStatus>>,
}

impl SimHost {
    /// Boots a machine and loads the driver.
    ///
    /// # Errors
    /// [`CliError::SimNotLoaded`] when the driver's `DriverEntry` fails.
    pub fn new(config: SimConfig) -> Result<Rc<Self>, CliError> {
        let machine = Machine::boot(&MachineConfig {
            seed: config.seed,
            strict: config.strict,
            pipes: (0..PIPES)
                .map(|index| (format!("\\??\\pipe\\ferroctl-sim-{index}"), true))
                .collect(),
            ..MachineConfig::default()
        });
        if !machine.loaded() {
            return Err(CliError::SimNotLoaded {
                status: NtStatus::from_i32(machine.entry_status()),
            });
        }
        Ok(Rc::new(Self {
            machine: RefCell::new(machine),
            finished: RefCell::default(),
        }))
    }

    /// What the simulated kernel holds of the driver: `DriverEntry`'s status, whether the filter
    /// is registered and filtering, and whether its instance is attached to the volume.
    #[must_use]
    pub fn driver_state(&self) -> crate::commands::doctor::SimDriverState {
        let machine = self.machine.borrow();
        let (registered, filtering, attached) =
            machine.kernel(|k| (k.flt.registration.is_some(), k.flt.started, k.flt.attached));
        crate::commands::doctor::SimDriverState {
            entry_status: NtStatus::from_i32(machine.entry_status()),
            registered,
            filtering,
            attached,
        }
    }

    /// Opens a file on the sim's volume through the filter; returns the caller's handle value.
    ///
    /// # Errors
    /// The create's failure status.
    pub fn open_file(&self, args: &CreateArgs) -> Result<u64, NtStatus> {
        let _machine = self.machine.borrow();
        let created = volume::create(args);
        created
            .handle
            .ok_or_else(|| NtStatus::from_i32(created.status))
    }

    /// Opens (creating if needed) the file at `path` on the sim's volume through the filter with
    /// `desired` access and `share`, without ECPs; returns the caller's handle value.
    ///
    /// # Errors
    /// The create's failure status.
    pub fn open_path(&self, path: &str, desired: u32, share: u32) -> Result<u64, NtStatus> {
        use ferrofilter_model::oplock::{CreateDisposition, CreateParams};
        self.open_file(&CreateArgs {
            path: path.to_owned(),
            params: CreateParams {
                disposition: CreateDisposition::OpenIf,
                ..CreateParams::open(desired, share)
            },
            kind: ferrofilter_sim::fs::StreamKind::File,
            ecps: Vec::new(),
        })
    }

    /// A cached write of `bytes` at `offset` through a handle [`SimHost::open_file`] returned,
    /// through the filter.
    ///
    /// # Errors
    /// The write's failure status.
    pub fn write_file(&self, handle: u64, offset: u64, bytes: &[u8]) -> Result<(), NtStatus> {
        let _machine = self.machine.borrow();
        let status = NtStatus::from_i32(volume::write(handle, offset, bytes, false, 0).status);
        if status.is_success() {
            Ok(())
        } else {
            Err(status)
        }
    }

    /// Closes a handle [`SimHost::open_file`] returned.
    pub fn close_file(&self, handle: u64) {
        let _machine = self.machine.borrow();
        let _ = volume::close(handle);
    }

    /// Runs every completion routine the other processors have pending, and records what
    /// finished.
    fn pump(&self) {
        let machine = self.machine.borrow();
        machine.deliver_all();
        let mut finished = self.finished.borrow_mut();
        for (irp, reply) in machine.take_replies() {
            finished.insert(irp, NtStatus::from_i32(reply.status));
        }
    }

    fn take(&self, irp: u64) -> Option<NtStatus> {
        self.finished.borrow_mut().remove(&irp)
    }
}

/// One handle of the sim's control device.
pub struct SimSession {
    host: Rc<SimHost>,
    handle: Option<u64>,
    /// IRP number -> token, for requests not yet seen finished.
    waiting: HashMap<u64, usize>,
    next_token: usize,
    index: u32,
}

impl SimSession {
    /// A session on a freshly loaded driver with the default configuration.
    ///
    /// # Errors
    /// When the driver does not load or the handle cannot be opened.
    pub fn new_default() -> Result<Self, CliError> {
        Self::open(SimHost::new(SimConfig::default())?, 0)
    }

    /// Opens another handle on `host`; `index` names its target pipe.
    ///
    /// # Errors
    /// [`CliError::Failed`] when the driver refuses the open (256 handles open).
    pub fn open(host: Rc<SimHost>, index: u32) -> Result<Self, CliError> {
        let handle = host.machine.borrow().open_control().map_err(|status| {
            CliError::ioctl("opening the sim control device", NtStatus::from_i32(status))
        })?;
        Ok(Self {
            host,
            handle: Some(handle),
            waiting: HashMap::new(),
            next_token: 0,
            index,
        })
    }

    /// The host, to open more sessions or files on the same driver.
    #[must_use]
    pub fn host(&self) -> &Rc<SimHost> {
        &self.host
    }

    /// Opens (creating if needed) the file at `path` on the sim's volume through the filter with
    /// `desired` access and `share`, without ECPs; runs `f` with this session and the caller's
    /// handle, and closes the handle whatever `f` returns.
    ///
    /// # Errors
    /// The create's failure, or what `f` returns.
    pub fn with_file<T>(
        &mut self,
        path: &str,
        desired: u32,
        share: u32,
        f: impl FnOnce(&mut Self, u64) -> Result<T, CliError>,
    ) -> Result<T, CliError> {
        let host = Rc::clone(&self.host);
        let handle = host
            .open_path(path, desired, share)
            .map_err(|status| CliError::ioctl("opening the file on the sim's volume", status))?;
        let result = f(self, handle);
        host.close_file(handle);
        result
    }

    fn gather(&mut self) -> Vec<Completion> {
        self.host.pump();
        let mut done: Vec<Completion> = Vec::new();
        self.waiting
            .retain(|&irp, &mut token| match self.host.take(irp) {
                Some(status) => {
                    done.push(Completion { token, status });
                    false
                }
                None => true,
            });
        done.sort_by_key(|c| c.token);
        done
    }
}

impl Backend for SimSession {
    fn kind(&self) -> BackendKind {
        BackendKind::Sim
    }

    fn ioctl(&mut self, code: u32, input: &[u8], output: &mut [u8]) -> Reply {
        let Some(handle) = self.handle else {
            return Reply {
                status: NtStatus::INVALID_HANDLE,
                information: 0,
            };
        };
        let reply = self
            .host
            .machine
            .borrow()
            .ioctl(handle, code, input, output.len());
        let shown = reply.output.len().min(output.len());
        output[..shown].copy_from_slice(&reply.output[..shown]);
        Reply {
            status: NtStatus::from_i32(reply.status),
            information: reply.information,
        }
    }

    fn open_target(&mut self, input: &[u8]) -> Result<Reply, CliError> {
        Ok(self.ioctl(
            ferrofilter_core::protocol::ioctl::OPEN_TARGET,
            input,
            &mut [],
        ))
    }

    fn target_name(&self) -> String {
        format!("\\??\\pipe\\ferroctl-sim-{}", self.index)
    }

    fn forward(&mut self, input: &[u8]) -> Result<Forwarded, NtStatus> {
        let handle = self.handle.ok_or(NtStatus::INVALID_HANDLE)?;
        let reply = self.host.machine.borrow().ioctl(
            handle,
            ferrofilter_core::protocol::ioctl::FORWARD,
            input,
            READ_BYTES,
        );
        let token = self.next_token;
        self.next_token += 1;
        let Some(irp) = reply.pending else {
            return Err(NtStatus::from_i32(reply.status));
        };
        self.waiting.insert(irp, token);
        // Like the device, the sim learns the driver's request IDs only from LIST.
        Ok(Forwarded {
            token,
            request_id: None,
        })
    }

    fn target_complete(&mut self, count: usize) -> Result<usize, CliError> {
        let machine = self.host.machine.borrow();
        let done = (0..count)
            .take_while(|_| machine.complete_one_at_target(0, READ_BYTES))
            .count();
        Ok(done)
    }

    fn collect(&mut self, _wait: Duration) -> Vec<Completion> {
        // Nothing runs behind our back on the sim: whatever finished has finished now.
        self.gather()
    }

    fn outstanding(&self) -> usize {
        self.waiting.len()
    }

    fn close(&mut self) -> Result<Vec<Completion>, CliError> {
        let handle = self
            .handle
            .take()
            .ok_or_else(|| CliError::Failed("the handle is already closed".to_owned()))?;
        self.host
            .machine
            .borrow()
            .close_control(handle)
            .map_err(|status| CliError::ioctl("CloseHandle", NtStatus::from_i32(status)))?;
        Ok(self.gather())
    }

    fn verifier(&mut self) -> Option<VerifierSummary> {
        self.host.pump();
        let machine = self.host.machine.borrow();
        let violations = machine.violations();
        let leaked = violations
            .iter()
            .filter(|v| matches!(v, ferrofilter_sim::kernel::Violation::Leak { .. }))
            .count();
        Some(VerifierSummary {
            leaked,
            tracked: u32::try_from(machine.pending_at_target().len()).unwrap_or(u32::MAX),
            violations: violations.len(),
            first_violations: violations.iter().take(8).map(ToString::to_string).collect(),
        })
    }
}
