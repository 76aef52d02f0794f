#!/usr/bin/env python3
"""Boots the hypervisor ISO under an emulator, for people (`make run`) and for
the boot tests (imported by tests/boot/harness.py).

Engines:
  kvm   QEMU with KVM and -cpu host: needs an Intel host with nested VMX
        (/sys/module/kvm_intel/parameters/nested = Y).
  bochs Bochs 2.7 with a VMX CPU model: always works, slower.
  qemu  QEMU TCG: no VMX at all (shows the clean "VMX not available" path).
  auto  kvm when the host offers nested VMX, bochs otherwise.

Every run has a hard timeout and the emulator is killed by pid (Bochs does
not stop on SIGTERM).  The serial console goes to a file that is echoed to the
terminal in interactive runs; the screen is on VNC (Bochs: rfb on port 5900+,
QEMU: -vnc :0).

Bochs can also be scripted through its serial port (run_bochs(serial_script=...)):
COM1 is then a TCP server on 127.0.0.1 (mode=socket-server) that a thread of
this script connects to; it writes what it receives to the same serial log and
answers lines that contain a trigger with the given bytes (typed input).
"""
import argparse
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

BOCHS_DEFAULT_MODEL = "corei7_skylake_x"
BOCHS_IPS = 200_000_000
RFB_RETRIES = 4


@dataclass
class RunResult:
    engine: str
    serial: str
    timed_out: bool
    returncode: int
    seconds: float
    emulator_log: str = ""
    lines: list = field(default_factory=list)

    def __post_init__(self):
        self.lines = self.serial.replace("\r", "").split("\n")

    @property
    def verdict(self):
        """The parsed VERDICT line: {'status': 'PASS', 'cpus': '2/2', ...} or None."""
        for line in reversed(self.lines):
            if line.startswith("VERDICT "):
                words = line.split(" ")
                out = {"status": words[1]}
                rest = line.split(" ", 2)[2] if len(words) > 2 else ""
                key, i = None, 0
                while i < len(rest):
                    eq = rest.find("=", i)
                    if eq < 0:
                        break
                    key = rest[i:eq].strip()
                    if rest[eq + 1:eq + 2] == '"':
                        end = rest.find('"', eq + 2)
                        end = len(rest) if end < 0 else end
                        out[key] = rest[eq + 2:end]
                        i = end + 2
                    else:
                        end = rest.find(" ", eq)
                        end = len(rest) if end < 0 else end
                        out[key] = rest[eq + 1:end]
                        i = end + 1
                return out
        return None

    def grep(self, needle):
        return [line for line in self.lines if needle in line]


def nested_vmx_available():
    if not os.path.exists("/dev/kvm"):
        return False
    try:
        nested = Path("/sys/module/kvm_intel/parameters/nested").read_text().strip()
    except OSError:
        return False
    return nested in ("Y", "1")


def _kill_group(proc):
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait()


def _run(cmd, timeout, serial_path, echo, stop_marker=None):
    """Runs cmd in its own process group; kills it on timeout. Returns (rc, timed_out, secs)."""
    start = time.monotonic()
    proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    stop = threading.Event()

    def tail():
        pos = 0
        while not stop.is_set():
            try:
                with open(serial_path, "rb") as f:
                    f.seek(pos)
                    chunk = f.read()
                    pos += len(chunk)
                if chunk and echo:
                    sys.stdout.write(chunk.decode("utf-8", "replace").replace("\r", ""))
                    sys.stdout.flush()
            except FileNotFoundError:
                pass
            stop.wait(0.2)

    t = threading.Thread(target=tail, daemon=True)
    t.start()
    timed_out = False
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        timed_out = True
    except KeyboardInterrupt:
        pass
    finally:
        _kill_group(proc)
        time.sleep(0.3)
        stop.set()
        t.join()
    return proc.returncode, timed_out, time.monotonic() - start


def _free_port():
    """A TCP port nobody listens on right now (the kernel's pick for port 0)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class SerialScript(threading.Thread):
    """Client of Bochs' COM1 in socket-server mode: connects (retrying until
    Bochs listens; Bochs itself waits for this connection before it starts the
    machine), appends everything received to serial_path, and sends
    bytes_to_send once, the first time a received line contains its
    trigger_substring.  Ends when Bochs closes the connection or on stop()."""

    def __init__(self, port, serial_path, script, connect_timeout=60):
        super().__init__(daemon=True)
        self.port, self.serial_path = port, serial_path
        self.pending = list(script)
        self.connect_timeout = connect_timeout
        self.stopped = threading.Event()
        self.sent = []          # the triggers that fired, in order
        self.error = None

    def stop(self):
        self.stopped.set()

    def _connect(self):
        deadline = time.monotonic() + self.connect_timeout
        while not self.stopped.is_set() and time.monotonic() < deadline:
            try:
                return socket.create_connection(("127.0.0.1", self.port), timeout=1)
            except OSError:
                self.stopped.wait(0.1)
        return None

    def run(self):
        sock = self._connect()
        if sock is None:
            self.error = f"could not connect to Bochs' COM1 on port {self.port}"
            return
        sock.settimeout(0.2)
        line = b""
        with sock, open(self.serial_path, "ab", buffering=0) as out:
            while not self.stopped.is_set():
                try:
                    data = sock.recv(4096)
                except socket.timeout:
                    continue
                except OSError:
                    break
                if not data:
                    break
                out.write(data)
                line += data
                *complete, line = line.split(b"\n")
                for text in complete:
                    text = text.decode("utf-8", "replace")
                    for pair in [p for p in self.pending if p[0] in text]:
                        self.pending.remove(pair)
                        self.sent.append(pair[0])
                        try:
                            sock.sendall(pair[1])
                        except OSError:
                            pass


def bochs_config(iso, serial, log, cpus, model, megs, serial_port=None):
    com1 = (f"com1: enabled=1, mode=socket-server, dev=localhost:{serial_port}" if serial_port
            else f"com1: enabled=1, mode=file, dev={serial}")
    return f"""# generated by tools/hvrun.py
megs: {megs}
cpu: model={model}, count={cpus}, ips={BOCHS_IPS}
romimage: file=/usr/share/bochs/BIOS-bochs-latest
vgaromimage: file=/usr/share/bochs/VGABIOS-lgpl-latest
# GRUB 2.06 triple-faults in its VBE code under Bochs when the kernel asks for
# a framebuffer; without VBE it falls back to VGA text mode and boots.
vga: extension=none
ata0-master: type=cdrom, path={iso}, status=inserted
boot: cdrom
display_library: rfb, options="timeout=0"
{com1}
port_e9_hack: enabled=1
speaker: enabled=0
log: {log}
panic: action=fatal
error: action=report
"""


def run_bochs(iso, cpus=2, model=BOCHS_DEFAULT_MODEL, megs=256, timeout=240, echo=False,
              workdir=None, serial_script=None):
    """serial_script: None (COM1 to a file), or a list of (trigger_substring,
    bytes_to_send) pairs: COM1 becomes a socket (see SerialScript) and each
    pair's bytes are typed once, after the first line containing its trigger."""
    if not shutil.which("bochs"):
        raise RuntimeError("bochs is not installed (apt-get install bochs bochsbios vgabios bochs-x)")
    workdir = Path(workdir or tempfile.mkdtemp(prefix="hv-bochs-"))
    workdir.mkdir(parents=True, exist_ok=True)
    serial, log = workdir / "serial.log", workdir / "bochs.log"
    rc_file = workdir / "cont.rc"
    rc_file.write_text("c\n")       # Debian's bochs stops in its debugger: continue at once
    for attempt in range(RFB_RETRIES):
        for p in (serial, log):
            p.unlink(missing_ok=True)
        cfg = workdir / "bochsrc"
        port = script = None
        if serial_script is not None:
            port = _free_port()
            serial.touch()
            script = SerialScript(port, serial, serial_script)
            script.start()
        cfg.write_text(bochs_config(Path(iso).resolve(), serial, log, cpus, model, megs, port))
        try:
            rc, timed_out, secs = _run(["bochs", "-q", "-f", str(cfg), "-rc", str(rc_file)],
                                       timeout, serial, echo)
        finally:
            if script:
                script.join(2)      # Bochs is gone: the thread drains the socket to EOF
                script.stop()
                script.join(5)
        blog = log.read_text(errors="replace") if log.exists() else ""
        if "RFB could not bind" in blog and attempt + 1 < RFB_RETRIES:
            time.sleep(3 + 2 * attempt)     # another Bochs grabbed the port range: retry
            continue
        text = serial.read_text(errors="replace") if serial.exists() else ""
        return RunResult("bochs", text, timed_out, rc, secs, blog)
    raise RuntimeError("bochs: could not bind an RFB port")


def run_qemu(iso, cpus=2, megs=256, timeout=60, echo=False, kvm=False, workdir=None,
             cpu_model=None, vnc=None):
    workdir = Path(workdir or tempfile.mkdtemp(prefix="hv-qemu-"))
    workdir.mkdir(parents=True, exist_ok=True)
    serial = workdir / "serial.log"
    serial.unlink(missing_ok=True)
    cmd = ["qemu-system-x86_64", "-cdrom", str(iso), "-m", str(megs), "-smp", str(cpus),
           "-serial", f"file:{serial}", "-no-reboot",
           "-device", "isa-debug-exit,iobase=0xf4,iosize=0x04"]
    cmd += ["-vnc", vnc] if vnc else ["-display", "none"]
    if kvm:
        cmd += ["-enable-kvm", "-cpu", cpu_model or "host"]
    elif cpu_model:
        cmd += ["-cpu", cpu_model]
    rc, timed_out, secs = _run(cmd, timeout, serial, echo)
    text = serial.read_text(errors="replace") if serial.exists() else ""
    return RunResult("kvm" if kvm else "qemu", text, timed_out, rc, secs)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("iso")
    ap.add_argument("--engine", choices=["auto", "kvm", "bochs", "qemu"], default="auto")
    ap.add_argument("--cpus", type=int, default=2)
    ap.add_argument("--model", default=BOCHS_DEFAULT_MODEL, help="Bochs CPU model")
    ap.add_argument("--megs", type=int, default=256)
    ap.add_argument("--timeout", type=int, default=3600, help="seconds before the emulator is killed")
    ap.add_argument("--workdir", default="build/run")
    args = ap.parse_args()

    engine = args.engine
    if engine == "auto":
        engine = "kvm" if nested_vmx_available() else "bochs"
    print(f"hvrun: engine {engine}, {args.cpus} CPUs; serial console below, screen on VNC "
          f"(localhost:5900); Ctrl-C stops", flush=True)
    if engine == "bochs":
        r = run_bochs(args.iso, args.cpus, args.model, args.megs, args.timeout, echo=True,
                      workdir=args.workdir)
    else:
        r = run_qemu(args.iso, args.cpus, args.megs, args.timeout, echo=True, kvm=engine == "kvm",
                     workdir=args.workdir, vnc=":0")
    v = r.verdict
    print(f"\nhvrun: {engine} stopped after {r.seconds:.1f} s"
          + (" (timeout)" if r.timed_out else "")
          + (f"; verdict {v['status']}" if v else "; no verdict line"))
    return 0 if v and v["status"] in ("PASS", "NOVMX") else 1


if __name__ == "__main__":
    sys.exit(main())
