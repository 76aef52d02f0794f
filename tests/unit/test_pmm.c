/*
 * kernel/mm/pmm.c: the bitmap page allocator.
 *
 * pmm_setup is run on synthetic memory maps; its map_phys callback hands out
 * an exact-size heap buffer for the bitmap (ASan catches any write past it)
 * and records which physical address the allocator chose.  The outcome is
 * compared page by page with a reference model written from the header's
 * contract: a page is free iff it lies wholly inside an available entry and
 * touches no other entry, no reserved range and not the bitmap itself.
 *
 * The allocation tests drive pmm_init'ed pools, the stress test against a
 * shadow array of page states.
 */
#include "helpers.h"
#include <hv/pmm.h>

#define AVAIL   MB2_MEM_AVAILABLE
#define RESV    MB2_MEM_RESERVED
#define ACPI    MB2_MEM_ACPI_RECLAIMABLE
#define NVS     MB2_MEM_NVS
#define BAD     MB2_MEM_BADRAM

/* ---- the bitmap's "physical memory" ------------------------------------- */

static struct {
    uint8_t *mem;           /* exact-size buffer of the expected bitmap size */
    size_t size;
    unsigned calls;
    phys_addr_t phys;       /* what pmm_setup asked to map */
} win;

static void *map_phys(phys_addr_t p)
{
    win.calls++;
    win.phys = p;
    return win.mem;
}

/* Highest page-aligned end of available RAM, computed independently. */
static phys_addr_t model_max_phys(const struct mb2_mmap_entry *map, size_t n)
{
    phys_addr_t max = 0;
    for (size_t i = 0; i < n; i++)
        if (map[i].type == AVAIL)
            max = MAX(max, (map[i].base + map[i].length) & ~(PAGE_SIZE - 1));
    return max;
}

static void win_prepare(const struct mb2_mmap_entry *map, size_t n)
{
    free(win.mem);
    phys_addr_t max = model_max_phys(map, n);
    size_t pages = (size_t)(max / PAGE_SIZE);
    win.size = ((pages + 63) / 64) * 8;
    assert_int_equal(win.size, pmm_bitmap_bytes(max));
    win.mem = malloc(win.size ? win.size : 1);
    assert_non_null(win.mem);
    win.calls = 0;
    win.phys = PMM_NO_MEMORY;
}

static int teardown_win(void **state)
{
    (void)state;
    free(win.mem);
    memset(&win, 0, sizeof(win));
    return 0;
}

static bool overlaps(uint64_t a, uint64_t a_end, uint64_t b, uint64_t b_end)
{
    return a < b_end && b < a_end;
}

/* ---- reference model of pmm_setup ----------------------------------------- */

struct setup_case {
    const struct mb2_mmap_entry *map;
    size_t nmap;
    const struct pmm_range *res;
    size_t nres;
};

/* May the bitmap ([at, at + bytes), page-rounded) live at `at`? */
static bool model_home_ok(const struct setup_case *c, phys_addr_t at, size_t bytes)
{
    uint64_t end = at + ((bytes + PAGE_SIZE - 1) & ~(PAGE_SIZE - 1));
    if (at < MiB || at % PAGE_SIZE)
        return false;
    bool inside = false;
    for (size_t i = 0; i < c->nmap; i++) {
        uint64_t b = c->map[i].base, e = b + c->map[i].length;
        if (c->map[i].type == AVAIL && at >= b && end <= e)
            inside = true;
        if (c->map[i].type != AVAIL && overlaps(at, end, b, e))
            return false;
    }
    for (size_t i = 0; i < c->nres; i++)
        if (overlaps(at, end, c->res[i].base, c->res[i].end))
            return false;
    return inside;
}

static bool model_page_free(const struct setup_case *c, uint64_t pfn, phys_addr_t home,
                            size_t bytes)
{
    uint64_t a = pfn * PAGE_SIZE, e = a + PAGE_SIZE;
    bool in_avail = false;
    for (size_t i = 0; i < c->nmap; i++) {
        uint64_t mb = c->map[i].base, me = mb + c->map[i].length;
        if (c->map[i].type == AVAIL) {
            if (a >= mb && e <= me)
                in_avail = true;
        } else if (overlaps(a, e, mb, me)) {
            return false;
        }
    }
    if (!in_avail)
        return false;
    for (size_t i = 0; i < c->nres; i++)
        if (overlaps(a, e, c->res[i].base, c->res[i].end))
            return false;
    return !overlaps(a, e, home, home + bytes);
}

static struct pmm pmm;

/* Runs pmm_setup and checks the result against the model; returns the rc. */
static int setup_and_check(const struct setup_case *c)
{
    const char *err = NULL;
    phys_addr_t home = 0;

    win_prepare(c->map, c->nmap);
    memset(&pmm, 0, sizeof(pmm));
    int rc = pmm_setup(&pmm, c->map, c->nmap, c->res, c->nres, map_phys, &home, &err);
    if (rc) {
        assert_int_equal(rc, -1);
        assert_non_null(err);
        return rc;
    }
    assert_null(err);
    assert_int_equal(win.calls, 1);
    assert_int_equal(win.phys, home);
    assert_ptr_equal(pmm.bitmap, win.mem);

    size_t bytes = pmm_bitmap_bytes(model_max_phys(c->map, c->nmap));
    assert_int_equal(pmm.npages, model_max_phys(c->map, c->nmap) / PAGE_SIZE);
    if (!model_home_ok(c, home, bytes))
        fail_msg("bitmap placed at %#llx (%zu bytes): below 1 MiB, outside available RAM "
                 "or over a reserved range", (unsigned long long)home, bytes);

    uint64_t free_count = 0;
    for (uint64_t pfn = 0; pfn < pmm.npages; pfn++) {
        bool want = model_page_free(c, pfn, home, bytes);
        bool got = pmm_page_is_free(&pmm, pfn * PAGE_SIZE);
        if (want != got)
            fail_msg("page %#llx: model says %s, allocator says %s",
                     (unsigned long long)(pfn * PAGE_SIZE), want ? "free" : "used",
                     got ? "free" : "used");
        free_count += want;
    }
    assert_int_equal(pmm.free_pages, free_count);
    /* Nothing beyond the covered range is ever free. */
    assert_false(pmm_page_is_free(&pmm, pmm.npages * PAGE_SIZE));
    assert_false(pmm_page_is_free(&pmm, UINT64_MAX & ~(PAGE_SIZE - 1)));
    return 0;
}

#define CASE(m, r) (&(struct setup_case){ (m), ARRAY_SIZE(m), (r), ARRAY_SIZE(r) })
#define CASE_NORES(m) (&(struct setup_case){ (m), ARRAY_SIZE(m), NULL, 0 })

/* ---- pmm_setup ------------------------------------------------------------- */

static void test_setup_typical_pc(void **state)
{
    (void)state;
    /* QEMU-like map with 128 MiB, the kernel at 1 MiB and a module. */
    static const struct mb2_mmap_entry map[] = {
        { 0x0, 0x9fc00, AVAIL },
        { 0x9fc00, 0x400, RESV },
        { 0xf0000, 0x10000, RESV },
        { 0x100000, 0x7ee0000, AVAIL },
        { 0x7fe0000, 0x20000, RESV },
        { 0xfffc0000, 0x40000, RESV },
    };
    static const struct pmm_range res[] = {
        { 0x100000, 0x15c000, "kernel image" },
        { 0x15c000, 0x15d234, "module 0" },
    };
    const struct setup_case *c = CASE(map, res);
    assert_int_equal(setup_and_check(c), 0);
    phys_addr_t home = win.phys;
    /* The lowest suitable spot: right after the module, page-rounded. */
    assert_int_equal(home, 0x15e000);
    assert_int_equal(pmm.usable_pages, 0x9f + 0x7ee0);
    /* Low memory below the EBDA is usable; the kernel is not. */
    assert_true(pmm_page_is_free(&pmm, 0x1000));
    assert_false(pmm_page_is_free(&pmm, 0x9f000));     /* shares a page with the EBDA */
    assert_false(pmm_page_is_free(&pmm, 0x100000));
    assert_false(pmm_page_is_free(&pmm, 0x15d000));     /* module end rounded outward */
    assert_false(pmm_page_is_free(&pmm, home));
    assert_true(pmm_page_is_free(&pmm, 0x7fdf000));
    assert_false(pmm_page_is_free(&pmm, 0x7fe0000));
}

/* Available RAM above 4 GiB is covered, and the hole below it is not free. */
static void test_setup_above_4g(void **state)
{
    (void)state;
    static const struct mb2_mmap_entry map[] = {
        { 0x0, 0x9f000, AVAIL },
        { 0x100000, 0xbff00000, AVAIL },               /* up to 3 GiB */
        { 0xc0000000, 0x40000000, RESV },              /* PCI hole */
        { 0x100000000ULL, 0x80000000ULL, AVAIL },      /* 4 - 6 GiB */
    };
    assert_int_equal(setup_and_check(CASE_NORES(map)), 0);
    assert_int_equal(pmm.npages, 0x180000000ULL / PAGE_SIZE);
    assert_int_equal(win.phys, MiB);
    assert_true(pmm_page_is_free(&pmm, 0x100000000ULL));
    assert_true(pmm_page_is_free(&pmm, 0x17ffff000ULL));
    assert_false(pmm_page_is_free(&pmm, 0xc0000000ULL));
    assert_false(pmm_page_is_free(&pmm, 0xfffff000ULL));
}

/* A map whose only RAM above 1 MiB is above 4 GiB: the bitmap goes there. */
static void test_setup_bitmap_above_4g(void **state)
{
    (void)state;
    static const struct mb2_mmap_entry map[] = {
        { 0x0, 0x9f000, AVAIL },
        { 0x100000000ULL, 0x10000000ULL, AVAIL },
    };
    assert_int_equal(setup_and_check(CASE_NORES(map)), 0);
    assert_int_equal(win.phys, 0x100000000ULL);
}

/* Reserved entries win over available ones, whatever their order. */
static void test_setup_reserved_wins(void **state)
{
    (void)state;
    static const struct mb2_mmap_entry after[] = {
        { 0x100000, 0x3f00000, AVAIL },
        { 0x800000, 0x100000, RESV },
        { 0x1000000, 0x1000, NVS },
        { 0x2000000, 0x800, BAD },                     /* half a page: whole page out */
        { 0x3000000, 0x10000, ACPI },
    };
    static const struct mb2_mmap_entry before[] = {
        { 0x800000, 0x100000, RESV },
        { 0x1000000, 0x1000, NVS },
        { 0x2000000, 0x800, BAD },
        { 0x3000000, 0x10000, ACPI },
        { 0x100000, 0x3f00000, AVAIL },
    };
    const struct setup_case *cases[] = { CASE_NORES(after), CASE_NORES(before) };
    for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
        assert_int_equal(setup_and_check(cases[i]), 0);
        assert_false(pmm_page_is_free(&pmm, 0x800000));
        assert_false(pmm_page_is_free(&pmm, 0x8ff000));
        assert_true(pmm_page_is_free(&pmm, 0x900000));
        assert_false(pmm_page_is_free(&pmm, 0x1000000));
        assert_true(pmm_page_is_free(&pmm, 0x1001000));
        assert_false(pmm_page_is_free(&pmm, 0x2000000));
        assert_false(pmm_page_is_free(&pmm, 0x300f000));
        assert_true(pmm_page_is_free(&pmm, 0x3010000));
    }
}

/* Entries that are not page-aligned: available RAM rounds inward, anything
 * else rounds outward. */
static void test_setup_unaligned_entries(void **state)
{
    (void)state;
    static const struct mb2_mmap_entry map[] = {
        { 0x100800, 0x3ff400, AVAIL },                 /* 0x100800 - 0x4ffc00 */
        { 0x250800, 0x100, RESV },                     /* inside page 0x250000 */
        { 0x600123, 0x1000000, AVAIL },                /* 0x600123 - 0x1600123 */
    };
    static const struct pmm_range res[] = {
        { 0x300fff, 0x301001, "straddles two pages" },
    };
    assert_int_equal(setup_and_check(CASE(map, res)), 0);
    assert_int_equal(win.phys, 0x101000);
    assert_false(pmm_page_is_free(&pmm, 0x100000));
    assert_true(pmm_page_is_free(&pmm, 0x4fe000));
    assert_false(pmm_page_is_free(&pmm, 0x4ff000));
    assert_false(pmm_page_is_free(&pmm, 0x250000));
    assert_false(pmm_page_is_free(&pmm, 0x300000));
    assert_false(pmm_page_is_free(&pmm, 0x301000));
    assert_false(pmm_page_is_free(&pmm, 0x600000));
    assert_true(pmm_page_is_free(&pmm, 0x601000));
    assert_false(pmm_page_is_free(&pmm, 0x1600000));
    assert_int_equal(pmm.npages, 0x1600000 / PAGE_SIZE);
}

/* The bitmap avoids reserved ranges and not-available entries inside RAM. */
static void test_setup_bitmap_avoids_reserved(void **state)
{
    (void)state;
    /* 2 GiB of RAM: a 64 KiB bitmap; the first gaps are too small for it. */
    static const struct mb2_mmap_entry map[] = {
        { 0x0, 0x9f000, AVAIL },
        { 0x100000, 0x7ff00000, AVAIL },
        { 0x120000, 0x1000, RESV },                    /* firmware inside RAM */
        { 0x140000, 0x20000, ACPI },
    };
    static const struct pmm_range res[] = {
        { 0x100000, 0x110000, "kernel image" },
        { 0x12e000, 0x131000, "module 0" },            /* 0x121000-0x12e000 too small */
        { 0x170000, 0x171000, "module 1" },
    };
    assert_int_equal(setup_and_check(CASE(map, res)), 0);
    assert_int_equal(pmm_bitmap_bytes(0x80000000ULL), 0x10000);
    /* 0x110000-0x120000 is exactly 64 KiB: that is the lowest fit. */
    assert_int_equal(win.phys, 0x110000);

    static const struct pmm_range res2[] = {
        { 0x100000, 0x111000, "kernel image" },
        { 0x12e000, 0x131000, "module 0" },
        { 0x170000, 0x171000, "module 1" },
    };
    assert_int_equal(setup_and_check(CASE(map, res2)), 0);
    /* 0x111000 runs into the firmware page, 0x121000 into module 0, 0x131000
     * into the ACPI entry; 0x160000 - 0x170000 fits exactly before module 1. */
    assert_int_equal(win.phys, 0x160000);
}

/* Only RAM below 1 MiB, or none large enough: an error, not a bad bitmap. */
static void test_setup_errors(void **state)
{
    (void)state;
    const char *err;
    phys_addr_t home;

    static const struct mb2_mmap_entry low_only[] = { { 0x0, 0x9f000, AVAIL } };
    win_prepare(low_only, 1);
    err = NULL;
    assert_int_equal(pmm_setup(&pmm, low_only, 1, NULL, 0, map_phys, &home, &err), -1);
    assert_non_null(err);
    assert_int_equal(win.calls, 0);

    static const struct mb2_mmap_entry none[] = {
        { 0x0, 0x100000, RESV }, { 0x100000, 0x1000000, NVS },
    };
    err = NULL;
    assert_int_equal(pmm_setup(&pmm, none, 2, NULL, 0, map_phys, &home, &err), -1);
    assert_non_null(err);
    err = NULL;
    assert_int_equal(pmm_setup(&pmm, none, 0, NULL, 0, map_phys, &home, &err), -1);
    assert_non_null(err);

    static const struct mb2_mmap_entry wraps[] = {
        { 0x100000, 0x1000000, AVAIL },
        { 0xfffffffffffff000ULL, 0x2000, AVAIL },
    };
    err = NULL;
    assert_int_equal(pmm_setup(&pmm, wraps, 2, NULL, 0, map_phys, &home, &err), -1);
    assert_non_null(err);

    /* Every spot above 1 MiB is taken by the kernel. */
    static const struct mb2_mmap_entry small[] = {
        { 0x0, 0x9f000, AVAIL }, { 0x100000, 0x100000, AVAIL },
    };
    static const struct pmm_range kernel[] = { { 0x100000, 0x1ff001, "kernel image" } };
    win_prepare(small, 2);
    err = NULL;
    assert_int_equal(pmm_setup(&pmm, small, 2, kernel, 1, map_phys, &home, &err), -1);
    assert_non_null(err);
    assert_int_equal(win.calls, 0);
}

/* Random maps within 64 MiB: the model decides every page. */
static void test_setup_random_maps(void **state)
{
    (void)state;
    uint64_t seed = 0x9e3779b97f4a7c15ULL;
    unsigned ok = 0, refused = 0;
    for (int iter = 0; iter < 300; iter++) {
        struct mb2_mmap_entry map[12];
        struct pmm_range res[4];
        size_t nmap = 1 + rng_below(&seed, ARRAY_SIZE(map));
        size_t nres = rng_below(&seed, ARRAY_SIZE(res) + 1);
        for (size_t i = 0; i < nmap; i++) {
            uint64_t base = rng_below(&seed, 64 * MiB);
            if (rng_below(&seed, 3))
                base &= ~(PAGE_SIZE - 1);
            /* Every fourth map has only small entries: often no room. */
            bool big = iter % 4 && rng_below(&seed, 2);
            uint64_t len = 1 + rng_below(&seed, big ? 16 * MiB : 24 * KiB);
            uint32_t type = rng_below(&seed, 3) ? AVAIL : 2 + (uint32_t)rng_below(&seed, 4);
            map[i] = (struct mb2_mmap_entry){ base, len, type };
        }
        map[0].type = AVAIL;
        for (size_t i = 0; i < nres; i++) {
            uint64_t base = rng_below(&seed, 64 * MiB);
            res[i] = (struct pmm_range){ base, base + rng_below(&seed, 4 * MiB), "random" };
        }
        struct setup_case c = { map, nmap, res, nres };
        if (setup_and_check(&c) == 0) {
            ok++;
            continue;
        }
        /* Refused: only right when no valid home exists at all. */
        refused++;
        phys_addr_t max = model_max_phys(map, nmap);
        size_t bytes = pmm_bitmap_bytes(max);
        for (uint64_t at = MiB; max && at < max; at += PAGE_SIZE)
            if (model_home_ok(&c, at, bytes))
                fail_msg("iteration %d: pmm_setup refused, but %#llx would hold the bitmap",
                         iter, (unsigned long long)at);
    }
    print_message("random maps: %u set up, %u correctly refused\n", ok, refused);
    assert_true(ok > 100 && refused > 5);
}

/* ---- allocation on a plain pool ------------------------------------------ */

static uint64_t *pool_bitmap;

/* A pool of `npages` pages, all free except the ones listed in `holes`. */
static void pool_init(uint64_t npages, const uint64_t (*holes)[2], size_t nholes)
{
    free(pool_bitmap);
    size_t bytes = pmm_bitmap_bytes(npages * PAGE_SIZE);
    pool_bitmap = malloc(bytes);
    assert_non_null(pool_bitmap);
    pmm_init(&pmm, pool_bitmap, npages * PAGE_SIZE);
    assert_int_equal(pmm.free_pages, 0);
    for (uint64_t p = 0; p < npages; p++)
        assert_false(pmm_page_is_free(&pmm, p * PAGE_SIZE));
    pmm_add_free_range(&pmm, 0, npages * PAGE_SIZE);
    assert_int_equal(pmm.free_pages, npages);
    for (size_t i = 0; i < nholes; i++)
        pmm_reserve_range(&pmm, holes[i][0] * PAGE_SIZE, holes[i][1] * PAGE_SIZE);
}

static int teardown_pool(void **state)
{
    (void)state;
    free(pool_bitmap);
    pool_bitmap = NULL;
    return 0;
}

static uint64_t count_free(void)
{
    uint64_t n = 0;
    for (uint64_t p = 0; p < pmm.npages; p++)
        n += pmm_page_is_free(&pmm, p * PAGE_SIZE);
    return n;
}

static void test_ranges_bookkeeping(void **state)
{
    (void)state;
    pool_init(1000, NULL, 0);
    /* Freeing already-free pages does not count them twice. */
    pmm_add_free_range(&pmm, 0, 500 * PAGE_SIZE);
    assert_int_equal(pmm.free_pages, 1000);
    pmm_reserve_range(&pmm, 10 * PAGE_SIZE, 20 * PAGE_SIZE);
    pmm_reserve_range(&pmm, 15 * PAGE_SIZE, 25 * PAGE_SIZE);   /* overlapping */
    assert_int_equal(pmm.free_pages, 985);
    pmm_reserve_range(&pmm, 30 * PAGE_SIZE, 30 * PAGE_SIZE);   /* empty */
    pmm_reserve_range(&pmm, 40 * PAGE_SIZE, 35 * PAGE_SIZE);   /* backwards */
    assert_int_equal(pmm.free_pages, 985);
    pmm_reserve_range(&pmm, 990 * PAGE_SIZE, 5000 * PAGE_SIZE); /* clamped to the pool */
    assert_int_equal(pmm.free_pages, 975);
    pmm_add_free_range(&pmm, 10 * PAGE_SIZE + 1, 25 * PAGE_SIZE - 1);  /* rounds inward */
    assert_int_equal(pmm.free_pages, 988);
    assert_false(pmm_page_is_free(&pmm, 10 * PAGE_SIZE));
    assert_true(pmm_page_is_free(&pmm, 11 * PAGE_SIZE));
    assert_false(pmm_page_is_free(&pmm, 24 * PAGE_SIZE));
    pmm_add_free_range(&pmm, 2000 * PAGE_SIZE, 3000 * PAGE_SIZE);     /* beyond: ignored */
    assert_int_equal(pmm.free_pages, 988);
    assert_int_equal(count_free(), pmm.free_pages);
}

static void test_alloc_single_pages(void **state)
{
    (void)state;
    static const uint64_t holes[][2] = { { 0, 1 }, { 100, 200 } };
    pool_init(300, holes, ARRAY_SIZE(holes));
    assert_int_equal(pmm.free_pages, 199);

    phys_addr_t a = pmm_alloc_pages(&pmm, 1, 0);
    assert_int_not_equal(a, PMM_NO_MEMORY);
    assert_int_equal(a % PAGE_SIZE, 0);
    assert_true(a != 0 && !(a >= 100 * PAGE_SIZE && a < 200 * PAGE_SIZE));
    assert_false(pmm_page_is_free(&pmm, a));
    assert_int_equal(pmm.free_pages, 198);
    assert_int_equal(pmm_free_pages(&pmm, a, 1), 0);
    assert_true(pmm_page_is_free(&pmm, a));
    assert_int_equal(pmm.free_pages, 199);
}

/* Allocating every page one at a time: each exactly once, then none. */
static void test_alloc_exhaustion(void **state)
{
    (void)state;
    static const uint64_t holes[][2] = { { 0, 3 }, { 64, 130 }, { 500, 501 } };
    pool_init(777, holes, ARRAY_SIZE(holes));
    uint64_t total = pmm.free_pages;
    bool *seen = calloc(777, 1);
    assert_non_null(seen);
    for (uint64_t i = 0; i < total; i++) {
        phys_addr_t a = pmm_alloc_pages(&pmm, 1, 1);
        assert_int_not_equal(a, PMM_NO_MEMORY);
        uint64_t pfn = a / PAGE_SIZE;
        assert_true(pfn < 777);
        assert_false(seen[pfn]);
        seen[pfn] = true;
        assert_false((pfn < 3) || (pfn >= 64 && pfn < 130) || pfn == 500);
    }
    assert_int_equal(pmm.free_pages, 0);
    assert_int_equal(pmm_alloc_pages(&pmm, 1, 0), PMM_NO_MEMORY);
    assert_int_equal(pmm_alloc_pages(&pmm, 2, 0), PMM_NO_MEMORY);
    /* Free one back: exactly that one comes out again. */
    assert_int_equal(pmm_free_pages(&pmm, 300 * PAGE_SIZE, 1), 0);
    assert_int_equal(pmm_alloc_pages(&pmm, 1, 0), 300 * PAGE_SIZE);
    assert_int_equal(pmm_alloc_pages(&pmm, 1, 0), PMM_NO_MEMORY);
    free(seen);
}

static void test_alloc_contiguous_aligned(void **state)
{
    (void)state;
    static const uint64_t holes[][2] = { { 0, 5 }, { 37, 38 }, { 700, 710 } };
    pool_init(2048, holes, ARRAY_SIZE(holes));
    static const struct { uint64_t count, align; } reqs[] = {
        { 16, 16 }, { 1, 512 }, { 3, 0 }, { 64, 64 }, { 5, 4 }, { 200, 8 }, { 512, 512 },
        { 7, 2 }, { 1, 1 },
    };
    for (size_t i = 0; i < ARRAY_SIZE(reqs); i++) {
        uint64_t before = pmm.free_pages;
        phys_addr_t a = pmm_alloc_pages(&pmm, reqs[i].count, reqs[i].align);
        assert_int_not_equal(a, PMM_NO_MEMORY);
        uint64_t align = reqs[i].align ? reqs[i].align : 1;
        assert_int_equal((a / PAGE_SIZE) % align, 0);
        for (uint64_t k = 0; k < reqs[i].count; k++)
            assert_false(pmm_page_is_free(&pmm, a + k * PAGE_SIZE));
        assert_int_equal(pmm.free_pages, before - reqs[i].count);
        assert_true(a / PAGE_SIZE + reqs[i].count <= 2048);
    }
    assert_int_equal(count_free(), pmm.free_pages);
}

static void test_alloc_impossible(void **state)
{
    (void)state;
    /* Free pages: [1,4) [5,8) [9,12) ... never 4 in a row. */
    pool_init(64, NULL, 0);
    for (uint64_t p = 0; p < 64; p += 4)
        pmm_reserve_range(&pmm, p * PAGE_SIZE, p * PAGE_SIZE + 1);
    assert_int_equal(pmm.free_pages, 48);
    assert_int_equal(pmm_alloc_pages(&pmm, 4, 0), PMM_NO_MEMORY);      /* fragmented */
    assert_int_equal(pmm_alloc_pages(&pmm, 0, 0), PMM_NO_MEMORY);      /* nothing asked */
    assert_int_equal(pmm_alloc_pages(&pmm, 49, 0), PMM_NO_MEMORY);     /* more than free */
    assert_int_equal(pmm_alloc_pages(&pmm, 1, 3), PMM_NO_MEMORY);      /* not a power of 2 */
    assert_int_equal(pmm_alloc_pages(&pmm, 1, 6), PMM_NO_MEMORY);
    assert_int_equal(pmm_alloc_pages(&pmm, 1, 128), PMM_NO_MEMORY);    /* only pfn 0 aligned */
    assert_int_equal(pmm_alloc_pages(&pmm, 2, 4), PMM_NO_MEMORY);      /* 4k..4k+1: 4k used */
    assert_int_equal(pmm.free_pages, 48);
    phys_addr_t a = pmm_alloc_pages(&pmm, 3, 1);
    assert_int_not_equal(a, PMM_NO_MEMORY);
    assert_int_equal((a / PAGE_SIZE) % 4, 1);
    a = pmm_alloc_pages(&pmm, 2, 2);
    assert_int_equal((a / PAGE_SIZE) % 4, 2);
}

/* A bad free returns -1 and leaves the bitmap and the count alone. */
static void test_bad_free_changes_nothing(void **state)
{
    (void)state;
    static const uint64_t holes[][2] = { { 0, 3 } };
    pool_init(256, holes, 1);
    phys_addr_t a = pmm_alloc_pages(&pmm, 8, 8);
    assert_int_equal(a, 8 * PAGE_SIZE);                /* pfn 0 is aligned but in use */
    phys_addr_t b = pmm_alloc_pages(&pmm, 1, 0);
    assert_int_not_equal(b, PMM_NO_MEMORY);

    size_t bytes = pmm_bitmap_bytes(256 * PAGE_SIZE);
    uint64_t *snap = exact_copy(pool_bitmap, bytes);
    uint64_t free_before = pmm.free_pages;
    struct { phys_addr_t base; uint64_t count; const char *why; } bad[] = {
        { a, 9, "runs into a free page" },
        { a - PAGE_SIZE, 2, "starts on a free page" },
        { a + 1, 1, "not page-aligned" },
        { 256 * PAGE_SIZE, 1, "first page beyond the pool" },
        { 255 * PAGE_SIZE, 2, "last page beyond the pool" },
        { 0x8000000000ULL, 1, "far beyond" },
        { a, UINT64_MAX, "count overflows" },
        { UINT64_MAX & ~(PAGE_SIZE - 1), 1, "top of the address space" },
    };
    for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
        if (pmm_free_pages(&pmm, bad[i].base, bad[i].count) != -1)
            fail_msg("free(%#llx, %llu) (%s) was accepted", (unsigned long long)bad[i].base,
                     (unsigned long long)bad[i].count, bad[i].why);
        assert_memory_equal(pool_bitmap, snap, bytes);
        assert_int_equal(pmm.free_pages, free_before);
    }
    /* Double free: the first succeeds, the second is refused. */
    assert_int_equal(pmm_free_pages(&pmm, b, 1), 0);
    memcpy(snap, pool_bitmap, bytes);
    assert_int_equal(pmm_free_pages(&pmm, b, 1), -1);
    assert_memory_equal(pool_bitmap, snap, bytes);
    assert_int_equal(pmm.free_pages, free_before + 1);
    assert_int_equal(pmm_free_pages(&pmm, a, 8), 0);
    assert_int_equal(pmm_free_pages(&pmm, a + 3 * PAGE_SIZE, 1), -1);
    assert_int_equal(pmm.free_pages, 253);
    free(snap);
}

/* Random allocations and frees against a shadow copy of every page's state. */
static void test_stress_shadow_model(void **state)
{
    (void)state;
    enum { NPAGES = 4096, MAXLIVE = 256 };
    static const uint64_t holes[][2] = { { 0, 16 }, { 1000, 1100 }, { 2047, 2049 }, { 4000, 4096 } };
    pool_init(NPAGES, holes, ARRAY_SIZE(holes));
    bool *used = calloc(NPAGES, 1);
    uint32_t *run = calloc(NPAGES + 1, sizeof(*run));
    assert_non_null(used);
    assert_non_null(run);
    for (size_t h = 0; h < ARRAY_SIZE(holes); h++)
        for (uint64_t p = holes[h][0]; p < holes[h][1]; p++)
            used[p] = true;
    struct { uint64_t pfn, count; } live[MAXLIVE];
    size_t nlive = 0;
    uint64_t shadow_free = NPAGES - (16 + 100 + 2 + 96);
    assert_int_equal(pmm.free_pages, shadow_free);

    uint64_t seed = 12345;
    unsigned allocs = 0, refusals = 0, frees = 0, bad_frees = 0;
    for (int step = 0; step < 30000; step++) {
        uint64_t r = rng_below(&seed, 100);
        if (r < 55 && nlive < MAXLIVE) {
            uint64_t count = rng_below(&seed, 4) ? 1 + rng_below(&seed, 8) : 1 + rng_below(&seed, 300);
            uint64_t align = (uint64_t)1 << rng_below(&seed, 10);
            if (rng_below(&seed, 10) == 0)
                align = 0;
            phys_addr_t a = pmm_alloc_pages(&pmm, count, align);
            uint64_t al = align ? align : 1;
            if (a == PMM_NO_MEMORY) {
                /* Right only if no aligned run of `count` free pages exists. */
                refusals++;
                run[NPAGES] = 0;
                for (int p = NPAGES - 1; p >= 0; p--)
                    run[p] = used[p] ? 0 : run[p + 1] + 1;
                for (uint64_t p = 0; p < NPAGES; p += al)
                    if (run[p] >= count)
                        fail_msg("step %d: alloc(%llu, align %llu) refused, but pfn %llu is free",
                                 step, (unsigned long long)count, (unsigned long long)align,
                                 (unsigned long long)p);
                continue;
            }
            allocs++;
            assert_int_equal(a % PAGE_SIZE, 0);
            uint64_t pfn = a / PAGE_SIZE;
            assert_int_equal(pfn % al, 0);
            assert_true(pfn + count <= NPAGES);
            for (uint64_t k = 0; k < count; k++) {
                if (used[pfn + k])
                    fail_msg("step %d: page %llu handed out twice", step,
                             (unsigned long long)(pfn + k));
                used[pfn + k] = true;
            }
            shadow_free -= count;
            live[nlive].pfn = pfn;
            live[nlive].count = count;
            nlive++;
        } else if (r < 90 && nlive > 0) {
            size_t i = rng_below(&seed, nlive);
            assert_int_equal(pmm_free_pages(&pmm, live[i].pfn * PAGE_SIZE, live[i].count), 0);
            for (uint64_t k = 0; k < live[i].count; k++)
                used[live[i].pfn + k] = false;
            shadow_free += live[i].count;
            frees++;
            /* Now a double free of it must be refused. */
            if (rng_below(&seed, 4) == 0) {
                assert_int_equal(pmm_free_pages(&pmm, live[i].pfn * PAGE_SIZE, live[i].count), -1);
                bad_frees++;
            }
            live[i] = live[--nlive];
        } else {
            /* A range that is not wholly in use must be refused.  (A wholly
             * used one may be a hole, which the allocator cannot tell from an
             * allocation: leave those alone.) */
            uint64_t pfn = rng_below(&seed, NPAGES + 8), count = 1 + rng_below(&seed, 4);
            bool all_used = pfn + count <= NPAGES;
            for (uint64_t k = 0; all_used && k < count; k++)
                all_used = used[pfn + k];
            if (!all_used) {
                assert_int_equal(pmm_free_pages(&pmm, pfn * PAGE_SIZE, count), -1);
                bad_frees++;
            }
        }
        assert_int_equal(pmm.free_pages, shadow_free);
        if (step % 500 == 0)
            for (uint64_t p = 0; p < NPAGES; p++)
                assert_int_equal(pmm_page_is_free(&pmm, p * PAGE_SIZE), !used[p]);
    }
    for (uint64_t p = 0; p < NPAGES; p++)
        assert_int_equal(pmm_page_is_free(&pmm, p * PAGE_SIZE), !used[p]);
    print_message("stress: %u allocations, %u refusals, %u frees, %u refused bad frees\n",
                  allocs, refusals, frees, bad_frees);
    assert_true(allocs > 5000 && frees > 5000 && bad_frees > 500);
    free(used);
    free(run);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_setup_typical_pc, teardown_win),
        cmocka_unit_test_teardown(test_setup_above_4g, teardown_win),
        cmocka_unit_test_teardown(test_setup_bitmap_above_4g, teardown_win),
        cmocka_unit_test_teardown(test_setup_reserved_wins, teardown_win),
        cmocka_unit_test_teardown(test_setup_unaligned_entries, teardown_win),
        cmocka_unit_test_teardown(test_setup_bitmap_avoids_reserved, teardown_win),
        cmocka_unit_test_teardown(test_setup_errors, teardown_win),
        cmocka_unit_test_teardown(test_setup_random_maps, teardown_win),
        cmocka_unit_test_teardown(test_ranges_bookkeeping, teardown_pool),
        cmocka_unit_test_teardown(test_alloc_single_pages, teardown_pool),
        cmocka_unit_test_teardown(test_alloc_exhaustion, teardown_pool),
        cmocka_unit_test_teardown(test_alloc_contiguous_aligned, teardown_pool),
        cmocka_unit_test_teardown(test_alloc_impossible, teardown_pool),
        cmocka_unit_test_teardown(test_bad_free_changes_nothing, teardown_pool),
        cmocka_unit_test_teardown(test_stress_shadow_model, teardown_pool),
    };
    return cmocka_run_group_tests_name("pmm", tests, NULL, NULL);
}
