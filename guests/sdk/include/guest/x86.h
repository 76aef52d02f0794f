/*
 * Single x86 instructions as inline functions, for 32-bit and 64-bit guests.
 * Everything here is a plain CPU instruction: whether it causes a VM exit is
 * up to the hypervisor (CPUID and I/O always do, RDTSC usually not).
 */
#ifndef GUEST_X86_H
#define GUEST_X86_H

#include <stdint.h>
#include <stdbool.h>
#include <stdnoreturn.h>

#define CPUID_1_ECX_HYPERVISOR  (1u << 31)  /* "running under a hypervisor" */
#define CPUID_1_EDX_TSC         (1u << 4)
#define CPUID_1_EDX_SSE2        (1u << 26)  /* SSE2 implies LFENCE */

struct cpuid_regs {
    uint32_t eax, ebx, ecx, edx;
};

static inline struct cpuid_regs cpuid(uint32_t leaf, uint32_t subleaf)
{
    struct cpuid_regs r;

    __asm__ volatile("cpuid"
                     : "=a"(r.eax), "=b"(r.ebx), "=c"(r.ecx), "=d"(r.edx)
                     : "a"(leaf), "c"(subleaf));
    return r;
}

static inline void outb(uint16_t port, uint8_t value)
{
    __asm__ volatile("outb %b0, %w1" : : "a"(value), "Nd"(port));
}

static inline uint8_t inb(uint16_t port)
{
    uint8_t value;

    __asm__ volatile("inb %w1, %b0" : "=a"(value) : "Nd"(port));
    return value;
}

/* Plain RDTSC: may execute before earlier instructions have finished. */
static inline uint64_t rdtsc(void)
{
    uint32_t lo, hi;

    __asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
    return ((uint64_t)hi << 32) | lo;
}

/*
 * RDTSC fenced on both sides: the first LFENCE waits for everything before
 * to complete, the second keeps what follows from starting before the read.
 * Needs SSE2 (CPUID.1:EDX bit 26); every x86-64 CPU has it.
 */
static inline uint64_t rdtsc_lfenced(void)
{
    uint32_t lo, hi;

    __asm__ volatile("lfence\n\trdtsc\n\tlfence" : "=a"(lo), "=d"(hi) : : "memory");
    return ((uint64_t)hi << 32) | lo;
}

/* Spin-loop hint: lets the hypervisor's PAUSE-loop exiting see us spinning. */
static inline void cpu_pause(void)
{
    __asm__ volatile("pause" : : : "memory");
}

/* Stops this CPU for good: with interrupts off, HLT only wakes for NMI/SMI. */
static inline noreturn void cpu_halt_forever(void)
{
    for (;;)
        __asm__ volatile("cli\n\thlt" : : : "memory");
}

#endif
