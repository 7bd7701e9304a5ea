#!/usr/bin/env python3
"""Checks inf/ferrofilter.inx and the infverif flag in Makefile.toml on any OS (stdlib only).

infverif and stampinf run on Windows only. This script checks, on Linux, the rules a file-system
minifilter installed as a primitive driver follows (REFERENCE.md section 8; learn.microsoft.com,
"Creating a new primitive driver" and "Creating an INF file for a minifilter driver"), plus the
project's choices that tie the INF to the build:

  version       [Version]: Signature, Class ActivityMonitor and its ClassGuid, a Provider that is
                not Microsoft, DriverVer, CatalogFile, PnpLockdown = 1
  manufacturer  no [Manufacturer] section
  decoration    every DefaultInstall / DefaultUninstall section is decorated with an architecture
                and a Windows 10.0 build (NT<arch>.10.0...<build>); none is undecorated or
                decorated with the architecture alone
  kmdf          the lowest install build is the first build with the driver's KMDF version
                (driver/Cargo.toml; KMDF 1.33 -> 22000, Windows 11 21H2)
  uninstall     each DefaultUninstall section has LegacyUninstall = 1 and the decoration of an
                install section; there is one
  service       each added service: ServiceType 2, StartType 3, ErrorControl 1, LoadOrderGroup
                "FSFilter Activity Monitor", Dependencies FltMgr; the same service name everywhere
  layout        the install path for build 25952 and later runs from the driver store (dirid 13)
                with the instance keys under Parameters\\Instances; older paths keep them directly
                under the service key; the service binary lies where CopyFiles puts it
  instances     DefaultInstance names an instance with Altitude and Flags (REG_DWORD)
  altitude      each altitude in the Activity Monitor range 360000-389999, and equal to
                core/src/protocol.rs ALTITUDE
  infverif      Makefile.toml passes `/wbuild <Major.Minor.Build>` to infverif, equal to 10.0.<the
                build of the driver-store install path>
  syntax        the files parse

Usage:
  .ci/inf-check.py              check the real files; exit 1 with one line per finding
  .ci/inf-check.py --self-test  also feed mutated copies and require each to be rejected
"""

from __future__ import annotations

import argparse
import re
import sys
from dataclasses import dataclass
from pathlib import Path

try:
    import tomllib
except ModuleNotFoundError:  # Python < 3.11: the few keys needed are read with regexes.
    tomllib = None

ROOT = Path(__file__).resolve().parent.parent

ACTIVITY_MONITOR_CLASS = "ActivityMonitor"
ACTIVITY_MONITOR_CLASS_GUID = "{b86dff51-a31e-4bac-b3cf-e8cfe75c9fc2}"
ACTIVITY_MONITOR_ALTITUDES = range(360000, 390000)
LOAD_ORDER_GROUP = "FSFilter Activity Monitor"
# From this build on FltMgr reads the instance keys under the service's Parameters subkey.
PARAMETERS_BUILD = 25952
# First Windows build that ships each KMDF 1.x minor version ("KMDF version history",
# learn.microsoft.com): 1.33 Windows 11 21H2, 1.31 Windows 10 2004, 1.29 1903, 1.27 1809,
# 1.25 1803, 1.23 1709, 1.21 1703, 1.19 1607.
KMDF_FIRST_BUILD = {
    33: 22000,
    31: 19041,
    29: 18362,
    27: 17763,
    25: 17134,
    23: 16299,
    21: 15063,
    19: 14393,
}
ARCHITECTURES = {"$arch$", "x86", "amd64", "arm", "arm64"}
DECORATION = re.compile(
    r"^(?P<base>DefaultInstall|DefaultUninstall)"
    r"(?:\.NT(?P<arch>[^.]+)"
    r"(?:\.(?P<major>\d*)\.(?P<minor>\d*)\.(?P<product>[^.]*)\.(?P<suite>[^.]*)"
    r"\.(?P<build>\d*))?)?"
    r"(?P<services>\.Services)?$",
    re.IGNORECASE,
)
VERSION_FORM = re.compile(r"^\d+\.\d+\.\d+$")
REG_DWORD = 0x00010001
REG_SZ = 0x00000000


@dataclass
class Finding:
    file: str
    line: int
    rule: str
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: [{self.rule}] {self.message}"


@dataclass
class Entry:
    line: int
    key: str | None
    fields: list[str]


@dataclass
class Section:
    name: str
    line: int
    entries: list[Entry]

    def get(self, key: str) -> Entry | None:
        for entry in self.entries:
            if entry.key is not None and entry.key.lower() == key.lower():
                return entry
        return None


@dataclass
class Install:
    """One [DefaultInstall.NT<arch>.10.0...<build>] section with its parsed decoration."""

    section: Section
    build: int


# ------------------------------------------------------------------------------------------
# INF parsing
# ------------------------------------------------------------------------------------------


def strip_comment(line: str) -> str | None:
    """The line without its `;` comment; None if a quote is left open."""
    in_quotes = False
    for i, c in enumerate(line):
        if c == '"':
            in_quotes = not in_quotes
        elif c == ";" and not in_quotes:
            return line[:i]
    return None if in_quotes else line


def split_unquoted(text: str, sep: str) -> list[str]:
    parts, current, in_quotes = [], [], False
    for c in text:
        if c == '"':
            in_quotes = not in_quotes
        if c == sep and not in_quotes:
            parts.append("".join(current))
            current = []
        else:
            current.append(c)
    parts.append("".join(current))
    return parts


class Inf:
    def __init__(self, file: str, text: str, findings: list[Finding]):
        self.file = file
        self.sections: list[Section] = []
        lines = text.lstrip("\ufeff").splitlines()
        i = 0
        while i < len(lines):
            line_no = i + 1
            logical = strip_comment(lines[i])
            i += 1
            if logical is None:
                findings.append(Finding(file, line_no, "syntax", "unterminated quoted string"))
                continue
            logical = logical.strip()
            while logical.endswith("\\") and i < len(lines):
                more = strip_comment(lines[i])
                i += 1
                if more is None:
                    findings.append(
                        Finding(file, line_no, "syntax", "unterminated quoted string")
                    )
                    more = ""
                logical = (logical[:-1].strip() + " " + more.strip()).strip()
            if not logical:
                continue
            if logical.startswith("["):
                if not logical.endswith("]") or not logical[1:-1].strip():
                    findings.append(Finding(file, line_no, "syntax", "bad section header"))
                    continue
                self.sections.append(Section(logical[1:-1].strip(), line_no, []))
                continue
            if not self.sections:
                findings.append(Finding(file, line_no, "syntax", "entry before any section"))
                continue
            pieces = split_unquoted(logical, "=")
            if len(pieces) > 1:
                key = pieces[0].strip()
                value = "=".join(pieces[1:])
            else:
                key, value = None, logical
            fields = [f.strip() for f in split_unquoted(value, ",")]
            self.sections[-1].entries.append(Entry(line_no, key, fields))
        self.strings: dict[str, str] = {}
        for section in self.sections:
            if section.name.lower() == "strings" or section.name.lower().startswith("strings."):
                for entry in section.entries:
                    if entry.key is not None:
                        self.strings.setdefault(entry.key.lower(), unquote(",".join(entry.fields)))

    def section(self, name: str) -> Section | None:
        for section in self.sections:
            if section.name.lower() == name.lower():
                return section
        return None

    def expand(self, raw: str) -> str:
        """Replaces %token% with its [Strings] value (numeric dirids are kept) and unquotes."""

        def token(match: re.Match[str]) -> str:
            name = match.group(1)
            if name.isdigit():
                return match.group(0)
            return self.strings.get(name.lower(), match.group(0))

        return unquote(re.sub(r"%([^%]+)%", token, raw.strip()))


def unquote(raw: str) -> str:
    out, in_quotes, i = [], False, 0
    raw = raw.strip()
    while i < len(raw):
        c = raw[i]
        if c == '"':
            if in_quotes and raw[i + 1 : i + 2] == '"':
                out.append('"')
                i += 1
            else:
                in_quotes = not in_quotes
        else:
            out.append(c)
        i += 1
    return "".join(out)


def number(text: str) -> int | None:
    text = text.strip()
    try:
        return int(text, 16) if text.lower().startswith("0x") else int(text)
    except ValueError:
        return None


# ------------------------------------------------------------------------------------------
# Rules
# ------------------------------------------------------------------------------------------


def check_version(inf: Inf, out: list[Finding]) -> None:
    version = inf.section("Version")
    if version is None:
        out.append(Finding(inf.file, 0, "version", "no [Version] section"))
        return
    expected = {
        "Signature": lambda v: v.lower() == "$windows nt$",
        "Class": lambda v: v.lower() == ACTIVITY_MONITOR_CLASS.lower(),
        "ClassGuid": lambda v: v.lower() == ACTIVITY_MONITOR_CLASS_GUID,
        "Provider": lambda v: bool(v) and "microsoft" not in v.lower(),
        "DriverVer": bool,
        "CatalogFile": bool,
        "PnpLockdown": lambda v: v == "1",
    }
    for key, ok in expected.items():
        entry = version.get(key)
        if entry is None:
            out.append(Finding(inf.file, version.line, "version", f"[Version] has no {key}"))
            continue
        value = inf.expand(",".join(entry.fields))
        if not ok(value):
            out.append(Finding(inf.file, entry.line, "version", f"{key} = {value!r} is wrong"))


def check_manufacturer(inf: Inf, out: list[Finding]) -> None:
    for section in inf.sections:
        if section.name.lower() == "manufacturer":
            out.append(
                Finding(inf.file, section.line, "manufacturer", "primitive drivers have none")
            )


def decorated(inf: Inf, out: list[Finding]) -> tuple[list[Install], list[Install]]:
    """Checks every DefaultInstall/DefaultUninstall decoration; returns the valid non-Services
    install and uninstall sections."""
    installs, uninstalls = [], []
    for section in inf.sections:
        base = re.match(r"^(DefaultInstall|DefaultUninstall)(?:\.|$)", section.name, re.I)
        if base is None:
            continue  # another section, e.g. [FerroFilter.Service] or [DefaultInstallX]
        match = DECORATION.match(section.name)
        if match is None:
            out.append(
                Finding(
                    inf.file,
                    section.line,
                    "decoration",
                    f"[{section.name}]: unrecognised decoration; "
                    f"use [{base.group(1)}.NT$ARCH$.10.0...<build>]",
                )
            )
            continue
        arch = (match.group("arch") or "").lower()
        build = match.group("build")
        problem = None
        if not arch:
            problem = "is not decorated at all"
        elif arch not in ARCHITECTURES:
            problem = f"names an unknown architecture {match.group('arch')!r}"
        elif build is None:
            problem = "is decorated with the architecture alone (it would apply on every build)"
        elif (match.group("major"), match.group("minor")) != ("10", "0") or not build:
            problem = "must name Windows 10.0 and a build: NT<arch>.10.0...<build>"
        elif match.group("product") or match.group("suite"):
            problem = "must not restrict the product type or suite mask"
        if problem is not None:
            out.append(
                Finding(
                    inf.file,
                    section.line,
                    "decoration",
                    f"[{section.name}] {problem}; "
                    f"use [{match.group('base')}.NT$ARCH$.10.0...<build>]",
                )
            )
            continue
        if match.group("services"):
            continue
        item = Install(section, int(build))
        (installs if match.group("base").lower() == "defaultinstall" else uninstalls).append(item)
    return installs, uninstalls


def kmdf_floor(cargo_text: str, out: list[Finding]) -> int | None:
    file = "driver/Cargo.toml"
    major = minor = None
    if tomllib is not None:
        try:
            model = tomllib.loads(cargo_text)["package"]["metadata"]["wdk"]["driver-model"]
            major, minor = model.get("kmdf-version-major"), model.get("target-kmdf-version-minor")
        except (tomllib.TOMLDecodeError, KeyError, TypeError):
            pass
    else:
        m1 = re.search(r"^kmdf-version-major\s*=\s*(\d+)", cargo_text, re.M)
        m2 = re.search(r"^target-kmdf-version-minor\s*=\s*(\d+)", cargo_text, re.M)
        major, minor = (int(m1.group(1)) if m1 else None), (int(m2.group(1)) if m2 else None)
    if major != 1 or minor not in KMDF_FIRST_BUILD:
        out.append(
            Finding(file, 0, "kmdf", f"KMDF version {major}.{minor} is not in the build table")
        )
        return None
    return KMDF_FIRST_BUILD[minor]


def services_of(inf: Inf, install: Section) -> list[tuple[Entry, str, Section | None]]:
    found = []
    services = inf.section(install.name + ".Services")
    for entry in services.entries if services else []:
        if entry.key is not None and entry.key.lower() == "addservice":
            name = inf.expand(entry.fields[0]) if entry.fields else ""
            target = inf.expand(entry.fields[2]) if len(entry.fields) > 2 else ""
            found.append((entry, name, inf.section(target)))
    return found


def registry_values(inf: Inf, service: Section) -> list[tuple[int, str, str, int | None, str]]:
    """(line, key, value name, flags, data) of every HKR entry of the service's AddReg sections."""
    values = []
    for entry in service.entries:
        if entry.key is None or entry.key.lower() != "addreg":
            continue
        for name in entry.fields:
            section = inf.section(inf.expand(name))
            for reg in section.entries if section else []:
                fields = reg.fields if reg.key is None else [reg.key] + reg.fields
                fields += [""] * (5 - len(fields))
                if fields[0].strip().upper() != "HKR":
                    continue
                values.append(
                    (
                        reg.line,
                        inf.expand(fields[1]),
                        inf.expand(fields[2]),
                        number(inf.expand(fields[3]) or "0"),
                        inf.expand(fields[4]),
                    )
                )
    return values


def check_install_path(
    inf: Inf, install: Install, expected_altitude: int | None, out: list[Finding]
) -> str | None:
    """Checks one install path; returns its service name."""
    section, file = install.section, inf.file
    dirs = inf.section("DestinationDirs")
    copied = set()
    for entry in section.entries:
        if entry.key is not None and entry.key.lower() == "copyfiles":
            for name in entry.fields:
                target = dirs.get(inf.expand(name)) if dirs else None
                dirid = number(inf.expand(target.fields[0])) if target and target.fields else None
                if dirid is None:
                    out.append(
                        Finding(file, entry.line, "layout", f"no DestinationDirs for {name}")
                    )
                copied.add(dirid)
    services = services_of(inf, section)
    if len(services) != 1:
        out.append(
            Finding(
                file, section.line, "service", f"[{section.name}.Services] must add one service"
            )
        )
    name = None
    for entry, name, service in services:
        if service is None:
            out.append(
                Finding(file, entry.line, "service", "AddService names no existing section")
            )
            continue
        wanted = {
            "ServiceType": lambda v: number(v) == 2,
            "StartType": lambda v: number(v) == 3,
            "ErrorControl": lambda v: number(v) == 1,
            "LoadOrderGroup": lambda v: v == LOAD_ORDER_GROUP,
            "Dependencies": lambda v: "fltmgr" in [d.strip().lower() for d in v.split(",")],
        }
        for key, ok in wanted.items():
            value = service.get(key)
            text = inf.expand(",".join(value.fields)) if value else None
            if text is None or not ok(text):
                line = value.line if value else service.line
                out.append(
                    Finding(file, line, "service", f"[{service.name}] {key} = {text!r} is wrong")
                )
        binary = service.get("ServiceBinary")
        dirid = None
        if binary is not None:
            m = re.match(r"^%(\d+)%\\", inf.expand(",".join(binary.fields)))
            dirid = int(m.group(1)) if m else None
        if dirid is None or dirid not in copied:
            out.append(
                Finding(
                    file,
                    binary.line if binary else service.line,
                    "layout",
                    f"[{service.name}] ServiceBinary is not where [{section.name}] copies files",
                )
            )
        uses_parameters = install.build >= PARAMETERS_BUILD
        if uses_parameters and dirid != 13:
            out.append(
                Finding(
                    file,
                    binary.line if binary else service.line,
                    "layout",
                    f"builds {PARAMETERS_BUILD}+ run the binary from the driver store (%13%)",
                )
            )
        check_instances(inf, service, install.build, expected_altitude, out)
    return name


def check_instances(
    inf: Inf, service: Section, build: int, expected_altitude: int | None, out: list[Finding]
) -> None:
    file = inf.file
    base = "parameters\\instances" if build >= PARAMETERS_BUILD else "instances"
    where = (
        f"under Parameters\\Instances (builds {PARAMETERS_BUILD}+)"
        if build >= PARAMETERS_BUILD
        else f"directly under the service key, Instances (builds before {PARAMETERS_BUILD})"
    )
    default = None
    instances: dict[str, dict[str, tuple[int, int | None, str]]] = {}
    for line, key, name, flags, data in registry_values(inf, service):
        lower = key.lower()
        other = "instances" if base != "instances" else "parameters\\instances"
        if lower == other or lower.startswith(other + "\\"):
            out.append(
                Finding(file, line, "layout", f"[{service.name}] instance keys belong {where}")
            )
            continue
        if lower == base and name.lower() == "defaultinstance":
            default = (line, data)
        elif lower.startswith(base + "\\"):
            instance = key[len(base) + 1 :]
            instances.setdefault(instance.lower(), {})[name.lower()] = (line, flags, data)
    if default is None:
        out.append(
            Finding(
                file, service.line, "instances", f"[{service.name}] has no DefaultInstance {where}"
            )
        )
        return
    values = instances.get(default[1].lower())
    if values is None:
        out.append(
            Finding(file, default[0], "instances", f"DefaultInstance {default[1]!r} has no keys")
        )
        return
    for name in ("altitude", "flags"):
        if name not in values:
            out.append(
                Finding(file, default[0], "instances", f"instance {default[1]!r} has no {name}")
            )
    if "flags" in values and values["flags"][1] != REG_DWORD:
        out.append(Finding(file, values["flags"][0], "instances", "Flags must be a REG_DWORD"))
    for instance, keys in instances.items():
        if "altitude" not in keys:
            continue
        line, flags, data = keys["altitude"]
        altitude = number(data)
        if flags != REG_SZ or altitude is None:
            out.append(Finding(file, line, "altitude", "Altitude must be a REG_SZ number"))
        elif altitude not in ACTIVITY_MONITOR_ALTITUDES:
            out.append(
                Finding(file, line, "altitude", f"{altitude} is outside the range 360000-389999")
            )
        elif expected_altitude is not None and altitude != expected_altitude:
            out.append(
                Finding(
                    file, line, "altitude", f"{altitude} differs from protocol {expected_altitude}"
                )
            )


def wbuild(makefile_text: str, out: list[Finding]) -> tuple[str, int] | None:
    file = "Makefile.toml"
    key = "WDK_BUILD_ADDITIONAL_INFVERIF_FLAGS"
    line = next(
        (i + 1 for i, l in enumerate(makefile_text.splitlines()) if l.strip().startswith(key)), 0
    )
    flags = None
    if tomllib is not None:
        try:
            flags = tomllib.loads(makefile_text).get("env", {}).get(key)
        except tomllib.TOMLDecodeError as error:
            out.append(Finding(file, 0, "syntax", f"not TOML: {error}"))
            return None
    else:
        m = re.search(rf'^{key}\s*=\s*"([^"]*)"', makefile_text, re.M)
        flags = m.group(1) if m else None
    if not isinstance(flags, str):
        out.append(Finding(file, line, "infverif", f"[env] {key} is not set"))
        return None
    words = flags.split()
    positions = [i for i, w in enumerate(words) if w.lower() == "/wbuild"]
    if len(positions) != 1 or positions[0] + 1 >= len(words):
        out.append(Finding(file, line, "infverif", f"{key} needs exactly one `/wbuild <value>`"))
        return None
    value = words[positions[0] + 1]
    if not VERSION_FORM.match(value):
        out.append(
            Finding(
                file,
                line,
                "infverif",
                f"/wbuild {value}: InfVerif takes <Major.Minor.Build> (e.g. 10.0.25952), "
                "not an INF decoration",
            )
        )
        return None
    return value, line


def check(
    inx_text: str, makefile_text: str, cargo_text: str, protocol_text: str | None
) -> list[Finding]:
    out: list[Finding] = []
    inf = Inf("inf/ferrofilter.inx", inx_text, out)
    expected_altitude = None
    if protocol_text is not None:
        m = re.search(r"pub const ALTITUDE: u32 = ([\d_]+);", protocol_text)
        if m is None:
            out.append(Finding("core/src/protocol.rs", 0, "altitude", "no ALTITUDE constant"))
        else:
            expected_altitude = int(m.group(1).replace("_", ""))
    check_version(inf, out)
    check_manufacturer(inf, out)
    installs, uninstalls = decorated(inf, out)
    builds = sorted({i.build for i in installs})

    if not installs:
        out.append(Finding(inf.file, 0, "decoration", "no decorated [DefaultInstall] section"))
    floor = kmdf_floor(cargo_text, out)
    if floor is not None and builds and builds[0] != floor:
        out.append(
            Finding(
                inf.file,
                min(installs, key=lambda i: i.build).section.line,
                "kmdf",
                f"the lowest install build is {builds[0]}; the driver's KMDF version first ships "
                f"in build {floor}, so the install sections must start there",
            )
        )
    if floor is not None:
        for install in installs:
            if install.build < floor:
                out.append(
                    Finding(
                        inf.file,
                        install.section.line,
                        "kmdf",
                        f"[{install.section.name}] installs below build {floor}",
                    )
                )
    if PARAMETERS_BUILD not in builds:
        out.append(
            Finding(
                inf.file,
                0,
                "layout",
                f"no [DefaultInstall.NT$ARCH$.10.0...{PARAMETERS_BUILD}] path "
                "(Parameters\\ layout)",
            )
        )
    if len(builds) != len(installs):
        out.append(Finding(inf.file, 0, "decoration", "two install sections share a build"))

    names = set()
    for install in installs:
        name = check_install_path(inf, install, expected_altitude, out)
        if name is not None:
            names.add(name.lower())
    if len(names) > 1:
        out.append(
            Finding(inf.file, 0, "service", f"install paths add different services {names}")
        )

    if not uninstalls:
        out.append(
            Finding(inf.file, 0, "uninstall", "no [DefaultUninstall...] with LegacyUninstall = 1")
        )
    for uninstall in uninstalls:
        entry = uninstall.section.get("LegacyUninstall")
        if entry is None or inf.expand(",".join(entry.fields)) != "1":
            out.append(
                Finding(
                    inf.file,
                    uninstall.section.line,
                    "uninstall",
                    f"[{uninstall.section.name}] must contain LegacyUninstall = 1",
                )
            )
        if uninstall.build not in builds:
            out.append(
                Finding(
                    inf.file,
                    uninstall.section.line,
                    "uninstall",
                    f"[{uninstall.section.name}] has no install section with the same decoration",
                )
            )
    for section in inf.sections:
        m = DECORATION.match(section.name)
        if m and m.group("services"):
            owner = section.name[: -len(".Services")]
            if inf.section(owner) is None:
                out.append(
                    Finding(
                        inf.file, section.line, "decoration", f"[{section.name}] has no [{owner}]"
                    )
                )

    found = wbuild(makefile_text, out)
    if found is not None and found[0] != f"10.0.{PARAMETERS_BUILD}":
        value, line = found
        out.append(
            Finding(
                "Makefile.toml",
                line,
                "infverif",
                f"/wbuild {value}: /w must apply from 10.0.{PARAMETERS_BUILD}, the build of the "
                "INF's driver-store install path",
            )
        )
    return out


# ------------------------------------------------------------------------------------------
# Self-test: mutated copies of the real files must each be rejected with the right rule
# ------------------------------------------------------------------------------------------


def once(text: str, old: str, new: str) -> str:
    count = text.count(old)
    if count != 1:
        raise AssertionError(f"mutation anchor {old!r} occurs {count} times, expected once")
    return text.replace(old, new)


# Rules a mutation may break besides the one it targets, as a consequence of the same change.
ALSO_BROKEN = {
    # The 22000 install section is gone, so the floor and its DefaultUninstall lose their match.
    "undecorated DefaultInstall": {"kmdf", "uninstall"},
    "architecture-only DefaultInstall": {"kmdf", "uninstall"},
    "product type in the decoration": {"kmdf", "uninstall"},
    "OS version without a build": {"kmdf", "uninstall"},
    # Keys in the wrong place leave none in the right place.
    "25952 path without Parameters\\": {"instances"},
    "22000 path under Parameters\\": {"instances"},
    "no 25952 path": {"instances"},
    # The broken line is dropped, so [Version] also lacks Class.
    "unterminated quote": {"version"},
}


def mutations(inx: str, mk: str, cargo: str):
    """(description, expected rule, inx, makefile, cargo)."""
    yield (
        "undecorated DefaultInstall",
        "decoration",
        once(
            once(inx, "[DefaultInstall.NT$ARCH$.10.0...22000]\n", "[DefaultInstall]\n"),
            "[DefaultInstall.NT$ARCH$.10.0...22000.Services]",
            "[DefaultInstall.Services]",
        ),
        mk,
        cargo,
    )
    yield (
        "architecture-only DefaultInstall",
        "decoration",
        once(
            once(inx, "[DefaultInstall.NT$ARCH$.10.0...22000]\n", "[DefaultInstall.NT$ARCH$]\n"),
            "[DefaultInstall.NT$ARCH$.10.0...22000.Services]",
            "[DefaultInstall.NT$ARCH$.Services]",
        ),
        mk,
        cargo,
    )
    yield (
        "undecorated DefaultUninstall.Services",
        "decoration",
        once(
            inx, "[DefaultUninstall.NT$ARCH$.10.0...22000.Services]", "[DefaultUninstall.Services]"
        ),
        mk,
        cargo,
    )
    yield (
        "product type in the decoration",
        "decoration",
        once(
            inx,
            "[DefaultInstall.NT$ARCH$.10.0...22000]",
            "[DefaultInstall.NT$ARCH$.10.0.1..22000]",
        ),
        mk,
        cargo,
    )
    yield (
        "OS version without a build",
        "decoration",
        once(
            once(
                inx, "[DefaultInstall.NT$ARCH$.10.0...22000]\n", "[DefaultInstall.NT$ARCH$.10.0]\n"
            ),
            "[DefaultInstall.NT$ARCH$.10.0...22000.Services]",
            "[DefaultInstall.NT$ARCH$.10.0.Services]",
        ),
        mk,
        cargo,
    )
    yield (
        "install sections reach Windows 10 (19041) with KMDF 1.33",
        "kmdf",
        inx.replace(".10.0...22000", ".10.0...19041"),
        mk,
        cargo,
    )
    yield (
        "KMDF 1.31 without moving the install floor",
        "kmdf",
        inx,
        mk,
        once(cargo, "target-kmdf-version-minor = 33", "target-kmdf-version-minor = 31"),
    )
    yield (
        "altitude outside the Activity Monitor range",
        "altitude",
        once(inx, 'Instance1.Altitude = "385201"', 'Instance1.Altitude = "320000"'),
        mk,
        cargo,
    )
    yield (
        "altitude differs from the protocol",
        "altitude",
        once(inx, 'Instance1.Altitude = "385201"', 'Instance1.Altitude = "385202"'),
        mk,
        cargo,
    )
    yield (
        "/wbuild written as an INF decoration",
        "infverif",
        inx,
        once(mk, '"/wbuild 10.0.25952"', '"/wbuild NTAMD64.10.0.0.25952"'),
        cargo,
    )
    yield (
        "/wbuild at the wrong build",
        "infverif",
        inx,
        once(mk, '"/wbuild 10.0.25952"', '"/wbuild 10.0.22000"'),
        cargo,
    )
    yield (
        "/wbuild missing",
        "infverif",
        inx,
        once(mk, '"/wbuild 10.0.25952"', '""'),
        cargo,
    )
    yield (
        "25952 path without Parameters\\",
        "layout",
        inx.replace('HKR,"Parameters\\Instances', 'HKR,"Instances'),
        mk,
        cargo,
    )
    yield (
        "22000 path under Parameters\\",
        "layout",
        inx.replace('HKR,"Instances', 'HKR,"Parameters\\Instances'),
        mk,
        cargo,
    )
    yield (
        "25952 path outside the driver store",
        "layout",
        once(
            once(inx, "ServiceBinary  = %13%", "ServiceBinary  = %12%"),
            "FerroFilter.CopyFiles         = 13",
            "FerroFilter.CopyFiles         = 12",
        ),
        mk,
        cargo,
    )
    yield (
        "no 25952 path",
        "layout",
        inx.replace("10.0...25952", "10.0...22621"),
        mk,
        cargo,
    )
    yield (
        "LegacyUninstall missing",
        "uninstall",
        once(inx, "LegacyUninstall = 1\n", ""),
        mk,
        cargo,
    )
    yield (
        "DefaultUninstall for a build nothing installs on",
        "uninstall",
        inx.replace(
            "DefaultUninstall.NT$ARCH$.10.0...22000", "DefaultUninstall.NT$ARCH$.10.0...22621"
        ),
        mk,
        cargo,
    )
    yield (
        "Microsoft as Provider",
        "version",
        once(
            inx, 'ProviderName       = "ferrofilter project"', 'ProviderName       = "Microsoft"'
        ),
        mk,
        cargo,
    )
    yield ("PnpLockdown 0", "version", once(inx, "PnpLockdown = 1", "PnpLockdown = 0"), mk, cargo)
    yield (
        "no CatalogFile",
        "version",
        once(inx, "CatalogFile = ferrofilter.cat\n", ""),
        mk,
        cargo,
    )
    yield (
        "wrong class GUID",
        "version",
        once(
            inx, "{b86dff51-a31e-4bac-b3cf-e8cfe75c9fc2}", "{4d36e967-e325-11ce-bfc1-08002be10318}"
        ),
        mk,
        cargo,
    )
    yield (
        "Manufacturer section",
        "manufacturer",
        inx + "\n[Manufacturer]\n%ProviderName% = Models,NT$ARCH$\n",
        mk,
        cargo,
    )
    yield (
        "ServiceType 1 (kernel driver)",
        "service",
        inx.replace("ServiceType    = 2", "ServiceType    = 1"),
        mk,
        cargo,
    )
    yield (
        "StartType 0",
        "service",
        inx.replace("StartType      = 3", "StartType      = 0"),
        mk,
        cargo,
    )
    yield (
        "ErrorControl 0",
        "service",
        inx.replace("ErrorControl   = 1", "ErrorControl   = 0"),
        mk,
        cargo,
    )
    yield (
        "wrong load order group",
        "service",
        inx.replace('"FSFilter Activity Monitor"', '"FSFilter Bottom"'),
        mk,
        cargo,
    )
    yield (
        "no FltMgr dependency",
        "service",
        inx.replace('Dependencies   = "FltMgr"', 'Dependencies   = "Tcpip"'),
        mk,
        cargo,
    )
    yield (
        "instance Flags missing",
        "instances",
        once(inx, 'HKR,"Instances\\"%Instance1.Name%,"Flags",0x00010001,%Instance1.Flags%\n', ""),
        mk,
        cargo,
    )
    yield (
        "DefaultInstance missing",
        "instances",
        once(
            inx,
            'HKR,"Parameters\\Instances","DefaultInstance",0x00000000,%DefaultInstance%\n',
            "",
        ),
        mk,
        cargo,
    )
    yield (
        "unterminated quote",
        "syntax",
        once(inx, 'Class       = "ActivityMonitor"', 'Class       = "ActivityMonitor'),
        mk,
        cargo,
    )


def self_test(inx: str, mk: str, cargo: str, protocol: str | None) -> int:
    failures = 0
    base = check(inx, mk, cargo, protocol)
    if base:
        print("self-test: the real files do not pass:", file=sys.stderr)
        for finding in base:
            print(f"  {finding}", file=sys.stderr)
        return 1
    count = 0
    for description, rule, m_inx, m_mk, m_cargo in mutations(inx, mk, cargo):
        count += 1
        findings = check(m_inx, m_mk, m_cargo, protocol)
        also = ALSO_BROKEN.get(description, set())
        unexpected = [f for f in findings if f.rule != rule and f.rule not in also]
        if not any(f.rule == rule for f in findings) or unexpected:
            failures += 1
            print(f"self-test: NOT rejected with [{rule}] alone: {description}", file=sys.stderr)
            for finding in findings:
                print(f"  {finding}", file=sys.stderr)
        else:
            first = next(f for f in findings if f.rule == rule)
            print(f"self-test: rejected: {description}: {first}")
    if failures:
        print(f"self-test: {failures} of {count} mutations were not rejected", file=sys.stderr)
        return 1
    print(f"self-test: all {count} mutations rejected; the real files pass")
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--inx", type=Path, default=ROOT / "inf/ferrofilter.inx")
    parser.add_argument("--makefile", type=Path, default=ROOT / "Makefile.toml")
    parser.add_argument("--cargo", type=Path, default=ROOT / "driver/Cargo.toml")
    parser.add_argument("--protocol", type=Path, default=ROOT / "core/src/protocol.rs")
    parser.add_argument("--self-test", action="store_true", help="also run the negative controls")
    args = parser.parse_args()

    raw = args.inx.read_bytes()
    inx = raw[2:].decode("utf-16-le") if raw.startswith(b"\xff\xfe") else raw.decode("utf-8")
    inx = inx.replace("\r\n", "\n")
    mk = args.makefile.read_text(encoding="utf-8")
    cargo = args.cargo.read_text(encoding="utf-8")
    protocol = args.protocol.read_text(encoding="utf-8") if args.protocol.exists() else None

    findings = check(inx, mk, cargo, protocol)
    for finding in findings:
        print(finding, file=sys.stderr)
    if findings:
        print(f"inf-check: {len(findings)} finding(s)", file=sys.stderr)
        return 1
    print("inf-check: inf/ferrofilter.inx and Makefile.toml's infverif flags pass")
    return self_test(inx, mk, cargo, protocol) if args.self_test else 0


if __name__ == "__main__":
    sys.exit(main())
