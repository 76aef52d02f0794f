/* The kernel's physical page allocator: struct pmm (pure, unit-tested) plus a lock. */
#include <hv/paging.h>
#include <hv/kernel.h>
#include <hv/spinlock.h>
#include <hv/kstring.h>
#include <hv/log.h>

static struct pmm pmm;
static spinlock_t pmm_lock = SPINLOCK_INIT;
static phys_addr_t max_addr;

static void *map_direct(phys_addr_t p) { return phys_to_virt(p); }

int phys_init(const struct mb2_mmap_entry *map, size_t n, const struct pmm_range *reserved,
              size_t nreserved)
{
    const char *err;
    phys_addr_t bitmap;
    if (pmm_setup(&pmm, map, n, reserved, nreserved, map_direct, &bitmap, &err)) {
        pr_err("physical memory: %s", err);
        return -1;
    }
    max_addr = pmm.npages * PAGE_SIZE;
    pr_info("physical memory: %llu MiB usable, %llu MiB free, highest address %#llx, "
            "page bitmap at %#llx (%zu bytes)",
            (unsigned long long)(pmm.usable_pages * PAGE_SIZE / MiB),
            (unsigned long long)(pmm.free_pages * PAGE_SIZE / MiB),
            (unsigned long long)max_addr, (unsigned long long)bitmap,
            pmm_bitmap_bytes(max_addr));
    return 0;
}

phys_addr_t phys_alloc_aligned(uint64_t count, uint64_t align_pages)
{
    uint64_t f = spin_lock_irqsave(&pmm_lock);
    phys_addr_t p = pmm_alloc_pages(&pmm, count, align_pages);
    spin_unlock_irqrestore(&pmm_lock, f);
    if (p != PMM_NO_MEMORY)
        memset(phys_to_virt(p), 0, count * PAGE_SIZE);
    return p;
}

phys_addr_t phys_alloc_pages(uint64_t count)
{
    return phys_alloc_aligned(count, 1);
}

void phys_free_pages(phys_addr_t base, uint64_t count)
{
    uint64_t f = spin_lock_irqsave(&pmm_lock);
    int rc = pmm_free_pages(&pmm, base, count);
    spin_unlock_irqrestore(&pmm_lock, f);
    if (rc)
        panic("phys_free_pages(%#llx, %llu): pages not allocated (double free?)",
              (unsigned long long)base, (unsigned long long)count);
}

uint64_t phys_free_count(void) { return pmm.free_pages; }
uint64_t phys_usable_count(void) { return pmm.usable_pages; }
phys_addr_t phys_max_addr(void) { return max_addr; }
