#!/bin/sh
# Installs the Debian packages the project needs, when any is missing.
# Used by `make run`, `make test` and .ci/run, so a fresh Debian 12 machine
# gets from nothing to a booted hypervisor with one command.
set -eu
PACKAGES="make gcc nasm python3 grub-pc-bin grub-common xorriso mtools \
bochs bochs-x bochsbios vgabios qemu-system-x86 python3-pytest libcmocka-dev \
libcapstone-dev clang libclang-rt-14-dev"
missing=""
for p in $PACKAGES; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
echo "deps: installing$missing" >&2
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
$SUDO apt-get update -q
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends $missing
