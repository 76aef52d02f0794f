/*
 * The hypervisor's test device (module option devices=testdev) and the
 * helpers the device-emulation test guests share: single MMIO accesses of a
 * known instruction form, SSE enabling, device detection.
 *
 * The constants are plain numbers without a U suffix because some of them
 * are also pasted into assembler strings (see testlib/mmio_forms.c).
 *
 * For trying the guests under plain QEMU, where this device does not exist,
 * they accept the word "qemu-testdev" and then use QEMU's own test device
 * instead (-device pc-testdev, made for kvm-unit-tests): 64 KiB of MMIO that
 * behaves like RAM at 0xFF000000, and a 4-byte port register at 0xE0.  It has
 * no MAGIC, no access counters and no FIFO; see docs/guest-sdk.md.
 */
#ifndef TESTLIB_TESTDEV_H
#define TESTLIB_TESTDEV_H

#include <guest/guest.h>

#define TESTDEV_MMIO_BASE       0xFEB00000
#define TESTDEV_MMIO_SIZE       0x1000
#define TESTDEV_SCRATCH_SIZE    0x100       /* offsets 0x000-0x0FF behave like RAM */
#define TESTDEV_ACCESS_COUNT    0x100       /* 8 bytes, read-only */
#define TESTDEV_LAST_ACCESS     0x108       /* 8 bytes, read-only */
#define TESTDEV_MAGIC_OFFSET    0x110       /* 8 bytes, read-only */
#define TESTDEV_MAGIC           0x54534554564D5648ull   /* "HVMVTEST" */

/* LAST_ACCESS encoding: offset | size << 16 | is_write << 24. */
#define TESTDEV_ACCESS(offset, size, write) \
    ((uint64_t)(offset) | (uint64_t)(size) << 16 | (uint64_t)(write) << 24)

#define TESTDEV_FIFO_PORT       0x510       /* OUT pushes, IN pops (0xFF when empty) */
#define TESTDEV_FIFO_COUNT_PORT 0x514       /* IN (4 bytes): bytes queued; OUT: empties it */
#define TESTDEV_FIFO_SIZE       4096

/* QEMU's -device pc-testdev, for running the test guests under plain QEMU. */
#define PC_TESTDEV_MMIO_BASE    0xFF000000
#define PC_TESTDEV_LATCH_PORT   0xE0        /* ports 0xE0-0xE3: one 4-byte register */
#define QEMU_TESTDEV_OPTION     "qemu-testdev"

/*
 * Where the 32-bit paging tests map the device: a linear address that is
 * not the physical one.  ALIAS(phys) = 0x40000000 + phys mod 2 MiB, so that
 * both a 4 KiB page (32-bit paging) and a 2 MiB page (PAE) can map it.
 */
#define MMIO_ALIAS_WINDOW       0x40000000
#define MMIO_ALIAS_OF(phys)     (MMIO_ALIAS_WINDOW + ((phys) & 0x1FFFFF))
#define TESTDEV_MMIO_ALIAS      0x40100000  /* MMIO_ALIAS_OF(TESTDEV_MMIO_BASE) */
#define PC_TESTDEV_MMIO_ALIAS   0x40000000  /* MMIO_ALIAS_OF(PC_TESTDEV_MMIO_BASE) */

/* Exit status of a test guest that finds no test device: "skipped". */
#define EXIT_NO_TESTDEV         77

#define CR0_MP          (1ul << 1)
#define CR0_EM          (1ul << 2)
#define CR0_TS          (1ul << 3)
#define CR4_OSFXSR      (1ul << 9)
#define CR4_OSXMMEXCPT  (1ul << 10)

/*
 * SSE on: no x87 emulation (EM = 0), WAIT/FWAIT honour TS (MP = 1), no lazy
 * switching (TS = 0), FXSAVE/SSE allowed and SIMD exceptions as #XM.  The
 * compiler still uses no vector register (-mgeneral-regs-only); only the
 * inline assembler of the tests does.
 */
static inline void sse_enable(void)
{
    unsigned long cr0, cr4;

    __asm__ volatile("mov %%cr0, %0" : "=r"(cr0));
    cr0 = (cr0 & ~(CR0_EM | CR0_TS)) | CR0_MP;
    __asm__ volatile("mov %0, %%cr0" : : "r"(cr0) : "memory");
    __asm__ volatile("mov %%cr4, %0" : "=r"(cr4));
    cr4 |= CR4_OSFXSR | CR4_OSXMMEXCPT;
    __asm__ volatile("mov %0, %%cr4" : : "r"(cr4) : "memory");
}

/*
 * Single device accesses with a fixed instruction (MOV 8B/89), so that what
 * the hypervisor has to emulate does not depend on the compiler's choice.
 */
static inline uint32_t mmio_read32(uintptr_t addr)
{
    uint32_t v;

    __asm__ volatile("movl (%1), %0" : "=r"(v) : "r"(addr) : "memory");
    return v;
}

static inline void mmio_write32(uintptr_t addr, uint32_t v)
{
    __asm__ volatile("movl %0, (%1)" : : "r"(v), "r"(addr) : "memory");
}

/*
 * One 8-byte read: the device's registers are 8 bytes wide, and a read of
 * half a register is not something the device promises.  32-bit code has no
 * 8-byte general register, so it reads through XMM0 (MOVQ xmm, m64: needs
 * sse_enable() first).
 */
static inline uint64_t mmio_read64(uintptr_t addr)
{
    uint64_t v;

#ifdef __x86_64__
    __asm__ volatile("movq (%1), %0" : "=r"(v) : "r"(addr) : "memory");
#else
    __asm__ volatile("movq (%1), %%xmm0\n\t"
                     "movq %%xmm0, %0"
                     : "=m"(v) : "r"(addr) : "memory");
#endif
    return v;
}

/*
 * Whether the test device is there: its MAGIC at its MMIO base (paging off
 * or identity-mapped; 32-bit callers must have called sse_enable()).  The
 * hypervisor stops a VM that touches an address with neither RAM nor a
 * device behind it, so the MAGIC is read only after the device's FIFO level
 * port answered with a possible level: a port nobody owns reads as all
 * ones (under QEMU, 0x514 is fw_cfg's DMA port, which reads "QEMU").
 */
static inline bool testdev_present(void)
{
    uint32_t level;

    __asm__ volatile("inl %w1, %0" : "=a"(level) : "Nd"((uint16_t)TESTDEV_FIFO_COUNT_PORT));
    if (level > TESTDEV_FIFO_SIZE)
        return false;
    return mmio_read64(TESTDEV_MMIO_BASE + TESTDEV_MAGIC_OFFSET) == TESTDEV_MAGIC;
}

#endif
