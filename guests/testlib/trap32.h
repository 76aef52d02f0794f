/*
 * Exceptions and interrupts for 32-bit test guests (the SDK has this for
 * 64-bit guests only: guest/trap64.h).  An IDT with 48 vectors: the 32 CPU
 * exceptions and 16 for the two 8259A PICs (programmed to 0x20-0x2F), each
 * going through one stub (testlib/isr32.asm) to a C handler.  A vector
 * without a handler prints the frame and ends the guest with
 * GUEST_EXIT_FAULT.  Needs the GDT of the SDK (code selector 0x08, data 0x10)
 * or testlib/gdt32.h, which keeps both.
 */
#ifndef TESTLIB_TRAP32_H
#define TESTLIB_TRAP32_H

#include <stdint.h>
#include <stdnoreturn.h>

#define TRAP32_VECTORS  48

#define VEC32_UD    6
#define VEC32_GP    13
#define VEC32_PF    14
#define VEC32_IRQ0  0x20    /* where the guests put the master PIC */

/* What the stub saved, lowest address first.  A handler may change the
 * fields; the stub restores from them and IRETs to eip. */
struct trap_frame32 {
    uint32_t es, ds;                        /* the stub runs C with flat ones */
    uint32_t edi, esi, ebp, esp_unused, ebx, edx, ecx, eax;    /* PUSHAD */
    uint32_t vector;
    uint32_t error_code;                    /* 0 for vectors without one */
    uint32_t eip, cs, eflags;               /* pushed by the CPU (same privilege: no ESP/SS) */
};

typedef void (*trap_handler32)(struct trap_frame32 *frame);

/* Builds and loads the IDT (LIDT). */
void trap32_install(void);
void trap32_set_handler(unsigned vector, trap_handler32 handler);
/* Prints the frame (and CR2) and exits with GUEST_EXIT_FAULT. */
noreturn void trap32_fatal(const struct trap_frame32 *frame);

#endif
