//! `doctor`'s facts on Windows: the registry, the token, the firmware, the certificate stores,
//! the service control manager, `bcdedit` and `fltmc`.
//!
//! **Unverified here**: compiled only on Windows and never run; written against the windows-rs
//! 0.62 bindings and type-checked for `x86_64-pc-windows-msvc`, no more. Nothing here decides
//! anything: the checks in `doctor.rs` do.

use std::process::Command;

use windows::Win32::Foundation::{
    ERROR_FILE_NOT_FOUND, ERROR_SERVICE_DOES_NOT_EXIST, ERROR_SUCCESS, HANDLE, WIN32_ERROR,
};
use windows::Win32::Security::Cryptography::{
    CERT_CONTEXT, CERT_FIND_SUBJECT_STR_W, CERT_OPEN_STORE_FLAGS, CERT_QUERY_ENCODING_TYPE,
    CERT_STORE_OPEN_EXISTING_FLAG, CERT_STORE_PROV_SYSTEM_W, CERT_STORE_READONLY_FLAG,
    CERT_SYSTEM_STORE_LOCAL_MACHINE, CertCloseStore, CertFindCertificateInStore, CertOpenStore,
    HCERTSTORE, PKCS_7_ASN_ENCODING, X509_ASN_ENCODING,
};
use windows::Win32::Security::{GetTokenInformation, TOKEN_ELEVATION, TOKEN_QUERY, TokenElevation};
use windows::Win32::System::Registry::{
    HKEY_LOCAL_MACHINE, RRF_RT_REG_DWORD, RRF_RT_REG_SZ, RegGetValueW,
};
use windows::Win32::System::Services::{
    CloseServiceHandle, OpenSCManagerW, OpenServiceW, QueryServiceStatus, SC_HANDLE,
    SC_MANAGER_CONNECT, SERVICE_QUERY_STATUS, SERVICE_STATUS,
};
use windows::Win32::System::SystemInformation::{
    FIRMWARE_TYPE, FirmwareTypeBios, FirmwareTypeUefi, GetFirmwareType,
};
use windows::Win32::System::Threading::{GetCurrentProcess, OpenProcessToken};
use windows::core::{HSTRING, PCWSTR};

use super::doctor::{
    CERT_STORES, DeviceFacts, Firmware, Found, SERVICE_NAME, ServiceFact, TEST_CERT_SUBJECT,
    WindowsFacts, WindowsVersion,
};
use crate::backend::device::OwnedHandle;

const CURRENT_VERSION: &str = "SOFTWARE\\Microsoft\\Windows NT\\CurrentVersion";
const CONTROL: &str = "SYSTEM\\CurrentControlSet\\Control";
const SECURE_BOOT_STATE: &str = "SYSTEM\\CurrentControlSet\\Control\\SecureBoot\\State";
/// `HRESULT_FROM_WIN32(ERROR_FILE_NOT_FOUND)`: what opening a system store that does not exist
/// fails with.
const HRESULT_FILE_NOT_FOUND: i32 = 0x8007_0002_u32.cast_signed();

fn win32_text(error: WIN32_ERROR) -> String {
    windows::core::Error::from_hresult(error.to_hresult()).to_string()
}

/// A `REG_SZ` value under `HKLM`, `None` when it does not exist.
fn reg_string(subkey: &str, value: &str) -> Found<Option<String>> {
    let mut buffer = vec![0u16; 4096];
    let mut bytes = u32::try_from(buffer.len() * 2).unwrap_or(u32::MAX);
    // SAFETY: `buffer` is writable for `bytes` bytes and both it and the NUL-terminated names
    // outlive the call, which writes at most `bytes` bytes and stores the count in `bytes`.
    let error = unsafe {
        RegGetValueW(
            HKEY_LOCAL_MACHINE,
            &HSTRING::from(subkey),
            &HSTRING::from(value),
            RRF_RT_REG_SZ,
            None,
            Some(buffer.as_mut_ptr().cast()),
            Some(&raw mut bytes),
        )
    };
    match error {
        ERROR_SUCCESS => {
            let units = (bytes as usize / 2).min(buffer.len());
            let text = String::from_utf16_lossy(&buffer[..units]);
            Ok(Some(text.trim_end_matches('\0').to_owned()))
        }
        ERROR_FILE_NOT_FOUND => Ok(None),
        other => Err(format!("HKLM\\{subkey}\\{value}: {}", win32_text(other))),
    }
}

/// A `REG_DWORD` value under `HKLM`, `None` when it does not exist.
fn reg_dword(subkey: &str, value: &str) -> Found<Option<u32>> {
    let mut data = 0u32;
    let mut bytes = u32::try_from(size_of::<u32>()).unwrap_or(4);
    // SAFETY: `data` is writable for the 4 bytes `bytes` says; the names outlive the call.
    let error = unsafe {
        RegGetValueW(
            HKEY_LOCAL_MACHINE,
            &HSTRING::from(subkey),
            &HSTRING::from(value),
            RRF_RT_REG_DWORD,
            None,
            Some((&raw mut data).cast()),
            Some(&raw mut bytes),
        )
    };
    match error {
        ERROR_SUCCESS => Ok(Some(data)),
        ERROR_FILE_NOT_FOUND => Ok(None),
        other => Err(format!("HKLM\\{subkey}\\{value}: {}", win32_text(other))),
    }
}

/// The build from the registry, which, unlike `GetVersionEx`, does not depend on the
/// application's manifest.
fn version() -> Found<WindowsVersion> {
    let build = reg_string(CURRENT_VERSION, "CurrentBuildNumber")?
        .ok_or_else(|| format!("HKLM\\{CURRENT_VERSION}\\CurrentBuildNumber does not exist"))?;
    Ok(WindowsVersion {
        build,
        revision: reg_dword(CURRENT_VERSION, "UBR").ok().flatten(),
        display_version: reg_string(CURRENT_VERSION, "DisplayVersion").ok().flatten(),
    })
}

fn elevated() -> Found<bool> {
    // SAFETY: returns the process's pseudo-handle, which needs no closing.
    let process = unsafe { GetCurrentProcess() };
    let mut token = HANDLE::default();
    // SAFETY: `token` is a valid out-pointer; the handle it receives is owned below.
    unsafe { OpenProcessToken(process, TOKEN_QUERY, &raw mut token) }
        .map_err(|error| format!("OpenProcessToken: {error}"))?;
    let token = OwnedHandle::new(token);
    let mut elevation = TOKEN_ELEVATION::default();
    let mut returned = 0u32;
    let size = u32::try_from(size_of::<TOKEN_ELEVATION>()).unwrap_or(u32::MAX);
    // SAFETY: `elevation` is writable for `size` bytes, the size of the TokenElevation class's
    // structure; the token is open for TOKEN_QUERY.
    unsafe {
        GetTokenInformation(
            token.get(),
            TokenElevation,
            Some((&raw mut elevation).cast()),
            size,
            &raw mut returned,
        )
    }
    .map_err(|error| format!("GetTokenInformation(TokenElevation): {error}"))?;
    Ok(elevation.TokenIsElevated != 0)
}

fn firmware() -> Found<Firmware> {
    let mut kind = FIRMWARE_TYPE(0);
    // SAFETY: `kind` is a valid out-pointer for the call.
    unsafe { GetFirmwareType(&raw mut kind) }
        .map_err(|error| format!("GetFirmwareType: {error}"))?;
    Ok(if kind == FirmwareTypeBios {
        Firmware::Bios
    } else if kind == FirmwareTypeUefi {
        Firmware::Uefi
    } else {
        Firmware::Other(kind.0)
    })
}

/// A certificate store opened read-only, closed when dropped.
struct Store(HCERTSTORE);

impl Drop for Store {
    fn drop(&mut self) {
        // SAFETY: the store was opened by `count_in_store` and is closed once, here; every
        // context found in it was freed by the next find call.
        let _ = unsafe { CertCloseStore(Some(self.0), 0) };
    }
}

/// How many certificates in the local machine's `store` have `subject` in their subject name.
fn count_in_store(store: &str, subject: &str) -> Found<usize> {
    let name = HSTRING::from(store);
    let flags = CERT_OPEN_STORE_FLAGS(CERT_SYSTEM_STORE_LOCAL_MACHINE)
        | CERT_STORE_READONLY_FLAG
        | CERT_STORE_OPEN_EXISTING_FLAG;
    // SAFETY: the system-store provider takes the store's name as a NUL-terminated UTF-16
    // string, which `name` holds across the call; the store is owned by `Store` below.
    let opened = unsafe {
        CertOpenStore(
            CERT_STORE_PROV_SYSTEM_W,
            CERT_QUERY_ENCODING_TYPE(0),
            None,
            flags,
            Some(name.as_ptr().cast()),
        )
    };
    let handle = match opened {
        Ok(handle) => handle,
        // A store nobody has added to yet does not exist: it holds nothing.
        Err(error) if error.code().0 == HRESULT_FILE_NOT_FOUND => return Ok(0),
        Err(error) => return Err(format!("opening LocalMachine\\{store}: {error}")),
    };
    let store = Store(handle);
    let subject = HSTRING::from(subject);
    let mut count = 0;
    let mut previous: Option<*const CERT_CONTEXT> = None;
    loop {
        // SAFETY: the store is open; `subject` is a NUL-terminated UTF-16 string that lives
        // across the call; `previous` is None or the context the last call returned, which this
        // call frees (so none is left to free when it returns null).
        let found = unsafe {
            CertFindCertificateInStore(
                store.0,
                X509_ASN_ENCODING | PKCS_7_ASN_ENCODING,
                0,
                CERT_FIND_SUBJECT_STR_W,
                Some(subject.as_ptr().cast()),
                previous,
            )
        };
        if found.is_null() {
            break;
        }
        count += 1;
        previous = Some(found.cast_const());
    }
    Ok(count)
}

/// A service control manager handle, closed when dropped.
struct ScHandle(SC_HANDLE);

impl Drop for ScHandle {
    fn drop(&mut self) {
        // SAFETY: the handle was opened by `service` and is closed once, here.
        let _ = unsafe { CloseServiceHandle(self.0) };
    }
}

fn service() -> Found<Option<ServiceFact>> {
    // SAFETY: the local machine's active database (null names); the handle is owned below.
    let manager = unsafe { OpenSCManagerW(PCWSTR::null(), PCWSTR::null(), SC_MANAGER_CONNECT) }
        .map_err(|error| format!("OpenSCManagerW: {error}"))?;
    let manager = ScHandle(manager);
    // SAFETY: the manager handle is open; the name is NUL-terminated and lives across the call.
    let opened = unsafe {
        OpenServiceW(
            manager.0,
            &HSTRING::from(SERVICE_NAME),
            SERVICE_QUERY_STATUS,
        )
    };
    let service = match opened {
        Ok(service) => ScHandle(service),
        Err(error) if error.code() == ERROR_SERVICE_DOES_NOT_EXIST.to_hresult() => return Ok(None),
        Err(error) => return Err(format!("OpenServiceW({SERVICE_NAME}): {error}")),
    };
    let mut status = SERVICE_STATUS::default();
    // SAFETY: the service handle is open for SERVICE_QUERY_STATUS; `status` is a valid
    // out-pointer.
    unsafe { QueryServiceStatus(service.0, &raw mut status) }
        .map_err(|error| format!("QueryServiceStatus: {error}"))?;
    Ok(Some(ServiceFact {
        service_type: status.dwServiceType.0,
        state: status.dwCurrentState.0,
    }))
}

/// A tool's standard output when it exits 0; otherwise what it said and its exit status.
fn tool(program: &str, args: &[&str]) -> Found<String> {
    let shown = format!("{program} {}", args.join(" "));
    match Command::new(program).args(args).output() {
        Ok(result) if result.status.success() => {
            Ok(String::from_utf8_lossy(&result.stdout).into_owned())
        }
        Ok(result) => {
            let said = String::from_utf8_lossy(&result.stdout).into_owned()
                + &String::from_utf8_lossy(&result.stderr);
            let said: Vec<&str> = said
                .lines()
                .map(str::trim)
                .filter(|l| !l.is_empty())
                .collect();
            Err(format!(
                "`{shown}` failed ({}): {}",
                result.status,
                said.join(" ")
            ))
        }
        Err(error) => Err(format!("could not run `{shown}`: {error}")),
    }
}

/// Every fact the Windows checks need, with the control device's already gathered.
pub fn gather(device: DeviceFacts) -> WindowsFacts {
    WindowsFacts {
        version: version(),
        elevated: elevated(),
        firmware: firmware(),
        secure_boot_enabled: reg_dword(SECURE_BOOT_STATE, "UEFISecureBootEnabled"),
        start_options: reg_string(CONTROL, "SystemStartOptions").map(Option::unwrap_or_default),
        bcdedit: tool("bcdedit", &["/enum", "{current}"]),
        certificates: CERT_STORES
            .iter()
            .map(|store| (*store, count_in_store(store, TEST_CERT_SUBJECT)))
            .collect(),
        service: service(),
        fltmc_filters: tool("fltmc", &["filters"]),
        fltmc_instances: tool("fltmc", &["instances"]),
        device,
    }
}
