/*
 * Exception handling for 64-bit guests: an IDT for the 32 CPU exception
 * vectors, each going through one assembly stub (sdk/isr64.asm) to a C
 * handler.  Vectors without a handler print the frame and end the guest with
 * GUEST_EXIT_FAULT.  External interrupts are not handled: guests run with
 * interrupts off.
 */
#ifndef GUEST_TRAP64_H
#define GUEST_TRAP64_H

#include <stdint.h>
#include <stdnoreturn.h>

#define TRAP64_VECTORS  32

#define VEC_DE  0   /* divide error */
#define VEC_DB  1
#define VEC_NMI 2
#define VEC_BP  3
#define VEC_UD  6   /* invalid opcode */
#define VEC_DF  8
#define VEC_GP  13
#define VEC_PF  14

/* What the stub saved, lowest address first.  A handler may change any
 * field; the stub restores from here and IRETQs to rip. */
struct trap_frame64 {
    uint64_t r15, r14, r13, r12, r11, r10, r9, r8;
    uint64_t rbp, rdi, rsi, rdx, rcx, rbx, rax;
    uint64_t vector;
    uint64_t error_code;        /* 0 for vectors without one */
    uint64_t rip, cs, rflags, rsp, ss;   /* pushed by the CPU */
};

typedef void (*trap_handler64)(struct trap_frame64 *frame);

/* Builds and loads the IDT (LIDT); call once before relying on handlers. */
void trap64_install(void);
void trap64_set_handler(unsigned vector, trap_handler64 handler);
/* Prints the frame and exits with GUEST_EXIT_FAULT. */
noreturn void trap64_fatal(const struct trap_frame64 *frame);

#endif
