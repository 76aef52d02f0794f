"""Boot tests: the real ISO under Bochs (VMX) and QEMU TCG (no VMX).
Each asserts what a user would see on the serial console."""
import re

import pytest

from harness import KERNEL, boot_bochs, boot_qemu, explain

VMX_READY = re.compile(r"\[cpu\d+\] cpu(\d+): VMX ready: .*EPT yes, VPID yes, "
                       r"unrestricted guest yes, preemption timer yes")


@pytest.mark.parametrize("cpus,model", [(2, "corei7_skylake_x"), (4, "corei7_haswell_4770")])
def test_bochs_every_core_reports_vmx(cpus, model):
    r = boot_bochs(f"bochs-{cpus}cpu-{model}", "test=boot", cpus=cpus, model=model)
    v = r.verdict
    assert v, explain(r)
    assert v["status"] == "PASS", explain(r)
    assert v["cpus"] == f"{cpus}/{cpus}" and v["vmx"] == str(cpus), explain(r)
    ready = sorted(int(m.group(1)) for line in r.lines if (m := VMX_READY.search(line)))
    assert ready == list(range(cpus)), explain(r)
    assert r.grep(f"SMP: {cpus} of {cpus} CPU(s) online"), explain(r)
    # The BSP prints its capabilities in SDM terms, computed from the MSRs.
    assert r.grep("IA32_VMX_BASIC=0x00d8") and r.grep("TRUE controls yes"), explain(r)
    assert r.grep("EPT yes (4-level walk yes"), explain(r)
    assert not r.timed_out, explain(r)


def test_bochs_verbose_debug_prints_raw_msrs_for_every_core():
    r = boot_bochs("bochs-verbose", "test=boot loglevel=debug verbose", cpus=2)
    assert r.verdict and r.verdict["status"] == "PASS", explain(r)
    for cpu in (0, 1):
        assert r.grep(f"cpu{cpu}: MSR 0x480 = 0x00d810000000002b"), explain(r)
        assert r.grep(f"cpu{cpu}: IA32_VMX_EPT_VPID_CAP=0x00000f0106334141"), explain(r)


def test_bochs_lapic_timer_ticks_on_every_core():
    r = boot_bochs("bochs-timer", "test=timer", cpus=2)
    assert r.verdict and r.verdict["status"] == "PASS", explain(r)
    for cpu in (0, 1):
        [line] = r.grep(f"test: cpu{cpu}: ")
        ticks = int(re.search(r": (\d+) LAPIC timer interrupts in 100 ms", line).group(1))
        assert 8 <= ticks <= 12, line      # 100 Hz for 100 ms; Bochs time is exact


def test_qemu_tcg_says_vmx_not_available_and_exits():
    r = boot_qemu("qemu-novmx", "test=boot", cpus=2)
    assert not r.timed_out, explain(r)
    lines = r.grep("VMX not available: CPUID.1:ECX.VMX = 0")
    assert len(lines) == 1, explain(r)
    v = r.verdict
    assert v and v["status"] == "NOVMX" and v["cpus"] == "2/2", explain(r)
    # isa-debug-exit: status (2 << 1) | 1 for NOVMX
    assert r.returncode == 5, explain(r)


def test_qemu_default_run_reports_and_stays_up():
    """Without test= the kernel reports, prints its verdict and idles (the user's run)."""
    r = boot_qemu("qemu-default", "", cpus=1, timeout=20)
    assert r.timed_out, explain(r)       # still running: killed by the harness
    assert r.verdict and r.verdict["status"] == "NOVMX", explain(r)
    assert r.grep("run finished; the machine stays on"), explain(r)


@pytest.mark.parametrize("cmdline,word,problem", [
    ("test=boot frobnicate=1", "frobnicate=1", "unknown option"),
    ("test=boot loglevel=loud", "loglevel=loud", "value is not one of the allowed choices"),
    ("test=boot maxcpus=lots", "maxcpus=lots", "value is not a number"),
])
def test_bad_command_line_option_is_reported(cmdline, word, problem):
    r = boot_qemu("qemu-badopt-" + word.split("=")[0], cmdline, cpus=1)
    assert r.grep(f"ERROR: command line: '{word}': {problem}"), explain(r)
    assert r.grep("command line: known options: loglevel test maxcpus"), explain(r)
    v = r.verdict
    assert v and v["status"] == "FAIL" and word in v["reason"], explain(r)
    assert not r.timed_out, explain(r)


def test_maxcpus_limits_smp():
    r = boot_qemu("qemu-maxcpus", "test=boot maxcpus=2", cpus=4)
    assert r.grep("SMP: 2 of 2 CPU(s) online"), explain(r)
    assert len(r.grep("not started (maxcpus=2)")) == 2, explain(r)


def test_missing_module_is_reported(tmp_path):
    r = boot_qemu("qemu-missing-module", "test=boot modules=2", cpus=1,
                  modules=[(KERNEL, "present")], missing=["guest-that-is-not-there.elf"])
    assert r.grep("module 0 'present'"), explain(r)
    assert r.grep("ERROR: modules: the command line expects 2 module(s) (modules=2) but the "
                  "boot loader passed 1"), explain(r)
    assert r.verdict and r.verdict["status"] == "FAIL", explain(r)


def test_broken_and_empty_modules_are_reported(tmp_path):
    truncated = tmp_path / "truncated.elf"
    truncated.write_bytes(KERNEL.read_bytes()[:100])      # cut inside the program headers
    empty = tmp_path / "empty.bin"
    empty.write_bytes(b"")
    r = boot_qemu("qemu-broken-module", "test=boot modules=3", cpus=1,
                  modules=[(truncated, "cut name=cut"), (empty, "nothing"), (KERNEL, "good")])
    assert r.grep("module 0 'cut' (100 bytes at"), explain(r)
    assert r.grep("is broken: truncated ELF: the program header table runs past the end"), explain(r)
    assert r.grep("module 1 'nothing' (0 bytes at") and r.grep("is broken: empty (0 bytes)"), explain(r)
    assert r.grep("module 2 'good': ") and r.grep("ELF64 x86-64 executable, multiboot2 kernel"), explain(r)
    assert r.verdict and r.verdict["status"] == "FAIL", explain(r)


def test_exception_on_bsp_dumps_registers_and_ends_the_run():
    r = boot_qemu("qemu-exc-bsp", "test=exception-bsp", cpus=1)
    assert not r.timed_out, explain(r)
    assert r.grep("ERROR: unexpected exception #UD invalid opcode (vector 6)"), explain(r)
    for reg in ("RIP=", "RAX=", "R15=", "CR0=", "CR2=", "EFER="):
        assert r.grep(reg), (reg, explain(r))
    assert r.grep("call trace: 0xffffffff8"), explain(r)
    v = r.verdict
    assert v and v["status"] == "FAIL" and "BSP took an unexpected exception" in v["reason"], explain(r)


def test_exception_on_ap_halts_only_that_core():
    r = boot_qemu("qemu-exc-ap", "test=exception-ap", cpus=2)
    assert not r.timed_out, explain(r)
    assert r.grep("[cpu1] ERROR: unexpected exception #PF page fault (vector 14), error code 0x2 "
                  "[not present, write, supervisor] at RIP="), explain(r)
    assert r.grep("CR2=0000000000000010"), explain(r)
    assert r.grep("[cpu1] ERROR: cpu1 halted; the other cores go on"), explain(r)
    assert r.grep("[cpu0] test: cpu1 faulted and is halted; cpu0 goes on"), explain(r)
    v = r.verdict
    assert v and v["faulted"] == "1" and v["cpus"] == "1/2", explain(r)
