"""Build the HIL guest's module bundle: every pure-Python module the guest's runs import, compiled, in one zip.

    /usr/bin/python3.11 -S hil/pybundle.py OUT.zip      (run on the host, with the guest's interpreter)

Under TCG, with the host root shared over 9p, each module the guest imports costs 0.1-0.9 s of path
lookups and file reads; the bring-up imports about 180 of them (asyncio alone is 30). From a zip at the
front of PYTHONPATH they come out of one file read. Only .pyc files go in (their code objects name the
real source files, so tracebacks still point at them); extension modules stay in lib-dynload. The host
rebuilds the bundle before every boot, so it never lags behind the sources.

``ssl`` goes in as a stub that raises ImportError: asyncio imports it when it can (and runs without it),
and loading libssl/libcrypto over 9p costs the guest another two seconds for a rig that opens no TLS.
"""

from __future__ import annotations

import importlib
import importlib.machinery
import importlib.util
import marshal
import os
import sys
import time
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# what the guest imports (hil.guest_plan imports tb.bringup.cli lazily, the platforms lazily in turn)
ENTRY_POINTS = (
    "hil.guest_plan",
    "tb.bringup.cli",
    "tb.platform.vfio",
    "tb.platform.uio",
    "tb.platform.takeover",
    "tb.platform.irq",
    "tb.pcap",
    "encodings.utf_8",
    "encodings.latin_1",
    "encodings.ascii",
)
SSL_STUB = 'raise ImportError("ssl is left out of the HIL guest bundle (hil/pybundle.py)")\n'


def pyc(source: Path, code) -> bytes:
    """A timestamp-based .pyc of ``code`` (PEP 552 flags 0), as py_compile writes it."""
    st = source.stat()
    return (
        importlib.util.MAGIC_NUMBER
        + (0).to_bytes(4, "little")
        + int(st.st_mtime).to_bytes(4, "little")
        + (st.st_size & 0xFFFFFFFF).to_bytes(4, "little")
        + marshal.dumps(code)
    )


def bundle(out: Path) -> int:
    sys.path.insert(0, str(ROOT))
    for name in ENTRY_POINTS:
        importlib.import_module(name)
    entries: dict[str, bytes] = {}
    for name, mod in sorted(sys.modules.items()):
        spec = getattr(mod, "__spec__", None)
        if spec is None or not isinstance(spec.loader, importlib.machinery.SourceFileLoader) or name == "__main__":
            continue  # frozen, built-in, extension modules, namespace packages
        source = Path(spec.origin)
        is_pkg = source.name == "__init__.py"
        arc = name.replace(".", "/") + ("/__init__.pyc" if is_pkg else ".pyc")
        code = compile(source.read_bytes(), str(source), "exec", dont_inherit=True)
        entries[arc] = pyc(source, code)
    entries["ssl.pyc"] = (
        importlib.util.MAGIC_NUMBER + bytes(12) + marshal.dumps(compile(SSL_STUB, "<hil bundle: ssl stub>", "exec"))
    )
    tmp = out.with_suffix(".tmp")
    with zipfile.ZipFile(tmp, "w", zipfile.ZIP_STORED) as z:
        stamp = time.localtime()[:6]
        for arc, data in sorted(entries.items()):
            z.writestr(zipfile.ZipInfo(arc, stamp), data)
    os.replace(tmp, out)
    return len(entries)


if __name__ == "__main__":
    n = bundle(Path(sys.argv[1]))
    print(f"pybundle: {n} modules in {sys.argv[1]}")
