/*
 * The guest SDK: include this one header.
 *
 * A multiboot (32-bit) guest defines
 *     int guest_main(uint32_t magic, const struct multiboot_info *mbi);
 * an elf64 guest defines
 *     int guest_main64(const char *args, uint64_t ram_size);
 * The SDK's start code (sdk/crt0_*.asm) sets up a GDT and a stack, clears
 * .bss, detects the hypervisor, then calls it; the return value becomes the
 * exit status (hv_exit).  See docs/guest-sdk.md.
 */
#ifndef GUEST_GUEST_H
#define GUEST_GUEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdnoreturn.h>

#include <guest/cmdline.h>
#include <guest/hv.h>
#include <guest/lib.h>
#include <guest/multiboot.h>
#include <guest/printf.h>
#include <guest/x86.h>

/* Exit status the SDK uses when the guest dies of an unexpected exception. */
#define GUEST_EXIT_FAULT    0x7F

int guest_main(uint32_t magic, const struct multiboot_info *mbi);
int guest_main64(const char *args, uint64_t ram_size);

/* The command line the start code found: the multiboot cmdline (when the
 * loader gave one), or the elf64 argument string; "" otherwise. */
const char *guest_cmdline(void);

#endif
