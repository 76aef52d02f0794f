#!/bin/sh
# qemu-test.sh BUILD_DIR
# Boots every guest that can run without the hypervisor under plain QEMU
# (TCG) and checks its debug-console output and exit status.  64-bit guests
# go through elf64boot.elf, which recreates the elf64 entry mode.  QEMU's
# isa-debug-exit turns a guest status V into the exit status (V << 1) | 1.
set -u
dir=${1:?usage: qemu-test.sh BUILD_DIR}
qemu=${QEMU:-qemu-system-x86_64}
timeout_s=${TIMEOUT:-60}
out=$(mktemp)
trap 'rm -f "$out" "$out.err" "$out.mod" "$out.serial"' EXIT
failed=0

common="-debugcon stdio -device isa-debug-exit,iobase=0xf4,iosize=0x04 -display none -no-reboot -m 128"

# check NAME EXPECTED_STATUS "PATTERN..." QEMU_ARGS...
# Every grep -E pattern (one per line) must match a whole output line.
check() {
    name=$1 want=$2 patterns=$3
    shift 3
    # $common is split into words on purpose.
    # shellcheck disable=SC2086
    timeout -k 5 "$timeout_s" "$qemu" $common "$@" >"$out.raw" 2>"$out.err" </dev/null
    got=$?
    tr -d '\000' <"$out.raw" >"$out"
    rm -f "$out.raw"
    ok=1
    [ "$got" = "$want" ] || { echo "$name: exit status $got, expected $want"; ok=0; }
    printf '%s\n' "$patterns" | while IFS= read -r p; do
        [ -z "$p" ] && continue
        grep -qxE -- "$p" "$out" || { echo "$name: no line matching: $p"; exit 1; }
    done || ok=0
    if [ "$ok" = 1 ]; then
        echo "PASS $name"
    else
        echo "FAIL $name; output:"
        sed 's/^/    | /' "$out"
        sed 's/^/    stderr: /' "$out.err"
        failed=1
    fi
}

printf 'module text for hello32' >"$out.mod"

check hello32 7 'hello from hello32 \(multiboot, 32-bit protected mode\)
multiboot magic ok
memory: mem_lower [0-9]+ KiB, mem_upper [0-9]+ KiB
cmdline: ".*status=3"
mmap: [0-9]+ entries
modules: 1
module 0: cmdline ".* modarg" size 23 first 16 bytes "module text for "
hello32: exiting with status 3' \
    -kernel "$dir/hello32.elf" -append "status=3" -initrd "$out.mod modarg"

check bench32 1 'BENCH cpuid [0-9]+ ticks \(200 iterations\)
BENCH out-e9 [0-9]+ ticks \(200 iterations\)
bench: vmcall-nop skipped: not running under the hypervisor
bench: device benchmarks skipped: no test device' \
    -kernel "$dir/bench32.elf" -append "iterations=200"

check badmem32 3 'badmem: touching memory beyond RAM
badmem: still alive' \
    -kernel "$dir/badmem32.elf"

check real16 45 'hello from real16 \(real mode\)
real16: VMCALL raised #UD \(no hypervisor\), exiting through port 0xF4' \
    -drive "format=raw,file=$dir/real16.bin"

check sdktest32 1 'sdktest: 32-bit: ([0-9]+) of \1 checks passed' \
    -kernel "$dir/sdktest32.elf"

check hello64 3 'hello from hello64 \(64-bit long mode\)
hello64: args "status=3" at 0x[0-9a-f]+
hello64: ram [0-9]+ bytes \([0-9]+ MiB\)
hello64: hypervisor signature BAD: .*' \
    -kernel "$dir/elf64boot.elf" -initrd "$dir/hello64.elf status=3"

check vmxinstr64 1 'vmxinstr: got #UD at 0x[0-9a-f]+
vmxinstr: 4 of 4 VMX instructions raised #UD' \
    -kernel "$dir/elf64boot.elf" -initrd "$dir/vmxinstr64.elf"

check sdktest64 1 'sdktest: 64-bit: ([0-9]+) of \1 checks passed' \
    -kernel "$dir/elf64boot.elf" -initrd "$dir/sdktest64.elf"

# spin64 never exits: the timeout ends it (status 124).
timeout_s=15 check spin64 124 'spin: started
spin: alive 1' \
    -kernel "$dir/elf64boot.elf" -initrd "$dir/spin64.elf"

# QEMU's PC has a 16550A on COM1 and the 8259As: uart32 runs as it would
# under the hypervisor; its two hello lines go out on the serial port.
check uart32 1 'uart: polled ok
uart: irq ok \([0-9]+ THRE interrupts\)
uart: loopback ok' \
    -kernel "$dir/uart32.elf" -serial "file:$out.serial"
for line in 'uart: polled hello' 'uart: interrupt-driven hello'; do
    grep -qxF "$line" "$out.serial" 2>/dev/null ||
        { echo "FAIL uart32: no serial line \"$line\""; failed=1; }
done

# The device tests need the hypervisor's test device (devices=testdev).
# Without it they say so and exit 77, i.e. (77 << 1) | 1 = 155 here.
check mmio64-no-device 155 'mmio: no test device' \
    -kernel "$dir/elf64boot.elf" -initrd "$dir/mmio64.elf"
check mmio32-no-device 155 'mmio32: no test device' -kernel "$dir/mmio32.elf"
check stringio32-no-device 155 'stringio: no test device' -kernel "$dir/stringio32.elf"
check badmmio64-no-device 155 'badmmio: no test device' \
    -kernel "$dir/elf64boot.elf" -initrd "$dir/badmmio64.elf"

# With qemu-testdev they use QEMU's pc-testdev instead (MMIO that behaves
# like RAM at 0xFF000000, a 4-byte latch on port 0xE0): QEMU's CPU emulator
# then plays the hypervisor, which tests the tests themselves.
check mmio64-pc-testdev 1 'mmio: ([0-9]+) of \1 forms passed' \
    -kernel "$dir/elf64boot.elf" -initrd "$dir/mmio64.elf qemu-testdev" -device pc-testdev
check mmio32-pc-testdev 1 'mmio32: paging off: ([0-9]+) of \1 forms passed
mmio32: 32-bit paging: ([0-9]+) of \1 forms passed
mmio32: PAE paging: ([0-9]+) of \1 forms passed' \
    -kernel "$dir/mmio32.elf" -append "qemu-testdev" -device pc-testdev
check stringio32-pc-testdev 1 'stringio: pf-insb-fault ok
stringio: pf-insb-resume ok
stringio: ([0-9]+) of \1 cases passed' \
    -kernel "$dir/stringio32.elf" -append "qemu-testdev" -device pc-testdev

[ "$failed" = 0 ] && echo "all QEMU guest tests passed"
exit "$failed"
