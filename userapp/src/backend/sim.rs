//! The sim backend: `ferrofilter_sim::device::SimDevice` in-process. Every IOCTL goes through the
//! same `ferrofilter_core::control::dispatch` the Windows driver calls; a forwarded request pends
//! at the emulated I/O target until the target (driven by the seed) completes it or it is
//! cancelled.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use ferrofilter_core::{NtStatus, RequestId};
use ferrofilter_sim::SimConfig;
use ferrofilter_sim::device::{DeviceHandle, SimDevice};

use super::{Backend, BackendKind, Completion, Forwarded, Reply, VerifierSummary};
use crate::error::CliError;

/// One sim driver that any number of [`SimSession`]s (handles) share.
pub struct SimHost {
    device: SimDevice,
    /// Requests whose completion routine ran, by request ID, with the status they completed with.
    finished: Mutex<HashMap<u64, NtStatus>>,
}

impl SimHost {
    /// A fresh sim driver.
    ///
    /// # Errors
    /// [`CliError::Failed`] when the sim driver cannot start.
    pub fn new(config: SimConfig) -> Result<Arc<Self>, CliError> {
        let device = SimDevice::new(config).map_err(|status| {
            CliError::Failed(format!("the sim driver did not start: {status:?}"))
        })?;
        Ok(Arc::new(Self {
            device,
            finished: Mutex::default(),
        }))
    }

    /// The device.
    #[must_use]
    pub const fn device(&self) -> &SimDevice {
        &self.device
    }

    /// Runs the completion routine of every request the target has finished, in arrival order,
    /// and records each status.
    fn pump(&self) {
        let driver = self.device.driver();
        while let Some(returned) = driver.framework().next_returned() {
            self.finished
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .insert(returned.id.0, returned.status);
            driver.deliver(returned);
        }
    }

    fn take(&self, id: u64) -> Option<NtStatus> {
        self.finished
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&id)
    }
}

/// One handle of the sim's control device.
pub struct SimSession {
    host: Arc<SimHost>,
    handle: Option<DeviceHandle>,
    /// Request ID -> token, for requests not yet seen finished.
    waiting: HashMap<u64, usize>,
    next_token: usize,
    index: u32,
}

impl SimSession {
    /// A session on a fresh sim driver with the default configuration.
    ///
    /// # Errors
    /// When the sim driver cannot start or the handle cannot be opened.
    pub fn new_default() -> Result<Self, CliError> {
        Self::open(SimHost::new(SimConfig::default())?, 0)
    }

    /// Opens another handle on `host`; `index` names its target pipe.
    ///
    /// # Errors
    /// [`CliError::Failed`] when 256 handles are open.
    pub fn open(host: Arc<SimHost>, index: u32) -> Result<Self, CliError> {
        let handle = host
            .device
            .open()
            .map_err(|status| CliError::ioctl("opening the sim control device", status))?;
        Ok(Self {
            host,
            handle: Some(handle),
            waiting: HashMap::new(),
            next_token: 0,
            index,
        })
    }

    /// The host, to open more sessions on the same driver.
    #[must_use]
    pub fn host(&self) -> &Arc<SimHost> {
        &self.host
    }

    fn gather(&mut self) -> Vec<Completion> {
        self.host.pump();
        let mut done: Vec<Completion> = Vec::new();
        self.waiting
            .retain(|&id, &mut token| match self.host.take(id) {
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
        let reply = self.host.device.ioctl(handle, code, input, output);
        Reply {
            status: reply.status,
            information: reply.information,
        }
    }

    fn open_target(&mut self, input: &[u8]) -> Result<Reply, CliError> {
        // The sim has one emulated target; the pipe name is checked as on Windows.
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
        let reply = self.host.device.ioctl(
            handle,
            ferrofilter_core::protocol::ioctl::FORWARD,
            input,
            &mut [],
        );
        let token = self.next_token;
        self.next_token += 1;
        let Some(RequestId(id)) = reply.pending else {
            return Err(reply.status);
        };
        self.waiting.insert(id, token);
        Ok(Forwarded {
            token,
            request_id: Some(id),
        })
    }

    fn target_complete(&mut self, count: usize) -> Result<usize, CliError> {
        let driver = self.host.device.driver();
        Ok((0..count)
            .take_while(|_| driver.complete_random(NtStatus::SUCCESS))
            .count())
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
            .device
            .close(handle)
            .map_err(|status| CliError::ioctl("CloseHandle", status))?;
        Ok(self.gather())
    }

    fn verifier(&mut self) -> Option<VerifierSummary> {
        let teardown = self.host.device.driver().teardown();
        Some(VerifierSummary {
            leaked: teardown.leaked,
            tracked: teardown.tracked,
            violations: teardown.violations.len(),
            first_violations: teardown
                .violations
                .iter()
                .take(8)
                .map(ToString::to_string)
                .collect(),
        })
    }
}
