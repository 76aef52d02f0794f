/*
 * Physical page allocator: one bit per 4 KiB page from physical address 0 up
 * to the end of the highest usable RAM (1 = in use or not RAM, 0 = free).
 * Pure: the bitmap is handed in, the allocator never touches the pages it
 * manages, so host unit tests drive it with synthetic memory maps.  The
 * kernel wraps it with a lock (kernel/mm/phys.c).
 */
#ifndef HV_PMM_H
#define HV_PMM_H

#include <hv/types.h>
#include <hv/mb2.h>

#define PMM_NO_MEMORY   (~(phys_addr_t)0)

struct pmm {
    uint64_t *bitmap;
    uint64_t npages;            /* pages covered by the bitmap */
    uint64_t free_pages;
    uint64_t usable_pages;      /* pages the memory map called available */
    uint64_t hint;              /* word index where the next search starts */
};

struct pmm_range {
    phys_addr_t base;
    phys_addr_t end;            /* exclusive */
    const char *what;           /* for diagnostics: "kernel image", "module 0", ... */
};

/* Bytes of bitmap needed to cover [0, max_phys). */
size_t pmm_bitmap_bytes(phys_addr_t max_phys);

/* Starts with every page marked in use. */
void pmm_init(struct pmm *pmm, uint64_t *bitmap, phys_addr_t max_phys);

/* Frees the whole pages inside [base, end) (rounded inward). */
void pmm_add_free_range(struct pmm *pmm, phys_addr_t base, phys_addr_t end);

/* Marks every page touching [base, end) in use (rounded outward). */
void pmm_reserve_range(struct pmm *pmm, phys_addr_t base, phys_addr_t end);

/* `count` contiguous pages aligned to `align_pages` (a power of two, 0 or 1 = none).
 * Returns PMM_NO_MEMORY when no such run is free. */
phys_addr_t pmm_alloc_pages(struct pmm *pmm, uint64_t count, uint64_t align_pages);

/* Returns 0, or -1 (changing nothing) when a page is out of range or already free:
 * a double free is a bug the caller must hear about. */
int pmm_free_pages(struct pmm *pmm, phys_addr_t base, uint64_t count);

bool pmm_page_is_free(const struct pmm *pmm, phys_addr_t addr);

/*
 * Builds the allocator from a boot memory map: finds the highest available
 * address, places the bitmap in available RAM that overlaps no reserved range
 * (reporting where through *bitmap_phys), frees available RAM, then reserves
 * everything the map does not call available plus `reserved` and the bitmap.
 * `map_phys` turns a physical address into a usable pointer.
 * Returns 0, or -1 with *err set.
 */
int pmm_setup(struct pmm *pmm, const struct mb2_mmap_entry *map, size_t nmap,
              const struct pmm_range *reserved, size_t nreserved,
              void *(*map_phys)(phys_addr_t), phys_addr_t *bitmap_phys, const char **err);

#endif
