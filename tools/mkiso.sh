#!/bin/sh
# mkiso.sh OUT.iso GRUB.CFG KERNEL.ELF [FILE...]
# Builds a BIOS-bootable GRUB ISO with the kernel at /boot/hypervisor.elf and
# every extra FILE under /boot/ (for modules referenced by the grub.cfg).
set -eu
out=$1 cfg=$2 elf=$3
shift 3
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
mkdir -p "$stage/boot/grub"
cp "$cfg" "$stage/boot/grub/grub.cfg"
cp "$elf" "$stage/boot/hypervisor.elf"
for f in "$@"; do
    cp "$f" "$stage/boot/"
done
# Only the BIOS (i386-pc) platform: that is what Bochs, QEMU's default
# firmware and most nested setups boot.
grub-mkrescue -d /usr/lib/grub/i386-pc -o "$out" "$stage" >"$out.log" 2>&1 || {
    cat "$out.log" >&2
    exit 1
}
rm -f "$out.log"
