#!/bin/sh
# make run: boot the hypervisor ISO.  QEMU/KVM when the host offers nested VMX,
# Bochs otherwise; the serial console on this terminal, the screen on VNC.
# ENGINE=bochs|kvm|qemu, CPUS=N, MODEL=<bochs cpu model> override the defaults.
set -eu
iso=${1:-build/hypervisor.iso}
exec python3 "$(dirname "$0")/hvrun.py" "$iso" --engine "${ENGINE:-auto}" --cpus "${CPUS:-2}" \
    --model "${MODEL:-corei7_skylake_x}"
