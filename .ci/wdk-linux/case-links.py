#!/usr/bin/env python3
"""Give a Windows include tree the case-insensitive look-ups its #include lines assume.

The WDK and SDK headers include each other with whatever case the author typed
(`#include "DriverSpecs.h"` for the file `driverspecs.h`). Windows file systems do not care; Linux
ones do. For every name an #include line asks for that exists in the tree only under another case,
this adds a symbolic link with the requested name next to the real file.

Usage: case-links.py <include directory>...
"""
import os
import pathlib
import re
import sys

INCLUDE = re.compile(rb'^\s*#\s*include\s*[<"]([^>"]+)[>"]', re.MULTILINE)

roots = [pathlib.Path(r) for r in sys.argv[1:]]
# Every directory of the trees, with its entries by lower-case name.
by_dir = {}
files = []
for root in roots:
    for directory, _, names in os.walk(root):
        entries = by_dir.setdefault(pathlib.Path(directory), {})
        for name in names:
            entries.setdefault(name.lower(), name)
            files.append(pathlib.Path(directory) / name)

wanted = set()
for path in files:
    try:
        wanted.update(m.decode("latin-1").replace("\\", "/") for m in INCLUDE.findall(path.read_bytes()))
    except OSError:
        pass

added = 0
for name in sorted(wanted):
    parent, _, leaf = name.rpartition("/")
    for directory, entries in by_dir.items():
        target_dir = directory / parent if parent else directory
        if target_dir != directory and target_dir not in by_dir:
            # A relative sub-path: resolve its directories case-insensitively as well.
            continue
        local = by_dir.get(target_dir, entries)
        if leaf in local.values() or leaf.lower() not in local:
            continue
        link = target_dir / leaf
        if not link.exists():
            os.symlink(local[leaf.lower()], link)
            local[leaf] = leaf
            added += 1
print(f"case-links: {added} links for {len(wanted)} included names")
