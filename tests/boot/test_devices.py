"""Boot tests of port I/O and MMIO emulation under Bochs: guests that check,
from the inside, every emulated instruction form, string I/O and the UART."""
import re

from harness import BUILD, boot_bochs, explain
from test_vmx import results

G = BUILD / "guests"


def summary(r, pattern):
    for line in r.lines:
        m = re.search(pattern, line)
        if m:
            return [int(x) for x in m.groups()]
    raise AssertionError(f"no line matching {pattern!r}\n{explain(r)}")


def failures(r, prefix):
    return [line for line in r.lines if line.startswith(prefix) and "FAIL" in line]


def test_every_mmio_instruction_form_in_64bit_mode():
    r = boot_bochs("dev-mmio64", "test=boot", cpus=1, modules=[
        (G / "mmio64.elf", "name=mmio64 devices=testdev")])
    passed, total = summary(r, r"\[mmio64\] mmio: (\d+) of (\d+) forms passed")
    assert total >= 60 and passed == total, (failures(r, "[mmio64]"), explain(r))
    assert results(r)["mmio64"]["exit_status"] == 0, explain(r)


def test_mmio_through_every_32bit_paging_mode():
    r = boot_bochs("dev-mmio32", "test=boot", cpus=1, modules=[
        (G / "mmio32.elf", "name=mmio32 devices=testdev")])
    for mode in ("paging off", "32-bit paging", "PAE paging"):
        passed, total = summary(r, rf"\[mmio32\] mmio32: {mode}: (\d+) of (\d+) forms passed")
        assert total > 0 and passed == total, (mode, failures(r, "[mmio32]"), explain(r))
    assert results(r)["mmio32"]["exit_status"] == 0, explain(r)


def test_string_io_with_df_set_and_clear_across_pages():
    r = boot_bochs("dev-stringio", "test=boot", cpus=1, modules=[
        (G / "stringio32.elf", "name=stringio devices=testdev")])
    passed, total = summary(r, r"\[stringio\] stringio: (\d+) of (\d+) cases passed")
    assert total >= 10 and passed == total, (failures(r, "[stringio]"), explain(r))
    assert results(r)["stringio"]["exit_status"] == 0, explain(r)


def test_uart_by_polling_interrupts_and_loopback():
    r = boot_bochs("dev-uart", "test=boot", cpus=1, modules=[(G / "uart32.elf", "name=uart")])
    assert r.grep("[uart:COM1] uart: polled hello"), explain(r)
    assert r.grep("[uart:COM1] uart: interrupt-driven hello"), explain(r)
    assert r.grep("[uart] uart: polled ok"), explain(r)
    assert any(re.search(r"\[uart\] uart: irq ok \(\d+ THRE interrupts\)", line) for line in r.lines), explain(r)
    assert r.grep("[uart] uart: loopback ok"), explain(r)
    assert results(r)["uart"]["exit_status"] == 0, explain(r)


def test_unsupported_mmio_instruction_gets_ud_and_the_host_goes_on():
    r = boot_bochs("dev-badmmio", "test=boot", cpus=2, modules=[
        (G / "badmmio64.elf", "name=badmmio devices=testdev"),
        (G / "hello64.elf", "name=after"),
    ])
    logged = [line for line in r.lines if "VM 'badmmio': MMIO at guest-physical 0xfeb" in line]
    assert len(logged) == 2 and all("#UD injected" in line for line in logged), explain(r)
    assert re.search(r"\[[0-9a-f ]+\]", logged[0]), logged[0]          # the instruction's bytes
    assert r.grep("[badmmio] badmmio: 2 of 2 unsupported instructions raised #UD"), explain(r)
    res = results(r)
    assert res["badmmio"]["exit_status"] == 0 and res["after"]["status"] == "exited", explain(r)
    assert r.verdict and r.verdict["status"] == "PASS", explain(r)


def test_vm_stopped_early_shows_the_tail_of_its_uart_log():
    # Bochs time is exact: 12 ms stops uart32 after its second line, before it exits.
    r = boot_bochs("dev-uart-log", "test=boot", cpus=1, modules=[(G / "uart32.elf", "name=uart timeout=12")])
    assert results(r)["uart"]["status"] == "timed out", explain(r)
    i = next(i for i, line in enumerate(r.lines) if "last lines of uart's COM1 log" in line)
    assert r.lines[i + 1:i + 3] == ["  | uart: polled hello", "  | uart: interrupt-driven hello"], explain(r)
