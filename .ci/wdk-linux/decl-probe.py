#!/usr/bin/env python3
"""Compare ferrofilter's WDK declarations (wdk-decls/) with another WDK include tree.

For every structure typedef our headers declare: its size, each declared member's offset and
type; for every enumerator and integer #define: its value; for every function, function-pointer
typedef and extern variable: its type. The facts are read from our headers with clang (an AST
dump, then the compiled values), then asserted with _Static_assert and
__builtin_types_compatible_p in one compile against the other tree, for x86_64-pc-windows-msvc
with wdk-build's preprocessor definitions. Exit status 1 lists every difference.

Usage: decl-probe.py OURS_INCLUDE OTHER_INCLUDE [--sdk 10.0.22621.0] [--kmdf 1.33]
  (each INCLUDE is a kit's Include/ directory: <sdk>/{km,km/crt,shared} and wdf/kmdf/<kmdf>)
"""
import argparse
import json
import os
import pathlib
import re
import subprocess
import sys
import tempfile

CLANG = os.environ.get("CLANG", "clang-22")
HEADERS = ["ntifs.h", "ntddk.h", "ntstrsafe.h", "wdf.h", "fltKernel.h"]
DEFINES = ["_WIN64", "_AMD64_", "AMD64", "_KERNEL_MODE", "KMDF_VERSION_MAJOR=1", "KMDF_VERSION_MINOR=33"]
FLAGS = ["--target=x86_64-pc-windows-msvc", "-fms-extensions", "-fms-compatibility", "-fno-builtin",
         "-ffreestanding", "-Wno-everything", "-std=c11"]
# Members that hold the bytes of undeclared members (see wdm.h): no counterpart elsewhere.
UNDECLARED = "Undeclared"


def include_args(root, sdk, kmdf):
    base = pathlib.Path(root) / sdk
    dirs = [base / "km/crt", base / "km", base / "shared", pathlib.Path(root) / "wdf/kmdf" / kmdf]
    return [f"-I{d}" for d in dirs] + [f"-D{d}" for d in DEFINES]


def clang(args, source, capture=True):
    with tempfile.NamedTemporaryFile("w", suffix=".c", delete=False) as f:
        f.write(source)
        path = f.name
    try:
        return subprocess.run([CLANG, *FLAGS, *args, path], capture_output=capture, text=True)
    finally:
        os.unlink(path)


def prelude():
    return "".join(f'#include "{h}"\n' for h in HEADERS)


def ast(ours, sdk, kmdf):
    run = clang(include_args(ours, sdk, kmdf) + ["-fsyntax-only", "-Xclang", "-ast-dump=json"], prelude())
    if run.returncode != 0:
        sys.exit(f"decl-probe: our headers do not compile:\n{run.stderr}")
    return json.loads(run.stdout)


def is_ours(node, ours_root, state):
    loc = node.get("loc", {})
    file = loc.get("file") or loc.get("expansionLoc", {}).get("file")
    if file:
        state["file"] = file
    return str(pathlib.Path(state["file"]).resolve()).startswith(ours_root)


def fields(record, prefix, out):
    """Member paths of a record (offsetof designators), anonymous members flattened."""
    for child in record.get("inner", []):
        if child.get("kind") != "FieldDecl":
            continue
        name = child.get("name")
        qual = child["type"]["qualType"]
        inline = None
        if "unnamed" in qual or "anonymous" in qual:
            # clang lists an inline record just before the field that uses it.
            idx = record["inner"].index(child)
            prev = record["inner"][idx - 1] if idx else None
            if prev and prev.get("kind") == "RecordDecl":
                inline = prev
        if not name:
            if inline:
                fields(inline, prefix, out)
            continue
        path = f"{prefix}{name}"
        if name.startswith(UNDECLARED):
            continue
        if inline is not None:
            out.append((path, None))
            fields(inline, path + ".", out)
        else:
            out.append((path, qual))
    return out


def collect(tree, ours_root):
    facts = {"records": {}, "enumerators": [], "functions": {}, "typedef_types": {}, "vars": {}}
    records_by_id = {}
    state = {"file": ""}
    nodes = tree.get("inner", [])
    for node in nodes:
        mine = is_ours(node, ours_root, state)
        if node.get("kind") == "RecordDecl" and "inner" in node:
            records_by_id[node["id"]] = node
        if not mine or node.get("isImplicit"):
            continue
        kind = node.get("kind")
        if kind == "EnumDecl":
            facts["enumerators"] += [c["name"] for c in node.get("inner", []) if c.get("kind") == "EnumConstantDecl"]
        elif kind == "FunctionDecl":
            facts["functions"][node["name"]] = node["type"]["qualType"]
        elif kind == "VarDecl":
            facts["vars"][node["name"]] = node["type"]["qualType"]
        elif kind == "TypedefDecl":
            name = node["name"]
            desugared = node["type"].get("qualType", "")
            inner = node.get("inner", [{}])[0]
            decl = None
            t = inner
            while t:
                if t.get("kind") in ("PointerType", "ConstantArrayType", "FunctionProtoType"):
                    break
                if t.get("kind") == "RecordType":
                    decl = t.get("decl", {}).get("id")
                    break
                t = (t.get("inner") or [None])[0]
            if decl and decl in records_by_id:
                facts["records"][name] = fields(records_by_id[decl], "", [])
            elif "(*)" in desugared or desugared.startswith(("ULONG", "USHORT", "UCHAR", "LONG")):
                facts["typedef_types"][name] = desugared
    return facts


def ours_values(facts, ours, sdk, kmdf):
    exprs = []
    for name, members in facts["records"].items():
        exprs.append((f"sizeof {name}", f"sizeof({name})"))
        for path, _ in members:
            exprs.append((f"offsetof {name}.{path}", f"__builtin_offsetof({name}, {path})"))
    for name in facts["enumerators"]:
        exprs.append((f"value {name}", f"(long long)({name})"))
    source = prelude() + "const long long ff_values[] = {\n" + ",\n".join(e for _, e in exprs) + "\n};\n"
    run = clang(include_args(ours, sdk, kmdf) + ["-S", "-emit-llvm", "-o", "-"], source)
    if run.returncode != 0:
        sys.exit(f"decl-probe: value probe does not compile over our headers:\n{run.stderr}")
    array = re.search(r"@ff_values = [^\[]*\[\d+ x i64\] \[(.*?)\]", run.stdout)
    values = [int(v.split()[1]) for v in array.group(1).split(", ")] if array else []
    if len(values) != len(exprs):
        # An all-zero array is emitted as zeroinitializer.
        values = [0] * len(exprs) if "zeroinitializer" in run.stdout else sys.exit("decl-probe: cannot read values")
    return [(label, expr, value) for (label, expr), value in zip(exprs, values)]


def defines(ours):
    found = []
    for path in sorted(pathlib.Path(ours).rglob("*.h")):
        for m in re.finditer(r"^#define (\w+) (0x[0-9A-Fa-f]+|\d+)\s*(?:/\*.*)?$", path.read_text(), re.M):
            found.append((m.group(1), int(m.group(2), 0)))
    return found


# Negative controls: each mutation of a copy of our headers must be reported as the named fact.
MUTATIONS = [
    ("wdf/kmdf/1.33/wdf.h", "WdfRequestSendTableIndex = 253", "WdfRequestSendTableIndex = 252",
     "value WdfRequestSendTableIndex == 252"),
    ("10.0.22621.0/km/fltKernel.h", "        USHORT POINTER_ALIGNMENT FileAttributes;",
     "        USHORT FileAttributes;", "offsetof FLT_PARAMETERS.Create.FileAttributes == 12"),
    ("10.0.22621.0/km/fltKernel.h", "FLT_FSTYPE_CSVFS, FLT_FSTYPE_REFS", "FLT_FSTYPE_REFS, FLT_FSTYPE_CSVFS",
     "value FLT_FSTYPE_REFS == 27"),
    ("wdf/kmdf/1.33/wdf.h", "WDFREQUEST Request, NTSTATUS Status,\n", "WDFREQUEST Request, ULONG Status,\n",
     "typedef PFN_WDFREQUESTCOMPLETEWITHINFORMATION is"),
    ("10.0.22621.0/km/wdm.h", "    CCHAR StackSize;", "    UCHAR StackSize;", "type of DEVICE_OBJECT.StackSize is UCHAR"),
]


def self_test(ours, sdk, kmdf):
    import shutil
    me = pathlib.Path(__file__).resolve()
    for relative, old, new, expected in MUTATIONS:
        old, new = old.replace("\\n", "\n"), new.replace("\\n", "\n")
        with tempfile.TemporaryDirectory() as tmp:
            copy = pathlib.Path(tmp) / "Include"
            shutil.copytree(ours, copy)
            path = copy / relative
            text = path.read_text()
            if old not in text:
                sys.exit(f"decl-probe self-test: {relative} no longer contains {old!r}; update MUTATIONS")
            path.write_text(text.replace(old, new, 1))
            run = subprocess.run([sys.executable, str(me), str(copy), ours, "--sdk", sdk, "--kmdf", kmdf],
                                 capture_output=True, text=True)
            if run.returncode == 0 or expected not in run.stdout:
                sys.exit(f"decl-probe self-test: mutation {new!r} not reported as {expected!r}:\n{run.stdout}")
            print(f"decl-probe self-test: caught {new.strip()!r} as '{expected}'")


def main():
    p = argparse.ArgumentParser()
    p.add_argument("ours")
    p.add_argument("other", nargs="?")
    p.add_argument("--sdk", default="10.0.22621.0")
    p.add_argument("--kmdf", default="1.33")
    p.add_argument("--self-test", action="store_true", help="run the negative controls and exit")
    a = p.parse_args()
    if a.self_test:
        self_test(a.ours, a.sdk, a.kmdf)
        return
    ours_root = str(pathlib.Path(a.ours).resolve())
    facts = collect(ast(a.ours, a.sdk, a.kmdf), ours_root)
    checks = []
    for label, expr, value in ours_values(facts, a.ours, a.sdk, a.kmdf):
        checks.append((f"{label} == {value}", f"({expr}) == {value}LL"))
    for name, value in defines(a.ours):
        checks.append((f"#define {name} == {value}", f"(long long)({name}) == {value}LL"))
    for name, members in facts["records"].items():
        for path, qual in members:
            if qual:
                checks.append((f"type of {name}.{path} is {qual}",
                               f"__builtin_types_compatible_p(__typeof__(((({name} *)0)->{path})), {qual})"))
    for name, qual in facts["functions"].items():
        checks.append((f"type of {name} is {qual}", f"__builtin_types_compatible_p(__typeof__({name}), {qual})"))
    for name, qual in facts["vars"].items():
        checks.append((f"type of {name} is {qual}", f"__builtin_types_compatible_p(__typeof__({name}), {qual})"))
    for name, qual in facts["typedef_types"].items():
        checks.append((f"typedef {name} is {qual}", f"__builtin_types_compatible_p({name}, {qual})"))
    body = "".join(f'_Static_assert({expr}, "{label}");\n' for label, expr in checks)
    run = clang(include_args(a.other, a.sdk, a.kmdf) + ["-fsyntax-only", "-ferror-limit=0"], prelude() + body)
    failures = re.findall(r'static assertion failed(?: due to requirement [^:]*)?: (.*)', run.stderr)
    other_errors = [l for l in run.stderr.splitlines() if "error:" in l and "static assertion failed" not in l]
    records = len(facts["records"])
    print(f"decl-probe: {len(checks)} facts from {records} structures, {len(facts['enumerators'])} enumerators, "
          f"{len(facts['functions'])} functions, {len(facts['typedef_types'])} callback/alias typedefs, "
          f"{len(facts['vars'])} variables checked against {a.other}")
    for f in failures:
        print(f"  DIFFERS: {f}")
    for e in other_errors:
        print(f"  ERROR: {e}")
    if failures or other_errors or run.returncode != 0 and not failures:
        if run.returncode != 0 and not failures and not other_errors:
            print(run.stderr)
        sys.exit(1)
    print("decl-probe: all facts agree")


main()
