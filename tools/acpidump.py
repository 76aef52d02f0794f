#!/usr/bin/env python3
"""Turns the kernel's `acpidump` console output back into ACPI table files.

With the `acpidump` option on its command line the kernel prints every table it
dumps as lines

    ACPIDUMP <SIG> <hex offset> <hex bytes>

(32 bytes a line) on the serial console.  This tool reads such a log and writes
one binary file per table signature into a directory, after checking that the
pieces are contiguous, that the table is as long as its header says and that
its checksum is zero.

    tools/acpidump.py serial.log outdir/                 # outdir/APIC.bin, outdir/FACP.bin
    tools/acpidump.py serial.log outdir/ --name APIC=madt-qemu-4cpu.bin --name FACP=fadt-qemu.bin

A log that holds the same table twice (two boots appended to one file) keeps
the last complete copy.  Standard library only.
"""
import argparse
import re
import struct
import sys
from pathlib import Path

LINE_RE = re.compile(r"ACPIDUMP ([A-Za-z0-9_ !]{4}) ([0-9a-fA-F]+) ([0-9a-fA-F]*)\s*$")


class DumpError(Exception):
    pass


def parse_log(text):
    """Returns {signature: bytes} for every complete table in `text`."""
    tables = {}
    pieces = {}         # signature -> bytearray being assembled
    for lineno, raw in enumerate(text.replace("\r", "").split("\n"), 1):
        m = LINE_RE.search(raw)
        if not m:
            continue
        sig, off, data = m.group(1), int(m.group(2), 16), m.group(3)
        if len(data) % 2:
            raise DumpError(f"line {lineno}: odd number of hex digits for {sig}")
        chunk = bytes.fromhex(data)
        if off == 0:
            pieces[sig] = bytearray()
        buf = pieces.get(sig)
        if buf is None:
            raise DumpError(f"line {lineno}: {sig} continues at {off:#x} without a start")
        if off != len(buf):
            raise DumpError(f"line {lineno}: {sig} piece at {off:#x}, expected {len(buf):#x}")
        buf.extend(chunk)
        if len(buf) >= 8:
            length = struct.unpack_from("<I", buf, 4)[0]
            if len(buf) > length:
                raise DumpError(f"line {lineno}: {sig} is longer than its length field ({length})")
            if len(buf) == length:
                if sum(buf) & 0xFF:
                    raise DumpError(f"{sig}: checksum of the {length} dumped bytes is not zero")
                if bytes(buf[:4]).decode("ascii", "replace") != sig:
                    raise DumpError(f"{sig}: the table's own signature is {bytes(buf[:4])!r}")
                tables[sig] = bytes(buf)
                del pieces[sig]
    incomplete = [s for s in pieces if s not in tables]
    if incomplete:
        raise DumpError("incomplete table(s) at the end of the log: " + ", ".join(incomplete))
    return tables


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("log", help="serial console log ('-' for standard input)")
    ap.add_argument("outdir", help="directory for the table files (created if missing)")
    ap.add_argument("--name", action="append", default=[], metavar="SIG=FILE",
                    help="file name for one signature (default SIG.bin)")
    args = ap.parse_args(argv)

    names = {}
    for spec in args.name:
        sig, sep, fname = spec.partition("=")
        if not sep or len(sig) != 4 or not fname:
            ap.error(f"--name wants SIG=FILE with a 4-character signature, not {spec!r}")
        names[sig] = fname

    if args.log == "-":
        text = sys.stdin.read()
    else:
        text = Path(args.log).read_text(encoding="latin-1")
    try:
        tables = parse_log(text)
    except DumpError as e:
        print(f"acpidump: {e}", file=sys.stderr)
        return 1
    if not tables:
        print("acpidump: no ACPIDUMP lines in the log (was the kernel booted with `acpidump`?)",
              file=sys.stderr)
        return 1
    missing = [s for s in names if s not in tables]
    if missing:
        print("acpidump: not in the log: " + ", ".join(missing), file=sys.stderr)
        return 1
    out = Path(args.outdir)
    out.mkdir(parents=True, exist_ok=True)
    for sig, data in sorted(tables.items()):
        path = out / names.get(sig, f"{sig}.bin")
        path.write_bytes(data)
        print(f"{sig}: {len(data)} bytes -> {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
