/*
 * EPT builder; see include/hv/ept.h.
 *
 * Levels are numbered like the leaf levels in the header: 4 = PML4,
 * 3 = PDPT, 2 = PD, 1 = PT.  An entry at level L covers 2^(12 + 9(L-1))
 * bytes of guest-physical space (SDM Vol. 3C, 29.3.2).
 *
 * Mapping and unmapping share one recursive walker over [gpa, end).  It runs
 * twice: a counting pass that changes nothing and counts the table pages the
 * operation will need, then -- once that many pages have been allocated up
 * front -- the pass that applies it.  Running out of memory is therefore only
 * possible before the first entry changes.  The counting pass walks tables
 * that do not exist yet as "virtual" tables whose 512 slots all hold one
 * value: 0 for a new empty table, a leaf for the table a split would create.
 */
#include <hv/ept.h>
#include <hv/kstring.h>

/* EPT paging-structure entry bits (SDM 29.3.2, tables 29-1 .. 29-6). */
#define EPTE_PERM_MASK      0x7ULL                  /* bits 2:0, R/W/X; 0 = not present */
#define EPTE_MT_SHIFT       3                       /* leaf bits 5:3, memory type */
#define EPTE_MT_MASK        (0x7ULL << EPTE_MT_SHIFT)
#define EPTE_IGNORE_PAT     BIT(6)                  /* leaf: the EPT type is the final type */
#define EPTE_LARGE          BIT(7)                  /* PDPTE/PDE: maps a 1 GiB / 2 MiB page */
#define EPTE_ADDR_MASK      0x000FFFFFFFFFF000ULL   /* bits 51:12 */
/* Non-leaf entries grant everything; the leaves alone restrict access (an
 * access needs the right in every entry of the walk, SDM 29.3.3.2). */
#define EPTE_TABLE_PERMS    ((uint64_t)EPT_RWX)

#define EPT_ENTRIES         512
#define EPT_INDEX_BITS      9

/* EPTP fields (SDM 25.6.11). */
#define EPTP_MEMTYPE_WB     ((uint64_t)EPT_MT_WB)   /* bits 2:0: type used to walk the tables */
#define EPTP_WALK_SHIFT     3                       /* bits 5:3: page-walk length - 1 */
#define EPTP_ENABLE_AD      BIT(6)

/* Table pages link through their first word while they wait in the pool. */
#define POOL_LINK_SLOT      0

/* ---- entries and tables ------------------------------------------------- */

static inline unsigned level_shift(unsigned level)
{
    return PAGE_SHIFT + EPT_INDEX_BITS * (level - 1);
}

static inline uint64_t level_span(unsigned level)
{
    return 1ULL << level_shift(level);
}

static inline unsigned entry_index(uint64_t gpa, unsigned level)
{
    return (unsigned)(gpa >> level_shift(level)) & (EPT_ENTRIES - 1);
}

/* SDM 29.3.2: an entry whose bits 2:0 are all 0 is not present. */
static inline bool entry_present(uint64_t e)
{
    return (e & EPTE_PERM_MASK) != 0;
}

/* Only meaningful for present entries.  Bit 7 is reserved in PML4Es and
 * ignored in PTEs, so it never makes a PML4E a leaf and a PTE always is. */
static inline bool entry_is_leaf(uint64_t e, unsigned level)
{
    return level == EPT_LEVEL_PT || (level < EPT_LEVEL_PML4 && (e & EPTE_LARGE));
}

/* Host address of a leaf; large leaves keep reserved bits below their
 * alignment at 0, masking them anyway costs nothing. */
static inline phys_addr_t leaf_frame(uint64_t e, unsigned level)
{
    return e & EPTE_ADDR_MASK & ~(level_span(level) - 1);
}

static inline uint64_t *table_virt(const struct ept *ept, phys_addr_t table)
{
    return ept->ops.to_virt(ept->ops.ctx, table);
}

/* One 64-bit store, so a processor walking the tables concurrently sees
 * either the old or the new entry; release order, so when the entry links in
 * a new table the compiler has already emitted every store that filled it
 * (x86 keeps stores in program order: SDM Vol. 3A, "Memory Ordering in P6
 * and More Recent Processor Families"). */
static inline void entry_write(uint64_t *slot, uint64_t value)
{
    __atomic_store_n(slot, value, __ATOMIC_RELEASE);
}

static void table_free(struct ept *ept, phys_addr_t table)
{
    ept->ops.free_table(ept->ops.ctx, table);
    ept->table_pages--;
}

/* Frees a table of level `level` and every table below it. */
static void free_subtree(struct ept *ept, phys_addr_t table, unsigned level)
{
    if (level > EPT_LEVEL_PT) {
        const uint64_t *slots = table_virt(ept, table);
        for (unsigned i = 0; i < EPT_ENTRIES; i++) {
            uint64_t e = slots[i];
            if (entry_present(e) && !entry_is_leaf(e, level))
                free_subtree(ept, e & EPTE_ADDR_MASK, level - 1);
        }
    }
    table_free(ept, table);
}

static bool table_is_empty(const uint64_t *slots)
{
    for (unsigned i = 0; i < EPT_ENTRIES; i++)
        if (entry_present(slots[i]))
            return false;
    return true;
}

/*
 * Leaf `k` of the table that replaces the large leaf `leaf` one level up:
 * same rights, memory type, ignore-PAT and A/D state, 1/512 of the range.
 * Bit 7 stays set for 2 MiB children of a 1 GiB page.
 */
static uint64_t split_entry(uint64_t leaf, unsigned child_level, unsigned k)
{
    uint64_t attrs = leaf & ~(EPTE_ADDR_MASK | EPTE_LARGE);
    uint64_t frame = leaf_frame(leaf, child_level + 1) + (uint64_t)k * level_span(child_level);
    return attrs | frame | (child_level > EPT_LEVEL_PT ? EPTE_LARGE : 0);
}

/* ---- the range walker ---------------------------------------------------- */

struct range_op {
    struct ept *ept;
    uint64_t gpa, end;          /* [gpa, end) */
    phys_addr_t hpa;            /* host address of `gpa` (map only) */
    uint64_t leaf_attrs;        /* rights | memory type | ignore PAT; 0 = unmap */
    bool counting;              /* counting pass: change nothing */
    uint64_t tables_needed;     /* counted by the counting pass */
    phys_addr_t pool;           /* pages for the applying pass, linked */
    bool pool_ran_dry;          /* the count was wrong: cannot happen */
};

/* A table being walked: real (`slots`) or, in the counting pass, virtual
 * (slots == NULL, every slot reads as `fill`). */
struct table_ref {
    uint64_t *slots;
    uint64_t fill;
};

static inline uint64_t slot_get(struct table_ref t, unsigned i)
{
    return t.slots ? t.slots[i] : t.fill;
}

static inline bool op_is_unmap(const struct range_op *op)
{
    return op->leaf_attrs == 0;
}

static inline phys_addr_t op_hpa(const struct range_op *op, uint64_t gpa)
{
    return op->hpa + (gpa - op->gpa);
}

static phys_addr_t pool_take(struct range_op *op)
{
    phys_addr_t page = op->pool;
    if (page == PMM_NO_MEMORY)
        return page;
    uint64_t *slots = table_virt(op->ept, page);
    op->pool = slots[POOL_LINK_SLOT];
    slots[POOL_LINK_SLOT] = 0;      /* back to the zeroed page alloc_table gave */
    return page;
}

static void pool_release(struct range_op *op)
{
    for (phys_addr_t page; (page = pool_take(op)) != PMM_NO_MEMORY;)
        op->ept->ops.free_table(op->ept->ops.ctx, page);
}

/* Allocates `count` pages into the pool; all or none. */
static bool pool_fill(struct range_op *op, uint64_t count)
{
    const struct ept_ops *ops = &op->ept->ops;
    op->pool = PMM_NO_MEMORY;
    for (uint64_t i = 0; i < count; i++) {
        phys_addr_t page = ops->alloc_table(ops->ctx);
        if (page == PMM_NO_MEMORY) {
            pool_release(op);
            return false;
        }
        table_virt(op->ept, page)[POOL_LINK_SLOT] = op->pool;
        op->pool = page;
    }
    return true;
}

/*
 * Whether the entry at `level` covering [eb, eb + span), wholly inside the
 * range, can be set in one go: always for unmapping and 4 KiB leaves; for a
 * 2 MiB / 1 GiB leaf the ept must allow the size and the host address must
 * be aligned to it (the GPA is, since the entry is covered whole).  PML4Es
 * cannot be leaves.
 */
static bool whole_entry_fits(const struct range_op *op, unsigned level, uint64_t eb)
{
    if (op_is_unmap(op) || level == EPT_LEVEL_PT)
        return true;
    bool allowed = (level == EPT_LEVEL_PD && op->ept->allow_2mb) ||
                   (level == EPT_LEVEL_PDPT && op->ept->allow_1gb);
    return allowed && (op_hpa(op, eb) & (level_span(level) - 1)) == 0;
}

/* Replaces a wholly covered entry by the new leaf (or by nothing), then frees
 * the tables it used to point to: only after the store, so no walker can
 * reach a freed page. */
static void set_whole_entry(struct range_op *op, struct table_ref t, unsigned i,
                            unsigned level, uint64_t eb)
{
    if (op->counting)
        return;
    uint64_t value = 0;
    if (!op_is_unmap(op))
        value = op_hpa(op, eb) | op->leaf_attrs | (level > EPT_LEVEL_PT ? EPTE_LARGE : 0);
    uint64_t old = t.slots[i];
    entry_write(&t.slots[i], value);
    if (entry_present(old) && !entry_is_leaf(old, level))
        free_subtree(op->ept, old & EPTE_ADDR_MASK, level - 1);
}

static void walk_table(struct range_op *op, struct table_ref t, unsigned level, uint64_t base);

/*
 * Slot `i` (covering [eb, ...)) needs a table below it that does not exist:
 * an empty one when `old` is not present, or the 512 smaller leaves of the
 * large leaf `old`.  The table is completed before it is linked in.
 */
static void build_child(struct range_op *op, struct table_ref t, unsigned i, unsigned level,
                        uint64_t eb, uint64_t old)
{
    unsigned child_level = level - 1;
    bool split = entry_present(old);

    if (op->counting) {
        op->tables_needed++;
        struct table_ref child = { NULL, split ? split_entry(old, child_level, 0) : 0 };
        walk_table(op, child, child_level, eb);
        return;
    }

    phys_addr_t page = pool_take(op);
    if (page == PMM_NO_MEMORY) {
        op->pool_ran_dry = true;
        return;
    }
    struct table_ref child = { table_virt(op->ept, page), 0 };
    if (split)
        for (unsigned k = 0; k < EPT_ENTRIES; k++)
            child.slots[k] = split_entry(old, child_level, k);
    walk_table(op, child, child_level, eb);
    entry_write(&t.slots[i], page | EPTE_TABLE_PERMS);
    op->ept->table_pages++;
}

/* Slot `i` is only partly inside the range, or cannot become one leaf. */
static void descend(struct range_op *op, struct table_ref t, unsigned i, unsigned level,
                    uint64_t eb)
{
    uint64_t e = slot_get(t, i);

    if (!entry_present(e)) {
        if (!op_is_unmap(op))           /* unmapping: nothing here to remove */
            build_child(op, t, i, level, eb, 0);
        return;
    }
    if (entry_is_leaf(e, level)) {
        build_child(op, t, i, level, eb, e);
        return;
    }

    phys_addr_t table = e & EPTE_ADDR_MASK;
    struct table_ref child = { table_virt(op->ept, table), 0 };
    walk_table(op, child, level - 1, eb);
    if (!op->counting && op_is_unmap(op) && table_is_empty(child.slots)) {
        entry_write(&t.slots[i], 0);
        table_free(op->ept, table);
    }
}

/* Applies the operation to the slots of table `t` (level `level`, covering
 * GPAs from `base`) that intersect the range. */
static void walk_table(struct range_op *op, struct table_ref t, unsigned level, uint64_t base)
{
    uint64_t span = level_span(level);
    uint64_t lo = MAX(op->gpa, base);
    uint64_t hi = MIN(op->end, base + span * EPT_ENTRIES);

    for (uint64_t eb = ALIGN_DOWN(lo, span); eb < hi; eb += span) {
        unsigned i = entry_index(eb, level);
        if (eb >= op->gpa && eb + span <= op->end && whole_entry_fits(op, level, eb))
            set_whole_entry(op, t, i, level, eb);
        else
            descend(op, t, i, level, eb);
    }
}

/* Counting pass, allocation, applying pass. */
static int run_range_op(struct range_op *op)
{
    struct ept *ept = op->ept;

    struct table_ref root = { table_virt(ept, ept->pml4), 0 };

    op->counting = true;
    op->tables_needed = 0;
    walk_table(op, root, EPT_LEVEL_PML4, 0);

    if (!pool_fill(op, op->tables_needed))
        return EPT_ENOMEM;
    op->counting = false;
    op->pool_ran_dry = false;
    walk_table(op, root, EPT_LEVEL_PML4, 0);
    pool_release(op);
    return op->pool_ran_dry ? EPT_ENOMEM : EPT_OK;
}

/* ---- argument checks ----------------------------------------------------- */

static bool range_ok(uint64_t base, uint64_t size, uint64_t limit)
{
    return (base & (PAGE_SIZE - 1)) == 0 && (size & (PAGE_SIZE - 1)) == 0 &&
           base <= limit && size <= limit - base;
}

/* SDM 29.3.3.1: write without read is a misconfiguration. */
static bool perms_ok(unsigned perms)
{
    if (perms == 0 || (perms & ~EPT_RWX))
        return false;
    return !((perms & EPT_WRITE) && !(perms & EPT_READ));
}

/* SDM 29.3.3.1: memory types 2, 3 and 7 are misconfigurations. */
static bool memtype_ok(enum ept_memtype mt)
{
    switch (mt) {
    case EPT_MT_UC:
    case EPT_MT_WC:
    case EPT_MT_WT:
    case EPT_MT_WP:
    case EPT_MT_WB:
        return true;
    }
    return false;
}

static inline bool ept_ready(const struct ept *ept)
{
    return ept && ept->pml4 != PMM_NO_MEMORY;
}

/* ---- public API ----------------------------------------------------------- */

int ept_init(struct ept *ept, const struct ept_ops *ops, bool allow_2mb, bool allow_1gb)
{
    if (!ept || !ops || !ops->alloc_table || !ops->free_table || !ops->to_virt)
        return EPT_EINVAL;
    ept->ops = *ops;
    ept->allow_2mb = allow_2mb;
    ept->allow_1gb = allow_1gb && allow_2mb;
    ept->table_pages = 0;
    ept->pml4 = ops->alloc_table(ops->ctx);
    if (ept->pml4 == PMM_NO_MEMORY)
        return EPT_ENOMEM;
    ept->table_pages = 1;
    return EPT_OK;
}

int ept_map_range(struct ept *ept, uint64_t gpa, phys_addr_t hpa, uint64_t size,
                  unsigned perms, enum ept_memtype mt)
{
    if (!ept_ready(ept) || !range_ok(gpa, size, EPT_GPA_LIMIT) ||
        !range_ok(hpa, size, EPT_HPA_LIMIT) || !perms_ok(perms) || !memtype_ok(mt))
        return EPT_EINVAL;
    if (size == 0)
        return EPT_OK;

    struct range_op op = {
        .ept = ept,
        .gpa = gpa,
        .end = gpa + size,
        .hpa = hpa,
        .leaf_attrs = perms | ((uint64_t)mt << EPTE_MT_SHIFT) | EPTE_IGNORE_PAT,
    };
    return run_range_op(&op);
}

int ept_unmap_range(struct ept *ept, uint64_t gpa, uint64_t size)
{
    if (!ept_ready(ept) || !range_ok(gpa, size, EPT_GPA_LIMIT))
        return EPT_EINVAL;
    if (size == 0)
        return EPT_OK;

    struct range_op op = { .ept = ept, .gpa = gpa, .end = gpa + size, .leaf_attrs = 0 };
    return run_range_op(&op);
}

bool ept_lookup(const struct ept *ept, uint64_t gpa, phys_addr_t *hpa, unsigned *perms,
                enum ept_memtype *mt, unsigned *leaf_level)
{
    if (!ept_ready(ept) || gpa >= EPT_GPA_LIMIT)
        return false;

    phys_addr_t table = ept->pml4;
    for (unsigned level = EPT_LEVEL_PML4; level >= EPT_LEVEL_PT; level--) {
        uint64_t e = table_virt(ept, table)[entry_index(gpa, level)];
        if (!entry_present(e))
            return false;
        if (entry_is_leaf(e, level)) {
            if (hpa)
                *hpa = leaf_frame(e, level) | (gpa & (level_span(level) - 1));
            if (perms)
                *perms = (unsigned)(e & EPTE_PERM_MASK);
            if (mt)
                *mt = (enum ept_memtype)((e & EPTE_MT_MASK) >> EPTE_MT_SHIFT);
            if (leaf_level)
                *leaf_level = level;
            return true;
        }
        table = e & EPTE_ADDR_MASK;
    }
    return false;
}

uint64_t ept_eptp(const struct ept *ept, bool enable_ad)
{
    uint64_t walk_length_minus_1 = EPT_LEVEL_PML4 - 1;
    if (!ept_ready(ept))
        return 0;
    return ept->pml4 | EPTP_MEMTYPE_WB | (walk_length_minus_1 << EPTP_WALK_SHIFT) |
           (enable_ad ? EPTP_ENABLE_AD : 0);
}

static void visit_leaves(const struct ept *ept, phys_addr_t table, unsigned level,
                         uint64_t base, ept_leaf_fn fn, void *ctx)
{
    const uint64_t *slots = table_virt(ept, table);
    uint64_t span = level_span(level);
    for (unsigned i = 0; i < EPT_ENTRIES; i++) {
        uint64_t e = slots[i];
        uint64_t gpa = base + (uint64_t)i * span;
        if (!entry_present(e))
            continue;
        if (entry_is_leaf(e, level))
            fn(ctx, gpa, leaf_frame(e, level), span, (unsigned)(e & EPTE_PERM_MASK));
        else
            visit_leaves(ept, e & EPTE_ADDR_MASK, level - 1, gpa, fn, ctx);
    }
}

void ept_for_each_leaf(const struct ept *ept, ept_leaf_fn fn, void *ctx)
{
    if (ept_ready(ept) && fn)
        visit_leaves(ept, ept->pml4, EPT_LEVEL_PML4, 0, fn, ctx);
}

void ept_destroy(struct ept *ept)
{
    if (!ept_ready(ept))
        return;
    free_subtree(ept, ept->pml4, EPT_LEVEL_PML4);
    ept->pml4 = PMM_NO_MEMORY;
}

/* ---- exit qualification text ------------------------------------------- */

/* Appends to a fixed buffer, truncating; the terminator is added at the end. */
struct text {
    char *buf;
    size_t size, len;
};

static void text_put(struct text *t, const char *s)
{
    for (; *s; s++)
        if (t->len + 1 < t->size)
            t->buf[t->len++] = *s;
}

static void text_right(struct text *t, const char *name, bool granted)
{
    text_put(t, name);
    text_put(t, granted ? "+" : "-");
}

/* "read", "write", "fetch" or combinations ("read/write"); SDM table 28-7
 * bits 2:0. */
static void text_access(struct text *t, uint64_t q)
{
    static const struct { uint64_t bit; const char *name; } kinds[] = {
        { EPT_VIOL_READ, "read" },
        { EPT_VIOL_WRITE, "write" },
        { EPT_VIOL_FETCH, "fetch" },
    };
    bool any = false;
    for (size_t i = 0; i < ARRAY_SIZE(kinds); i++) {
        if (!(q & kinds[i].bit))
            continue;
        if (any)
            text_put(t, "/");
        text_put(t, kinds[i].name);
        any = true;
    }
    if (!any)
        text_put(t, "access");
}

const char *ept_violation_access_string(uint64_t q, char *buf, size_t n)
{
    if (!buf || n == 0)
        return buf;
    struct text t = { buf, n, 0 };
    uint64_t rights = EPT_VIOL_READABLE | EPT_VIOL_WRITABLE | EPT_VIOL_EXECUTABLE;

    text_access(&t, q);
    /* Bits 5:3 all 0: some EPT entry of the walk was not present. */
    text_put(&t, (q & rights) ? " to a present page" : " to a not-present page");
    text_put(&t, " (gpa access: ");
    text_right(&t, "R", q & EPT_VIOL_READABLE);
    text_put(&t, " ");
    text_right(&t, "W", q & EPT_VIOL_WRITABLE);
    text_put(&t, " ");
    text_right(&t, "X", q & EPT_VIOL_EXECUTABLE);
    text_put(&t, ")");
    if (q & EPT_VIOL_LINEAR_VALID) {
        text_put(&t, ", linear address valid");
        /* Bit 8 is defined only when bit 7 is set. */
        text_put(&t, (q & EPT_VIOL_FINAL_TRANSLATION) ? ", final translation"
                                                      : ", guest paging-structure access");
    }
    t.buf[t.len] = '\0';
    return buf;
}
