"""Boot test of host console input: what is typed on the hypervisor's own
serial console reaches one VM's COM1 receiver (kernel option input=NAME,
default the first VM with a UART).  Bochs' COM1 is a socket here, driven by
hvrun's serial script."""
from harness import BUILD, boot_bochs, explain
from test_vmx import results

G = BUILD / "guests"


def test_host_console_input_reaches_the_vm_uart():
    script = [
        ("[echo:COM1] echo: ready", b"hello hypervisor\r"),
        ("echo: got hello hypervisor", b"quit\r"),
    ]
    r = boot_bochs("input-echo", "test=boot", cpus=1, serial_script=script,
                   modules=[(G / "echo32.elf", "name=echo")])
    assert r.grep("host console input goes to VM 'echo' (COM1)"), explain(r)
    assert r.grep("[echo:COM1] echo: ready"), explain(r)
    assert r.grep("[echo:COM1] echo: got hello hypervisor"), explain(r)
    assert r.grep("[echo:COM1] echo: bye"), explain(r)
    res = results(r)
    assert res["echo"]["status"] == "exited" and res["echo"]["exit_status"] == 0, explain(r)
    assert r.verdict and r.verdict["status"] == "PASS", explain(r)
