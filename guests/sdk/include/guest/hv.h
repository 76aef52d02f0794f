/*
 * Talking to the hypervisor (ABI: include/hv/hypercall.h at the repository
 * root), with fallbacks so that the same guest also runs under plain QEMU:
 * console on port 0xE9 (QEMU's -debugcon) and exit through QEMU's
 * isa-debug-exit device on port 0xF4.
 */
#ifndef GUEST_HV_H
#define GUEST_HV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdnoreturn.h>
#include <hv/hypercall.h>

/* QEMU's isa-debug-exit (-device isa-debug-exit,iobase=0xf4,iosize=0x04):
 * writing V ends QEMU with exit status (V << 1) | 1. */
#define QEMU_DEBUG_EXIT_PORT    0xF4

/* True when CPUID.1:ECX[31] is set and leaf 0x40000000 carries our signature.
 * Detected once at startup (by the SDK's start code), then cached. */
bool hv_present(void);

/*
 * VMCALL with RAX = nr and RBX, RCX, RDX, RSI = a1..a4; returns RAX.
 * Returns HC_ENOSYS without executing VMCALL when hv_present() is false,
 * because VMCALL outside VMX non-root operation raises #UD.
 */
unsigned long hv_hypercall(unsigned long nr, unsigned long a1, unsigned long a2,
                           unsigned long a3, unsigned long a4);

/* The bare instruction, for benchmarks: no presence check. */
static inline unsigned long hv_vmcall(unsigned long nr, unsigned long a1, unsigned long a2,
                                      unsigned long a3, unsigned long a4)
{
    unsigned long ret;

    __asm__ volatile("vmcall"
                     : "=a"(ret)
                     : "a"(nr), "b"(a1), "c"(a2), "d"(a3), "S"(a4)
                     : "memory");
    return ret;
}

/* Ends the guest: HC_EXIT under the hypervisor, port 0xF4 otherwise, then a
 * HLT loop in case neither took effect. */
noreturn void hv_exit(int status);

/* Where console output goes. */
enum hv_console_mode {
    HV_CONSOLE_PORT,        /* byte by byte on port 0xE9: works everywhere (default) */
    HV_CONSOLE_HYPERCALL,   /* HC_CONSOLE_WRITE: one VM exit per buffer, hypervisor only */
};

/* Returns false (and keeps the port) when the hypercall console is asked for
 * but the hypervisor is not there. */
bool hv_console_set_mode(enum hv_console_mode mode);
enum hv_console_mode hv_console_get_mode(void);

/* Writes through the current mode. */
void hv_console_write(const char *s, size_t len);
/* Writes byte by byte to port 0xE9 (NUL bytes included: the host drops them). */
void hv_console_write_port(const char *s, size_t len);
/* Writes with HC_CONSOLE_WRITE in chunks of at most HC_CONSOLE_WRITE_MAX;
 * returns the bytes written or the first (negative) error. */
long hv_console_write_hc(const char *s, size_t len);

#endif
