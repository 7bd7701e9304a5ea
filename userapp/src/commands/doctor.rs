//! `doctor`: whether this machine is ready for the driver, check by check, with what to do about
//! each one that is not.
//!
//! Gathering is platform code: on Windows `doctor_win.rs` reads the registry, the certificate
//! stores, the service control manager, `bcdedit` and `fltmc` (unverified here: type-checked for
//! `x86_64-pc-windows-msvc` only); on the sim [`gather_sim`] reads the simulated kernel's state.
//! Everything after that — parsing the tools' text, deciding pass or fail, the advice — is in the
//! platform-neutral functions below, so it is tested here on samples of the documented output.

use std::io::Write;

use ferrofilter_core::NtStatus;
#[cfg(any(feature = "sim", windows))]
use ferrofilter_core::protocol::USER_PATH;
use ferrofilter_core::protocol::VersionInfo;
use serde::Serialize;

use crate::backend::{self, BackendKind, VerifierSummary};
use crate::error::CliError;
use crate::exit::Outcome;
use crate::output;

/// The KMDF minor version (1.x) the driver is built for: `target-kmdf-version-minor` in
/// `driver/Cargo.toml` (a unit test keeps the two equal).
pub const DRIVER_KMDF_MINOR: u32 = 33;

/// The first Windows build that includes each KMDF 1.x version a driver may target, from
/// Microsoft's "KMDF version history"; only the version the driver targets is needed, and the
/// INF's lowest `DefaultInstall` decoration is the same build (a unit test checks it).
const KMDF_FIRST_BUILD: &[(u32, u32, &str)] = &[(33, 22000, "Windows 11 21H2")];

/// The service, filter and instance name the INF installs.
pub const SERVICE_NAME: &str = "ferrofilter";

/// The subject wdk-build gives the test certificate it signs the package with
/// (`CN=WDRLocalTestCert`, shipped as `WDRLocalTestCert.cer`).
pub const TEST_CERT_SUBJECT: &str = "WDRLocalTestCert";

/// The local-machine stores the test certificate has to be in: `Root` so the signature chains
/// to a trusted root, `TrustedPublisher` so the package installs without a prompt.
pub const CERT_STORES: [&str; 2] = ["Root", "TrustedPublisher"];

/// The checks, in the order they are reported.
pub mod names {
    /// The Windows build, and so its KMDF version.
    pub const WINDOWS_BUILD: &str = "windows_build";
    /// The process token is elevated.
    pub const ELEVATION: &str = "elevation";
    /// Secure Boot is off.
    pub const SECURE_BOOT: &str = "secure_boot";
    /// This boot runs with test signing.
    pub const TEST_SIGNING: &str = "test_signing";
    /// The test certificate is in both stores.
    pub const TEST_CERTIFICATE: &str = "test_certificate";
    /// The `ferrofilter` service is installed.
    pub const SERVICE: &str = "service";
    /// The filter is loaded.
    pub const FILTER_LOADED: &str = "filter_loaded";
    /// The filter has at least one instance.
    pub const INSTANCES: &str = "instances";
    /// `\\.\FerroFilter` opens.
    pub const CONTROL_DEVICE: &str = "control_device";
    /// The driver speaks this ferroctl's protocol version.
    pub const PROTOCOL_VERSION: &str = "protocol_version";
    /// The sim's verifier saw nothing.
    pub const VERIFIER: &str = "verifier";
}

/// How a check came out.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// As the driver needs it.
    Pass,
    /// Not as the driver needs it; the advice says what to do.
    Fail,
    /// Could not be determined; the advice says how to find out.
    Unknown,
    /// Does not apply to this backend; `found` says why.
    NotApplicable,
}

impl Status {
    /// The word the table shows.
    #[must_use]
    pub const fn label(self) -> &'static str {
        match self {
            Self::Pass => "pass",
            Self::Fail => "FAIL",
            Self::Unknown => "unknown",
            Self::NotApplicable => "n/a",
        }
    }
}

/// One check's result.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Check {
    /// Its name, one of [`names`].
    pub name: &'static str,
    /// How it came out.
    pub status: Status,
    /// What was found.
    pub found: String,
    /// What to do, when it did not pass.
    pub advice: Option<String>,
}

impl Check {
    fn pass(name: &'static str, found: impl Into<String>) -> Self {
        Self {
            name,
            status: Status::Pass,
            found: found.into(),
            advice: None,
        }
    }

    fn fail(name: &'static str, found: impl Into<String>, advice: impl Into<String>) -> Self {
        Self {
            name,
            status: Status::Fail,
            found: found.into(),
            advice: Some(advice.into()),
        }
    }

    fn unknown(name: &'static str, found: impl Into<String>, advice: impl Into<String>) -> Self {
        Self {
            name,
            status: Status::Unknown,
            found: found.into(),
            advice: Some(advice.into()),
        }
    }

    fn not_applicable(name: &'static str, why: impl Into<String>) -> Self {
        Self {
            name,
            status: Status::NotApplicable,
            found: why.into(),
            advice: None,
        }
    }
}

/// How many checks came out each way.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Summary {
    /// Passed.
    pub pass: usize,
    /// Failed.
    pub fail: usize,
    /// Undetermined.
    pub unknown: usize,
    /// Not applicable to the backend.
    pub not_applicable: usize,
}

/// What `doctor` prints.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct DoctorReport {
    /// `doctor`.
    pub command: &'static str,
    /// `sim` or `device`.
    pub backend: BackendKind,
    /// Whether every applicable check passed (exit 0).
    pub ok: bool,
    /// The counts.
    pub summary: Summary,
    /// Every check, in order.
    pub checks: Vec<Check>,
}

impl DoctorReport {
    /// A report over `checks`: ok when every check that applies passed.
    #[must_use]
    pub fn new(backend: BackendKind, checks: Vec<Check>) -> Self {
        let mut summary = Summary::default();
        for check in &checks {
            match check.status {
                Status::Pass => summary.pass += 1,
                Status::Fail => summary.fail += 1,
                Status::Unknown => summary.unknown += 1,
                Status::NotApplicable => summary.not_applicable += 1,
            }
        }
        Self {
            command: "doctor",
            backend,
            ok: summary.fail == 0 && summary.unknown == 0,
            summary,
            checks,
        }
    }

    /// 0 when every applicable check passed, 1 otherwise.
    #[must_use]
    pub const fn outcome(&self) -> Outcome {
        if self.ok {
            Outcome::Ok
        } else {
            Outcome::Failed
        }
    }
}

/// A fact, or why it could not be read.
pub type Found<T> = Result<T, String>;

/// The running Windows version, from `HKLM\SOFTWARE\Microsoft\Windows NT\CurrentVersion`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WindowsVersion {
    /// `CurrentBuildNumber`, e.g. `22631`.
    pub build: String,
    /// `UBR`, the update revision, when present.
    pub revision: Option<u32>,
    /// `DisplayVersion`, e.g. `23H2`, when present.
    pub display_version: Option<String>,
}

/// The firmware the machine booted from (`GetFirmwareType`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Firmware {
    /// Legacy BIOS: no Secure Boot.
    Bios,
    /// UEFI: Secure Boot may be on.
    Uefi,
    /// Another value.
    Other(i32),
}

/// The `ferrofilter` service as the service control manager reports it (`QueryServiceStatus`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ServiceFact {
    /// `dwServiceType`.
    pub service_type: u32,
    /// `dwCurrentState`.
    pub state: u32,
}

/// `SERVICE_FILE_SYSTEM_DRIVER`: what the INF's `ServiceType = 2` installs.
pub const SERVICE_FILE_SYSTEM_DRIVER: u32 = 2;

/// What opening the control device and asking its version gave.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeviceFacts {
    /// The open: what was opened, or the error.
    pub opened: Found<String>,
    /// `GET_VERSION`'s answer, when the open succeeded.
    pub version: Option<Found<VersionInfo>>,
}

/// Everything the Windows checks decide from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WindowsFacts {
    /// The Windows version.
    pub version: Found<WindowsVersion>,
    /// Whether the process token is elevated.
    pub elevated: Found<bool>,
    /// The firmware type.
    pub firmware: Found<Firmware>,
    /// `HKLM\SYSTEM\CurrentControlSet\Control\SecureBoot\State\UEFISecureBootEnabled`, `None`
    /// when the value does not exist.
    pub secure_boot_enabled: Found<Option<u32>>,
    /// `HKLM\SYSTEM\CurrentControlSet\Control\SystemStartOptions`: the options this boot runs
    /// with.
    pub start_options: Found<String>,
    /// The output of `bcdedit /enum {current}`: what the next boot will run with.
    pub bcdedit: Found<String>,
    /// Certificates whose subject contains [`TEST_CERT_SUBJECT`], per store of [`CERT_STORES`].
    pub certificates: Vec<(&'static str, Found<usize>)>,
    /// The service, `None` when it is not installed.
    pub service: Found<Option<ServiceFact>>,
    /// The output of `fltmc filters`.
    pub fltmc_filters: Found<String>,
    /// The output of `fltmc instances`.
    pub fltmc_instances: Found<String>,
    /// The control device.
    pub device: DeviceFacts,
}

/// The sim's driver, as its simulated kernel holds it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SimDriverState {
    /// `DriverEntry`'s status.
    pub entry_status: NtStatus,
    /// The filter registered with the sim's Filter Manager.
    pub registered: bool,
    /// `FltStartFiltering` ran.
    pub filtering: bool,
    /// An instance is attached to the sim's volume.
    pub attached: bool,
}

/// Everything the sim's checks decide from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SimFacts {
    /// The driver's state, or why the machine could not load it.
    pub driver: Found<SimDriverState>,
    /// The control device.
    pub device: DeviceFacts,
    /// What the verifier saw, when the driver loaded.
    pub verifier: Option<VerifierSummary>,
}

mod checks;

pub use checks::{
    FilterRow, bcdedit_test_signing, check_control_device, check_elevation, check_filter_loaded,
    check_instances, check_protocol_version, check_secure_boot, check_service,
    check_test_certificate, check_test_signing, check_windows_build, fltmc_rows, kmdf_first_build,
    parse_fltmc_filters, parse_fltmc_instances, sim_checks, start_options_test_signing,
    windows_checks,
};

// ---------------------------------------------------------------------------------------------
// Gathering and printing.

#[cfg(any(feature = "sim", windows))]
/// Opens the control device on `session` (already opened, or why not) and asks its version
/// without refusing another protocol, so the check can say which one it speaks.
fn device_facts(session: Result<&mut dyn backend::Backend, String>, what: &str) -> DeviceFacts {
    match session {
        Ok(backend) => DeviceFacts {
            opened: Ok(what.to_owned()),
            version: Some(crate::proto::version_unchecked(backend).map_err(|e| e.to_string())),
        },
        Err(error) => DeviceFacts {
            opened: Err(error),
            version: None,
        },
    }
}

/// The sim's facts: boots a machine with the driver, opens its control device, asks its
/// version, closes the handle and reads the verifier.
#[cfg(feature = "sim")]
#[must_use]
pub fn gather_sim() -> SimFacts {
    use crate::backend::Backend as _;
    use crate::backend::sim::{SimHost, SimSession};
    let host = match SimHost::new(ferrofilter_sim::SimConfig::default()) {
        Ok(host) => host,
        Err(error) => {
            return SimFacts {
                driver: Err(error.to_string()),
                device: DeviceFacts {
                    opened: Err("the driver did not load on the sim".to_owned()),
                    version: None,
                },
                verifier: None,
            };
        }
    };
    let driver = Ok(host.driver_state());
    let mut session = SimSession::open(host, 0);
    let device = device_facts(
        session
            .as_mut()
            .map(|s| s as &mut dyn backend::Backend)
            .map_err(|e| format!("opening the sim's {USER_PATH}: {e}")),
        &format!("the sim's {USER_PATH}"),
    );
    let verifier = session.ok().and_then(|mut session| {
        let _ = session.close();
        session.verifier()
    });
    SimFacts {
        driver,
        device,
        verifier,
    }
}

/// The device's facts (Windows only; unverified here).
#[cfg(windows)]
fn gather_windows() -> WindowsFacts {
    let mut session = backend::open_unchecked(BackendKind::Device);
    let device = device_facts(
        session
            .as_mut()
            .map(|s| &mut **s as &mut dyn backend::Backend)
            .map_err(|e| e.to_string()),
        USER_PATH,
    );
    crate::commands::doctor_win::gather(device)
}

/// Off Windows the device's facts cannot be read: every one says so.
#[cfg(not(windows))]
fn gather_windows() -> WindowsFacts {
    fn no<T>() -> Found<T> {
        Err("this is not Windows".to_owned())
    }
    WindowsFacts {
        version: no(),
        elevated: no(),
        firmware: no(),
        secure_boot_enabled: no(),
        start_options: no(),
        bcdedit: no(),
        certificates: CERT_STORES.iter().map(|store| (*store, no())).collect(),
        service: no(),
        fltmc_filters: no(),
        fltmc_instances: no(),
        device: DeviceFacts {
            opened: Err(backend::open_unchecked(BackendKind::Device)
                .err()
                .map_or_else(|| "this is not Windows".to_owned(), |e| e.to_string())),
            version: None,
        },
    }
}

/// The report for `kind`.
#[must_use]
pub fn report(kind: BackendKind) -> DoctorReport {
    let checks = match kind {
        BackendKind::Device => windows_checks(&gather_windows()),
        BackendKind::Sim => sim_report_checks(),
    };
    DoctorReport::new(kind, checks)
}

#[cfg(feature = "sim")]
fn sim_report_checks() -> Vec<Check> {
    sim_checks(&gather_sim())
}

#[cfg(not(feature = "sim"))]
fn sim_report_checks() -> Vec<Check> {
    sim_checks(&SimFacts {
        driver: Err("this ferroctl was built without the sim".to_owned()),
        device: DeviceFacts {
            opened: Err("this ferroctl was built without the sim".to_owned()),
            version: None,
        },
        verifier: None,
    })
}

/// Writes the report as a table: one line per check, the advice under each that did not pass.
///
/// # Errors
/// When writing fails.
pub fn print(report: &DoctorReport, out: &mut dyn Write) -> std::io::Result<()> {
    let width = report
        .checks
        .iter()
        .map(|check| check.name.len())
        .max()
        .unwrap_or(0);
    writeln!(out, "backend: {}", report.backend.name())?;
    for check in &report.checks {
        writeln!(
            out,
            "{:<7}  {:<width$}  {}",
            check.status.label(),
            check.name,
            check.found
        )?;
        if let Some(advice) = &check.advice {
            writeln!(out, "{:<7}  {:<width$}  what to do: {advice}", "", "")?;
        }
    }
    let s = report.summary;
    writeln!(
        out,
        "\n{} passed, {} failed, {} unknown, {} not applicable: {}",
        s.pass,
        s.fail,
        s.unknown,
        s.not_applicable,
        if report.ok { "ready" } else { "not ready" }
    )
}

/// `doctor`.
///
/// # Errors
/// When writing the output fails; every problem found is a check, not an error.
pub fn run(kind: BackendKind, json: bool, out: &mut dyn Write) -> Result<Outcome, CliError> {
    let report = report(kind);
    if json {
        output::json(out, &report)?;
    } else {
        print(&report, out)?;
    }
    Ok(report.outcome())
}

#[cfg(test)]
mod tests;
