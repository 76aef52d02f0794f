/*
 * Host page tables.  boot/boot.asm built a direct map of the low 4 GiB with
 * 2 MiB pages; here we extend it to all RAM, map devices uncached in a window
 * of their own, and finally drop the identity map used during bring-up.
 */
#include <hv/paging.h>
#include <hv/kernel.h>
#include <hv/spinlock.h>
#include <hv/x86.h>
#include <hv/log.h>

#define PML4_INDEX(va)  (((va) >> 39) & 0x1FF)
#define PDPT_INDEX(va)  (((va) >> 30) & 0x1FF)
#define PD_INDEX(va)    (((va) >> 21) & 0x1FF)
#define PT_INDEX(va)    (((va) >> 12) & 0x1FF)
#define BOOT_MAPPED     (4 * GiB)

extern uint64_t boot_pml4[512];     /* boot/boot.asm, identity-addressed */

static spinlock_t pt_lock = SPINLOCK_INIT;
static uint64_t mmio_next = MMIO_WINDOW_BASE;

static uint64_t *pml4(void)
{
    return phys_to_virt((phys_addr_t)(uintptr_t)boot_pml4);
}

phys_addr_t paging_kernel_cr3(void)
{
    return (phys_addr_t)(uintptr_t)boot_pml4;
}

/* Returns the next-level table behind `*entry`, allocating it if absent. */
static uint64_t *next_table(uint64_t *entry)
{
    if (!(*entry & PTE_P)) {
        phys_addr_t p = phys_alloc_pages(1);
        if (p == PMM_NO_MEMORY)
            return NULL;
        *entry = p | PTE_P | PTE_W;
    } else if (*entry & PTE_PS) {
        return NULL;        /* a large page is in the way */
    }
    return phys_to_virt(*entry & PTE_ADDR_MASK);
}

static int map_4k(uint64_t va, phys_addr_t pa, uint64_t flags)
{
    uint64_t *pdpt = next_table(&pml4()[PML4_INDEX(va)]);
    uint64_t *pd = pdpt ? next_table(&pdpt[PDPT_INDEX(va)]) : NULL;
    uint64_t *pt = pd ? next_table(&pd[PD_INDEX(va)]) : NULL;
    if (!pt)
        return -1;
    pt[PT_INDEX(va)] = pa | flags | PTE_P;
    invlpg(va);
    return 0;
}

static int map_2m(uint64_t va, phys_addr_t pa, uint64_t flags)
{
    uint64_t *pdpt = next_table(&pml4()[PML4_INDEX(va)]);
    uint64_t *pd = pdpt ? next_table(&pdpt[PDPT_INDEX(va)]) : NULL;
    if (!pd)
        return -1;
    pd[PD_INDEX(va)] = pa | flags | PTE_P | PTE_PS;
    invlpg(va);
    return 0;
}

void paging_init(void)
{
    phys_addr_t top = ALIGN_UP(phys_max_addr(), 2 * MiB);
    uint64_t f = spin_lock_irqsave(&pt_lock);
    for (phys_addr_t pa = BOOT_MAPPED; pa < top; pa += 2 * MiB) {
        if (map_2m(DIRECT_MAP_BASE + pa, pa, PTE_W | PTE_NX)) {
            spin_unlock_irqrestore(&pt_lock, f);
            panic("paging: out of memory while extending the direct map to %#llx",
                  (unsigned long long)top);
        }
    }
    spin_unlock_irqrestore(&pt_lock, f);
    if (top > BOOT_MAPPED)
        pr_debug("paging: direct map extended to %#llx", (unsigned long long)top);
}

void *mmio_map(phys_addr_t phys, uint64_t size)
{
    phys_addr_t base = ALIGN_DOWN(phys, PAGE_SIZE);
    uint64_t len = ALIGN_UP(phys + size, PAGE_SIZE) - base;
    uint64_t f = spin_lock_irqsave(&pt_lock);
    if (mmio_next + len > MMIO_WINDOW_BASE + MMIO_WINDOW_SIZE) {
        spin_unlock_irqrestore(&pt_lock, f);
        return NULL;
    }
    uint64_t va = mmio_next;
    mmio_next += len + PAGE_SIZE;       /* an unmapped guard page between mappings */
    for (uint64_t off = 0; off < len; off += PAGE_SIZE) {
        /* PCD|PWT: uncached (PAT entry 3 at reset, SDM Vol. 3A, 12.12.4). */
        if (map_4k(va + off, base + off, PTE_W | PTE_PCD | PTE_PWT | PTE_NX)) {
            spin_unlock_irqrestore(&pt_lock, f);
            return NULL;
        }
    }
    spin_unlock_irqrestore(&pt_lock, f);
    return (void *)(uintptr_t)(va + (phys - base));
}

void paging_drop_identity_map(void)
{
    pml4()[0] = 0;
    write_cr3(read_cr3());
}
