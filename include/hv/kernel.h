/* Kernel-wide memory layout and helpers. */
#ifndef HV_KERNEL_H
#define HV_KERNEL_H

#include <hv/types.h>

#define KERNEL_VMA          0xFFFFFFFF80000000ULL   /* kernel image window (-2 GiB) */
#define DIRECT_MAP_BASE     0xFFFF800000000000ULL   /* all physical memory, PML4[256] */
#define MMIO_WINDOW_BASE    0xFFFFC00000000000ULL   /* uncached device mappings, PML4[384] */
#define MMIO_WINDOW_SIZE    (64 * GiB)

static inline void *phys_to_virt(phys_addr_t p) { return (void *)(uintptr_t)(p + DIRECT_MAP_BASE); }

static inline phys_addr_t virt_to_phys(const void *v)
{
    uint64_t a = (uint64_t)(uintptr_t)v;
    return a >= KERNEL_VMA ? a - KERNEL_VMA : a - DIRECT_MAP_BASE;
}

extern char __kernel_phys_start[], __kernel_phys_end[];
extern char __text_start[], __text_end[];

void __noreturn kmain(uint32_t magic, phys_addr_t mbi_phys);
void __noreturn panic(const char *fmt, ...) __printf(1, 2);

#endif
