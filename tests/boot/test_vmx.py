"""Boot tests of the VMX lifecycle under Bochs: real guests from GRUB modules,
run to completion, checked by what they printed and how they ended."""
import re

from harness import BUILD, boot_bochs, explain

G = BUILD / "guests"
VMRESULT = re.compile(r"^VMRESULT name=(\S+) status=(.+) exit_status=(\d+) exits=(\d+) cpu=(\d+)$")


def results(r):
    out = {}
    for line in r.lines:
        m = VMRESULT.match(line)
        if m:
            out[m.group(1)] = {"status": m.group(2), "exit_status": int(m.group(3)),
                               "exits": int(m.group(4)), "cpu": int(m.group(5))}
    return out


def index_of(r, needle, start=0):
    for i in range(start, len(r.lines)):
        if needle in r.lines[i]:
            return i
    raise AssertionError(f"{needle!r} not found\n{explain(r)}")


def test_real_multiboot_and_64bit_guests_print_and_exit_with_status():
    r = boot_bochs("vmx-three-modes", "test=boot modules=4", cpus=2, modules=[
        (G / "hello32.elf", 'name=mb32 args="status=3 greeting"'),
        (G / "hello64.elf", 'name=long64 mem=32M args="status=5"'),
        (G / "real16.bin", "name=real entry=real mem=2M"),
        (G / "real16.bin", "for=mb32 a file for mb32"),
    ])
    res = results(r)
    assert res.get("mb32", {}).get("status") == "exited" and res["mb32"]["exit_status"] == 3, explain(r)
    assert res.get("long64", {}).get("exit_status") == 5, explain(r)
    assert res.get("real", {}).get("exit_status") == 0x16, explain(r)
    # Each guest's own words, through the debug console, prefixed by its name.
    assert r.grep("[mb32] hello from hello32 (multiboot, 32-bit protected mode)"), explain(r)
    assert r.grep("[mb32] multiboot magic ok"), explain(r)
    assert r.grep('[mb32] cmdline: "status=3 greeting"'), explain(r)
    assert r.grep("[mb32] memory: mem_lower 639 KiB, mem_upper 15360 KiB"), explain(r)
    assert r.grep("[mb32] modules: 1"), explain(r)
    assert r.grep('"a file for mb32"'), explain(r)
    assert r.grep("[long64] hello from hello64 (64-bit long mode)"), explain(r)
    assert r.grep('[long64] hello64: args "status=5"'), explain(r)
    assert r.grep("[long64] hello64: ram 33554432 bytes"), explain(r)
    assert r.grep('hypervisor signature ok: "HVTEACHVMX"'), explain(r)
    assert r.grep("[real] hello from real16 (real mode)"), explain(r)
    # The whole lifecycle on every core.
    assert r.grep("Intel VMX: VMXON done on 2 of 2 online core(s)"), explain(r)
    assert r.grep("Intel VMX: VMXOFF done; 0 core(s) still in VMX operation"), explain(r)
    assert r.verdict and r.verdict["status"] == "PASS", explain(r)


def test_one_guest_per_core_at_the_same_time():
    r = boot_bochs("vmx-concurrent", "test=boot", cpus=2, modules=[
        (G / "spin64.elf", "name=spin0 cpu=0 timeout=1500"),
        (G / "spin64.elf", "name=spin1 cpu=1 timeout=1500"),
    ])
    res = results(r)
    assert res.get("spin0", {}).get("cpu") == 0 and res.get("spin1", {}).get("cpu") == 1, explain(r)
    assert res["spin0"]["status"] == "timed out" and res["spin1"]["status"] == "timed out", explain(r)
    # Both were alive before either one stopped: they ran at the same time.
    first_stop = min(index_of(r, "VMRESULT name=spin0"), index_of(r, "VMRESULT name=spin1"))
    assert index_of(r, "[spin0] spin: alive") < first_stop, explain(r)
    assert index_of(r, "[spin1] spin: alive") < first_stop, explain(r)


def test_guest_state_that_breaks_vm_entry_is_diagnosed_and_the_host_goes_on():
    r = boot_bochs("vmx-entry-failure", "test=boot", cpus=2, modules=[
        (G / "hello32.elf", "name=broken rflags=0"),        # RFLAGS bit 1 must be 1
        (G / "real16.bin", "name=fine entry=real"),
    ])
    assert r.grep("VM entry failed: VM-entry failure due to invalid guest state (exit reason 33"), explain(r)
    assert r.grep("most likely: RFLAGS 0: bit 1 (reserved) must be 1 (SDM 27.3.1.4)"), explain(r)
    assert r.grep("*** Guest State (VM 'broken') ***"), explain(r)
    assert r.grep("  CS  : sel=0x0008 attr=0x0c09b"), explain(r)
    res = results(r)
    assert res.get("broken", {}).get("status") == "entry failed", explain(r)
    assert res.get("fine", {}).get("status") == "exited", explain(r)
    assert r.verdict and r.verdict["status"] == "PASS", explain(r)   # the host is fine


def test_guest_touching_memory_outside_its_ram_is_stopped_while_another_runs():
    r = boot_bochs("vmx-badmem", "test=boot", cpus=2, modules=[
        (G / "badmem32.elf", 'name=bad cpu=1 args="addr=0xC0000000"'),
        (G / "spin64.elf", "name=survivor cpu=0 timeout=1500"),
    ])
    stop = index_of(r, "VM 'bad' stopped: EPT violation at guest-physical 0xc0000000, outside "
                       "its 16 MiB of RAM and any device")
    assert "write to a not-present page" in r.lines[stop], explain(r)
    assert not r.grep("[bad] badmem: still alive"), explain(r)
    # The other guest keeps running after the bad one was stopped.
    index_of(r, "[survivor] spin: alive", stop)
    assert results(r).get("survivor", {}).get("status") == "timed out", explain(r)


def test_vmx_instructions_in_a_guest_raise_ud():
    r = boot_bochs("vmx-instructions", "test=boot", cpus=1, modules=[
        (G / "vmxinstr64.elf", "name=nested"),
    ])
    assert r.grep("[nested] vmxinstr: 4 of 4 VMX instructions raised #UD"), explain(r)
    assert results(r).get("nested", {}).get("exit_status") == 0, explain(r)


def test_bad_vm_configuration_is_rejected_and_the_others_start():
    r = boot_bochs("vmx-bad-config", "test=boot", cpus=1, modules=[
        (G / "hello32.elf", "name=tiny mem=1K"),
        (G / "hello32.elf", "name=fat entry=elf64"),
        (G / "real16.bin", "name=ok entry=real"),
    ])
    assert r.grep("ERROR: module 0: bad VM configuration \"name=tiny mem=1K\": 'mem=1K': value out "
                  "of range; this VM is not started"), explain(r)
    assert r.grep("ERROR: VM 'fat': entry=elf64 needs an ELF64 image, this is a ELF32 i386 "
                  "executable; this VM is not started, the others go on"), explain(r)
    assert results(r).get("ok", {}).get("status") == "exited", explain(r)
    assert r.verdict and r.verdict["status"] == "FAIL", explain(r)
