//! The two backends behind one trait: the real control device (`\\.\FerroFilter`, Windows only)
//! and the driver logic running in-process on the sim. Both only move bytes; every IOCTL buffer is
//! encoded and decoded once, in [`crate::proto`], with `ferrofilter-core`'s protocol structs.

use std::time::Duration;

use ferrofilter_core::NtStatus;
use serde::Serialize;

use crate::error::CliError;

#[cfg(windows)]
pub mod device;
#[cfg(feature = "sim")]
pub mod sim;

/// Which backend a command ran on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum BackendKind {
    /// The real driver through `\\.\FerroFilter`.
    Device,
    /// The driver logic in-process on `ferrofilter-sim`.
    Sim,
}

impl BackendKind {
    /// `device` or `sim`.
    #[must_use]
    pub const fn name(self) -> &'static str {
        match self {
            Self::Device => "device",
            Self::Sim => "sim",
        }
    }
}

/// What a synchronous `DeviceIoControl` returned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Reply {
    /// The request's completion status.
    pub status: NtStatus,
    /// Bytes written to the output buffer.
    pub information: usize,
}

/// A forwarded request this session is waiting for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Forwarded {
    /// The session's own number for it, in forward order from 0.
    pub token: usize,
    /// The driver's request ID, when the backend learns it at forward time (the sim does; the
    /// device only sees it in `LIST`).
    pub request_id: Option<u64>,
}

/// A forwarded request that finished.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Completion {
    /// The token [`Backend::forward`] gave it.
    pub token: usize,
    /// The status the original `FORWARD` IOCTL completed with.
    pub status: NtStatus,
}

/// What the sim's verifier found when the session's driver was torn down.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct VerifierSummary {
    /// Request objects alive at teardown.
    pub leaked: usize,
    /// Requests still in the table.
    pub tracked: u32,
    /// Violations over the whole run.
    pub violations: usize,
    /// The first few, for the log.
    pub first_violations: Vec<String>,
}

/// One open handle of the control device, with the I/O target the session created for it.
pub trait Backend {
    /// Which backend this is.
    fn kind(&self) -> BackendKind;

    /// A synchronous IOCTL: `input` in, up to `output.len()` bytes out.
    fn ioctl(&mut self, code: u32, input: &[u8], output: &mut [u8]) -> Reply;

    /// Creates the session's I/O target and asks the driver to open it with `OPEN_TARGET`
    /// (`input` is the encoded [`ferrofilter_core::protocol::OpenTargetInput`] for the name
    /// [`Backend::target_name`] gives).
    ///
    /// # Errors
    /// When the target cannot be created or the driver refuses it.
    fn open_target(&mut self, input: &[u8]) -> Result<Reply, CliError>;

    /// The NT name of the session's target, e.g. `\??\pipe\ferroctl-1234-0`.
    fn target_name(&self) -> String;

    /// Sends a `FORWARD` IOCTL (`input` encoded by [`crate::proto::forward_input`]) that pends
    /// until the target completes it or it is cancelled.
    ///
    /// # Errors
    /// The status the IOCTL completed with at once, when it did not pend.
    fn forward(&mut self, input: &[u8]) -> Result<Forwarded, NtStatus>;

    /// The target finishes up to `count` pending requests with success (the sim picks them with
    /// its seed; on the device ferroctl writes to its pipe). Returns how many it served.
    ///
    /// # Errors
    /// When the target cannot be written to.
    fn target_complete(&mut self, count: usize) -> Result<usize, CliError>;

    /// Forwarded requests that finished since the last call, waiting up to `wait` for the first.
    fn collect(&mut self, wait: Duration) -> Vec<Completion>;

    /// Forwarded requests not yet seen finished.
    fn outstanding(&self) -> usize;

    /// Closes the handle (cleanup cancels everything it forwarded) and returns the requests that
    /// finished because of it. The session cannot be used afterwards.
    ///
    /// # Errors
    /// When the handle was already closed.
    fn close(&mut self) -> Result<Vec<Completion>, CliError>;

    /// On the sim, tears the driver down and reports what the verifier saw; `None` on the device,
    /// where only KMDF Verifier can tell.
    fn verifier(&mut self) -> Option<VerifierSummary>;
}

/// Which backend to use: `--backend`, `--sim` (its shorthand), or the platform's default.
///
/// # Errors
/// [`CliError::NotAvailable`] when the sim is asked for and this build does not have it.
pub fn choose(backend: Option<BackendKind>, sim: bool) -> Result<BackendKind, CliError> {
    // Off Windows the sim is the default, as the device does not exist there; a build without
    // the sim has only the device to default to.
    let default = if cfg!(windows) || !cfg!(feature = "sim") {
        BackendKind::Device
    } else {
        BackendKind::Sim
    };
    let kind = match (backend, sim) {
        (Some(kind), _) => kind,
        (None, true) => BackendKind::Sim,
        (None, false) => default,
    };
    if kind == BackendKind::Sim && !cfg!(feature = "sim") {
        return Err(no_sim());
    }
    Ok(kind)
}

/// Opens a session on the chosen backend and checks the driver's protocol version before
/// anything else.
///
/// # Errors
/// [`CliError::Unreachable`] when the device cannot be opened; [`CliError::Version`] when the
/// driver speaks another protocol.
pub fn open(kind: BackendKind) -> Result<Box<dyn Backend>, CliError> {
    let mut backend = open_unchecked(kind)?;
    crate::proto::check_version(backend.as_mut())?;
    Ok(backend)
}

/// Opens a session on the chosen backend without asking the driver anything, for `doctor`, which
/// reports the protocol version itself.
///
/// # Errors
/// [`CliError::Unreachable`] when the device cannot be opened; [`CliError::NotAvailable`] for
/// the sim in a build without it.
pub fn open_unchecked(kind: BackendKind) -> Result<Box<dyn Backend>, CliError> {
    Ok(match kind {
        BackendKind::Sim => open_sim()?,
        BackendKind::Device => open_device()?,
    })
}

#[cfg(feature = "sim")]
fn open_sim() -> Result<Box<dyn Backend>, CliError> {
    Ok(Box::new(sim::SimSession::new_default()?))
}

#[cfg(not(feature = "sim"))]
fn open_sim() -> Result<Box<dyn Backend>, CliError> {
    Err(no_sim())
}

/// The error of every use of the sim backend in a build without it (exit 1).
#[must_use]
pub fn no_sim() -> CliError {
    crate::error::not_available_in_this_build(
        "the sim backend",
        "ferroctl was built without its default cargo feature `sim`",
    )
}

#[cfg(windows)]
fn open_device() -> Result<Box<dyn Backend>, CliError> {
    Ok(Box::new(device::DeviceSession::open()?))
}

#[cfg(not(windows))]
fn open_device() -> Result<Box<dyn Backend>, CliError> {
    Err(CliError::Unreachable(
        "the ferrofilter device exists only on Windows; use --sim".to_owned(),
    ))
}
