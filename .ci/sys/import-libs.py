#!/usr/bin/env python3
"""Write the kernel import libraries ferrofilter.sys links against on Linux.

Every library wdk-build and driver/build.rs ask the linker for is made here, from Microsoft's
metadata as windows-sys 0.61 ships it plus the short, commented list in extra-exports.txt:

  ntoskrnl.lib   imports from ntoskrnl.exe: windows-sys's `link!("ntoskrnl.exe" ...)` routines
  fltMgr.lib     imports from FLTMGR.SYS:   windows-sys's `link!("fltmgr.sys" ...)` routines
  hal.lib        imports from HAL.dll:      windows-sys's `link!("hal.dll" ...)` routines
  WdfLdr.lib     imports from WDFLDR.SYS:   the loader entry points in extra-exports.txt
  wmilib.lib     empty: windows-sys declares no WMILIB.SYS routine and the driver calls none
  BufferOverflowFastFailK.lib
                 empty: in the WDK a static library with the kernel's /GS failure routine
                 (__security_check_cookie / __report_gsfailure); rustc emits no /GS checks and
                 the C stub is compiled with /GS-, so nothing needs it. A reference to it fails
                 the link instead of silently pulling in a substitute.

Each import library is written as a .def file (kept next to it, for reading) and turned into a
COFF import library by `llvm-lib /def: /machine:x64`. Only names listed here resolve, so an import
that the named module does not export (per the metadata) is an undefined symbol at link time.

Usage: import-libs.py <windows-sys-0.61 src/Windows dir> <extra-exports.txt> <out dir> <llvm-lib>
"""
import pathlib
import re
import subprocess
import sys

windows_dir, extra_list, out_dir, llvm_lib = sys.argv[1:5]
windows_dir = pathlib.Path(windows_dir)
out_dir = pathlib.Path(out_dir)
out_dir.mkdir(parents=True, exist_ok=True)

# library file -> (module name written into the import descriptor, windows-sys module name)
LIBRARIES = {
    "ntoskrnl": ("ntoskrnl.exe", "ntoskrnl.exe"),
    "fltMgr": ("FLTMGR.SYS", "fltmgr.sys"),
    "hal": ("HAL.dll", "hal.dll"),
    "WdfLdr": ("WDFLDR.SYS", None),
}
EMPTY = ["wmilib", "BufferOverflowFastFailK"]

LINK = re.compile(r'windows_link::link!\("([^"]+)" "[^"]+" fn ([A-Za-z_][A-Za-z0-9_]*)\(')

metadata = {}
files = sorted(windows_dir.rglob("*.rs"))
if not files:
    sys.exit(f"import-libs: no windows-sys sources under {windows_dir}")
for path in files:
    for module, name in LINK.findall(path.read_text(encoding="utf-8")):
        metadata.setdefault(module.lower(), set()).add(name)

extra = {}
for number, line in enumerate(pathlib.Path(extra_list).read_text().splitlines(), 1):
    line = line.strip()
    if not line or line.startswith("#"):
        continue
    fields = line.split(None, 3)
    if len(fields) < 4 or fields[2] not in ("code", "const"):
        sys.exit(f"import-libs: {extra_list}:{number}: expected `<module> <name> code|const <reason>`")
    module, name, kind, _ = fields
    extra.setdefault(module.lower(), {})[name] = kind

known = {module.lower() for module, _ in LIBRARIES.values()}
for module in extra:
    if module not in known:
        sys.exit(f"import-libs: {extra_list}: module {module} has no import library here")

summary = []
for lib, (module, metadata_module) in LIBRARIES.items():
    exports = {name: "code" for name in metadata.get(metadata_module, ())} if metadata_module else {}
    if metadata_module and not exports:
        sys.exit(f"import-libs: windows-sys declares nothing for {metadata_module}")
    for name, kind in extra.get(module.lower(), {}).items():
        if name in exports:
            sys.exit(f"import-libs: {name} is in windows-sys for {module} already; drop it from {extra_list}")
        exports[name] = kind
    lines = [f"LIBRARY {module}", "EXPORTS"]
    lines += [f"    {name}" + (" CONSTANT" if kind == "const" else "") for name, kind in sorted(exports.items())]
    definition = out_dir / f"{lib}.def"
    definition.write_text("\n".join(lines) + "\n")
    subprocess.run([llvm_lib, f"/def:{definition}", "/machine:x64", f"/out:{out_dir / (lib + '.lib')}"],
                   check=True)
    summary.append(f"{lib}.lib ({module}): {len(exports)} exports")

for lib in EMPTY:
    # An archive with no members: the linker opens it and finds nothing in it.
    (out_dir / f"{lib}.lib").write_bytes(b"!<arch>\n")
    summary.append(f"{lib}.lib: empty")

print("\n".join(summary))
