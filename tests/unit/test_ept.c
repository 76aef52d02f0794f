/*
 * kernel/ept/ept.c: the EPT builder.
 *
 * The table pages live in a fake physical memory (an array of pages at a
 * made-up physical base above 4 GiB) behind the ept_ops callbacks, which
 * count allocations and frees, poison freed pages, refuse pointers to pages
 * that are not allocated, and can fail any chosen allocation.
 *
 * Results are checked by walking the tables directly in this file, not with
 * ept_lookup: every entry's bits are checked at every level, and the leaves
 * found are compared with a model -- either the leaf list a fresh mapping
 * must produce, or a per-4-KiB-page shadow of what should be mapped.
 */
#include "helpers.h"
#include <hv/ept.h>

/* ---- fake physical memory ------------------------------------------------ */

#define FAKE_PAGES      4096
#define FAKE_BASE       0x0000000ABC000000ULL   /* above 4 GiB: catches 32-bit truncation */
#define POISON          0xCC
#define NO_FAIL         (~0ULL)

static struct {
    uint8_t (*pages)[PAGE_SIZE];
    bool used[FAKE_PAGES];
    unsigned next;              /* round robin: freed pages are not reused at once */
    uint64_t attempts;          /* alloc_table calls */
    uint64_t allocs, frees;
    uint64_t fail_at;           /* this attempt fails (NO_FAIL: none) */
} fm;

static phys_addr_t fm_alloc(void *ctx)
{
    assert_ptr_equal(ctx, &fm);
    if (fm.attempts++ == fm.fail_at)
        return PMM_NO_MEMORY;
    for (unsigned n = 0; n < FAKE_PAGES; n++) {
        unsigned i = (fm.next + n) % FAKE_PAGES;
        if (fm.used[i])
            continue;
        fm.used[i] = true;
        fm.next = i + 1;
        memset(fm.pages[i], 0, PAGE_SIZE);
        fm.allocs++;
        return FAKE_BASE + (uint64_t)i * PAGE_SIZE;
    }
    return PMM_NO_MEMORY;
}

static unsigned fm_index(phys_addr_t pa)
{
    if (pa < FAKE_BASE || pa >= FAKE_BASE + FAKE_PAGES * PAGE_SIZE || (pa & (PAGE_SIZE - 1)))
        fail_msg("not a fake table page: %#llx", (unsigned long long)pa);
    unsigned i = (unsigned)((pa - FAKE_BASE) / PAGE_SIZE);
    if (!fm.used[i])
        fail_msg("page %#llx is not allocated", (unsigned long long)pa);
    return i;
}

static void fm_free(void *ctx, phys_addr_t pa)
{
    assert_ptr_equal(ctx, &fm);
    unsigned i = fm_index(pa);
    memset(fm.pages[i], POISON, PAGE_SIZE);
    fm.used[i] = false;
    fm.frees++;
}

static void *fm_virt(void *ctx, phys_addr_t pa)
{
    assert_ptr_equal(ctx, &fm);
    return fm.pages[fm_index(pa)];
}

static const struct ept_ops fm_ops = { fm_alloc, fm_free, fm_virt, &fm };

static uint64_t fm_live(void)
{
    return fm.allocs - fm.frees;
}

static int setup_fm(void **state)
{
    (void)state;
    fm.pages = malloc(FAKE_PAGES * PAGE_SIZE);
    assert_non_null(fm.pages);
    memset(fm.used, 0, sizeof(fm.used));
    fm.next = 0;
    fm.attempts = fm.allocs = fm.frees = 0;
    fm.fail_at = NO_FAIL;
    return 0;
}

static int teardown_fm(void **state)
{
    (void)state;
    free(fm.pages);
    fm.pages = NULL;
    return 0;
}

static void new_ept(struct ept *ept, bool allow_2mb, bool allow_1gb)
{
    assert_int_equal(ept_init(ept, &fm_ops, allow_2mb, allow_1gb), EPT_OK);
    assert_int_equal(ept->table_pages, 1);
}

/* Every table page freed, nothing freed twice (fm_free checks that). */
static void destroy_and_check(struct ept *ept)
{
    ept_destroy(ept);
    assert_int_equal(ept->pml4, PMM_NO_MEMORY);
    assert_int_equal(fm_live(), 0);
    assert_int_equal(fm.allocs, fm.frees);
}

/* ---- independent table walk ------------------------------------------------ */

/* SDM Vol. 3C, 29.3.2, tables 29-1 .. 29-6. */
#define E_PERMS         0x7ULL
#define E_MT_SHIFT      3
#define E_MT_MASK       0x38ULL
#define E_IPAT          BIT(6)
#define E_LARGE         BIT(7)
#define E_ADDR          0x000FFFFFFFFFF000ULL
#define E_TABLE_LOW     0xFFFULL    /* bits 11:0 of a table pointer: exactly RWX */
#define SPAN(level)     (1ULL << (12 + 9 * ((level) - 1)))

struct leaf {
    uint64_t gpa, hpa, size;
    unsigned perms, mt, level;
};

struct leaves {
    struct leaf *v;
    size_t n, cap;
};

static void leaves_push(struct leaves *l, struct leaf x)
{
    if (l->n == l->cap) {
        l->cap = l->cap ? 2 * l->cap : 256;
        l->v = realloc(l->v, l->cap * sizeof(*l->v));
        assert_non_null(l->v);
    }
    l->v[l->n++] = x;
}

static void leaves_free(struct leaves *l)
{
    free(l->v);
    memset(l, 0, sizeof(*l));
}

static uint64_t *raw_table(phys_addr_t pa)
{
    return (uint64_t *)fm.pages[fm_index(pa)];
}

struct walk_stats {
    uint64_t tables;
    uint64_t leaves_at[5];
};

/* Checks every entry of the table at `level` and collects its leaves. */
static void walk_check(phys_addr_t table, unsigned level, uint64_t base, bool root,
                       struct leaves *out, struct walk_stats *st)
{
    const uint64_t *t = raw_table(table);
    unsigned present = 0;
    st->tables++;
    for (unsigned i = 0; i < 512; i++) {
        uint64_t e = t[i], gpa = base + i * SPAN(level);
        if ((e & E_PERMS) == 0) {
            if (e != 0)
                fail_msg("level %u slot %u: not present but %#llx", level, i,
                         (unsigned long long)e);
            continue;
        }
        present++;
        if (e & ~(E_ADDR | 0xFFFULL))
            fail_msg("level %u slot %u: bits 63:52 set: %#llx", level, i, (unsigned long long)e);
        bool leaf = level == 1 || (level <= 3 && (e & E_LARGE));
        if (!leaf) {
            if ((e & E_TABLE_LOW) != EPT_RWX)
                fail_msg("level %u slot %u: table entry low bits %#llx", level, i,
                         (unsigned long long)(e & E_TABLE_LOW));
            walk_check(e & E_ADDR, level - 1, gpa, false, out, st);
            continue;
        }
        unsigned perms = (unsigned)(e & E_PERMS), mt = (unsigned)((e & E_MT_MASK) >> E_MT_SHIFT);
        assert_true(perms & EPT_READ || perms == EPT_EXEC);        /* no write-only */
        assert_true(mt == 0 || mt == 1 || mt == 4 || mt == 5 || mt == 6);
        assert_true(e & E_IPAT);
        assert_int_equal(!!(e & E_LARGE), level > 1);
        assert_int_equal(e & 0xF00ULL, 0);                          /* A/D, bits 11:8 */
        uint64_t hpa = e & E_ADDR;
        assert_int_equal(hpa & (SPAN(level) - 1), 0);
        leaves_push(out, (struct leaf){ gpa, hpa, SPAN(level), perms, mt, level });
        st->leaves_at[level]++;
    }
    if (!root && present == 0)
        fail_msg("empty level-%u table at gpa %#llx was not freed", level,
                 (unsigned long long)base);
}

/* Walks the whole ept; also checks that the tables reached are exactly the
 * pages allocated and the count the ept keeps. */
static void walk_all(const struct ept *ept, struct leaves *out, struct walk_stats *st)
{
    memset(st, 0, sizeof(*st));
    out->n = 0;
    walk_check(ept->pml4, 4, 0, true, out, st);
    assert_int_equal(st->tables, ept->table_pages);
    assert_int_equal(st->tables, fm_live());
}

static void assert_leaves_equal(const struct leaves *a, const struct leaves *b)
{
    assert_int_equal(a->n, b->n);
    for (size_t i = 0; i < a->n; i++) {
        const struct leaf *x = &a->v[i], *y = &b->v[i];
        if (x->gpa != y->gpa || x->hpa != y->hpa || x->size != y->size || x->perms != y->perms ||
            x->mt != y->mt || x->level != y->level)
            fail_msg("leaf %zu: gpa %#llx hpa %#llx size %#llx p%u mt%u vs gpa %#llx hpa %#llx "
                     "size %#llx p%u mt%u", i, (unsigned long long)x->gpa,
                     (unsigned long long)x->hpa, (unsigned long long)x->size, x->perms, x->mt,
                     (unsigned long long)y->gpa, (unsigned long long)y->hpa,
                     (unsigned long long)y->size, y->perms, y->mt);
    }
}

/* The leaves a mapping into empty tables must produce: at each address the
 * largest allowed page both addresses are aligned to and the range holds. */
static void expect_fresh(uint64_t gpa, uint64_t hpa, uint64_t size, bool a2m, bool a1g,
                         unsigned perms, unsigned mt, struct leaves *out)
{
    for (uint64_t g = gpa; g < gpa + size;) {
        uint64_t h = hpa + (g - gpa), left = gpa + size - g;
        unsigned level = 1;
        if (a1g && a2m && g % GiB == 0 && h % GiB == 0 && left >= GiB)
            level = 3;
        else if (a2m && g % (2 * MiB) == 0 && h % (2 * MiB) == 0 && left >= 2 * MiB)
            level = 2;
        leaves_push(out, (struct leaf){ g, h, SPAN(level), perms, mt, level });
        g += SPAN(level);
    }
}

/* ---- per-page shadow model -------------------------------------------------- */

struct spage {
    uint64_t hpa;
    uint8_t perms, mt;          /* perms 0: not mapped */
};

struct shadow {
    uint64_t base;
    size_t npages;
    struct spage *p;
};

static void shadow_init(struct shadow *s, uint64_t base, uint64_t size)
{
    s->base = base;
    s->npages = size / PAGE_SIZE;
    s->p = calloc(s->npages, sizeof(*s->p));
    assert_non_null(s->p);
}

static void shadow_set(struct shadow *s, uint64_t gpa, uint64_t hpa, uint64_t size,
                       unsigned perms, unsigned mt)
{
    assert_true(gpa >= s->base && gpa + size <= s->base + s->npages * PAGE_SIZE);
    for (uint64_t off = 0; off < size; off += PAGE_SIZE) {
        struct spage *p = &s->p[(gpa + off - s->base) / PAGE_SIZE];
        p->hpa = hpa + off;
        p->perms = (uint8_t)perms;
        p->mt = (uint8_t)mt;
    }
}

/* Every leaf lies in the window and agrees page by page; every shadow page
 * that is mapped is covered. */
static void shadow_compare(const struct shadow *s, const struct leaves *l)
{
    size_t covered = 0, mapped = 0;
    for (size_t i = 0; i < l->n; i++) {
        const struct leaf *x = &l->v[i];
        if (x->gpa < s->base || x->gpa + x->size > s->base + s->npages * PAGE_SIZE)
            fail_msg("leaf at %#llx outside the window", (unsigned long long)x->gpa);
        for (uint64_t off = 0; off < x->size; off += PAGE_SIZE) {
            const struct spage *p = &s->p[(x->gpa + off - s->base) / PAGE_SIZE];
            if (p->perms != x->perms || p->mt != x->mt || p->hpa != x->hpa + off)
                fail_msg("gpa %#llx: ept hpa %#llx p%u mt%u, model hpa %#llx p%u mt%u",
                         (unsigned long long)(x->gpa + off), (unsigned long long)(x->hpa + off),
                         x->perms, x->mt, (unsigned long long)p->hpa, p->perms, p->mt);
            covered++;
        }
    }
    for (size_t i = 0; i < s->npages; i++)
        mapped += s->p[i].perms != 0;
    assert_int_equal(covered, mapped);
}

/* Leaves are sorted and disjoint. */
static void assert_sorted(const struct leaves *l)
{
    for (size_t i = 1; i < l->n; i++)
        assert_true(l->v[i - 1].gpa + l->v[i - 1].size <= l->v[i].gpa);
}

/* ---- init, EPTP, destroy ---------------------------------------------------- */

static void test_init_eptp_destroy(void **state)
{
    (void)state;
    struct ept ept;
    new_ept(&ept, true, true);
    assert_true(ept.pml4 >= FAKE_BASE);
    assert_int_equal(ept.pml4 & (PAGE_SIZE - 1), 0);
    /* SDM 25.6.11: WB (6) in bits 2:0, walk length 4-1 in bits 5:3, A/D bit 6. */
    assert_int_equal(ept_eptp(&ept, false), ept.pml4 | 6 | (3 << 3));
    assert_int_equal(ept_eptp(&ept, false), ept.pml4 | 0x1E);
    assert_int_equal(ept_eptp(&ept, true), ept.pml4 | 0x5E);
    assert_false(ept_lookup(&ept, 0, NULL, NULL, NULL, NULL));
    destroy_and_check(&ept);
    ept_destroy(&ept);                          /* twice is harmless */
    assert_int_equal(fm.frees, 1);

    /* 1 GiB pages need 2 MiB pages (splits produce them). */
    new_ept(&ept, false, true);
    assert_false(ept.allow_1gb);
    destroy_and_check(&ept);

    fm.fail_at = fm.attempts;
    assert_int_equal(ept_init(&ept, &fm_ops, true, true), EPT_ENOMEM);
    assert_int_equal(fm_live(), 0);

    struct ept_ops bad = fm_ops;
    bad.to_virt = NULL;
    assert_int_equal(ept_init(&ept, &bad, true, true), EPT_EINVAL);
}

/* ---- mapping shapes ------------------------------------------------------- */

struct shape {
    const char *what;
    uint64_t gpa, hpa, size;
    bool a2m, a1g;
    uint64_t n4k, n2m, n1g;     /* expected leaf counts */
};

static const struct shape shapes[] = {
    { "4 MiB from 4 KiB", 0x1000, 0x1000, 4 * MiB, true, true, 512, 1, 0 },
    { "exact 1 GiB", GiB, 4 * GiB, GiB, true, true, 0, 0, 1 },
    { "exact 1 GiB, no 1 GiB pages", GiB, 4 * GiB, GiB, true, false, 0, 512, 0 },
    { "exact 1 GiB, no large pages", GiB, 4 * GiB, GiB, false, false, 262144, 0, 0 },
    { "mixed around 1 GiB", GiB - 8 * KiB, 3 * GiB - 8 * KiB, 2 * GiB + 2 * MiB + 16 * KiB,
      true, true, 4, 1, 2 },
    { "hpa 4 KiB off", 0, 0x1000, 4 * MiB, true, true, 1024, 0, 0 },
    { "hpa 2 MiB aligned only", 0, 2 * MiB, 2 * GiB, true, true, 0, 1024, 0 },
    { "across a PML4 boundary", 512 * GiB - 2 * MiB - 4 * KiB, 64 * GiB - 2 * MiB - 4 * KiB,
      4 * MiB + 8 * KiB, true, true, 2, 2, 0 },
    { "top of the GPA space", (1ULL << 48) - GiB - 4 * KiB, GiB - 4 * KiB, GiB + 4 * KiB,
      true, true, 1, 0, 1 },
    { "high host addresses", 6 * GiB, (1ULL << 52) - 2 * GiB, 2 * GiB, true, true, 0, 0, 2 },
    { "one page", 0x7000, 0x123456000, PAGE_SIZE, true, true, 1, 0, 0 },
};

static void test_map_shapes(void **state)
{
    (void)state;
    struct leaves got = { 0 }, want = { 0 };
    struct walk_stats st;

    for (size_t i = 0; i < ARRAY_SIZE(shapes); i++) {
        const struct shape *s = &shapes[i];
        struct ept ept;
        new_ept(&ept, s->a2m, s->a1g);
        assert_int_equal(ept_map_range(&ept, s->gpa, s->hpa, s->size, EPT_READ | EPT_EXEC,
                                       EPT_MT_WB), EPT_OK);
        walk_all(&ept, &got, &st);
        want.n = 0;
        expect_fresh(s->gpa, s->hpa, s->size, s->a2m, s->a1g, EPT_READ | EPT_EXEC, EPT_MT_WB,
                     &want);
        assert_leaves_equal(&got, &want);
        if (st.leaves_at[1] != s->n4k || st.leaves_at[2] != s->n2m || st.leaves_at[3] != s->n1g)
            fail_msg("%s: %llu/%llu/%llu leaves of 4K/2M/1G", s->what,
                     (unsigned long long)st.leaves_at[1], (unsigned long long)st.leaves_at[2],
                     (unsigned long long)st.leaves_at[3]);

        /* ept_lookup agrees at both ends and in the middle. */
        uint64_t probes[] = { s->gpa, s->gpa + s->size / 2, s->gpa + s->size - 1 };
        for (size_t k = 0; k < ARRAY_SIZE(probes); k++) {
            phys_addr_t hpa;
            unsigned perms, level;
            enum ept_memtype mt;
            assert_true(ept_lookup(&ept, probes[k], &hpa, &perms, &mt, &level));
            assert_int_equal(hpa, s->hpa + (probes[k] - s->gpa));
            assert_int_equal(perms, EPT_READ | EPT_EXEC);
            assert_int_equal(mt, EPT_MT_WB);
            assert_true(level >= 1 && level <= 3);
        }
        if (s->gpa >= PAGE_SIZE)
            assert_false(ept_lookup(&ept, s->gpa - 1, NULL, NULL, NULL, NULL));
        if (s->gpa + s->size < EPT_GPA_LIMIT)
            assert_false(ept_lookup(&ept, s->gpa + s->size, NULL, NULL, NULL, NULL));
        destroy_and_check(&ept);
    }
    leaves_free(&got);
    leaves_free(&want);
}

/* Every rights and memory-type combination is stored as given. */
static void test_map_attributes(void **state)
{
    (void)state;
    static const unsigned perms[] = { EPT_READ, EPT_READ | EPT_WRITE, EPT_READ | EPT_EXEC,
                                      EPT_RWX, EPT_EXEC };
    static const enum ept_memtype mts[] = { EPT_MT_UC, EPT_MT_WC, EPT_MT_WT, EPT_MT_WP,
                                            EPT_MT_WB };
    struct ept ept;
    new_ept(&ept, true, true);
    uint64_t gpa = 0;
    for (size_t p = 0; p < ARRAY_SIZE(perms); p++) {
        for (size_t m = 0; m < ARRAY_SIZE(mts); m++, gpa += 2 * MiB) {
            assert_int_equal(ept_map_range(&ept, gpa, gpa + 4 * GiB, 2 * MiB, perms[p], mts[m]),
                             EPT_OK);
            unsigned got_p, level;
            enum ept_memtype got_mt;
            assert_true(ept_lookup(&ept, gpa + 0x1234, NULL, &got_p, &got_mt, &level));
            assert_int_equal(got_p, perms[p]);
            assert_int_equal(got_mt, mts[m]);
            assert_int_equal(level, EPT_LEVEL_PD);
            /* The raw entry: RWX 2:0, type 5:3, ignore PAT 6, large 7. */
            uint64_t pdpt = raw_table(ept.pml4)[0] & E_ADDR;
            uint64_t pd = raw_table(pdpt)[gpa >> 30] & E_ADDR;
            uint64_t e = raw_table(pd)[(gpa >> 21) & 511];
            assert_int_equal(e, (gpa + 4 * GiB) | perms[p] | ((uint64_t)mts[m] << 3) |
                                BIT(6) | BIT(7));
        }
    }
    destroy_and_check(&ept);
}

static void test_bad_args(void **state)
{
    (void)state;
    struct ept ept;
    new_ept(&ept, true, true);
    uint64_t allocs = fm.attempts;

    assert_int_equal(ept_map_range(&ept, 0x800, 0, PAGE_SIZE, EPT_RWX, EPT_MT_WB), EPT_EINVAL);
    assert_int_equal(ept_map_range(&ept, 0, 0x800, PAGE_SIZE, EPT_RWX, EPT_MT_WB), EPT_EINVAL);
    assert_int_equal(ept_map_range(&ept, 0, 0, 0x800, EPT_RWX, EPT_MT_WB), EPT_EINVAL);
    /* GPAs must stay below 2^48, host addresses below 2^52. */
    assert_int_equal(ept_map_range(&ept, 1ULL << 48, 0, PAGE_SIZE, EPT_RWX, EPT_MT_WB),
                     EPT_EINVAL);
    assert_int_equal(ept_map_range(&ept, (1ULL << 48) - PAGE_SIZE, 0, 2 * PAGE_SIZE, EPT_RWX,
                                   EPT_MT_WB), EPT_EINVAL);
    assert_int_equal(ept_map_range(&ept, 0, 1ULL << 52, PAGE_SIZE, EPT_RWX, EPT_MT_WB),
                     EPT_EINVAL);
    assert_int_equal(ept_map_range(&ept, 0, (1ULL << 52) - PAGE_SIZE, 2 * PAGE_SIZE, EPT_RWX,
                                   EPT_MT_WB), EPT_EINVAL);
    assert_int_equal(ept_map_range(&ept, 0, 0, ~0ULL & ~(PAGE_SIZE - 1), EPT_RWX, EPT_MT_WB),
                     EPT_EINVAL);
    /* Rights: none, unknown bits, write without read (SDM 29.3.3.1). */
    assert_int_equal(ept_map_range(&ept, 0, 0, PAGE_SIZE, 0, EPT_MT_WB), EPT_EINVAL);
    assert_int_equal(ept_map_range(&ept, 0, 0, PAGE_SIZE, 8, EPT_MT_WB), EPT_EINVAL);
    assert_int_equal(ept_map_range(&ept, 0, 0, PAGE_SIZE, EPT_WRITE, EPT_MT_WB), EPT_EINVAL);
    assert_int_equal(ept_map_range(&ept, 0, 0, PAGE_SIZE, EPT_WRITE | EPT_EXEC, EPT_MT_WB),
                     EPT_EINVAL);
    /* Reserved memory types 2, 3, 7. */
    for (unsigned mt = 2; mt <= 7; mt += mt == 3 ? 4 : 1)
        assert_int_equal(ept_map_range(&ept, 0, 0, PAGE_SIZE, EPT_RWX, (enum ept_memtype)mt),
                         EPT_EINVAL);
    assert_int_equal(ept_unmap_range(&ept, 0x10, PAGE_SIZE), EPT_EINVAL);
    assert_int_equal(ept_unmap_range(&ept, 0, 0x10), EPT_EINVAL);
    assert_int_equal(ept_unmap_range(&ept, 1ULL << 48, PAGE_SIZE), EPT_EINVAL);
    assert_false(ept_lookup(&ept, 1ULL << 48, NULL, NULL, NULL, NULL));

    /* Size 0 is a no-op; unmapping nothing allocates nothing. */
    assert_int_equal(ept_map_range(&ept, 0, 0, 0, EPT_RWX, EPT_MT_WB), EPT_OK);
    assert_int_equal(ept_unmap_range(&ept, 0, 4 * GiB), EPT_OK);
    assert_int_equal(fm.attempts, allocs);
    assert_int_equal(ept.table_pages, 1);
    destroy_and_check(&ept);

    /* After destroy every call refuses politely. */
    assert_int_equal(ept_map_range(&ept, 0, 0, PAGE_SIZE, EPT_RWX, EPT_MT_WB), EPT_EINVAL);
    assert_int_equal(ept_unmap_range(&ept, 0, PAGE_SIZE), EPT_EINVAL);
    assert_false(ept_lookup(&ept, 0, NULL, NULL, NULL, NULL));
    assert_int_equal(ept_eptp(&ept, true), 0);
}

/* ---- splitting and replacing ------------------------------------------------ */

static void check_against(const struct ept *ept, const struct shadow *s, struct walk_stats *st)
{
    struct leaves got = { 0 };
    walk_all(ept, &got, st);
    assert_sorted(&got);
    shadow_compare(s, &got);
    leaves_free(&got);
}

static void test_split_2mb(void **state)
{
    (void)state;
    struct ept ept;
    struct shadow s;
    struct walk_stats st;
    shadow_init(&s, 0, 8 * MiB);
    new_ept(&ept, true, true);

    assert_int_equal(ept_map_range(&ept, 2 * MiB, 6 * MiB, 2 * MiB, EPT_RWX, EPT_MT_WB), EPT_OK);
    shadow_set(&s, 2 * MiB, 6 * MiB, 2 * MiB, EPT_RWX, EPT_MT_WB);
    check_against(&ept, &s, &st);
    assert_int_equal(st.leaves_at[2], 1);
    assert_int_equal(ept.table_pages, 3);

    /* One page in the middle becomes read-only UC somewhere else. */
    assert_int_equal(ept_map_range(&ept, 2 * MiB + 8 * KiB, 0x99999000, PAGE_SIZE, EPT_READ,
                                   EPT_MT_UC), EPT_OK);
    shadow_set(&s, 2 * MiB + 8 * KiB, 0x99999000, PAGE_SIZE, EPT_READ, EPT_MT_UC);
    check_against(&ept, &s, &st);
    assert_int_equal(st.leaves_at[2], 0);
    assert_int_equal(st.leaves_at[1], 512);
    assert_int_equal(ept.table_pages, 4);

    phys_addr_t hpa;
    unsigned perms, level;
    enum ept_memtype mt;
    assert_true(ept_lookup(&ept, 2 * MiB + 4 * KiB + 5, &hpa, &perms, &mt, &level));
    assert_int_equal(hpa, 6 * MiB + 4 * KiB + 5);
    assert_int_equal(perms, EPT_RWX);
    assert_int_equal(mt, EPT_MT_WB);
    assert_int_equal(level, EPT_LEVEL_PT);

    /* Mapping the whole 2 MiB again with aligned addresses folds the table
     * back into a leaf and frees the page table. */
    assert_int_equal(ept_map_range(&ept, 2 * MiB, 10 * MiB, 2 * MiB, EPT_READ, EPT_MT_WT), EPT_OK);
    shadow_set(&s, 2 * MiB, 10 * MiB, 2 * MiB, EPT_READ, EPT_MT_WT);
    check_against(&ept, &s, &st);
    assert_int_equal(st.leaves_at[2], 1);
    assert_int_equal(ept.table_pages, 3);

    destroy_and_check(&ept);
    free(s.p);
}

static void test_split_1gb(void **state)
{
    (void)state;
    struct ept ept;
    struct shadow s;
    struct walk_stats st;
    shadow_init(&s, GiB, GiB);
    new_ept(&ept, true, true);

    assert_int_equal(ept_map_range(&ept, GiB, 8 * GiB, GiB, EPT_RWX, EPT_MT_WB), EPT_OK);
    shadow_set(&s, GiB, 8 * GiB, GiB, EPT_RWX, EPT_MT_WB);
    check_against(&ept, &s, &st);
    assert_int_equal(st.leaves_at[3], 1);
    assert_int_equal(ept.table_pages, 2);

    /* Two pages straddling nothing in the second 2 MiB: the 1 GiB leaf
     * becomes 511 2 MiB leaves and one table of 4 KiB leaves. */
    uint64_t at = GiB + 2 * MiB + 4 * KiB;
    assert_int_equal(ept_map_range(&ept, at, 0x5000, 2 * PAGE_SIZE, EPT_READ | EPT_WRITE,
                                   EPT_MT_WC), EPT_OK);
    shadow_set(&s, at, 0x5000, 2 * PAGE_SIZE, EPT_READ | EPT_WRITE, EPT_MT_WC);
    check_against(&ept, &s, &st);
    assert_int_equal(st.leaves_at[3], 0);
    assert_int_equal(st.leaves_at[2], 511);
    assert_int_equal(st.leaves_at[1], 512);
    assert_int_equal(ept.table_pages, 4);

    /* A 2 MiB-aligned 4 MiB remap at the end replaces two 2 MiB leaves in
     * place: no new table. */
    assert_int_equal(ept_map_range(&ept, 2 * GiB - 4 * MiB, 0x40000000, 4 * MiB, EPT_EXEC,
                                   EPT_MT_UC), EPT_OK);
    shadow_set(&s, 2 * GiB - 4 * MiB, 0x40000000, 4 * MiB, EPT_EXEC, EPT_MT_UC);
    check_against(&ept, &s, &st);
    assert_int_equal(st.leaves_at[2], 511);
    assert_int_equal(ept.table_pages, 4);

    destroy_and_check(&ept);
    free(s.p);
}

/* ---- unmapping ------------------------------------------------------------ */

static void test_unmap(void **state)
{
    (void)state;
    struct ept ept;
    struct shadow s;
    struct walk_stats st;
    uint64_t base = 510 * GiB;              /* crosses into the next PML4 slot */
    shadow_init(&s, base, 4 * GiB);
    new_ept(&ept, true, true);

    assert_int_equal(ept_map_range(&ept, base, 0, 4 * GiB, EPT_RWX, EPT_MT_WB), EPT_OK);
    shadow_set(&s, base, 0, 4 * GiB, EPT_RWX, EPT_MT_WB);
    check_against(&ept, &s, &st);
    assert_int_equal(st.leaves_at[3], 4);
    assert_int_equal(ept.table_pages, 3);   /* PML4 + 2 PDPTs */

    /* A hole in the middle of a 1 GiB leaf splits it twice. */
    uint64_t hole = base + GiB + 3 * MiB;
    assert_int_equal(ept_unmap_range(&ept, hole, 8 * KiB), EPT_OK);
    shadow_set(&s, hole, 0, 8 * KiB, 0, 0);
    check_against(&ept, &s, &st);
    assert_int_equal(st.leaves_at[3], 3);
    assert_int_equal(st.leaves_at[2], 511);
    assert_int_equal(st.leaves_at[1], 510);
    assert_int_equal(ept.table_pages, 5);
    assert_false(ept_lookup(&ept, hole + 4 * KiB, NULL, NULL, NULL, NULL));
    assert_true(ept_lookup(&ept, hole + 8 * KiB, NULL, NULL, NULL, NULL));

    /* Unmapping the rest of that 2 MiB frees the page table; the rest of
     * that 1 GiB frees the page directory; the last PML4 slot's gigabytes
     * free its PDPT. */
    assert_int_equal(ept_unmap_range(&ept, base + GiB + 2 * MiB, 2 * MiB), EPT_OK);
    shadow_set(&s, base + GiB + 2 * MiB, 0, 2 * MiB, 0, 0);
    check_against(&ept, &s, &st);
    assert_int_equal(ept.table_pages, 4);
    assert_int_equal(ept_unmap_range(&ept, base + GiB, GiB), EPT_OK);
    shadow_set(&s, base + GiB, 0, GiB, 0, 0);
    check_against(&ept, &s, &st);
    assert_int_equal(ept.table_pages, 3);
    assert_int_equal(ept_unmap_range(&ept, 512 * GiB, 2 * GiB), EPT_OK);
    shadow_set(&s, 512 * GiB, 0, 2 * GiB, 0, 0);
    check_against(&ept, &s, &st);
    assert_int_equal(ept.table_pages, 2);

    /* 4 KiB leaves: unmapping all of them page by page frees everything. */
    assert_int_equal(ept_map_range(&ept, 0x3000, 0x3000, 64 * KiB, EPT_READ, EPT_MT_UC), EPT_OK);
    assert_int_equal(ept.table_pages, 4);   /* + PD + PT under the existing PDPT */
    for (uint64_t g = 0x3000; g < 0x3000 + 64 * KiB; g += PAGE_SIZE)
        assert_int_equal(ept_unmap_range(&ept, g, PAGE_SIZE), EPT_OK);
    assert_int_equal(ept.table_pages, 2);
    check_against(&ept, &s, &st);

    assert_int_equal(ept_unmap_range(&ept, 0, EPT_GPA_LIMIT), EPT_OK);
    assert_int_equal(ept.table_pages, 1);
    assert_int_equal(fm_live(), 1);
    destroy_and_check(&ept);
    free(s.p);
}

/* ---- out of memory ------------------------------------------------------------ */

struct oom_case {
    const char *what;
    bool unmap;
    uint64_t gpa, hpa, size;
    unsigned perms;
    enum ept_memtype mt;
};

/* The starting state: 1 GiB, 2 MiB and 4 KiB leaves next to each other. */
static void oom_base(struct ept *ept, struct shadow *s)
{
    new_ept(ept, true, true);
    assert_int_equal(ept_map_range(ept, GiB, 5 * GiB, GiB, EPT_RWX, EPT_MT_WB), EPT_OK);
    shadow_set(s, GiB, 5 * GiB, GiB, EPT_RWX, EPT_MT_WB);
    assert_int_equal(ept_map_range(ept, 2 * GiB, 0x200000, 4 * MiB, EPT_READ, EPT_MT_UC), EPT_OK);
    shadow_set(s, 2 * GiB, 0x200000, 4 * MiB, EPT_READ, EPT_MT_UC);
    assert_int_equal(ept_map_range(ept, 2 * GiB + 4 * MiB, 0x1000, 12 * KiB, EPT_READ,
                                   EPT_MT_WT), EPT_OK);
    shadow_set(s, 2 * GiB + 4 * MiB, 0x1000, 12 * KiB, EPT_READ, EPT_MT_WT);
}

static const struct oom_case oom_cases[] = {
    { "map across split 1 GiB and 2 MiB leaves", false, 2 * GiB - 2 * MiB - 4 * KiB, 0x7000,
      2 * MiB + 16 * KiB, EPT_RWX, EPT_MT_WB },
    { "map into empty space", false, 700 * GiB - 4 * KiB, 0x10000, 8 * KiB, EPT_READ, EPT_MT_WB },
    { "map over everything", false, GiB - 4 * KiB, 0x2000, GiB + 8 * MiB, EPT_READ, EPT_MT_WB },
    { "unmap splitting both ends", true, GiB + 4 * KiB, 0, GiB + 2 * MiB, 0, EPT_MT_UC },
    { "unmap inside a 4 KiB table", true, 2 * GiB + 4 * MiB + 4 * KiB, 0, 4 * KiB, 0, EPT_MT_UC },
};

static void test_oom_injection(void **state)
{
    (void)state;
    struct leaves before = { 0 }, after = { 0 };
    struct walk_stats st;
    struct shadow s;
    shadow_init(&s, GiB - 4 * MiB, GiB + 16 * MiB);
    /* The models cover the cases' ranges within [GiB - 4M, 2 GiB + 12M); the
     * far "empty space" case only needs the walk comparison. */

    for (size_t c = 0; c < ARRAY_SIZE(oom_cases); c++) {
        const struct oom_case *oc = &oom_cases[c];
        unsigned failures = 0;
        for (uint64_t k = 0;; k++) {
            struct ept ept;
            memset(s.p, 0, s.npages * sizeof(*s.p));
            oom_base(&ept, &s);
            walk_all(&ept, &before, &st);
            uint64_t tables = ept.table_pages;

            fm.fail_at = fm.attempts + k;
            int rc = oc->unmap ? ept_unmap_range(&ept, oc->gpa, oc->size)
                               : ept_map_range(&ept, oc->gpa, oc->hpa, oc->size, oc->perms,
                                               oc->mt);
            fm.fail_at = NO_FAIL;
            walk_all(&ept, &after, &st);
            if (rc == EPT_ENOMEM) {
                /* Nothing changed, nothing leaked. */
                failures++;
                assert_leaves_equal(&after, &before);
                assert_int_equal(ept.table_pages, tables);
                destroy_and_check(&ept);
                assert_true(k < FAKE_PAGES);
                continue;
            }
            assert_int_equal(rc, EPT_OK);
            if (oc->gpa >= s.base && oc->gpa + oc->size <= s.base + s.npages * PAGE_SIZE) {
                shadow_set(&s, oc->gpa, oc->hpa, oc->size, oc->unmap ? 0 : oc->perms,
                           oc->unmap ? 0 : oc->mt);
                shadow_compare(&s, &after);
            } else {
                phys_addr_t hpa;
                assert_true(ept_lookup(&ept, oc->gpa + PAGE_SIZE, &hpa, NULL, NULL, NULL));
                assert_int_equal(hpa, oc->hpa + PAGE_SIZE);
            }
            destroy_and_check(&ept);
            break;
        }
        if (failures == 0 && !(oc->unmap && oc->size == 4 * KiB))
            fail_msg("%s: never needed memory", oc->what);
        if (failures && oc->unmap && oc->size == 4 * KiB)
            fail_msg("%s: should not allocate", oc->what);
    }
    leaves_free(&before);
    leaves_free(&after);
    free(s.p);
}

/* ---- for_each_leaf ------------------------------------------------------------- */

static void collect_leaf(void *ctx, uint64_t gpa, phys_addr_t hpa, uint64_t size, unsigned perms)
{
    leaves_push(ctx, (struct leaf){ gpa, hpa, size, perms, 0, 0 });
}

static void test_for_each_leaf(void **state)
{
    (void)state;
    struct ept ept;
    struct leaves cb = { 0 }, walk = { 0 };
    struct walk_stats st;
    new_ept(&ept, true, true);

    /* Inserted out of order, in several PML4 slots. */
    assert_int_equal(ept_map_range(&ept, 1024 * GiB + 4 * KiB, 0x1000, 3 * MiB, EPT_READ,
                                   EPT_MT_WB), EPT_OK);
    assert_int_equal(ept_map_range(&ept, 0, 0, 4 * GiB + 12 * KiB, EPT_RWX, EPT_MT_WB), EPT_OK);
    assert_int_equal(ept_map_range(&ept, 600 * GiB, 2 * MiB, 6 * MiB, EPT_EXEC, EPT_MT_UC),
                     EPT_OK);
    assert_int_equal(ept_unmap_range(&ept, 2 * GiB + 8 * KiB, 4 * KiB), EPT_OK);

    ept_for_each_leaf(&ept, collect_leaf, &cb);
    walk_all(&ept, &walk, &st);
    assert_sorted(&cb);
    assert_int_equal(cb.n, walk.n);
    uint64_t total = 0;
    for (size_t i = 0; i < cb.n; i++) {
        assert_int_equal(cb.v[i].gpa, walk.v[i].gpa);
        assert_int_equal(cb.v[i].hpa, walk.v[i].hpa);
        assert_int_equal(cb.v[i].size, walk.v[i].size);
        assert_int_equal(cb.v[i].perms, walk.v[i].perms);
        total += cb.v[i].size;
    }
    assert_int_equal(total, 3 * MiB + 4 * GiB + 12 * KiB + 6 * MiB - 4 * KiB);
    assert_int_equal(cb.v[0].gpa, 0);
    assert_int_equal(cb.v[0].size, GiB);
    assert_int_equal(cb.v[cb.n - 1].gpa + cb.v[cb.n - 1].size, 1024 * GiB + 4 * KiB + 3 * MiB);

    destroy_and_check(&ept);
    leaves_free(&cb);
    leaves_free(&walk);
}

/* ---- random operations against the shadow ------------------------------------ */

#define RANDOM_OPS      300

static uint64_t pick_size(uint64_t *rng)
{
    switch (rng_below(rng, 5)) {
    case 0:  return (1 + rng_below(rng, 16)) * PAGE_SIZE;
    case 1:  return (1 + rng_below(rng, 4)) * 2 * MiB;
    case 2:  return (1 + rng_below(rng, 1024)) * PAGE_SIZE;
    case 3:  return GiB - 2 * MiB + rng_below(rng, 3) * 2 * MiB;
    default: return (1 + rng_below(rng, 300)) * 2 * MiB + rng_below(rng, 512) * PAGE_SIZE;
    }
}

static uint64_t pick_align(uint64_t *rng)
{
    static const uint64_t aligns[] = { PAGE_SIZE, 2 * MiB, GiB };
    return aligns[rng_below(rng, ARRAY_SIZE(aligns))];
}

static void test_random_against_shadow(void **state)
{
    (void)state;
    static const unsigned perms[] = { EPT_READ, EPT_READ | EPT_WRITE, EPT_READ | EPT_EXEC,
                                      EPT_RWX, EPT_EXEC };
    static const enum ept_memtype mts[] = { EPT_MT_UC, EPT_MT_WC, EPT_MT_WT, EPT_MT_WP,
                                            EPT_MT_WB };
    uint64_t window = 2 * GiB, base = 511 * GiB;     /* straddles PML4 slots 0 and 1 */
    struct shadow s;
    struct walk_stats st;
    struct ept ept;
    uint64_t rng = 0x1234567887654321ULL;
    shadow_init(&s, base, window);
    new_ept(&ept, true, true);

    for (unsigned op = 0; op < RANDOM_OPS; op++) {
        uint64_t size = MIN(pick_size(&rng), window);
        uint64_t align = pick_align(&rng);
        uint64_t gpa = base + ALIGN_DOWN(rng_below(&rng, window - size + 1), align);
        if (gpa + size > base + window)
            gpa = base + window - size;
        gpa = ALIGN_DOWN(gpa, PAGE_SIZE);
        if (rng_below(&rng, 4) == 0) {
            assert_int_equal(ept_unmap_range(&ept, gpa, size), EPT_OK);
            shadow_set(&s, gpa, 0, size, 0, 0);
        } else {
            uint64_t hpa = ALIGN_DOWN(rng_below(&rng, 1ULL << 40), pick_align(&rng));
            unsigned p = perms[rng_below(&rng, ARRAY_SIZE(perms))];
            enum ept_memtype mt = mts[rng_below(&rng, ARRAY_SIZE(mts))];
            assert_int_equal(ept_map_range(&ept, gpa, hpa, size, p, mt), EPT_OK);
            shadow_set(&s, gpa, hpa, size, p, mt);
        }
        if (op % 10 == 9 || op == RANDOM_OPS - 1)
            check_against(&ept, &s, &st);
        for (unsigned k = 0; k < 8; k++) {
            uint64_t g = base + rng_below(&rng, window);
            const struct spage *sp = &s.p[(g - base) / PAGE_SIZE];
            phys_addr_t hpa;
            unsigned got_p;
            enum ept_memtype got_mt;
            bool mapped = ept_lookup(&ept, g, &hpa, &got_p, &got_mt, NULL);
            assert_int_equal(mapped, sp->perms != 0);
            if (mapped) {
                assert_int_equal(hpa, sp->hpa + (g & (PAGE_SIZE - 1)));
                assert_int_equal(got_p, sp->perms);
                assert_int_equal(got_mt, sp->mt);
            }
        }
    }
    destroy_and_check(&ept);
    free(s.p);
}

/* ---- exit qualification text ------------------------------------------------- */

static void test_violation_strings(void **state)
{
    (void)state;
    char buf[160];
    /* SDM table 28-7: bits 2:0 access, 5:3 rights, 7 linear valid, 8 final. */
    assert_string_equal(ept_violation_access_string(0x82, buf, sizeof(buf)),
                        "write to a not-present page (gpa access: R- W- X-), linear address "
                        "valid, guest paging-structure access");
    assert_string_equal(ept_violation_access_string(0x182, buf, sizeof(buf)),
                        "write to a not-present page (gpa access: R- W- X-), linear address "
                        "valid, final translation");
    assert_string_equal(ept_violation_access_string(0x02 | 0x08 | 0x20 | 0x180, buf, sizeof(buf)),
                        "write to a present page (gpa access: R+ W- X+), linear address valid, "
                        "final translation");
    assert_string_equal(ept_violation_access_string(0x04 | 0x18, buf, sizeof(buf)),
                        "fetch to a present page (gpa access: R+ W+ X-)");
    assert_string_equal(ept_violation_access_string(0x01, buf, sizeof(buf)),
                        "read to a not-present page (gpa access: R- W- X-)");
    assert_string_equal(ept_violation_access_string(0x03 | 0x08, buf, sizeof(buf)),
                        "read/write to a present page (gpa access: R+ W- X-)");
    assert_string_equal(ept_violation_access_string(0, buf, sizeof(buf)),
                        "access to a not-present page (gpa access: R- W- X-)");
    /* Bit 8 means nothing without bit 7; unrelated bits are ignored. */
    assert_string_equal(ept_violation_access_string(0x101 | BIT(12), buf, sizeof(buf)),
                        "read to a not-present page (gpa access: R- W- X-)");

    /* Truncation: always terminated, never past n. */
    char small[12];
    memset(small, 'x', sizeof(small));
    assert_ptr_equal(ept_violation_access_string(0x82, small, 8), small);
    assert_string_equal(small, "write t");
    assert_int_equal(small[8], 'x');
    assert_ptr_equal(ept_violation_access_string(0x82, small, 1), small);
    assert_string_equal(small, "");
    small[0] = 'q';
    ept_violation_access_string(0x82, small, 0);
    assert_int_equal(small[0], 'q');
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_init_eptp_destroy, setup_fm, teardown_fm),
        cmocka_unit_test_setup_teardown(test_map_shapes, setup_fm, teardown_fm),
        cmocka_unit_test_setup_teardown(test_map_attributes, setup_fm, teardown_fm),
        cmocka_unit_test_setup_teardown(test_bad_args, setup_fm, teardown_fm),
        cmocka_unit_test_setup_teardown(test_split_2mb, setup_fm, teardown_fm),
        cmocka_unit_test_setup_teardown(test_split_1gb, setup_fm, teardown_fm),
        cmocka_unit_test_setup_teardown(test_unmap, setup_fm, teardown_fm),
        cmocka_unit_test_setup_teardown(test_oom_injection, setup_fm, teardown_fm),
        cmocka_unit_test_setup_teardown(test_for_each_leaf, setup_fm, teardown_fm),
        cmocka_unit_test_setup_teardown(test_random_against_shadow, setup_fm, teardown_fm),
        cmocka_unit_test(test_violation_strings),
    };
    return cmocka_run_group_tests_name("ept", tests, NULL, NULL);
}
