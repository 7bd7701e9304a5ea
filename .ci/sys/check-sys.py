#!/usr/bin/env python3
"""Checks a linked ferrofilter.sys and its PDB with llvm-readobj-22, llvm-pdbutil-22 and
llvm-objdump-22, and prints a short summary. Exits 1 with one line per failed check.

What is checked, and why:
- the image: AMD64, native subsystem, entry point = FxDriverEntry (KMDF's stub entry) in INIT,
  DYNAMIC_BASE / NX_COMPAT / FORCE_INTEGRITY, a checksum that is non-zero and correct, INIT
  discardable and executable, PAGE present (pageable code: the kernel pages sections named PAGE*),
  imports only from ntoskrnl.exe, FLTMGR.SYS and WDFLDR.SYS, a CodeView entry naming
  ferrofilter.pdb with the PDB's own GUID and age (WinDbg loads only a matching PDB);
- the PDB, for what docs/debugging.md and driver/src tell a debugger user to look for:
  DriverEntry, the Filter Manager and KMDF callbacks, the driver's globals, the typed WDF context
  descriptors and their ContextName strings (what !wdfkd shows), and that every DbgPrintEx call
  passes DPFLTR_IHVDRIVER_ID (77), the component `Kd_IHVDRIVER_Mask` filters.

Usage: check-sys.py <ferrofilter.sys> <ferrofilter.pdb> <repository root>
"""
import pathlib
import re
import struct
import subprocess
import sys

sys_path, pdb_path, repo = (pathlib.Path(a) for a in sys.argv[1:4])
failures = []


def check(condition, message):
    if not condition:
        failures.append(message)
    return condition


def run(*command):
    return subprocess.run(command, check=True, capture_output=True, text=True).stdout


image = sys_path.read_bytes()

# --- llvm-readobj ---------------------------------------------------------------------------
readobj = run("llvm-readobj-22", "--file-headers", "--sections", "--coff-imports", "--coff-exports",
              "--coff-debug-directory", str(sys_path))


def field(name, text=readobj):
    match = re.search(rf"^\s*{name}: (.+)$", text, re.MULTILINE)
    return match.group(1).strip() if match else ""


machine = field("Machine")
subsystem = field("Subsystem")
entry = int(field("AddressOfEntryPoint"), 16)
image_base = int(field("ImageBase"), 16)
checksum = int(field("CheckSum"), 16)
optional = readobj.split("ImageOptionalHeader {", 1)[1].split("DataDirectory {", 1)[0]
dll_characteristics = set(re.findall(r"IMAGE_DLL_CHARACTERISTICS_(\w+)", optional))

sections = []  # (number, name, virtual address, virtual size, raw pointer, characteristics, flags)
for block in re.findall(r"Section \{(.*?)\n  \}", readobj, re.DOTALL):
    flags = set(re.findall(r"IMAGE_SCN_(\w+)", block))
    sections.append((
        int(field("Number", block)),
        field("Name", block).split(" ")[0],
        int(field("VirtualAddress", block), 16),
        int(field("VirtualSize", block), 16),
        int(field("PointerToRawData", block), 16),
        int(re.search(r"Characteristics \[ \((0x[0-9A-Fa-f]+)\)", block).group(1), 16),
        flags,
    ))
by_name = {s[1]: s for s in sections}
by_number = {s[0]: s for s in sections}

imports = {}  # module -> (IAT RVA, [names])
for block in re.findall(r"Import \{(.*?)\n\}", readobj, re.DOTALL):
    imports[field("Name", block)] = (int(field("ImportAddressTableRVA", block), 16),
                                    re.findall(r"Symbol: (\S+) \(", block))
exports = re.findall(r"Export \{.*?Name: (\S+).*?RVA: (0x[0-9A-Fa-f]+)", readobj, re.DOTALL)
codeview = readobj.split("DebugDirectory [", 1)[-1]


def section_of(rva):
    for s in sections:
        if s[2] <= rva < s[2] + max(s[3], 1):
            return s
    return None


def read_rva(rva, size):
    s = section_of(rva)
    if s is None:
        return None
    offset = s[4] + (rva - s[2])
    return image[offset:offset + size]


def c_string(rva):
    data = read_rva(rva, 256) or b""
    return data.split(b"\0", 1)[0].decode("latin-1")


check(machine.startswith("IMAGE_FILE_MACHINE_AMD64"), f"machine is {machine}, not AMD64")
check(subsystem.startswith("IMAGE_SUBSYSTEM_NATIVE"), f"subsystem is {subsystem}, not NATIVE")
for flag in ("DYNAMIC_BASE", "NX_COMPAT", "FORCE_INTEGRITY"):
    check(flag in dll_characteristics, f"DLL characteristics lack {flag} (have {sorted(dll_characteristics)})")


def pe_checksum(data):
    """The PE image checksum (as CheckSumMappedFile computes it): 16-bit one's-complement-style
    sum of the file with the checksum field skipped, plus the file length."""
    field_offset = struct.unpack_from("<I", data, 0x3C)[0] + 4 + 20 + 64
    total = 0
    padded = data + (b"\0" if len(data) % 2 else b"")
    for offset in range(0, len(padded), 2):
        if offset in (field_offset, field_offset + 2):
            continue
        total += padded[offset] | padded[offset + 1] << 8
        total = (total & 0xFFFF) + (total >> 16)
    return ((total & 0xFFFF) + (total >> 16)) + len(data)


check(checksum != 0, "the image checksum is 0 (/RELEASE missing?)")
check(checksum == pe_checksum(image), f"the image checksum 0x{checksum:X} is not the file's (0x{pe_checksum(image):X})")

init = by_name.get("INIT")
if check(init is not None, "no INIT section"):
    check({"MEM_DISCARDABLE", "MEM_EXECUTE", "MEM_READ", "CNT_CODE"} <= init[6] and "MEM_WRITE" not in init[6],
          f"INIT is not discardable, executable, readable code (0x{init[5]:08X})")
page = by_name.get("PAGE")
if check(page is not None, "no PAGE section (pageable code)"):
    check({"MEM_EXECUTE", "MEM_READ", "CNT_CODE"} <= page[6] and "MEM_DISCARDABLE" not in page[6],
          f"PAGE is not resident-until-paged executable code (0x{page[5]:08X})")
text = by_name.get(".text")
check(text is not None and "MEM_DISCARDABLE" not in text[6], ".text missing or discardable")

ALLOWED = {"ntoskrnl.exe", "FLTMGR.SYS", "WDFLDR.SYS"}
for module in imports:
    check(module in ALLOWED, f"imports from {module}: {imports[module][1]} (only {sorted(ALLOWED)} allowed)")
for module in ALLOWED:
    check(module in imports, f"nothing imported from {module}")

check("Type: CodeView" in codeview, "no CodeView debug directory entry")
pdb_file_name = field("PDBFileName", codeview)
check(pdb_file_name == "ferrofilter.pdb", f"CodeView names {pdb_file_name!r}, not ferrofilter.pdb")
image_guid = field("PDBGUID", codeview).strip("{}").upper()
image_age = int(field("PDBAge", codeview) or 0)

# --- llvm-pdbutil ----------------------------------------------------------------------------
summary = run("llvm-pdbutil-22", "dump", "--summary", str(pdb_path))
pdb_guid = field("GUID", summary).strip("{}").upper()
pdb_age = int(field("Age", summary) or 0)
check(pdb_guid == image_guid and pdb_age == image_age,
      f"PDB GUID/age {pdb_guid}/{pdb_age} do not match the image's CodeView {image_guid}/{image_age}")

RECORD = re.compile(r"\| (S_\w+) \[size = \d+\] `([^`]*)`(?:\s*\n\s*(.*))?")
ADDR = re.compile(r"addr = ([0-9A-Fa-f]{4}):(\d+)")


def records(*arguments):
    found = {}
    for kind, name, detail in RECORD.findall(run("llvm-pdbutil-22", "dump", *arguments, str(pdb_path))):
        match = ADDR.search(detail or "")
        rva = None
        if match and int(match.group(1), 16) in by_number:
            rva = by_number[int(match.group(1), 16)][2] + int(match.group(2))
        found.setdefault(name, []).append((kind, rva))
    return found


publics = records("--publics")
globals_ = records("--globals")
procedures = {name: rvas for name, rvas in records("--symbols").items()
              if any(kind in ("S_GPROC32", "S_LPROC32") for kind, _ in rvas)}


def rva_of(table, name, kinds):
    for kind, rva in table.get(name, []):
        if kind in kinds and rva is not None:
            return rva
    return None


fx_entry = rva_of(publics, "FxDriverEntry", {"S_PUB32"})
driver_entry = rva_of(publics, "DriverEntry", {"S_PUB32"})
if check(fx_entry is not None, "no public FxDriverEntry in the PDB"):
    check(entry == fx_entry, f"entry point 0x{entry:X} is not FxDriverEntry (0x{fx_entry:X})")
    check(init is not None and section_of(fx_entry) is init, "FxDriverEntry is not in INIT")
if check(driver_entry is not None, "no public DriverEntry in the PDB"):
    check(init is not None and section_of(driver_entry) is init, "DriverEntry is not in INIT")
check(("DriverEntry", hex(driver_entry or 0)) in [(n, hex(int(r, 16))) for n, r in exports],
      "DriverEntry is not the exported DriverEntry")

# The callbacks a debugger user sets breakpoints on (`bp ferrofilter!<name>`): the entry points,
# the Filter Manager registration (minifilter.rs), the KMDF queue, file and object callbacks
# (device.rs, control.rs, request.rs), unload (entry.rs). Renamed in driver/src? Update here.
CALLBACKS = [
    "ferrofilter::entry::driver_entry",
    "ferrofilter::entry::filter_unload",
    "ferrofilter::entry::on_driver_unload",
    "ferrofilter::minifilter::instance_setup",
    "ferrofilter::minifilter::instance_query_teardown",
    "ferrofilter::filter::create::pre_create",
    "ferrofilter::filter::create::post_create",
    "ferrofilter::filter::fsctl::pre_file_system_control",
    "ferrofilter::filter::fsctl::post_file_system_control",
    "ferrofilter::filter::io::pre_write",
    "ferrofilter::filter::io::post_write",
    "ferrofilter::filter::io::pre_set_information",
    "ferrofilter::filter::io::post_set_information",
    "ferrofilter::filter::io::pre_cleanup",
    "ferrofilter::filter::contexts::stream_cleanup",
    "ferrofilter::control::on_file_create",
    "ferrofilter::control::on_file_cleanup",
    "ferrofilter::control::on_file_close",
    "ferrofilter::control::on_device_control",
    "ferrofilter::control::caller_context::on_io_in_caller_context",
    "ferrofilter::control::caller_context::on_request_cleanup",
    "ferrofilter::device::on_control_destroy",
    "ferrofilter::request::on_send_complete",
    "FxDriverEntry",
    "FxStubDriverUnload",
]
# /OPT:ICF (wdk-build's) folds functions with identical code into one: the PDB then has one
# procedure record for the kept copy, and the folded one survives as a (mangled) public at the same
# address. A breakpoint on either fires for both; the summary lists the folds.
procedure_at = {}
for proc_name, entries in procedures.items():
    for kind, rva in entries:
        if kind in ("S_GPROC32", "S_LPROC32") and rva is not None:
            procedure_at.setdefault(rva, proc_name)
# A folded callback keeps a public only if rustc gave it external linkage, which depends on how
# the crate was split into codegen units; the operation callbacks are also found through the
# registration table itself: FLT_OPERATION_REGISTRATION (32 bytes: MajorFunction @0,
# PreOperation @8, PostOperation @16) in ferrofilter::minifilter::OPERATIONS, which the image's
# relocations have turned into absolute addresses.
OPERATION_CALLBACKS = {
    "ferrofilter::filter::create::pre_create": (0x00, 8),
    "ferrofilter::filter::create::post_create": (0x00, 16),
    "ferrofilter::filter::fsctl::pre_file_system_control": (0x0D, 8),
    "ferrofilter::filter::fsctl::post_file_system_control": (0x0D, 16),
    "ferrofilter::filter::io::pre_write": (0x04, 8),
    "ferrofilter::filter::io::post_write": (0x04, 16),
    "ferrofilter::filter::io::pre_set_information": (0x06, 8),
    "ferrofilter::filter::io::post_set_information": (0x06, 16),
    "ferrofilter::filter::io::pre_cleanup": (0x12, 8),
}
operations_rva = rva_of(globals_, "ferrofilter::minifilter::OPERATIONS", {"S_GDATA32", "S_LDATA32"})
registered = {}
if operations_rva is not None:
    for index in range(16):
        major, pre, post = struct.unpack_from("<B7xQQ", read_rva(operations_rva + 32 * index, 24))
        if major == 0x80:  # IRP_MJ_OPERATION_END
            break
        registered[major] = {8: pre, 16: post}
folded = []
for name in CALLBACKS:
    if name in procedures:
        continue
    parts = name.split("::")
    suffix = "".join(f"{len(p)}{p}" for p in parts[-2:])  # Rust v0 mangling of the last two names
    public = next((rvas for public_name, rvas in publics.items()
                   if public_name.startswith("_R") and public_name.endswith(suffix)), None)
    rva = public[0][1] if public else None
    how = "public"
    if rva is None and name in OPERATION_CALLBACKS:
        major, offset = OPERATION_CALLBACKS[name]
        va = registered.get(major, {}).get(offset)
        rva = va - image_base if va else None
        how = "registration table"
    if check(rva is not None and rva in procedure_at, f"no procedure {name} in the PDB"):
        folded.append(f"{name} -> {procedure_at[rva]} (found by its {how})")
for paged in ("ferrofilter::minifilter::instance_setup", "ferrofilter::minifilter::instance_query_teardown"):
    rva = rva_of(procedures, paged, {"S_GPROC32", "S_LPROC32"})
    if rva is None:  # folded by /OPT:ICF: the public's address
        parts = paged.split("::")
        suffix = "".join(f"{len(p)}{p}" for p in parts[-2:])
        public = next((rvas for name, rvas in publics.items()
                       if name.startswith("_R") and name.endswith(suffix)), None)
        rva = public[0][1] if public else None
    check(page is not None and rva is not None and section_of(rva) is page,
          f"{paged} (link_section PAGE) is not in PAGE")

GLOBALS = [
    "ferrofilter::entry::FILTER",
    "ferrofilter::entry::CONTROL_DEVICE",
    "ferrofilter::entry::WDF_DRIVER",
    "ferrofilter::entry::TORN_DOWN",
    "ferrofilter::minifilter::REGISTRATION",
    "WdfDriverGlobals",
    "WdfFunctions_01033",
]
DATA = {"S_GDATA32", "S_LDATA32"}
for name in GLOBALS:
    check(rva_of(globals_, name, DATA) is not None, f"no global {name} in the PDB")

# Typed WDF contexts: each WDF_OBJECT_CONTEXT_TYPE_INFO (Size @0, ContextName @8, ContextSize @16,
# UniqueType @24) must name its context as context.rs declares it and point UniqueType at itself.
types = run("llvm-pdbutil-22", "dump", "--types", str(pdb_path))
context_rs = (repo / "driver/src/context.rs").read_text()
contexts = re.findall(r'context_type_info!\((\w+),\s*(\w+),\s*c"([^"]+)"\)', context_rs)
check(len(contexts) >= 3, f"expected the context_type_info! declarations in driver/src/context.rs, found {contexts}")
context_lines = []
for static, type_name, context_name in contexts:
    rva = rva_of(globals_, f"ferrofilter::context::{static}", DATA)
    if not check(rva is not None, f"no global ferrofilter::context::{static} in the PDB"):
        continue
    raw = read_rva(rva, 40)
    size, name_va, context_size, unique_va = struct.unpack_from("<I4xQQQ", raw)
    shown = c_string(name_va - image_base)
    check(size == 40, f"{static}.Size is {size}, not sizeof(WDF_OBJECT_CONTEXT_TYPE_INFO) = 40")
    check(shown == context_name, f"{static}.ContextName is {shown!r}, context.rs says {context_name!r}")
    check(unique_va - image_base == rva, f"{static}.UniqueType does not point at {static}")
    check(f"`ferrofilter::context::{type_name}`" in types, f"no type ferrofilter::context::{type_name} in the PDB")
    context_lines.append(f"{static}: ContextName {shown!r}, ContextSize {context_size}, "
                         f"type ferrofilter::context::{type_name}")

# DbgPrintEx: every call passes ComponentId = DPFLTR_IHVDRIVER_ID (77) in ecx.
disassembly = run("llvm-objdump-22", "-d", "--no-show-raw-insn", "-M", "intel", str(sys_path)).splitlines()
iat_rva, names = imports.get("ntoskrnl.exe", (0, []))
dbgprintex_calls = []
if check("DbgPrintEx" in names, "DbgPrintEx is not imported"):
    slot = image_base + iat_rva + 8 * names.index("DbgPrintEx")
    targets = {f"# 0x{slot:x}"}
    for line in disassembly:
        if re.search(rf"\bjmp\s+qword ptr \[rip [^\]]*\]\s+# 0x{slot:x}\b", line):
            targets.add("call\t0x" + line.split(":")[0].strip())
    for index, line in enumerate(disassembly):
        if ("call" in line and any(t in line for t in targets if t.startswith("#"))) or \
                any(line.split(":", 1)[-1].strip().startswith(t) for t in targets if t.startswith("call")):
            window = disassembly[max(0, index - 10):index]
            dbgprintex_calls.append(any(re.search(r"\bmov\s+ecx, 0x4d\b", w) for w in window))
    check(dbgprintex_calls, "no call to DbgPrintEx found in the code")
    check(all(dbgprintex_calls), "a DbgPrintEx call does not pass ComponentId 0x4d (DPFLTR_IHVDRIVER_ID)")
check(b"ferrofilter: " in image, "the 'ferrofilter: ' log prefix is not in the image")

# --- summary ---------------------------------------------------------------------------------
print(f"{sys_path.name}: {len(image)} bytes, machine AMD64, subsystem NATIVE, entry 0x{entry:X} = FxDriverEntry, "
      f"checksum 0x{checksum:X}, DLL characteristics {' '.join(sorted(dll_characteristics))}")
print("sections:")
for number, name, va, vsize, _, characteristics, flags in sections:
    short = " ".join(sorted(f.replace("MEM_", "").replace("CNT_", "") for f in flags))
    print(f"  {name:8} rva 0x{va:05X} size 0x{vsize:05X} 0x{characteristics:08X} {short}")
print("imports:")
for module, (_, names) in imports.items():
    print(f"  {module}: {len(names)}: {' '.join(names)}")
print(f"exports: {' '.join(n for n, _ in exports)}")
print(f"CodeView: {pdb_file_name} GUID {image_guid} age {image_age} (matches the PDB)")
print(f"PDB: {sum(len(v) for v in publics.values())} publics, {len(procedures)} procedures, "
      f"{sum(len(v) for v in globals_.values())} global records; callbacks and globals found: "
      f"{len(CALLBACKS)} + {len(GLOBALS)}")
for line in folded:
    print(f"  folded by /OPT:ICF (same code, one address): {line}")
for line in context_lines:
    print(f"  {line}")
print(f"DbgPrintEx calls: {len(dbgprintex_calls)}, all with ComponentId 77 (DPFLTR_IHVDRIVER_ID)"
      if dbgprintex_calls and all(dbgprintex_calls) else "DbgPrintEx calls: see failures")

if failures:
    print("\ncheck-sys: FAILED:", file=sys.stderr)
    for failure in failures:
        print(f"  - {failure}", file=sys.stderr)
    sys.exit(1)
print("check-sys: all checks passed")
