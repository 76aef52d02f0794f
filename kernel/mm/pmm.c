/* Bitmap physical page allocator; see include/hv/pmm.h. */
#include <hv/pmm.h>
#include <hv/kstring.h>

#define BITS_PER_WORD 64

static inline bool page_used(const struct pmm *pmm, uint64_t pfn)
{
    return pmm->bitmap[pfn / BITS_PER_WORD] & BIT(pfn % BITS_PER_WORD);
}

static inline void set_used(struct pmm *pmm, uint64_t pfn)
{
    pmm->bitmap[pfn / BITS_PER_WORD] |= BIT(pfn % BITS_PER_WORD);
}

static inline void set_free(struct pmm *pmm, uint64_t pfn)
{
    pmm->bitmap[pfn / BITS_PER_WORD] &= ~BIT(pfn % BITS_PER_WORD);
}

size_t pmm_bitmap_bytes(phys_addr_t max_phys)
{
    uint64_t pages = ALIGN_UP(max_phys, PAGE_SIZE) / PAGE_SIZE;
    return ALIGN_UP(pages, (uint64_t)BITS_PER_WORD) / 8;
}

void pmm_init(struct pmm *pmm, uint64_t *bitmap, phys_addr_t max_phys)
{
    pmm->bitmap = bitmap;
    pmm->npages = ALIGN_UP(max_phys, PAGE_SIZE) / PAGE_SIZE;
    pmm->free_pages = 0;
    pmm->usable_pages = 0;
    pmm->hint = 0;
    memset(bitmap, 0xFF, pmm_bitmap_bytes(max_phys));
}

void pmm_add_free_range(struct pmm *pmm, phys_addr_t base, phys_addr_t end)
{
    uint64_t first = ALIGN_UP(base, PAGE_SIZE) / PAGE_SIZE;
    uint64_t last = ALIGN_DOWN(end, PAGE_SIZE) / PAGE_SIZE;   /* exclusive */
    if (last > pmm->npages)
        last = pmm->npages;
    for (uint64_t pfn = first; pfn < last; pfn++) {
        if (page_used(pmm, pfn)) {
            set_free(pmm, pfn);
            pmm->free_pages++;
        }
    }
}

void pmm_reserve_range(struct pmm *pmm, phys_addr_t base, phys_addr_t end)
{
    if (end <= base)
        return;
    uint64_t first = ALIGN_DOWN(base, PAGE_SIZE) / PAGE_SIZE;
    uint64_t last = ALIGN_UP(end, PAGE_SIZE) / PAGE_SIZE;
    if (last > pmm->npages)
        last = pmm->npages;
    for (uint64_t pfn = first; pfn < last; pfn++) {
        if (!page_used(pmm, pfn)) {
            set_used(pmm, pfn);
            pmm->free_pages--;
        }
    }
}

phys_addr_t pmm_alloc_pages(struct pmm *pmm, uint64_t count, uint64_t align_pages)
{
    if (count == 0 || count > pmm->free_pages)
        return PMM_NO_MEMORY;
    if (align_pages == 0)
        align_pages = 1;
    if (align_pages & (align_pages - 1))
        return PMM_NO_MEMORY;

    /* Two passes: from the hint to the end, then from the start. */
    for (int pass = 0; pass < 2; pass++) {
        uint64_t start = pass == 0 ? pmm->hint * BITS_PER_WORD : 0;
        uint64_t limit = pmm->npages;
        uint64_t pfn = ALIGN_UP(start, align_pages);

        while (pfn + count <= limit) {
            /* Skip whole words that are fully in use. */
            if (pfn % BITS_PER_WORD == 0 && pmm->bitmap[pfn / BITS_PER_WORD] == ~0ULL) {
                pfn = ALIGN_UP(pfn + BITS_PER_WORD, align_pages);
                continue;
            }
            uint64_t run = 0;
            while (run < count && !page_used(pmm, pfn + run))
                run++;
            if (run == count) {
                for (uint64_t i = 0; i < count; i++)
                    set_used(pmm, pfn + i);
                pmm->free_pages -= count;
                pmm->hint = (pfn + count) / BITS_PER_WORD;
                return pfn * PAGE_SIZE;
            }
            pfn = ALIGN_UP(pfn + run + 1, align_pages);
        }
        if (start == 0)
            break;
    }
    return PMM_NO_MEMORY;
}

int pmm_free_pages(struct pmm *pmm, phys_addr_t base, uint64_t count)
{
    if (base % PAGE_SIZE)
        return -1;
    uint64_t first = base / PAGE_SIZE;
    if (first >= pmm->npages || count > pmm->npages - first)
        return -1;
    for (uint64_t i = 0; i < count; i++)
        if (!page_used(pmm, first + i))
            return -1;
    for (uint64_t i = 0; i < count; i++)
        set_free(pmm, first + i);
    pmm->free_pages += count;
    if (first / BITS_PER_WORD < pmm->hint)
        pmm->hint = first / BITS_PER_WORD;
    return 0;
}

bool pmm_page_is_free(const struct pmm *pmm, phys_addr_t addr)
{
    uint64_t pfn = addr / PAGE_SIZE;
    return pfn < pmm->npages && !page_used(pmm, pfn);
}

static bool overlaps(phys_addr_t a, phys_addr_t a_end, phys_addr_t b, phys_addr_t b_end)
{
    return a < b_end && b < a_end;
}

/* Lowest page-aligned spot of `size` bytes inside available RAM (above 1 MiB,
 * where firmware structures live below) that overlaps no reserved range. */
static phys_addr_t find_bitmap_home(const struct mb2_mmap_entry *map, size_t nmap,
                                    const struct pmm_range *res, size_t nres, size_t size)
{
    for (size_t i = 0; i < nmap; i++) {
        if (map[i].type != MB2_MEM_AVAILABLE || map[i].length == 0)
            continue;
        phys_addr_t lo = ALIGN_UP(MAX(map[i].base, (phys_addr_t)MiB), PAGE_SIZE);
        phys_addr_t hi = ALIGN_DOWN(map[i].base + map[i].length, PAGE_SIZE);
        phys_addr_t cand = lo;
        while (cand + size <= hi && cand >= lo) {
            bool clash = false;
            for (size_t r = 0; r < nres; r++) {
                if (overlaps(cand, cand + size, res[r].base, res[r].end)) {
                    cand = ALIGN_UP(res[r].end, PAGE_SIZE);
                    clash = true;
                    break;
                }
            }
            /* Another map entry marked not-available inside this one (buggy firmware)? */
            for (size_t j = 0; !clash && j < nmap; j++) {
                if (map[j].type != MB2_MEM_AVAILABLE &&
                    overlaps(cand, cand + size, map[j].base, map[j].base + map[j].length)) {
                    cand = ALIGN_UP(map[j].base + map[j].length, PAGE_SIZE);
                    clash = true;
                }
            }
            if (!clash)
                return cand;
        }
    }
    return PMM_NO_MEMORY;
}

int pmm_setup(struct pmm *pmm, const struct mb2_mmap_entry *map, size_t nmap,
              const struct pmm_range *reserved, size_t nreserved,
              void *(*map_phys)(phys_addr_t), phys_addr_t *bitmap_phys, const char **err)
{
    phys_addr_t max_phys = 0;
    uint64_t usable = 0;

    for (size_t i = 0; i < nmap; i++) {
        if (map[i].type != MB2_MEM_AVAILABLE)
            continue;
        phys_addr_t end = map[i].base + map[i].length;
        if (end < map[i].base) {
            *err = "memory map entry wraps around the 64-bit address space";
            return -1;
        }
        max_phys = MAX(max_phys, ALIGN_DOWN(end, PAGE_SIZE));
        if (end > map[i].base)
            usable += (ALIGN_DOWN(end, PAGE_SIZE) - MIN(ALIGN_UP(map[i].base, PAGE_SIZE),
                       ALIGN_DOWN(end, PAGE_SIZE))) / PAGE_SIZE;
    }
    if (max_phys == 0) {
        *err = "the memory map has no available RAM";
        return -1;
    }

    size_t bytes = pmm_bitmap_bytes(max_phys);
    phys_addr_t home = find_bitmap_home(map, nmap, reserved, nreserved, ALIGN_UP(bytes, PAGE_SIZE));
    if (home == PMM_NO_MEMORY) {
        *err = "no free RAM above 1 MiB is large enough for the page bitmap";
        return -1;
    }

    pmm_init(pmm, map_phys(home), max_phys);
    for (size_t i = 0; i < nmap; i++)
        if (map[i].type == MB2_MEM_AVAILABLE)
            pmm_add_free_range(pmm, map[i].base, map[i].base + map[i].length);
    for (size_t i = 0; i < nmap; i++)
        if (map[i].type != MB2_MEM_AVAILABLE)
            pmm_reserve_range(pmm, map[i].base, map[i].base + map[i].length);
    for (size_t i = 0; i < nreserved; i++)
        pmm_reserve_range(pmm, reserved[i].base, reserved[i].end);
    pmm_reserve_range(pmm, home, home + bytes);
    pmm->usable_pages = usable;
    *bitmap_phys = home;
    return 0;
}
