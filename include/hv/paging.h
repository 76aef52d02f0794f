/* Host page tables (4-level, SDM Vol. 3A, 4.5) and the physical allocator. */
#ifndef HV_PAGING_H
#define HV_PAGING_H

#include <hv/types.h>
#include <hv/pmm.h>

#define PTE_P       BIT(0)
#define PTE_W       BIT(1)
#define PTE_U       BIT(2)
#define PTE_PWT     BIT(3)
#define PTE_PCD     BIT(4)
#define PTE_A       BIT(5)
#define PTE_D       BIT(6)
#define PTE_PS      BIT(7)
#define PTE_G       BIT(8)
#define PTE_NX      BIT(63)
#define PTE_ADDR_MASK 0x000FFFFFFFFFF000ULL

/* Physical memory (kernel/mm/phys.c): a locked wrapper around struct pmm. */
int phys_init(const struct mb2_mmap_entry *map, size_t n, const struct pmm_range *reserved,
              size_t nreserved);
phys_addr_t phys_alloc_pages(uint64_t count);          /* zeroed; PMM_NO_MEMORY on failure */
phys_addr_t phys_alloc_aligned(uint64_t count, uint64_t align_pages);
void phys_free_pages(phys_addr_t base, uint64_t count);
uint64_t phys_free_count(void);
uint64_t phys_usable_count(void);
phys_addr_t phys_max_addr(void);

/* Page tables (kernel/mm/paging.c). */
void paging_init(void);                 /* extends the direct map to all RAM */
void *mmio_map(phys_addr_t phys, uint64_t size);   /* uncached; NULL on failure */
void paging_drop_identity_map(void);    /* after SMP bring-up: NULL derefs fault */
phys_addr_t paging_kernel_cr3(void);

/* Heap (kernel/mm/heap.c). */
void *kmalloc(size_t size);
void *kzalloc(size_t size);
void kfree(void *p);

#endif
