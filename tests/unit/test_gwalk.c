/*
 * kernel/vm/gwalk.c: the guest page-table walker.
 *
 * Guest memory is a 32 MiB buffer at guest-physical 0 (anything above is
 * "not backed"); page tables for each paging mode are built in it by a small
 * builder here, from the entry formats of SDM Vol. 3A, 4.3 - 4.5, and
 * addresses are translated and compared.  Faults are checked for the exact
 * #PF error code (SDM 4.7), CR2 value and level.
 */
#include "helpers.h"
#include <hv/gwalk.h>

/* ---- guest memory ------------------------------------------------------------ */

#define GMEM_SIZE       (32 * MiB)
#define PT_POOL         (16 * MiB)      /* page tables are built from here up */
#define UNBACKED        (64 * MiB)      /* some guest-physical address with no memory */

static struct {
    uint8_t *mem;
    uint64_t next_table;
    unsigned reads, writes;
} gm;

static int gm_read(void *ctx, uint64_t gpa, void *buf, size_t len)
{
    assert_ptr_equal(ctx, &gm);
    gm.reads++;
    if (gpa >= GMEM_SIZE || len > GMEM_SIZE - gpa)
        return -1;
    memcpy(buf, gm.mem + gpa, len);
    return 0;
}

static int gm_write(void *ctx, uint64_t gpa, const void *buf, size_t len)
{
    assert_ptr_equal(ctx, &gm);
    gm.writes++;
    if (gpa >= GMEM_SIZE || len > GMEM_SIZE - gpa)
        return -1;
    memcpy(gm.mem + gpa, buf, len);
    return 0;
}

static int setup_gm(void **state)
{
    (void)state;
    gm.mem = calloc(1, GMEM_SIZE);
    assert_non_null(gm.mem);
    gm.next_table = PT_POOL;
    gm.reads = gm.writes = 0;
    return 0;
}

static int teardown_gm(void **state)
{
    (void)state;
    free(gm.mem);
    gm.mem = NULL;
    return 0;
}

static uint64_t get_entry(uint64_t gpa, unsigned size)
{
    uint64_t v = 0;
    assert_true(gpa + size <= GMEM_SIZE);
    memcpy(&v, gm.mem + gpa, size);
    return v;
}

static void put_entry(uint64_t gpa, uint64_t v, unsigned size)
{
    assert_true(gpa + size <= GMEM_SIZE);
    memcpy(gm.mem + gpa, &v, size);
}

static uint64_t table_alloc(void)
{
    uint64_t t = gm.next_table;
    gm.next_table += PAGE_SIZE;
    assert_true(gm.next_table <= GMEM_SIZE);
    memset(gm.mem + t, 0, PAGE_SIZE);
    return t;
}

/* ---- page-table builder ----------------------------------------------------- */

/* Entry bits (SDM 4.3 - 4.5). */
#define P       BIT(0)
#define RW      BIT(1)
#define US      BIT(2)
#define A       BIT(5)
#define D       BIT(6)
#define PS      BIT(7)
#define XD      BIT(63)
#define URW     (P | RW | US)

enum tmode { T32, TPAE, T4, T5 };

struct gpt {
    enum tmode mode;
    uint64_t cr3;       /* PAE: 32-byte aligned PDPT */
};

static unsigned t_top(enum tmode m)
{
    return m == T32 ? 2 : m == TPAE ? 3 : m == T4 ? 4 : 5;
}

static unsigned t_esize(enum tmode m)
{
    return m == T32 ? 4 : 8;
}

static uint64_t t_index(enum tmode m, uint64_t la, unsigned level)
{
    if (m == T32)
        return (la >> (12 + 10 * (level - 1))) & 0x3FF;
    if (m == TPAE && level == 3)
        return (la >> 30) & 3;
    return (la >> (12 + 9 * (level - 1))) & 0x1FF;
}

static uint64_t t_frame(enum tmode m, uint64_t e)
{
    return m == T32 ? (e & 0xFFFFF000ULL) : (e & 0x000FFFFFFFFFF000ULL);
}

static struct gpt gpt_new(enum tmode m)
{
    struct gpt t = { m, table_alloc() };
    if (m == TPAE)
        t.cr3 += 0x60;      /* PDPTs are 32-byte aligned, not page aligned */
    return t;
}

/* The table at `level` on the way to `la` (creating missing ones). */
static uint64_t table_for(const struct gpt *t, uint64_t la, unsigned level, uint64_t table_flags)
{
    uint64_t table = t->cr3;
    for (unsigned l = t_top(t->mode); l > level; l--) {
        uint64_t slot = table + t_index(t->mode, la, l) * t_esize(t->mode);
        uint64_t e = get_entry(slot, t_esize(t->mode));
        if (!(e & P)) {
            /* PAE PDPTEs: only P and the address (bits 2:1, 8:5 reserved). */
            e = table_alloc() | ((t->mode == TPAE && l == 3) ? P : table_flags);
            put_entry(slot, e, t_esize(t->mode));
        }
        table = t_frame(t->mode, e);
    }
    return table;
}

/* The guest-physical address of the entry at `level` for `la`. */
static uint64_t slot_of(const struct gpt *t, uint64_t la, unsigned level)
{
    uint64_t table = t->cr3;
    for (unsigned l = t_top(t->mode); l > level; l--) {
        uint64_t e = get_entry(table + t_index(t->mode, la, l) * t_esize(t->mode),
                               t_esize(t->mode));
        assert_true(e & P);
        table = t_frame(t->mode, e);
    }
    return table + t_index(t->mode, la, level) * t_esize(t->mode);
}

static uint64_t entry_of(const struct gpt *t, uint64_t la, unsigned level)
{
    return get_entry(slot_of(t, la, level), t_esize(t->mode));
}

static void set_bits(const struct gpt *t, uint64_t la, unsigned level, uint64_t set,
                     uint64_t clear)
{
    uint64_t slot = slot_of(t, la, level);
    uint64_t e = get_entry(slot, t_esize(t->mode));
    put_entry(slot, (e | set) & ~clear, t_esize(t->mode));
}

/* Maps `la` to `pa` with a leaf at `level`; flags as given, tables URW. */
static void gpt_map(const struct gpt *t, uint64_t la, uint64_t pa, unsigned level, uint64_t flags)
{
    uint64_t table = table_for(t, la, level, URW);
    uint64_t leaf = pa | flags;
    if (level > 1) {
        leaf |= PS;
        if (t->mode == T32)     /* 4 MiB PDE: address bits 39:32 in bits 20:13 */
            leaf = (pa & 0xFFC00000ULL) | ((pa >> 32) << 13) | PS | flags;
    }
    put_entry(table + t_index(t->mode, la, level) * t_esize(t->mode), leaf, t_esize(t->mode));
}

/* ---- guests ------------------------------------------------------------------ */

#define CR0_PE          BIT(0)

static struct gwalk_guest guest_for(const struct gpt *t)
{
    struct gwalk_guest g = {
        .cr0 = CR0_PE | GWALK_CR0_PG | GWALK_CR0_WP,
        .cr3 = t->cr3,
        .read_phys = gm_read,
        .write_phys = gm_write,
        .ctx = &gm,
    };
    switch (t->mode) {
    case T32:
        g.cr4 = GWALK_CR4_PSE;
        break;
    case TPAE:
        g.cr4 = GWALK_CR4_PAE;
        g.efer = GWALK_EFER_NXE;
        break;
    case T5:
        g.cr4 = GWALK_CR4_LA57;
        /* fall through */
    case T4:
        g.cr4 |= GWALK_CR4_PAE;
        g.efer = GWALK_EFER_LME | GWALK_EFER_LMA | GWALK_EFER_NXE;
        break;
    }
    return g;
}

/* Translation succeeds with the given address, page size and level. */
static void expect_ok(const struct gwalk_guest *g, uint64_t la, unsigned access, uint64_t gpa,
                      uint64_t size, unsigned level)
{
    struct gwalk_result r;
    struct gwalk_fault f;
    enum gwalk_status st = gwalk_translate(g, la, access, &r, &f);
    if (st != GWALK_OK)
        fail_msg("la %#llx: status %d, reason %s, level %u, ec %#x", (unsigned long long)la, st,
                 gwalk_reason_string(f.reason), f.level, f.error_code);
    if (r.gpa != gpa)
        fail_msg("la %#llx -> %#llx, expected %#llx", (unsigned long long)la,
                 (unsigned long long)r.gpa, (unsigned long long)gpa);
    assert_int_equal(r.page_size, size);
    assert_int_equal(r.level, level);
}

/* Translation raises #PF with this error code, level and reason; CR2 = la. */
static void expect_pf(const struct gwalk_guest *g, uint64_t la, unsigned access, uint32_t ec,
                      unsigned level, enum gwalk_reason reason)
{
    struct gwalk_fault f;
    enum gwalk_status st = gwalk_translate(g, la, access, NULL, &f);
    if (st != GWALK_PAGE_FAULT)
        fail_msg("la %#llx access %#x: status %d, expected #PF", (unsigned long long)la, access,
                 st);
    if (f.error_code != ec || f.level != level || f.reason != reason)
        fail_msg("la %#llx access %#x: ec %#x level %u (%s), expected ec %#x level %u (%s)",
                 (unsigned long long)la, access, f.error_code, f.level,
                 gwalk_reason_string(f.reason), ec, level, gwalk_reason_string(reason));
    assert_int_equal(f.vector, GWALK_VECTOR_PF);
    assert_int_equal(f.linear, la);
}

static void expect_gp(const struct gwalk_guest *g, uint64_t la, enum gwalk_reason reason)
{
    struct gwalk_fault f;
    assert_int_equal(gwalk_translate(g, la, GWALK_ACC_READ, NULL, &f), GWALK_GP_FAULT);
    assert_int_equal(f.vector, GWALK_VECTOR_GP);
    assert_int_equal(f.error_code, 0);
    assert_int_equal(f.linear, la);
    assert_int_equal(f.reason, reason);
}

#define EC_P    GWALK_PF_P
#define EC_W    GWALK_PF_W
#define EC_U    GWALK_PF_U
#define EC_RSVD GWALK_PF_RSVD
#define EC_I    GWALK_PF_I

#define WR      GWALK_ACC_WRITE
#define FETCH   GWALK_ACC_FETCH
#define USER    GWALK_ACC_USER

/* ---- translations per mode ----------------------------------------------------- */

static void test_paging_off(void **state)
{
    (void)state;
    struct gwalk_guest g = { .cr0 = CR0_PE, .cr4 = GWALK_CR4_PAE, .read_phys = gm_read,
                             .ctx = &gm };
    expect_ok(&g, 0x12345678, GWALK_ACC_READ, 0x12345678, PAGE_SIZE, GWALK_LEVEL_NONE);
    expect_ok(&g, 0xFFFFF000, WR | USER, 0xFFFFF000, PAGE_SIZE, GWALK_LEVEL_NONE);
    /* Linear addresses are 32 bits wide outside IA-32e mode. */
    expect_ok(&g, 0x100001234ULL, FETCH, 0x1234, PAGE_SIZE, GWALK_LEVEL_NONE);
    assert_int_equal(gm.reads, 0);
}

static void test_32bit(void **state)
{
    (void)state;
    struct gpt t = gpt_new(T32);
    struct gwalk_guest g = guest_for(&t);

    gpt_map(&t, 0x00401000, 0x00123000, 1, URW);                /* non-identity 4 KiB */
    gpt_map(&t, 0x00007000, 0x00007000, 1, URW);                /* identity 4 KiB */
    gpt_map(&t, 0x00800000, 0x00C00000, 2, URW);                /* 4 MiB */
    gpt_map(&t, 0xC0000000, 0x340000000ULL, 2, URW);            /* 4 MiB above 4 GiB (PSE-36) */
    gpt_map(&t, 0xFFFFF000, 0x00009000, 1, URW);

    expect_ok(&g, 0x00401ABC, GWALK_ACC_READ, 0x00123ABC, PAGE_SIZE, 1);
    expect_ok(&g, 0x00007FFF, WR, 0x00007FFF, PAGE_SIZE, 1);
    expect_ok(&g, 0x00ABCDEF, USER, 0x00EBCDEF, 4 * MiB, 2);
    expect_ok(&g, 0xC0123456, FETCH, 0x340123456ULL, 4 * MiB, 2);
    expect_ok(&g, 0xFFFFFFFF, GWALK_ACC_READ, 0x00009FFF, PAGE_SIZE, 1);
    /* 32-bit wrap: bit 32 and up are dropped. */
    expect_ok(&g, 0x700401ABCULL, GWALK_ACC_READ, 0x00123ABC, PAGE_SIZE, 1);

    /* MAXPHYADDR 36: PDE bits 21:17 are reserved, bit 17 would be address bit 36. */
    g.maxphyaddr = 36;
    expect_ok(&g, 0xC0000000, GWALK_ACC_READ, 0x340000000ULL, 4 * MiB, 2);
    gpt_map(&t, 0xC0400000, 0x1000000000ULL, 2, URW);          /* address bit 36 */
    expect_pf(&g, 0xC0400000, GWALK_ACC_READ, EC_P | EC_RSVD, 2, GWALK_R_RESERVED);
    g.maxphyaddr = 40;
    expect_ok(&g, 0xC0400000, GWALK_ACC_READ, 0x1000000000ULL, 4 * MiB, 2);
    /* Bit 21 is always reserved in a 4 MiB PDE. */
    set_bits(&t, 0xC0400000, 2, BIT(21), 0);
    expect_pf(&g, 0xC0400000, WR, EC_P | EC_W | EC_RSVD, 2, GWALK_R_RESERVED);

    /* Without CR4.PSE the PS bit is ignored: the PDE points to a page table
     * at 0x00C00000, whose first PTE maps 0x5000. */
    put_entry(0x00C00000, 0x5000 | URW, 4);
    g.cr4 &= ~GWALK_CR4_PSE;
    expect_ok(&g, 0x00800123, GWALK_ACC_READ, 0x5123, PAGE_SIZE, 1);

    /* No XD in 32-bit paging: bit 63 does not exist, fetches are fine. */
    expect_ok(&g, 0x00401000, FETCH, 0x00123000, PAGE_SIZE, 1);
}

static void test_pae(void **state)
{
    (void)state;
    struct gpt t = gpt_new(TPAE);
    struct gwalk_guest g = guest_for(&t);

    gpt_map(&t, 0xC0001000, 0x00456000, 1, URW);
    gpt_map(&t, 0x40200000, 0x00A00000, 2, URW);                /* 2 MiB */
    gpt_map(&t, 0x00000000, 0x00000000, 1, URW);
    gpt_map(&t, 0x80000000, 0xFFFFE00000ULL, 2, URW);           /* 2 MiB above 4 GiB */

    expect_ok(&g, 0xC0001FFF, GWALK_ACC_READ, 0x00456FFF, PAGE_SIZE, 1);
    expect_ok(&g, 0x403FFFFF, WR | USER, 0x00BFFFFF, 2 * MiB, 2);
    expect_ok(&g, 0x00000010, FETCH, 0x10, PAGE_SIZE, 1);
    expect_ok(&g, 0x80012345, GWALK_ACC_READ, 0xFFFFE12345ULL, 2 * MiB, 2);
    expect_pf(&g, 0x00001000, GWALK_ACC_READ, 0, 1, GWALK_R_NOT_PRESENT);
    expect_pf(&g, 0x40000000, GWALK_ACC_READ, 0, 2, GWALK_R_NOT_PRESENT);

    /* The processor uses its PDPTE registers, not the PDPT in memory. */
    uint64_t regs[4] = { 0, 0, 0, 0 };
    for (unsigned i = 0; i < 4; i++)
        regs[i] = get_entry(t.cr3 + 8 * i, 8);
    struct gpt other = gpt_new(TPAE);
    gpt_map(&other, 0xC0001000, 0x00777000, 1, URW);
    regs[3] = get_entry(other.cr3 + 24, 8);
    g.pdptes = regs;
    expect_ok(&g, 0xC0001234, GWALK_ACC_READ, 0x00777234, PAGE_SIZE, 1);
    expect_ok(&g, 0x40212345, GWALK_ACC_READ, 0x00A12345, 2 * MiB, 2);
    regs[1] = 0;
    expect_pf(&g, 0x40212345, WR, EC_W, 3, GWALK_R_NOT_PRESENT);

    /* A present PDPTE with reserved bits could never have been loaded. */
    regs[1] = get_entry(t.cr3 + 8, 8) | BIT(1);
    expect_gp(&g, 0x40212345, GWALK_R_PDPTE_RESERVED);
    g.pdptes = NULL;
    set_bits(&t, 0x40200000, 3, BIT(5), 0);
    expect_gp(&g, 0x40212345, GWALK_R_PDPTE_RESERVED);
}

static void test_4level(void **state)
{
    (void)state;
    struct gpt t = gpt_new(T4);
    struct gwalk_guest g = guest_for(&t);

    gpt_map(&t, 0xFFFF800000001000ULL, 0x3000, 1, URW);
    gpt_map(&t, 0x00007FFFFFE00000ULL, 0x40000000, 2, URW);
    gpt_map(&t, 0xFFFFFFFFC0000000ULL, 0x100000000ULL, 3, URW);
    gpt_map(&t, 0x0000000000200000ULL, 0x200000, 2, URW);       /* identity */
    gpt_map(&t, 0x0000000000001000ULL, 0x1000, 1, URW);

    expect_ok(&g, 0xFFFF800000001ABCULL, GWALK_ACC_READ, 0x3ABC, PAGE_SIZE, 1);
    expect_ok(&g, 0x00007FFFFFFFFFFFULL, WR, 0x401FFFFF, 2 * MiB, 2);
    expect_ok(&g, 0xFFFFFFFFFFFFFFFFULL, USER, 0x13FFFFFFFULL, GiB, 3);
    expect_ok(&g, 0xFFFFFFFFC0000000ULL, FETCH, 0x100000000ULL, GiB, 3);
    expect_ok(&g, 0x0000000000300000ULL, GWALK_ACC_READ, 0x300000, 2 * MiB, 2);
    expect_ok(&g, 0x0000000000001001ULL, GWALK_ACC_READ, 0x1001, PAGE_SIZE, 1);

    /* Canonical means bits 63:47 equal (SDM Vol. 3A, 3.3.7.1). */
    expect_gp(&g, 0x0000800000000000ULL, GWALK_R_NON_CANONICAL);
    expect_gp(&g, 0xFFFF7FFFFFFFF000ULL, GWALK_R_NON_CANONICAL);
    expect_gp(&g, 0x00FF800000001000ULL, GWALK_R_NON_CANONICAL);
    expect_pf(&g, 0x0000000000002000ULL, GWALK_ACC_READ, 0, 1, GWALK_R_NOT_PRESENT);

    /* LMA alone (as the VMCS reports it) is enough. */
    g.efer &= ~GWALK_EFER_LME;
    expect_ok(&g, 0xFFFF800000001ABCULL, GWALK_ACC_READ, 0x3ABC, PAGE_SIZE, 1);
}

static void test_5level(void **state)
{
    (void)state;
    struct gpt t = gpt_new(T5);
    struct gwalk_guest g = guest_for(&t);
    uint64_t low = 0x00FF800012345000ULL;       /* needs 57-bit addresses */

    gpt_map(&t, low, 0x00ABC000, 1, URW);
    gpt_map(&t, 0xFF00000000200000ULL, 0x600000, 2, URW);
    gpt_map(&t, 0xFFFFFFFFC0000000ULL, 0x2C0000000ULL, 3, URW);

    expect_ok(&g, low + 0x123, GWALK_ACC_READ, 0x00ABC123, PAGE_SIZE, 1);
    expect_ok(&g, 0xFF000000002FFFFFULL, WR, 0x6FFFFF, 2 * MiB, 2);
    expect_ok(&g, 0xFFFFFFFFC1234567ULL, FETCH, 0x2C1234567ULL, GiB, 3);

    /* Canonical means bits 63:56 equal. */
    expect_gp(&g, 0x0100000000000000ULL, GWALK_R_NON_CANONICAL);
    expect_gp(&g, 0xFEFFFFFFFFFFF000ULL, GWALK_R_NON_CANONICAL);

    /* The same tables without LA57 are walked as 4-level paging from the
     * PML5 (so the address is non-canonical there). */
    g.cr4 &= ~GWALK_CR4_LA57;
    expect_gp(&g, low, GWALK_R_NON_CANONICAL);

    /* PS is reserved in PML5Es. */
    g.cr4 |= GWALK_CR4_LA57;
    set_bits(&t, low, 5, PS, 0);
    expect_pf(&g, low, GWALK_ACC_READ, EC_P | EC_RSVD, 5, GWALK_R_RESERVED);
}

/* ---- faults ---------------------------------------------------------------------- */

/* For every mode and every level: clearing P there gives #PF with P = 0. */
static void test_not_present_each_level(void **state)
{
    (void)state;
    static const struct { unsigned access; uint32_t ec; } accesses[] = {
        { GWALK_ACC_READ, 0 },
        { WR, EC_W },
        { USER, EC_U },
        { WR | USER, EC_W | EC_U },
        { FETCH, EC_I },
        { FETCH | USER, EC_I | EC_U },
    };
    static const uint64_t las[] = { 0x0000000080403000ULL, 0x0000000080403000ULL,
                                    0xFFFF876543210000ULL, 0xFF12345678901000ULL };

    for (enum tmode m = T32; m <= T5; m++) {
        for (unsigned level = 1; level <= t_top(m); level++) {
            gm.next_table = PT_POOL;
            struct gpt t = gpt_new(m);
            struct gwalk_guest g = guest_for(&t);
            uint64_t la = las[m];
            gpt_map(&t, la, 0x5000, 1, URW);
            expect_ok(&g, la, GWALK_ACC_READ, 0x5000, PAGE_SIZE, 1);
            set_bits(&t, la, level, 0, P);
            if (m == T32)
                g.efer |= GWALK_EFER_NXE;   /* no effect without CR4.PAE */
            for (size_t i = 0; i < ARRAY_SIZE(accesses); i++) {
                /* I/D needs NXE with CR4.PAE, or SMEP: not in 32-bit paging here. */
                uint32_t ec = accesses[i].ec;
                if (m == T32)
                    ec &= ~EC_I;
                expect_pf(&g, la, accesses[i].access, ec, level, GWALK_R_NOT_PRESENT);
            }
            /* Without NXE and SMEP, no I/D either. */
            g.efer &= ~GWALK_EFER_NXE;
            expect_pf(&g, la, FETCH, 0, level, GWALK_R_NOT_PRESENT);
        }
    }
}

static void test_write_protect(void **state)
{
    (void)state;
    for (enum tmode m = T32; m <= T5; m += 2) {     /* 32-bit and 4-level */
        gm.next_table = PT_POOL;
        struct gpt t = gpt_new(m);
        struct gwalk_guest g = guest_for(&t);
        uint64_t la = 0x00C03000;
        gpt_map(&t, la, 0x8000, 1, P | US);          /* read-only leaf */

        expect_ok(&g, la, GWALK_ACC_READ, 0x8000, PAGE_SIZE, 1);
        expect_ok(&g, la, USER, 0x8000, PAGE_SIZE, 1);
        expect_pf(&g, la, WR, EC_P | EC_W, 1, GWALK_R_READ_ONLY);
        expect_pf(&g, la, WR | USER, EC_P | EC_W | EC_U, 1, GWALK_R_READ_ONLY);
        /* CR0.WP = 0: supervisor writes ignore R/W, user writes do not. */
        g.cr0 &= ~GWALK_CR0_WP;
        expect_ok(&g, la, WR, 0x8000, PAGE_SIZE, 1);
        expect_pf(&g, la, WR | USER, EC_P | EC_W | EC_U, 1, GWALK_R_READ_ONLY);

        /* Read-only higher up: R/W is ANDed over the walk. */
        g.cr0 |= GWALK_CR0_WP;
        set_bits(&t, la, 1, RW, 0);
        expect_ok(&g, la, WR, 0x8000, PAGE_SIZE, 1);
        unsigned top = t_top(m);
        set_bits(&t, la, top, 0, RW);
        expect_pf(&g, la, WR, EC_P | EC_W, top, GWALK_R_READ_ONLY);
        struct gwalk_result r;
        assert_int_equal(gwalk_translate(&g, la, GWALK_ACC_READ, &r, NULL), GWALK_OK);
        assert_false(r.writable);
        assert_true(r.user);
    }
}

static void test_user_supervisor(void **state)
{
    (void)state;
    struct gpt t = gpt_new(T4);
    struct gwalk_guest g = guest_for(&t);
    uint64_t la = 0x00007F0000001000ULL;
    gpt_map(&t, la, 0x9000, 1, P | RW);              /* supervisor leaf */

    expect_ok(&g, la, GWALK_ACC_READ, 0x9000, PAGE_SIZE, 1);
    expect_ok(&g, la, WR, 0x9000, PAGE_SIZE, 1);
    expect_pf(&g, la, USER, EC_P | EC_U, 1, GWALK_R_USER_SUPERVISOR);
    expect_pf(&g, la, USER | WR, EC_P | EC_U | EC_W, 1, GWALK_R_USER_SUPERVISOR);
    expect_pf(&g, la, USER | FETCH, EC_P | EC_U | EC_I, 1, GWALK_R_USER_SUPERVISOR);

    /* U/S = 0 in the PML4E alone is enough; the level reported is 4. */
    set_bits(&t, la, 1, US, 0);
    expect_ok(&g, la, USER, 0x9000, PAGE_SIZE, 1);
    set_bits(&t, la, 4, 0, US);
    expect_pf(&g, la, USER, EC_P | EC_U, 4, GWALK_R_USER_SUPERVISOR);
    /* Supervisor-only in the PDPTE and read-only in the PDE. */
    set_bits(&t, la, 4, US, 0);
    set_bits(&t, la, 3, 0, US);
    set_bits(&t, la, 2, 0, RW);
    expect_pf(&g, la, USER | WR, EC_P | EC_U | EC_W, 3, GWALK_R_USER_SUPERVISOR);
    expect_pf(&g, la, WR, EC_P | EC_W, 2, GWALK_R_READ_ONLY);
}

static void test_nx(void **state)
{
    (void)state;
    for (enum tmode m = TPAE; m <= T4; m++) {
        gm.next_table = PT_POOL;
        struct gpt t = gpt_new(m);
        struct gwalk_guest g = guest_for(&t);
        uint64_t la = 0x00600000;
        gpt_map(&t, la, 0xA000, 1, URW | XD);
        gpt_map(&t, la + 0x1000, 0xB000, 1, URW);

        expect_ok(&g, la, GWALK_ACC_READ, 0xA000, PAGE_SIZE, 1);
        expect_ok(&g, la, WR | USER, 0xA000, PAGE_SIZE, 1);
        expect_pf(&g, la, FETCH, EC_P | EC_I, 1, GWALK_R_NX);
        expect_pf(&g, la, FETCH | USER, EC_P | EC_I | EC_U, 1, GWALK_R_NX);
        expect_ok(&g, la + 0x1000, FETCH, 0xB000, PAGE_SIZE, 1);
        struct gwalk_result r;
        assert_int_equal(gwalk_translate(&g, la, GWALK_ACC_READ, &r, NULL), GWALK_OK);
        assert_false(r.executable);

        /* XD in the PD entry covers the whole 2 MiB. */
        set_bits(&t, la + 0x1000, 2, XD, 0);
        expect_pf(&g, la + 0x1000, FETCH, EC_P | EC_I, 2, GWALK_R_NX);

        /* With EFER.NXE = 0, bit 63 is reserved. */
        g.efer &= ~GWALK_EFER_NXE;
        expect_pf(&g, la + 0x1000, GWALK_ACC_READ, EC_P | EC_RSVD, 2, GWALK_R_RESERVED);
        expect_pf(&g, la + 0x1000, FETCH, EC_P | EC_RSVD, 2, GWALK_R_RESERVED);
    }
}

static void test_reserved_bits(void **state)
{
    (void)state;
    struct gpt t = gpt_new(T4);
    struct gwalk_guest g = guest_for(&t);
    uint64_t la4k = 0x1000, la2m = 0x40000000, la1g = 0x80000000;
    gpt_map(&t, la4k, 0x200000000000ULL | 0x5000, 1, URW);      /* address bit 45 */
    gpt_map(&t, la2m, 0x600000, 2, URW);
    gpt_map(&t, la1g, 0xC0000000, 3, URW);

    /* MAXPHYADDR 52: bit 45 is an address bit. */
    expect_ok(&g, la4k, GWALK_ACC_READ, 0x200000005000ULL, PAGE_SIZE, 1);
    /* MAXPHYADDR 40: bits 51:40 are reserved. */
    g.maxphyaddr = 40;
    expect_pf(&g, la4k, GWALK_ACC_READ, EC_P | EC_RSVD, 1, GWALK_R_RESERVED);
    expect_pf(&g, la4k, WR | USER, EC_P | EC_RSVD | EC_W | EC_U, 1, GWALK_R_RESERVED);
    expect_pf(&g, la4k, FETCH, EC_P | EC_RSVD | EC_I, 1, GWALK_R_RESERVED);

    /* Large-page alignment bits: 2 MiB PDE bits 20:13, 1 GiB PDPTE 29:13. */
    expect_ok(&g, la2m, GWALK_ACC_READ, 0x600000, 2 * MiB, 2);
    set_bits(&t, la2m, 2, BIT(13), 0);
    expect_pf(&g, la2m, GWALK_ACC_READ, EC_P | EC_RSVD, 2, GWALK_R_RESERVED);
    set_bits(&t, la2m, 2, BIT(20), BIT(13));
    expect_pf(&g, la2m, GWALK_ACC_READ, EC_P | EC_RSVD, 2, GWALK_R_RESERVED);
    expect_ok(&g, la1g, GWALK_ACC_READ, 0xC0000000, GiB, 3);
    set_bits(&t, la1g, 3, BIT(29), 0);
    expect_pf(&g, la1g, GWALK_ACC_READ, EC_P | EC_RSVD, 3, GWALK_R_RESERVED);

    /* PS in a PML4E is reserved. */
    set_bits(&t, la2m, 4, PS, 0);
    expect_pf(&g, la2m, GWALK_ACC_READ, EC_P | EC_RSVD, 4, GWALK_R_RESERVED);
    set_bits(&t, la2m, 4, 0, PS);

    /* Bits 62:52 are ignored in IA-32e entries but reserved under PAE. */
    set_bits(&t, la2m, 2, BIT(60), BIT(20));
    expect_ok(&g, la2m, GWALK_ACC_READ, 0x600000, 2 * MiB, 2);
    gm.next_table = PT_POOL + 64 * PAGE_SIZE;
    struct gpt p = gpt_new(TPAE);
    struct gwalk_guest gp = guest_for(&p);
    gpt_map(&p, la2m, 0x600000, 2, URW | BIT(60));
    expect_pf(&gp, la2m, GWALK_ACC_READ, EC_P | EC_RSVD, 2, GWALK_R_RESERVED);

    /* A not-present entry's other bits do not matter: P = 0, no RSVD. */
    set_bits(&t, la2m, 2, BIT(13), P);
    expect_pf(&g, la2m, GWALK_ACC_READ, 0, 2, GWALK_R_NOT_PRESENT);
}

static void test_smep_smap(void **state)
{
    (void)state;
    struct gpt t = gpt_new(T4);
    struct gwalk_guest g = guest_for(&t);
    uint64_t user_la = 0x400000, sup_la = 0xFFFFFFFF80000000ULL;
    gpt_map(&t, user_la, 0xC000, 1, URW);
    gpt_map(&t, sup_la, 0xD000, 1, P | RW);
    g.efer &= ~GWALK_EFER_NXE;          /* I/D must come from SMEP alone */

    expect_ok(&g, user_la, FETCH, 0xC000, PAGE_SIZE, 1);
    g.cr4 |= GWALK_CR4_SMEP;
    expect_pf(&g, user_la, FETCH, EC_P | EC_I, 1, GWALK_R_SMEP);
    expect_ok(&g, user_la, FETCH | USER, 0xC000, PAGE_SIZE, 1);
    expect_ok(&g, sup_la, FETCH, 0xD000, PAGE_SIZE, 1);
    expect_ok(&g, user_la, GWALK_ACC_READ, 0xC000, PAGE_SIZE, 1);
    /* Not present with SMEP: I/D is set too. */
    expect_pf(&g, user_la + 0x1000, FETCH, EC_I, 1, GWALK_R_NOT_PRESENT);

    g.cr4 |= GWALK_CR4_SMAP;
    expect_pf(&g, user_la, GWALK_ACC_READ, EC_P, 1, GWALK_R_SMAP);
    expect_pf(&g, user_la, WR, EC_P | EC_W, 1, GWALK_R_SMAP);
    expect_ok(&g, user_la, USER | WR, 0xC000, PAGE_SIZE, 1);
    expect_ok(&g, sup_la, WR, 0xD000, PAGE_SIZE, 1);
    g.rflags = GWALK_RFLAGS_AC;         /* explicit accesses with AC = 1 pass */
    expect_ok(&g, user_la, GWALK_ACC_READ, 0xC000, PAGE_SIZE, 1);
    expect_ok(&g, user_la, WR, 0xC000, PAGE_SIZE, 1);
    /* AC does not lift SMEP. */
    expect_pf(&g, user_la, FETCH, EC_P | EC_I, 1, GWALK_R_SMEP);
}

/* ---- accessed and dirty flags ---------------------------------------------- */

static void test_accessed_dirty(void **state)
{
    (void)state;
    struct gpt t = gpt_new(T4);
    struct gwalk_guest g = guest_for(&t);
    uint64_t la = 0x7000, la2m = 0x40000000;
    gpt_map(&t, la, 0x5000, 1, URW);
    gpt_map(&t, la2m, 0x800000, 2, URW);
    gpt_map(&t, la + 0x1000, 0x6000, 1, P | US);      /* read-only */

    /* A faulting access changes nothing. */
    expect_pf(&g, la + 0x1000, WR, EC_P | EC_W, 1, GWALK_R_READ_ONLY);
    for (unsigned l = 1; l <= 4; l++)
        assert_int_equal(entry_of(&t, la + 0x1000, l) & (A | D), 0);

    /* A read sets A at every level, D nowhere. */
    expect_ok(&g, la, GWALK_ACC_READ, 0x5000, PAGE_SIZE, 1);
    for (unsigned l = 1; l <= 4; l++)
        assert_int_equal(entry_of(&t, la, l) & (A | D), A);

    /* A write sets D in the leaf only; nothing is rewritten when already set. */
    expect_ok(&g, la, WR, 0x5000, PAGE_SIZE, 1);
    assert_int_equal(entry_of(&t, la, 1) & (A | D), A | D);
    for (unsigned l = 2; l <= 4; l++)
        assert_int_equal(entry_of(&t, la, l) & (A | D), A);
    unsigned writes = gm.writes;
    expect_ok(&g, la, WR, 0x5000, PAGE_SIZE, 1);
    assert_int_equal(gm.writes, writes);

    /* A 2 MiB page: its PDE is the leaf that gets D; the rest is intact. */
    uint64_t pde = entry_of(&t, la2m, 2);
    expect_ok(&g, la2m, WR, 0x800000, 2 * MiB, 2);
    assert_int_equal(entry_of(&t, la2m, 2), pde | A | D);
    assert_int_equal(entry_of(&t, la2m, 3) & (A | D), A);

    /* Without write_phys the walk is read-only. */
    gpt_map(&t, la + 0x2000, 0x7000, 1, URW);
    g.write_phys = NULL;
    expect_ok(&g, la + 0x2000, WR, 0x7000, PAGE_SIZE, 1);
    assert_int_equal(entry_of(&t, la + 0x2000, 1) & (A | D), 0);

    /* PAE: PDPTEs have no A bit (bit 5 is reserved); PDE and PTE get A/D. */
    gm.next_table = PT_POOL + 64 * PAGE_SIZE;
    struct gpt p = gpt_new(TPAE);
    struct gwalk_guest gp = guest_for(&p);
    gpt_map(&p, la, 0x5000, 1, URW);
    uint64_t pdpte = entry_of(&p, la, 3);
    expect_ok(&gp, la, WR, 0x5000, PAGE_SIZE, 1);
    assert_int_equal(entry_of(&p, la, 3), pdpte);
    assert_int_equal(entry_of(&p, la, 2) & (A | D), A);
    assert_int_equal(entry_of(&p, la, 1) & (A | D), A | D);

    /* 32-bit paging: 4-byte entries, same bits. */
    gm.next_table = PT_POOL + 128 * PAGE_SIZE;
    struct gpt q = gpt_new(T32);
    struct gwalk_guest gq = guest_for(&q);
    gpt_map(&q, la, 0x5000, 1, URW);
    gpt_map(&q, 0x00800000, 0x00400000, 2, URW);
    expect_ok(&gq, la, WR, 0x5000, PAGE_SIZE, 1);
    assert_int_equal(entry_of(&q, la, 2) & (A | D), A);
    assert_int_equal(entry_of(&q, la, 1) & (A | D), A | D);
    expect_ok(&gq, 0x00800000, WR, 0x00400000, 4 * MiB, 2);
    assert_int_equal(entry_of(&q, 0x00800000, 2) & (A | D), A | D);
}

/* ---- copies ------------------------------------------------------------------ */

static void fill_pattern(uint64_t gpa, size_t len, uint8_t seed)
{
    for (size_t i = 0; i < len; i++)
        gm.mem[gpa + i] = (uint8_t)(seed + i * 7);
}

static void test_copy(void **state)
{
    (void)state;
    struct gpt t = gpt_new(T4);
    struct gwalk_guest g = guest_for(&t);
    uint64_t la = 0x400000;
    gpt_map(&t, la, 0x100000, 1, URW);
    gpt_map(&t, la + 0x1000, 0x300000, 1, URW);       /* not contiguous in memory */
    /* la + 0x2000 not present */
    gpt_map(&t, la + 0x3000, UNBACKED, 1, URW);
    gpt_map(&t, la + 0x4000, 0x500000, 1, P | US);    /* read-only */
    fill_pattern(0x100000, PAGE_SIZE, 1);
    fill_pattern(0x300000, PAGE_SIZE, 2);

    uint8_t buf[0x40], want[0x40];
    size_t copied = 99;
    struct gwalk_fault f;

    /* Across a page boundary, each page translated separately. */
    assert_int_equal(gwalk_copy_from_guest(&g, buf, la + 0xFF0, 0x20, 0, &copied, &f), GWALK_OK);
    assert_int_equal(copied, 0x20);
    memcpy(want, gm.mem + 0x100FF0, 0x10);
    memcpy(want + 0x10, gm.mem + 0x300000, 0x10);
    assert_memory_equal(buf, want, 0x20);

    /* The second page is not present: 8 bytes copied, CR2 = its start. */
    memset(buf, 0xEE, sizeof(buf));
    assert_int_equal(gwalk_copy_from_guest(&g, buf, la + 0x1FF8, 0x10, 0, &copied, &f),
                     GWALK_PAGE_FAULT);
    assert_int_equal(copied, 8);
    assert_memory_equal(buf, gm.mem + 0x300FF8, 8);
    assert_int_equal(buf[8], 0xEE);
    assert_int_equal(f.linear, la + 0x2000);
    assert_int_equal(f.error_code, 0);
    assert_int_equal(f.level, 1);
    assert_int_equal(f.reason, GWALK_R_NOT_PRESENT);

    /* The same for a user-mode write: error code W|U, first half written. */
    uint8_t src[0x10];
    memset(src, 0x5A, sizeof(src));
    assert_int_equal(gwalk_copy_to_guest(&g, la + 0x1FFC, src, 8, USER, &copied, &f),
                     GWALK_PAGE_FAULT);
    assert_int_equal(copied, 4);
    assert_memory_equal(gm.mem + 0x300FFC, src, 4);
    assert_int_equal(f.linear, la + 0x2000);
    assert_int_equal(f.error_code, EC_W | EC_U);
    /* The page written got its dirty flag. */
    assert_int_equal(entry_of(&t, la + 0x1000, 1) & (A | D), A | D);

    /* A whole multi-page write and read back. */
    uint8_t big[0x1800], back[0x1800];
    for (size_t i = 0; i < sizeof(big); i++)
        big[i] = (uint8_t)(i * 13 + 5);
    assert_int_equal(gwalk_copy_to_guest(&g, la + 0x400, big, sizeof(big), 0, &copied, &f),
                     GWALK_OK);
    assert_int_equal(copied, sizeof(big));
    assert_memory_equal(gm.mem + 0x100400, big, 0xC00);
    assert_memory_equal(gm.mem + 0x300000, big + 0xC00, 0xC00);
    assert_int_equal(gwalk_copy_from_guest(&g, back, la + 0x400, sizeof(back), USER, &copied,
                                           NULL), GWALK_OK);
    assert_memory_equal(back, big, sizeof(big));

    /* Mapped to memory that does not exist. */
    assert_int_equal(gwalk_copy_from_guest(&g, buf, la + 0x3010, 4, 0, &copied, &f),
                     GWALK_PHYS_ERROR);
    assert_int_equal(copied, 0);
    assert_int_equal(f.gpa, UNBACKED + 0x10);
    assert_int_equal(f.linear, la + 0x3010);
    assert_int_equal(f.reason, GWALK_R_UNBACKED);

    /* Read-only page: the write faults before writing anything. */
    assert_int_equal(gwalk_copy_to_guest(&g, la + 0x4000, src, 4, 0, &copied, &f),
                     GWALK_PAGE_FAULT);
    assert_int_equal(copied, 0);
    assert_int_equal(f.error_code, EC_P | EC_W);
    assert_int_equal(gm.mem[0x500000], 0);
    /* ... and copy_from ignores a write flag. */
    assert_int_equal(gwalk_copy_from_guest(&g, buf, la + 0x4000, 4, WR, &copied, &f), GWALK_OK);

    /* Fetches use the fetch rules. */
    set_bits(&t, la, 1, XD, 0);
    assert_int_equal(gwalk_copy_from_guest(&g, buf, la + 0xFFE, 4, FETCH, &copied, &f),
                     GWALK_PAGE_FAULT);
    assert_int_equal(copied, 0);
    assert_int_equal(f.error_code, EC_P | EC_I);

    /* Edge cases. */
    assert_int_equal(gwalk_copy_from_guest(&g, NULL, la, 0, 0, &copied, &f), GWALK_OK);
    assert_int_equal(copied, 0);
    g.write_phys = NULL;
    assert_int_equal(gwalk_copy_to_guest(&g, la, src, 4, 0, &copied, &f), GWALK_BAD_ARGS);
    assert_int_equal(gwalk_copy_from_guest(NULL, buf, la, 4, 0, &copied, &f), GWALK_BAD_ARGS);
}

/* A guest paging structure in memory that does not exist. */
static void test_unbacked_tables(void **state)
{
    (void)state;
    struct gpt t = gpt_new(T4);
    struct gwalk_guest g = guest_for(&t);
    uint64_t la = 0x8000000000ULL;                      /* PML4 slot 1 */
    put_entry(t.cr3 + 8, UNBACKED | URW, 8);
    struct gwalk_fault f;
    assert_int_equal(gwalk_translate(&g, la, GWALK_ACC_READ, NULL, &f), GWALK_PHYS_ERROR);
    assert_int_equal(f.gpa, UNBACKED);
    assert_int_equal(f.level, 3);
    assert_int_equal(f.linear, la);

    g.cr3 = UNBACKED;
    assert_int_equal(gwalk_translate(&g, 0, GWALK_ACC_READ, NULL, &f), GWALK_PHYS_ERROR);
    assert_int_equal(f.gpa, UNBACKED);
    assert_int_equal(f.level, 4);
}

static void test_bad_args(void **state)
{
    (void)state;
    struct gpt t = gpt_new(T4);
    struct gwalk_guest g = guest_for(&t);
    assert_int_equal(gwalk_translate(NULL, 0, 0, NULL, NULL), GWALK_BAD_ARGS);
    assert_int_equal(gwalk_translate(&g, 0, WR | FETCH, NULL, NULL), GWALK_BAD_ARGS);
    assert_int_equal(gwalk_translate(&g, 0, BIT(7), NULL, NULL), GWALK_BAD_ARGS);
    g.maxphyaddr = 53;
    assert_int_equal(gwalk_translate(&g, 0, 0, NULL, NULL), GWALK_BAD_ARGS);
    g.maxphyaddr = 20;
    assert_int_equal(gwalk_translate(&g, 0, 0, NULL, NULL), GWALK_BAD_ARGS);
    g.maxphyaddr = 0;
    g.read_phys = NULL;
    assert_int_equal(gwalk_translate(&g, 0, 0, NULL, NULL), GWALK_BAD_ARGS);

    for (int r = GWALK_R_NONE; r <= GWALK_R_UNBACKED; r++) {
        const char *s = gwalk_reason_string((enum gwalk_reason)r);
        assert_non_null(s);
        assert_true(strlen(s) > 0);
        assert_string_not_equal(s, "unknown");
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_paging_off, setup_gm, teardown_gm),
        cmocka_unit_test_setup_teardown(test_32bit, setup_gm, teardown_gm),
        cmocka_unit_test_setup_teardown(test_pae, setup_gm, teardown_gm),
        cmocka_unit_test_setup_teardown(test_4level, setup_gm, teardown_gm),
        cmocka_unit_test_setup_teardown(test_5level, setup_gm, teardown_gm),
        cmocka_unit_test_setup_teardown(test_not_present_each_level, setup_gm, teardown_gm),
        cmocka_unit_test_setup_teardown(test_write_protect, setup_gm, teardown_gm),
        cmocka_unit_test_setup_teardown(test_user_supervisor, setup_gm, teardown_gm),
        cmocka_unit_test_setup_teardown(test_nx, setup_gm, teardown_gm),
        cmocka_unit_test_setup_teardown(test_reserved_bits, setup_gm, teardown_gm),
        cmocka_unit_test_setup_teardown(test_smep_smap, setup_gm, teardown_gm),
        cmocka_unit_test_setup_teardown(test_accessed_dirty, setup_gm, teardown_gm),
        cmocka_unit_test_setup_teardown(test_copy, setup_gm, teardown_gm),
        cmocka_unit_test_setup_teardown(test_unbacked_tables, setup_gm, teardown_gm),
        cmocka_unit_test_setup_teardown(test_bad_args, setup_gm, teardown_gm),
    };
    return cmocka_run_group_tests_name("gwalk", tests, NULL, NULL);
}
