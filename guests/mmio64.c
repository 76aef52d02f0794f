/*
 * mmio64: the hypervisor's MMIO instruction emulation, checked against the
 * CPU itself.  Every instruction form of testlib/mmio_forms.c runs once on
 * a RAM buffer and once on the test device's scratch area (devices=testdev),
 * and the two runs must leave the same bytes, registers and flags.  Output:
 *     mmio: <form> ok            or  mmio: <form> FAIL <what differed>
 *     mmio: last-access ok, mmio: access-count ok   (the device's registers)
 *     mmio: <N> of <M> forms passed
 * Exit status: the number of failures (at most 76, see EXIT_FAILURES_MAX);
 * 77 without the test device ("mmio: no test device").
 *
 * With the word qemu-testdev on its command line it uses QEMU's
 * -device pc-testdev instead (under tools/elf64boot), which tests the test.
 */
#include <guest/guest.h>
#include <guest/trap64.h>

#include "testlib/mmio_forms.h"
#include "testlib/testdev.h"

#define MSR_FS_BASE         0xC0000100u
/* Failures beyond this are reported as this: 77 means "no device" and
 * 127 "unexpected exception". */
#define EXIT_FAILURES_MAX   76

static void wrmsr(uint32_t msr, uint64_t value)
{
    __asm__ volatile("wrmsr"
                     : : "c"(msr), "a"((uint32_t)value), "d"((uint32_t)(value >> 32))
                     : "memory");
}

/* FS is the segment of the segment-override forms.  Its base comes from
 * IA32_FS_BASE in 64-bit mode (the selector's descriptor base is ignored),
 * and the hypervisor lets the guest write that MSR directly. */
static void set_fs_base(uintptr_t base)
{
    wrmsr(MSR_FS_BASE, base);
}

/* An exception inside a form fails that form; anywhere else it is fatal. */
static void on_exception(struct trap_frame64 *frame)
{
    uintptr_t resume = mmio_forms_on_exception((unsigned)frame->vector, frame->rip);

    if (!resume)
        trap64_fatal(frame);
    frame->rip = resume;
}

int guest_main64(const char *args, uint64_t ram_size)
{
    bool qemu = cmdline_has(args, QEMU_TESTDEV_OPTION);
    struct mmio_target target = {
        .prefix = "mmio",
        .dev_base = qemu ? PC_TESTDEV_MMIO_BASE : TESTDEV_MMIO_BASE,
        .has_registers = !qemu,
        .set_seg_base = set_fs_base,
    };

    (void)ram_size;
    trap64_install();
    for (unsigned v = 0; v < TRAP64_VECTORS; v++)
        trap64_set_handler(v, on_exception);
    if (!qemu && !testdev_present()) {
        printf("mmio: no test device\n");
        return EXIT_NO_TESTDEV;
    }
    if (qemu)
        printf("mmio: using QEMU's pc-testdev at 0x%x (no access registers)\n",
                PC_TESTDEV_MMIO_BASE);
    sse_enable();
    mmio_forms_init();

    struct mmio_tally tally = mmio_run_forms(&target);
    unsigned failures = tally.total - tally.passed;

    printf("mmio: %u of %u forms passed\n", tally.passed, tally.total);
    return failures > EXIT_FAILURES_MAX ? EXIT_FAILURES_MAX : (int)failures;
}
