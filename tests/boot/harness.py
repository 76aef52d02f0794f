"""Helpers for the boot tests: build an ISO with a given kernel command line
and modules, boot it under Bochs or QEMU (tools/hvrun.py), return the serial log."""
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BUILD = ROOT / "build"
KERNEL = BUILD / "hypervisor.elf"
sys.path.insert(0, str(ROOT / "tools"))

import hvrun  # noqa: E402  (tools/ is not a package)

RunResult = hvrun.RunResult


def make_iso(name, cmdline="", modules=(), missing=(), grub_serial=True):
    """modules: (path, module command line) pairs copied into the ISO's /boot;
    missing: module file names referenced by grub.cfg but absent from the ISO."""
    out = BUILD / "tests" / name
    out.mkdir(parents=True, exist_ok=True)
    cfg = ["set timeout=0", "set default=0"]
    if grub_serial:
        cfg += ["serial --unit=0 --speed=115200", "terminal_output console serial"]
    cfg += ['menuentry "hypervisor test" {', f"    multiboot2 /boot/hypervisor.elf {cmdline}".rstrip()]
    files = []
    for path, args in modules:
        files.append(str(path))
        cfg.append(f"    module2 /boot/{Path(path).name} {args}".rstrip())
    for fname in missing:
        cfg.append(f"    module2 /boot/{fname} {fname}")
    cfg += ["    boot", "}"]
    (out / "grub.cfg").write_text("\n".join(cfg) + "\n")
    iso = out / f"{name}.iso"
    subprocess.run([str(ROOT / "tools" / "mkiso.sh"), str(iso), str(out / "grub.cfg"), str(KERNEL)]
                   + files, check=True)
    return iso


def boot_bochs(name, cmdline="", cpus=2, model=hvrun.BOCHS_DEFAULT_MODEL, timeout=240,
               serial_script=None, **iso_args):
    """serial_script: (trigger, bytes) pairs typed on the host's serial console
    (see hvrun.run_bochs)."""
    iso = make_iso(name, cmdline, **iso_args)
    return hvrun.run_bochs(iso, cpus=cpus, model=model, timeout=timeout,
                           workdir=BUILD / "tests" / name / "bochs", serial_script=serial_script)


def boot_qemu(name, cmdline="", cpus=2, timeout=60, **iso_args):
    iso = make_iso(name, cmdline, **iso_args)
    return hvrun.run_qemu(iso, cpus=cpus, timeout=timeout, workdir=BUILD / "tests" / name / "qemu")


def explain(r):
    """Context for an assertion failure: the end of the serial log."""
    tail = "\n".join(r.lines[-40:])
    return f"{r.engine} run ({r.seconds:.1f} s, timed out: {r.timed_out}); serial log tail:\n{tail}"
