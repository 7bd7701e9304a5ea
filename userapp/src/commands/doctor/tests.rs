//! The checks' decisions over sample tool output.
//!
//! The samples are representative, not captured: they were written from the formats Microsoft
//! documents and shows for `fltmc`, `bcdedit /enum` and the `SystemStartOptions` value, on no
//! particular machine. The parsers rely only on what those formats share: a row of dashes under
//! a table's header, names without spaces in the first columns, `element value` lines.

use super::*;
use ferrofilter_core::protocol::{ALTITUDE, PROTOCOL_VERSION, USER_PATH};

const FLTMC_FILTERS: &str = "
Filter Name                     Num Instances    Altitude    Frame
------------------------------  -------------  ------------  -----
bindflt                                 1       409800         0
ferrofilter                             1       385201         0
WdFilter                                4       328010         0
storqosflt                              0       244000         0
wcifs                                   0       189900         0
CldFlt                                  0       180451         0
FileCrypt                               0       141100         0
luafv                                   1       135000         0
npsvctrig                               1        46000         0
Wof                                     2        40700         0
FileInfo                                4        40500         0
";

const FLTMC_INSTANCES: &str = "
Filter                Volume Name                              Altitude        Instance Name       Frame   SprtFtrs  VlStatus
--------------------  -------------------------------------  ------------  ----------------------  -----   --------  --------
bindflt               C:                                        409800      bindflt Instance          0     0000000f
ferrofilter           C:                                        385201      ferrofilter               0     0000000f
WdFilter              C:                                        328010      WdFilter Instance         0     0000000f
WdFilter              \\Device\\Mup                               328010      WdFilter Instance         0     00000003
FileInfo              C:                                         40500      FileInfo                  0     0000000f
";

const BCDEDIT_ON: &str = "
Windows Boot Loader
-------------------
identifier              {current}
device                  partition=C:
path                    \\Windows\\system32\\winload.efi
description             Windows 11
locale                  en-US
inherit                 {bootloadersettings}
recoverysequence        {0d7b5ad6-26a3-11ef-a7a5-00155d012345}
displaymessageoverride  Recovery
recoveryenabled         Yes
testsigning             Yes
isolatedcontext         Yes
allowedinmemorysettings 0x15000075
osdevice                partition=C:
systemroot              \\Windows
resumeobject            {0d7b5ad4-26a3-11ef-a7a5-00155d012345}
nx                      OptIn
bootmenupolicy          Standard
";

const START_OPTIONS_ON: &str = " NOEXECUTE=OPTIN  TESTSIGNING  NOVGA";
const START_OPTIONS_OFF: &str = " NOEXECUTE=OPTIN  FVEBOOT=2654208  NOVGA";

fn bcdedit_off() -> String {
    BCDEDIT_ON.replace("testsigning             Yes\n", "")
}

fn without_ferrofilter(table: &str) -> String {
    table
        .lines()
        .filter(|line| !line.starts_with("ferrofilter"))
        .collect::<Vec<_>>()
        .join("\n")
}

fn version_info(protocol: u32) -> VersionInfo {
    VersionInfo {
        header: ferrofilter_core::protocol::Header::for_struct::<VersionInfo>(),
        protocol_version: protocol,
        major: 0,
        minor: 1,
        patch: 0,
        reserved: 0,
        altitude: ALTITUDE,
    }
}

fn device_ok() -> DeviceFacts {
    DeviceFacts {
        opened: Ok(USER_PATH.to_owned()),
        version: Some(Ok(version_info(PROTOCOL_VERSION))),
    }
}

/// A machine ready for the driver.
fn ready() -> WindowsFacts {
    WindowsFacts {
        version: Ok(WindowsVersion {
            build: "22631".to_owned(),
            revision: Some(4317),
            display_version: Some("23H2".to_owned()),
        }),
        elevated: Ok(true),
        firmware: Ok(Firmware::Uefi),
        secure_boot_enabled: Ok(Some(0)),
        start_options: Ok(START_OPTIONS_ON.to_owned()),
        bcdedit: Ok(BCDEDIT_ON.to_owned()),
        certificates: vec![("Root", Ok(1)), ("TrustedPublisher", Ok(1))],
        service: Ok(Some(ServiceFact {
            service_type: SERVICE_FILE_SYSTEM_DRIVER,
            state: 4,
        })),
        fltmc_filters: Ok(FLTMC_FILTERS.to_owned()),
        fltmc_instances: Ok(FLTMC_INSTANCES.to_owned()),
        device: device_ok(),
    }
}

fn status_of(checks: &[Check], name: &str) -> Status {
    checks
        .iter()
        .find(|check| check.name == name)
        .unwrap_or_else(|| panic!("no check {name}"))
        .status
}

#[test]
fn the_kmdf_version_is_the_drivers_and_its_first_build_is_the_infs_floor() {
    let manifest = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let driver = std::fs::read_to_string(manifest.join("../driver/Cargo.toml")).unwrap();
    let minor = driver
        .lines()
        .find_map(|line| line.strip_prefix("target-kmdf-version-minor"))
        .and_then(|rest| {
            rest.trim()
                .trim_start_matches('=')
                .trim()
                .parse::<u32>()
                .ok()
        })
        .expect("driver/Cargo.toml names target-kmdf-version-minor");
    assert_eq!(minor, DRIVER_KMDF_MINOR);
    let (first_build, _) = kmdf_first_build(DRIVER_KMDF_MINOR).expect("in the table");

    let inf = std::fs::read_to_string(manifest.join("../inf/ferrofilter.inx")).unwrap();
    let floor = inf
        .lines()
        .filter_map(|line| line.strip_prefix("[DefaultInstall.NT$ARCH$.10.0..."))
        .filter_map(|rest| {
            rest.split(|c: char| !c.is_ascii_digit())
                .next()?
                .parse::<u32>()
                .ok()
        })
        .min()
        .expect("the INF has decorated DefaultInstall sections");
    assert_eq!(floor, first_build);
}

#[test]
fn the_tools_output_parses() {
    assert!(start_options_test_signing(START_OPTIONS_ON));
    assert!(start_options_test_signing("/TESTSIGNING"));
    assert!(!start_options_test_signing(START_OPTIONS_OFF));
    // A longer option that only starts like it is something else.
    assert!(!start_options_test_signing(
        " TESTSIGNINGX DISABLE_INTEGRITY_CHECKS"
    ));

    assert_eq!(bcdedit_test_signing(BCDEDIT_ON), Some(true));
    assert_eq!(bcdedit_test_signing(&bcdedit_off()), Some(false));
    assert_eq!(
        bcdedit_test_signing(&BCDEDIT_ON.replace("testsigning             Yes", "testsigning No")),
        Some(false)
    );
    assert_eq!(
        bcdedit_test_signing("The boot configuration data store could not be opened."),
        None
    );

    let filters = parse_fltmc_filters(FLTMC_FILTERS).unwrap();
    assert_eq!(filters.len(), 11);
    assert_eq!(
        filters[1],
        FilterRow {
            name: "ferrofilter".to_owned(),
            instances: Some(1),
            altitude: "385201".to_owned(),
        }
    );
    assert_eq!(
        parse_fltmc_instances(FLTMC_INSTANCES, "WdFilter").unwrap(),
        ["C:", "\\Device\\Mup"]
    );
    assert_eq!(
        parse_fltmc_instances(FLTMC_INSTANCES, "FERROFILTER").unwrap(),
        ["C:"]
    );
    assert!(parse_fltmc_filters("Loading filter list failed with error: 0x80070005").is_none());
}

#[test]
fn a_ready_machine_passes_every_applicable_check() {
    let checks = windows_checks(&ready());
    let report = DoctorReport::new(BackendKind::Device, checks);
    for check in &report.checks {
        if check.name == names::VERIFIER {
            assert_eq!(check.status, Status::NotApplicable);
        } else {
            assert_eq!(check.status, Status::Pass, "{check:?}");
            assert!(check.advice.is_none());
        }
    }
    assert!(report.ok);
    assert_eq!(report.outcome(), Outcome::Ok);
    assert_eq!(report.summary.pass, 10);
    assert_eq!(report.summary.not_applicable, 1);
}

/// Negative control: the same machine with test signing off fails that check, says what to do,
/// and the report is not ready (exit 1).
#[test]
fn test_signing_off_fails() {
    let mut facts = ready();
    facts.start_options = Ok(START_OPTIONS_OFF.to_owned());
    facts.bcdedit = Ok(bcdedit_off());
    let checks = windows_checks(&facts);
    let check = checks
        .iter()
        .find(|c| c.name == names::TEST_SIGNING)
        .unwrap();
    assert_eq!(check.status, Status::Fail);
    assert!(
        check
            .advice
            .as_deref()
            .unwrap()
            .contains("bcdedit /set testsigning on")
    );
    let report = DoctorReport::new(BackendKind::Device, checks);
    assert!(!report.ok);
    assert_eq!(report.outcome(), Outcome::Failed);
    assert_eq!(report.summary.fail, 1);

    // Set for the next boot but not this one: reboot.
    facts.bcdedit = Ok(BCDEDIT_ON.to_owned());
    let check = check_test_signing(&facts.start_options, &facts.bcdedit);
    assert_eq!(check.status, Status::Fail);
    assert!(
        check.advice.as_deref().unwrap().contains("reboot"),
        "{check:?}"
    );

    // bcdedit needs elevation; this boot's options alone decide.
    let check = check_test_signing(
        &Ok(START_OPTIONS_ON.to_owned()),
        &Err("`bcdedit /enum {current}` failed (exit code: 1): Access is denied.".to_owned()),
    );
    assert_eq!(check.status, Status::Pass);
    let check = check_test_signing(&Err("no value".to_owned()), &Err("denied".to_owned()));
    assert_eq!(check.status, Status::Unknown);
}

#[test]
fn secure_boot_on_fails_and_bios_passes() {
    let on = check_secure_boot(&Ok(Firmware::Uefi), &Ok(Some(1)));
    assert_eq!(on.status, Status::Fail);
    assert!(on.advice.unwrap().contains("Secure Boot off"));
    assert_eq!(
        check_secure_boot(&Ok(Firmware::Bios), &Ok(None)).status,
        Status::Pass
    );
    assert_eq!(
        check_secure_boot(&Ok(Firmware::Uefi), &Ok(None)).status,
        Status::Unknown
    );
    assert_eq!(
        check_secure_boot(&Err("x".to_owned()), &Ok(Some(0))).status,
        Status::Pass
    );
}

#[test]
fn the_certificate_must_be_in_both_stores() {
    let check = check_test_certificate(&[("Root", Ok(1)), ("TrustedPublisher", Ok(0))]);
    assert_eq!(check.status, Status::Fail);
    assert!(
        check.found.contains("missing from TrustedPublisher"),
        "{check:?}"
    );
    let advice = check.advice.unwrap();
    assert!(advice.contains("certutil -addstore TrustedPublisher WDRLocalTestCert.cer"));
    assert!(!advice.contains("-addstore Root"), "{advice}");
    let check = check_test_certificate(&[("Root", Ok(1)), ("TrustedPublisher", Err("x".into()))]);
    assert_eq!(check.status, Status::Unknown);
}

#[test]
fn the_service_must_exist_as_a_file_system_driver() {
    let missing = check_service(&Ok(None));
    assert_eq!(missing.status, Status::Fail);
    assert!(missing.advice.unwrap().contains("pnputil /add-driver"));
    let stopped = check_service(&Ok(Some(ServiceFact {
        service_type: SERVICE_FILE_SYSTEM_DRIVER,
        state: 1,
    })));
    assert_eq!(stopped.status, Status::Pass);
    assert!(stopped.found.contains("stopped"));
    let own_process = check_service(&Ok(Some(ServiceFact {
        service_type: 0x10,
        state: 4,
    })));
    assert_eq!(own_process.status, Status::Fail);
}

#[test]
fn the_filter_must_be_loaded_at_its_altitude_and_attached() {
    let unloaded = Ok(without_ferrofilter(FLTMC_FILTERS));
    let check = check_filter_loaded(&unloaded);
    assert_eq!(check.status, Status::Fail);
    assert!(check.advice.unwrap().contains("fltmc load ferrofilter"));
    let check = check_instances(&unloaded, &Ok(without_ferrofilter(FLTMC_INSTANCES)));
    assert_eq!(check.status, Status::Fail);
    assert!(check.found.contains("not loaded"));

    let check = check_instances(
        &Ok(FLTMC_FILTERS.to_owned()),
        &Ok(without_ferrofilter(FLTMC_INSTANCES)),
    );
    assert_eq!(check.status, Status::Fail);
    assert!(
        check
            .advice
            .unwrap()
            .contains("fltmc attach ferrofilter C:")
    );

    let elsewhere = Ok(FLTMC_FILTERS.replace("385201", "370000"));
    assert_eq!(check_filter_loaded(&elsewhere).status, Status::Fail);

    let denied = Err(
        "`fltmc filters` failed (exit code: 1): Loading filter list failed with error: \
         0x80070005 Access is denied."
            .to_owned(),
    );
    let check = check_filter_loaded(&denied);
    assert_eq!(check.status, Status::Unknown);
    assert!(check.advice.unwrap().contains("elevated"));
}

#[test]
fn the_protocol_version_must_match() {
    assert_eq!(check_protocol_version(&device_ok()).status, Status::Pass);
    let other = DeviceFacts {
        opened: Ok(USER_PATH.to_owned()),
        version: Some(Ok(version_info(PROTOCOL_VERSION + 1))),
    };
    let check = check_protocol_version(&other);
    assert_eq!(check.status, Status::Fail);
    assert!(
        check
            .found
            .contains(&format!("protocol {}", PROTOCOL_VERSION + 1))
    );
    let closed = DeviceFacts {
        opened: Err("\\\\.\\FerroFilter does not exist".to_owned()),
        version: None,
    };
    assert_eq!(check_control_device(&closed).status, Status::Fail);
    assert_eq!(check_protocol_version(&closed).status, Status::Unknown);
}

#[test]
fn an_old_build_fails_with_the_kmdf_reason() {
    let check = check_windows_build(&Ok(WindowsVersion {
        build: "19045".to_owned(),
        revision: None,
        display_version: Some("22H2".to_owned()),
    }));
    assert_eq!(check.status, Status::Fail);
    assert!(check.found.contains("KMDF 1.33"), "{check:?}");
    assert!(check.advice.unwrap().contains("22000"));
}

#[test]
fn the_sim_marks_windows_checks_not_applicable_and_an_unloaded_driver_fails() {
    let loaded = SimFacts {
        driver: Ok(SimDriverState {
            entry_status: NtStatus::SUCCESS,
            registered: true,
            filtering: true,
            attached: true,
        }),
        device: device_ok(),
        verifier: Some(VerifierSummary {
            leaked: 0,
            tracked: 0,
            violations: 0,
            first_violations: Vec::new(),
        }),
    };
    let checks = sim_checks(&loaded);
    assert_eq!(
        checks.iter().map(|c| c.name).collect::<Vec<_>>(),
        windows_checks(&ready())
            .iter()
            .map(|c| c.name)
            .collect::<Vec<_>>(),
        "the same checks in the same order on both backends"
    );
    assert_eq!(
        status_of(&checks, names::TEST_SIGNING),
        Status::NotApplicable
    );
    assert_eq!(status_of(&checks, names::FILTER_LOADED), Status::Pass);
    assert!(DoctorReport::new(BackendKind::Sim, checks).ok);

    let failed = SimFacts {
        driver: Ok(SimDriverState {
            entry_status: NtStatus::INSUFFICIENT_RESOURCES,
            registered: false,
            filtering: false,
            attached: false,
        }),
        device: DeviceFacts {
            opened: Err("the driver did not load on the sim".to_owned()),
            version: None,
        },
        verifier: None,
    };
    let checks = sim_checks(&failed);
    assert_eq!(status_of(&checks, names::FILTER_LOADED), Status::Fail);
    assert_eq!(status_of(&checks, names::CONTROL_DEVICE), Status::Fail);
    assert!(!DoctorReport::new(BackendKind::Sim, checks).ok);
}
