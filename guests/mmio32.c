/*
 * mmio32: the MMIO instruction forms of testlib/mmio_forms.c (those that
 * exist in 32-bit code) in 32-bit protected mode, three times over:
 *     paging off      the device at its physical address 0xFEB00000
 *     32-bit paging   4 KiB pages, the device at linear 0x40100000
 *     PAE paging      2 MiB pages, the device at linear 0x40100000
 * so that the hypervisor must translate guest-linear addresses through the
 * guest's page tables, for the data and for the instruction bytes.  Each
 * form runs on RAM and on the device; the runs must agree.  Output:
 *     mmio32: <mode>: <form> ok     or  mmio32: <mode>: <form> FAIL <what>
 *     mmio32: <mode>: <N> of <M> forms passed
 * Exit status: the number of failures over all modes (at most 76); 77
 * without the test device ("mmio32: no test device").  With qemu-testdev on
 * the command line it uses QEMU's -device pc-testdev instead.
 */
#include <guest/guest.h>

#include "testlib/gdt32.h"
#include "testlib/mmio_forms.h"
#include "testlib/paging32.h"
#include "testlib/testdev.h"
#include "testlib/trap32.h"

#define EXIT_FAILURES_MAX   76
#define SEL_REGION          GDT32_SEL_EXTRA(0)
#define PREFIX_MAX          32

/* FS and GS: a data segment whose base is the region (0: flat again). */
static void set_seg_base(uintptr_t base)
{
    uint16_t sel = base ? SEL_REGION : GDT32_SEL_DATA;

    gdt32_set_base(SEL_REGION, (uint32_t)base);
    __asm__ volatile("mov %0, %%fs\n\t"
                     "mov %0, %%gs"
                     : : "r"(sel) : "memory");
}

static void on_exception(struct trap_frame32 *frame)
{
    uintptr_t resume = mmio_forms_on_exception(frame->vector, frame->eip);

    if (!resume)
        trap32_fatal(frame);
    frame->eip = (uint32_t)resume;
}

/* Each returns the linear address of the device with its paging mode on. */
static uintptr_t mode_nopaging(uint32_t phys)
{
    return phys;
}

static uintptr_t mode_paging32(uint32_t phys)
{
    uint32_t alias = MMIO_ALIAS_OF(phys);

    paging32_reset();
    if (!paging32_map_4k(alias, phys, PTE_P | PTE_RW | PTE_UNCACHED)) {
        printf("mmio32: out of page tables\n");
        return 0;
    }
    paging32_enable();
    return alias;
}

static uintptr_t mode_pae(uint32_t phys)
{
    pae_reset();
    pae_map_2m(MMIO_ALIAS_WINDOW, phys & ~(PAGE_SIZE_2M - 1), PTE_P | PTE_RW | PTE_UNCACHED);
    pae_enable();
    return MMIO_ALIAS_OF(phys);
}

struct paging_mode {
    const char *name;
    uintptr_t (*enter)(uint32_t phys);
};

static const struct paging_mode modes[] = {
    { "paging off", mode_nopaging },
    { "32-bit paging", mode_paging32 },
    { "PAE paging", mode_pae },
};

static unsigned run_mode(const struct paging_mode *mode, uint32_t phys, bool qemu)
{
    char prefix[PREFIX_MAX];

    snprintf(prefix, sizeof(prefix), "mmio32: %s", mode->name);

    struct mmio_target target = {
        .prefix = prefix,
        .dev_base = mode->enter(phys),
        .has_registers = !qemu,
        .set_seg_base = set_seg_base,
    };

    if (!target.dev_base) {
        paging_disable();
        printf("%s: 0 of 1 forms passed\n", prefix);
        return 1;
    }
    struct mmio_tally tally = mmio_run_forms(&target);

    paging_disable();
    printf("%s: %u of %u forms passed\n", prefix, tally.passed, tally.total);
    return tally.total - tally.passed;
}

int guest_main(uint32_t magic, const struct multiboot_info *mbi)
{
    bool qemu = cmdline_has(guest_cmdline(), QEMU_TESTDEV_OPTION);
    uint32_t phys = qemu ? PC_TESTDEV_MMIO_BASE : TESTDEV_MMIO_BASE;
    unsigned failures = 0;

    (void)magic;
    (void)mbi;
    gdt32_install();
    trap32_install();
    for (unsigned v = 0; v < 32; v++)
        trap32_set_handler(v, on_exception);
    sse_enable();                   /* also for testdev_present's 8-byte read */
    if (!qemu && !testdev_present()) {
        printf("mmio32: no test device\n");
        return EXIT_NO_TESTDEV;
    }
    if (qemu)
        printf("mmio32: using QEMU's pc-testdev at 0x%x (no access registers)\n", phys);
    mmio_forms_init();
    for (size_t i = 0; i < ARRAY_SIZE(modes); i++)
        failures += run_mode(&modes[i], phys, qemu);
    return failures > EXIT_FAILURES_MAX ? EXIT_FAILURES_MAX : (int)failures;
}
