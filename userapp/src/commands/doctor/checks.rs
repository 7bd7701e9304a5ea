//! The checks' decisions: the tools' output parsed, each fact judged pass, fail or unknown, and
//! the advice for each that did not pass. Platform-neutral, so they are tested on every OS.

use ferrofilter_core::protocol::{ALTITUDE, PROTOCOL_VERSION, USER_PATH};

use super::{
    CERT_STORES, Check, DRIVER_KMDF_MINOR, DeviceFacts, Firmware, Found, KMDF_FIRST_BUILD,
    SERVICE_FILE_SYSTEM_DRIVER, SERVICE_NAME, ServiceFact, SimFacts, TEST_CERT_SUBJECT,
    WindowsFacts, WindowsVersion, names,
};
use crate::error::status_text;

/// Whether the `SystemStartOptions` string (the boot options, separated by spaces, without the
/// leading `/`, e.g. ` NOEXECUTE=OPTIN  TESTSIGNING`) has `TESTSIGNING`.
#[must_use]
pub fn start_options_test_signing(options: &str) -> bool {
    options.split_whitespace().any(|option| {
        option
            .trim_start_matches('/')
            .eq_ignore_ascii_case("TESTSIGNING")
    })
}

/// What `bcdedit /enum {current}` says about `testsigning`: `Some(true)` for `Yes`, `Some(false)`
/// for `No` or when the entry has no `testsigning` line (the element is listed only when set),
/// `None` when the text is not an entry listing or the value is not `Yes` / `No`.
#[must_use]
pub fn bcdedit_test_signing(output: &str) -> Option<bool> {
    let mut is_listing = false;
    for line in output.lines() {
        let mut words = line.split_whitespace();
        let Some(element) = words.next() else {
            continue;
        };
        if element.eq_ignore_ascii_case("identifier") {
            is_listing = true;
        } else if element.eq_ignore_ascii_case("testsigning") {
            return match words.next() {
                Some(value) if value.eq_ignore_ascii_case("yes") => Some(true),
                Some(value) if value.eq_ignore_ascii_case("no") => Some(false),
                _ => None,
            };
        }
    }
    is_listing.then_some(false)
}

/// The data rows of one of `fltmc`'s tables (`fltmc filters`, `fltmc instances`): the lines after
/// the row of dashes under the header, split at whitespace. `None` when there is no such row.
#[must_use]
pub fn fltmc_rows(output: &str) -> Option<Vec<Vec<&str>>> {
    let mut lines = output.lines();
    lines.by_ref().find(|line| {
        let line = line.trim();
        !line.is_empty() && line.contains('-') && line.chars().all(|c| c == '-' || c == ' ')
    })?;
    Some(
        lines
            .map(|line| line.split_whitespace().collect::<Vec<_>>())
            .filter(|words| !words.is_empty())
            .collect(),
    )
}

/// One filter of `fltmc filters`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FilterRow {
    /// Filter name.
    pub name: String,
    /// Num Instances.
    pub instances: Option<u32>,
    /// Altitude, as printed (altitudes may have a fractional part).
    pub altitude: String,
}

/// The filters `fltmc filters` lists (columns: Filter Name, Num Instances, Altitude, Frame).
#[must_use]
pub fn parse_fltmc_filters(output: &str) -> Option<Vec<FilterRow>> {
    Some(
        fltmc_rows(output)?
            .into_iter()
            .filter(|words| words.len() >= 3)
            .map(|words| FilterRow {
                name: words[0].to_owned(),
                instances: words[1].parse().ok(),
                altitude: words[2].to_owned(),
            })
            .collect(),
    )
}

/// The volumes `fltmc instances` lists an instance of `filter` on (columns: Filter, Volume
/// Name, Altitude, Instance Name, Frame, and on newer builds more).
#[must_use]
pub fn parse_fltmc_instances(output: &str, filter: &str) -> Option<Vec<String>> {
    Some(
        fltmc_rows(output)?
            .into_iter()
            .filter(|words| words.len() >= 2 && words[0].eq_ignore_ascii_case(filter))
            .map(|words| words[1].to_owned())
            .collect(),
    )
}

/// The build the driver's KMDF version first shipped in, with the release's name.
#[must_use]
pub fn kmdf_first_build(minor: u32) -> Option<(u32, &'static str)> {
    KMDF_FIRST_BUILD
        .iter()
        .find(|(m, _, _)| *m == minor)
        .map(|&(_, build, name)| (build, name))
}

/// `windows_build`: the build includes the KMDF version the driver is built for.
#[must_use]
pub fn check_windows_build(version: &Found<WindowsVersion>) -> Check {
    let name = names::WINDOWS_BUILD;
    let Some((needed, release)) = kmdf_first_build(DRIVER_KMDF_MINOR) else {
        return Check::unknown(
            name,
            format!("this ferroctl does not know which build ships KMDF 1.{DRIVER_KMDF_MINOR}"),
            "see Microsoft's \"KMDF version history\"",
        );
    };
    let advice = format!(
        "use {release} (build {needed}) or later: the driver is built for KMDF 1.{DRIVER_KMDF_MINOR}, \
         which Windows includes from that build, and its INF installs nothing below it \
         (docs/install.md, section 0)"
    );
    let version = match version {
        Ok(version) => version,
        Err(error) => {
            return Check::unknown(
                name,
                format!("could not read the build: {error}"),
                format!("`winver` shows the build; {advice}"),
            );
        }
    };
    let revision = version
        .revision
        .map_or_else(String::new, |revision| format!(".{revision}"));
    let display = version
        .display_version
        .as_ref()
        .map_or_else(String::new, |display| format!(" ({display})"));
    let shown = format!("build {}{revision}{display}", version.build);
    match version.build.trim().parse::<u32>() {
        Ok(build) if build >= needed => Check::pass(
            name,
            format!(
                "{shown}: includes KMDF 1.{DRIVER_KMDF_MINOR} (from build {needed}), which the \
                 driver is built for"
            ),
        ),
        Ok(_) => Check::fail(
            name,
            format!(
                "{shown}: older than build {needed}, the first with KMDF 1.{DRIVER_KMDF_MINOR}"
            ),
            advice,
        ),
        Err(_) => Check::unknown(
            name,
            format!("{shown}: not a build number"),
            format!("`winver` shows the build; {advice}"),
        ),
    }
}

/// `elevation`: the process token is elevated.
#[must_use]
pub fn check_elevation(elevated: &Found<bool>) -> Check {
    let name = names::ELEVATION;
    let advice = "run ferroctl from an elevated prompt (Run as administrator): the control \
                  device admits only Administrators and SYSTEM, and fltmc and bcdedit need \
                  elevation too";
    match elevated {
        Ok(true) => Check::pass(name, "the process token is elevated"),
        Ok(false) => Check::fail(name, "the process token is not elevated", advice),
        Err(error) => Check::unknown(name, format!("could not read the token: {error}"), advice),
    }
}

/// `secure_boot`: Secure Boot is off (while it is on, test signing cannot be turned on).
#[must_use]
pub fn check_secure_boot(firmware: &Found<Firmware>, enabled: &Found<Option<u32>>) -> Check {
    let name = names::SECURE_BOOT;
    let advice = "turn Secure Boot off in the VM's firmware settings (Hyper-V: Settings > \
                  Security > Enable Secure Boot unchecked; suspend BitLocker first if it is on): \
                  while it is on, test signing cannot be turned on (docs/install.md, section 2)";
    match (enabled, firmware) {
        (Ok(Some(0)), _) => Check::pass(name, "Secure Boot is off (UEFISecureBootEnabled = 0)"),
        (Ok(Some(value)), _) => Check::fail(
            name,
            format!("Secure Boot is on (UEFISecureBootEnabled = {value})"),
            advice,
        ),
        (_, Ok(Firmware::Bios)) => Check::pass(name, "BIOS firmware: no Secure Boot"),
        (Ok(None), _) => Check::unknown(
            name,
            "no UEFISecureBootEnabled value on a machine that is not known to boot from BIOS",
            format!("`msinfo32` shows the Secure Boot state; {advice}"),
        ),
        (Err(error), _) => Check::unknown(
            name,
            format!("could not read the Secure Boot state: {error}"),
            format!("`msinfo32` shows the Secure Boot state; {advice}"),
        ),
    }
}

/// `test_signing`: this boot runs with `TESTSIGNING` (what the kernel enforces now), with
/// `bcdedit` telling what the next boot will do.
#[must_use]
pub fn check_test_signing(start_options: &Found<String>, bcdedit: &Found<String>) -> Check {
    let name = names::TEST_SIGNING;
    let turn_on = "from an elevated prompt: `bcdedit /set testsigning on`, then reboot; if \
                   bcdedit says the value is protected by Secure Boot policy, turn Secure Boot \
                   off first (docs/install.md, section 2)";
    let next = bcdedit
        .as_ref()
        .ok()
        .and_then(|text| bcdedit_test_signing(text));
    let next_text = match (bcdedit, next) {
        (Ok(_), Some(true)) => "bcdedit: testsigning Yes for the next boot".to_owned(),
        (Ok(_), Some(false)) => "bcdedit: testsigning not set for the next boot".to_owned(),
        (Ok(_), None) => "bcdedit's output not recognised".to_owned(),
        (Err(error), _) => format!("bcdedit not read: {error}"),
    };
    match start_options {
        Ok(options) if start_options_test_signing(options) => match next {
            Some(false) => Check::pass(
                name,
                format!(
                    "this boot runs with TESTSIGNING; {next_text}: it will be off after a reboot \
                     unless turned on again"
                ),
            ),
            _ => Check::pass(
                name,
                format!("this boot runs with TESTSIGNING; {next_text}"),
            ),
        },
        Ok(options) => {
            let found = format!(
                "this boot runs without TESTSIGNING (SystemStartOptions: `{}`); {next_text}",
                options.trim()
            );
            if next == Some(true) {
                Check::fail(
                    name,
                    found,
                    "test signing is set for the next boot: reboot (`shutdown /r /t 0`)",
                )
            } else {
                Check::fail(name, found, turn_on)
            }
        }
        Err(error) => {
            let found = format!("could not read SystemStartOptions: {error}; {next_text}");
            if next == Some(false) {
                Check::fail(name, found, turn_on)
            } else {
                Check::unknown(
                    name,
                    found,
                    format!(
                        "after `bcdedit /set testsigning on` and a reboot the desktop shows Test \
                         Mode; otherwise {turn_on}"
                    ),
                )
            }
        }
    }
}

/// `test_certificate`: a certificate with the test subject is in every store of [`CERT_STORES`].
#[must_use]
pub fn check_test_certificate(stores: &[(&'static str, Found<usize>)]) -> Check {
    let name = names::TEST_CERTIFICATE;
    let missing: Vec<&str> = stores
        .iter()
        .filter(|(_, found)| matches!(found, Ok(0)))
        .map(|(store, _)| *store)
        .collect();
    let errors: Vec<String> = stores
        .iter()
        .filter_map(|(store, found)| found.as_ref().err().map(|e| format!("{store}: {e}")))
        .collect();
    let found = stores
        .iter()
        .map(|(store, found)| match found {
            Ok(count) => format!("{store}: {count}"),
            Err(_) => format!("{store}: not read"),
        })
        .collect::<Vec<_>>()
        .join(", ");
    let found = format!("certificates with subject CN={TEST_CERT_SUBJECT} in LocalMachine {found}");
    let add = |stores: &[&str]| {
        let commands: Vec<String> = stores
            .iter()
            .map(|store| format!("`certutil -addstore {store} {TEST_CERT_SUBJECT}.cer`"))
            .collect();
        format!(
            "from an elevated prompt in the package folder: {} (docs/install.md, section 3); \
             this check looks for the subject wdk-build gives its test certificate",
            commands.join(" and ")
        )
    };
    if !missing.is_empty() {
        Check::fail(
            name,
            format!("{found}; missing from {}", missing.join(" and ")),
            add(&missing),
        )
    } else if !errors.is_empty() {
        Check::unknown(
            name,
            format!("{found} ({})", errors.join("; ")),
            add(&CERT_STORES),
        )
    } else if stores.is_empty() {
        Check::unknown(name, "no store was read", add(&CERT_STORES))
    } else {
        Check::pass(name, found)
    }
}

fn service_state_name(state: u32) -> String {
    match state {
        1 => "stopped".to_owned(),
        2 => "start pending".to_owned(),
        3 => "stop pending".to_owned(),
        4 => "running".to_owned(),
        5 => "continue pending".to_owned(),
        6 => "pause pending".to_owned(),
        7 => "paused".to_owned(),
        other => format!("state {other}"),
    }
}

/// `service`: the service control manager knows a file-system driver service `ferrofilter`.
#[must_use]
pub fn check_service(service: &Found<Option<ServiceFact>>) -> Check {
    let name = names::SERVICE;
    match service {
        Ok(Some(fact)) if fact.service_type == SERVICE_FILE_SYSTEM_DRIVER => Check::pass(
            name,
            format!(
                "service {SERVICE_NAME} installed as a file-system driver, {}",
                service_state_name(fact.state)
            ),
        ),
        Ok(Some(fact)) => Check::fail(
            name,
            format!(
                "service {SERVICE_NAME} exists with type 0x{:X}, not a file-system driver (0x2)",
                fact.service_type
            ),
            format!(
                "`sc qc {SERVICE_NAME}` shows what installed it; remove that service and install \
                 the package (docs/install.md, section 4)"
            ),
        ),
        Ok(None) => Check::fail(
            name,
            format!("no service named {SERVICE_NAME}"),
            "install the package from an elevated prompt in its folder: `pnputil /add-driver \
             ferrofilter.inf /install` (docs/install.md, section 4); below build 22000 the INF \
             installs nothing",
        ),
        Err(error) => Check::unknown(
            name,
            format!("could not query the service control manager: {error}"),
            format!("`sc query {SERVICE_NAME}` shows whether the service exists"),
        ),
    }
}

fn fltmc_advice(error: &str, what: &str) -> String {
    if error.contains("0x80070005") || error.to_ascii_lowercase().contains("access is denied") {
        format!("run from an elevated prompt: {what} needs it")
    } else {
        format!("run `{what}` from an elevated prompt to see what it says")
    }
}

/// `filter_loaded`: `fltmc filters` lists the filter at its altitude.
#[must_use]
pub fn check_filter_loaded(filters: &Found<String>) -> Check {
    let name = names::FILTER_LOADED;
    let output = match filters {
        Ok(output) => output,
        Err(error) => {
            return Check::unknown(name, error.clone(), fltmc_advice(error, "fltmc filters"));
        }
    };
    let Some(rows) = parse_fltmc_filters(output) else {
        return Check::unknown(
            name,
            format!(
                "`fltmc filters` printed no table this ferroctl recognises: `{}`",
                output
                    .lines()
                    .find(|l| !l.trim().is_empty())
                    .unwrap_or("")
                    .trim()
            ),
            "run `fltmc filters` from an elevated prompt and look for ferrofilter",
        );
    };
    let Some(row) = rows
        .iter()
        .find(|row| row.name.eq_ignore_ascii_case(SERVICE_NAME))
    else {
        return Check::fail(
            name,
            format!(
                "{SERVICE_NAME} is not among the {} filters `fltmc filters` lists",
                rows.len()
            ),
            "from an elevated prompt: `fltmc load ferrofilter` (after installing, \
             docs/install.md, sections 4 and 5); section 7 explains its errors",
        );
    };
    let instances = row
        .instances
        .map_or_else(|| "an unreadable number of".to_owned(), |n| n.to_string());
    if row.altitude.parse::<u32>().ok() == Some(ALTITUDE) {
        Check::pass(
            name,
            format!("loaded at altitude {ALTITUDE} with {instances} instance(s)"),
        )
    } else {
        Check::fail(
            name,
            format!(
                "loaded at altitude {}, the driver's is {ALTITUDE}",
                row.altitude
            ),
            "the installed INF is not this package's: unload, uninstall and install the package \
             (docs/install.md, sections 4 and 6)",
        )
    }
}

/// `instances`: `fltmc instances` lists an instance of the filter on at least one volume.
#[must_use]
pub fn check_instances(filters: &Found<String>, instances: &Found<String>) -> Check {
    let name = names::INSTANCES;
    let attach = "from an elevated prompt: `fltmc attach ferrofilter C:` (the INF suppresses \
                  automatic attachment, docs/install.md, section 5)";
    let loaded = filters
        .as_ref()
        .ok()
        .and_then(|text| parse_fltmc_filters(text))
        .map(|rows| {
            rows.iter()
                .any(|row| row.name.eq_ignore_ascii_case(SERVICE_NAME))
        });
    if loaded == Some(false) {
        return Check::fail(
            name,
            "the filter is not loaded, so it is attached nowhere",
            format!("load it first (`fltmc load ferrofilter`), then {attach}"),
        );
    }
    let output = match instances {
        Ok(output) => output,
        Err(error) => {
            return Check::unknown(name, error.clone(), fltmc_advice(error, "fltmc instances"));
        }
    };
    match parse_fltmc_instances(output, SERVICE_NAME) {
        None => Check::unknown(
            name,
            "`fltmc instances` printed no table this ferroctl recognises",
            "run `fltmc instances -f ferrofilter` from an elevated prompt",
        ),
        Some(volumes) if volumes.is_empty() => Check::fail(
            name,
            format!("{SERVICE_NAME} has no instance on any volume"),
            attach,
        ),
        Some(volumes) => Check::pass(name, format!("attached to {}", volumes.join(", "))),
    }
}

/// `control_device`: the control device opened.
#[must_use]
pub fn check_control_device(device: &DeviceFacts) -> Check {
    let name = names::CONTROL_DEVICE;
    match &device.opened {
        Ok(what) => Check::pass(name, format!("opened {what}")),
        Err(error) => Check::fail(
            name,
            error.clone(),
            "the driver must be loaded (`fltmc load ferrofilter`) and ferroctl run elevated; \
             docs/install.md, section 7, says what each error means",
        ),
    }
}

/// `protocol_version`: the driver's `GET_VERSION` names this ferroctl's protocol version, in
/// its header and its body.
#[must_use]
pub fn check_protocol_version(device: &DeviceFacts) -> Check {
    let name = names::PROTOCOL_VERSION;
    let matching = "install the ferroctl.exe from the same package as the driver: both sides \
                    must speak one protocol version";
    match &device.version {
        None => Check::unknown(
            name,
            "not asked: the control device did not open",
            "see control_device",
        ),
        Some(Err(error)) => Check::fail(
            name,
            format!("GET_VERSION failed: {error}"),
            format!("is {USER_PATH} the ferrofilter driver's? {matching}"),
        ),
        Some(Ok(info))
            if info.protocol_version == PROTOCOL_VERSION
                && info.header.version == PROTOCOL_VERSION =>
        {
            Check::pass(
                name,
                format!(
                    "driver {}.{}.{} speaks protocol {PROTOCOL_VERSION}, as this ferroctl does",
                    info.major, info.minor, info.patch
                ),
            )
        }
        Some(Ok(info)) => Check::fail(
            name,
            format!(
                "driver {}.{}.{} speaks protocol {} (header {}), this ferroctl {PROTOCOL_VERSION}",
                info.major, info.minor, info.patch, info.protocol_version, info.header.version
            ),
            matching,
        ),
    }
}

/// Every check on Windows, in order.
#[must_use]
pub fn windows_checks(facts: &WindowsFacts) -> Vec<Check> {
    vec![
        check_windows_build(&facts.version),
        check_elevation(&facts.elevated),
        check_secure_boot(&facts.firmware, &facts.secure_boot_enabled),
        check_test_signing(&facts.start_options, &facts.bcdedit),
        check_test_certificate(&facts.certificates),
        check_service(&facts.service),
        check_filter_loaded(&facts.fltmc_filters),
        check_instances(&facts.fltmc_filters, &facts.fltmc_instances),
        check_control_device(&facts.device),
        check_protocol_version(&facts.device),
        Check::not_applicable(
            names::VERIFIER,
            "on Windows only Driver Verifier and KMDF Verifier can tell (docs/debugging.md)",
        ),
    ]
}

/// Every check on the sim, in the same order: the Windows-only ones not applicable, each with
/// why.
#[must_use]
pub fn sim_checks(facts: &SimFacts) -> Vec<Check> {
    let signing = "not Windows: the sim loads the driver in this process, with no code integrity \
                   checking signatures";
    let mut checks = vec![
        Check::not_applicable(
            names::WINDOWS_BUILD,
            format!(
                "not Windows: the sim's kernel serves the driver's KMDF 1.{DRIVER_KMDF_MINOR} \
                 calls itself"
            ),
        ),
        Check::not_applicable(
            names::ELEVATION,
            "not Windows: elevation belongs to a Windows process token; on the sim this process \
             opens the control device directly",
        ),
        Check::not_applicable(names::SECURE_BOOT, signing),
        Check::not_applicable(names::TEST_SIGNING, signing),
        Check::not_applicable(names::TEST_CERTIFICATE, signing),
        Check::not_applicable(
            names::SERVICE,
            "not Windows: the sim calls DriverEntry itself, with no service control manager",
        ),
    ];
    match &facts.driver {
        Ok(state) if state.entry_status.is_success() && state.registered && state.filtering => {
            checks.push(Check::pass(
                names::FILTER_LOADED,
                format!(
                    "DriverEntry returned {} on the sim; the filter is registered with the \
                     sim's Filter Manager and filtering",
                    status_text(state.entry_status)
                ),
            ));
            checks.push(if state.attached {
                Check::pass(names::INSTANCES, "attached to the sim's volume")
            } else {
                Check::fail(
                    names::INSTANCES,
                    "the filter has no instance on the sim's volume",
                    "the driver's InstanceSetup refused the volume: run `ferroctl --sim status` \
                     and the sim's tests (`cargo test -p ferrofilter-sim`)",
                )
            });
        }
        Ok(state) => {
            let found = format!(
                "DriverEntry returned {}; filter registered: {}, filtering: {}",
                status_text(state.entry_status),
                state.registered,
                state.filtering
            );
            let advice = "the driver does not load on the sim: run the sim's tests \
                          (`cargo test -p ferrofilter-sim`) to see why";
            checks.push(Check::fail(names::FILTER_LOADED, found, advice));
            checks.push(Check::fail(
                names::INSTANCES,
                "the driver did not load, so it is attached nowhere",
                advice,
            ));
        }
        Err(error) => {
            let advice = "the driver does not load on the sim: run the sim's tests \
                          (`cargo test -p ferrofilter-sim`) to see why";
            checks.push(Check::fail(names::FILTER_LOADED, error.clone(), advice));
            checks.push(Check::fail(
                names::INSTANCES,
                "the driver did not load, so it is attached nowhere",
                advice,
            ));
        }
    }
    checks.push(check_control_device(&facts.device));
    checks.push(check_protocol_version(&facts.device));
    checks.push(match &facts.verifier {
        Some(summary) if summary.violations == 0 => {
            Check::pass(names::VERIFIER, "the sim's verifier saw no violation")
        }
        Some(summary) => Check::fail(
            names::VERIFIER,
            format!(
                "{} violation(s): {}",
                summary.violations,
                summary.first_violations.join("; ")
            ),
            "the driver broke a framework rule on the sim: docs/architecture.md lists the \
             verifier's rules",
        ),
        None => Check::unknown(
            names::VERIFIER,
            "the driver did not load, so the verifier has nothing to say",
            "see filter_loaded",
        ),
    });
    checks
}
