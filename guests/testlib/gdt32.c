/* The GDT of 32-bit test guests (see gdt32.h). */
#include <guest/guest.h>

#include "gdt32.h"

#define GDT_ENTRIES         (3 + GDT32_EXTRA)
#define DESC_FLAT_CODE      0x00CF9A000000FFFFull   /* as in sdk/crt0_mb32.asm */
#define DESC_FLAT_DATA      0x00CF92000000FFFFull

struct gdt_descriptor32 {
    uint16_t limit;
    uint32_t base;
} __attribute__((packed));

static uint64_t gdt[GDT_ENTRIES] __attribute__((aligned(8))) = {
    0, DESC_FLAT_CODE, DESC_FLAT_DATA,
};

/* Data descriptor: base split into bits 16-39 and 56-63 of the entry, the
 * access byte and limit/flags of the flat data segment around it. */
static uint64_t data_descriptor(uint32_t base)
{
    return (DESC_FLAT_DATA & 0x00FFFF000000FFFFull) | ((uint64_t)(base & 0x00FFFFFF) << 16) |
           ((uint64_t)(base >> 24) << 56);
}

void gdt32_install(void)
{
    for (unsigned n = 0; n < GDT32_EXTRA; n++)
        gdt[3 + n] = data_descriptor(0);
    struct gdt_descriptor32 desc = { .limit = sizeof(gdt) - 1, .base = (uint32_t)(uintptr_t)gdt };

    __asm__ volatile("lgdt %0\n\t"
                     "ljmp %1, $1f\n"
                     "1:\n\t"
                     "mov %2, %%ds\n\t"
                     "mov %2, %%es\n\t"
                     "mov %2, %%fs\n\t"
                     "mov %2, %%gs\n\t"
                     "mov %2, %%ss"
                     : : "m"(desc), "i"(GDT32_SEL_CODE), "r"(GDT32_SEL_DATA) : "memory");
}

void gdt32_set_base(unsigned selector, uint32_t base)
{
    unsigned index = selector / 8;

    if (index >= 3 && index < GDT_ENTRIES)
        gdt[index] = data_descriptor(base);
}
