#!/usr/bin/env python3
"""make bench: boots the hypervisor under Bochs with the benchmark guest and
prints exit round-trip costs in Bochs ticks.  Under Bochs RDTSC counts
emulated instructions exactly, so the figures repeat to the tick; the guest
averages many iterations and subtracts its own empty loop."""
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "boot"))
import harness  # noqa: E402

ITERATIONS = 1000
# Linux KVM in the same Bochs setup (shared/notes/emulators.md, mitigations=off).
KVM = {"cpuid": 957, "vmcall-nop": 948, "out-e9": 2959, "out-uart-thr": 2959,
       "mmio-write32": 5101}
LABELS = {"cpuid": "CPUID exit (leaf 0)", "vmcall-nop": "null VMCALL (HC_NOP)",
          "out-e9": "OUT to port 0xE9 (debug console)",
          "out-uart-thr": "OUT to the UART's THR (COM1)", "in-uart-lsr": "IN from the UART's LSR",
          "mmio-write32": "4-byte MMIO write (test device)",
          "mmio-read32": "4-byte MMIO read (test device)",
          "rep-outsb-uart-4k": "REP OUTSB 4 KiB to the UART, per byte"}
BENCH = re.compile(r"^\[bench\] BENCH (\S+) (\d+) ticks \((\d+) iterations")


def main():
    r = harness.boot_bochs("bench", "test=boot loglevel=warn", cpus=1, modules=[
        (harness.BUILD / "guests" / "bench32.elf",
         f'name=bench devices=uart,pic,testdev args="iterations={ITERATIONS}"')])
    rows = [m.groups() for line in r.lines if (m := BENCH.match(line))]
    if not rows:
        print("bench: no BENCH lines; serial log tail:\n" + "\n".join(r.lines[-30:]))
        return 1
    print(f"\nExit round trips, Bochs ticks per iteration (average of {ITERATIONS}, guest loop "
          "subtracted; one tick = one emulated instruction)\n")
    print(f"| {'operation':<34} | {'this hypervisor':>15} | {'Linux KVM':>9} | {'speed-up':>8} |")
    print(f"|{'-' * 36}|{'-' * 17}|{'-' * 11}|{'-' * 10}|")
    for name, ticks, _ in rows:
        kvm = KVM.get(name)
        ratio = f"{kvm / int(ticks):.1f}x" if kvm else "-"
        print(f"| {LABELS.get(name, name):<34} | {int(ticks):>15} | {kvm or '-':>9} | {ratio:>8} |")
    print("\nKVM: Linux 6.1 kvm-intel in the same Bochs model (shared/notes/emulators.md); its port")
    print("and MMIO figures are devices emulated in user space (KVM_EXIT_IO, KVM_EXIT_MMIO).")
    return 0


if __name__ == "__main__":
    sys.exit(main())
