/*
 * MMIO instruction-form tests shared by mmio64 (64-bit) and mmio32 (32-bit,
 * three paging modes).  Each form is a few instructions of which exactly
 * one touches "the region": it runs once with the region in RAM and once
 * with the region on the test device's scratch area (same initial bytes,
 * same register inputs, same RFLAGS), and the two runs must agree on the
 * region's bytes, a second RAM buffer's bytes, the general registers and
 * the flags.  The RAM run is the CPU's own answer; the device run is the
 * hypervisor's emulation.
 */
#ifndef TESTLIB_MMIO_FORMS_H
#define TESTLIB_MMIO_FORMS_H

#include <stdbool.h>
#include <stdint.h>

struct mmio_target {
    const char *prefix;         /* output lines are "<prefix>: <form> ok" */
    uintptr_t dev_base;         /* linear address of the device's scratch area */
    bool has_registers;         /* ACCESS_COUNT/LAST_ACCESS exist (not so on QEMU's pc-testdev) */
    /* Sets the base of the segment(s) the segment-override forms use:
     * FS in 64-bit code (IA32_FS_BASE), FS and GS in 32-bit code. */
    void (*set_seg_base)(uintptr_t base);
};

struct mmio_tally {
    unsigned passed;
    unsigned total;
};

/* Looks at CPUID once (CLFLUSH, CLFLUSHOPT); call before the first run. */
void mmio_forms_init(void);

/* Runs every form (and the access-register checks when the target has
 * them), one output line each; returns how many passed of how many ran. */
struct mmio_tally mmio_run_forms(const struct mmio_target *target);

/*
 * For the guest's exception handlers: when an exception hits while a form
 * runs, returns where to resume (the form is then reported as failed with
 * that vector); returns 0 otherwise (a real bug: the caller dies loudly).
 */
uintptr_t mmio_forms_on_exception(unsigned vector, uintptr_t ip);

#endif
