/*
 * kernel/acpi/tables.c: RSDP validation, table lookup through the RSDT and
 * the XSDT, and MADT parsing.
 *
 * Table lookup runs on a fake physical address space (a list of regions the
 * map callback resolves) holding real tables captured from QEMU, Bochs and
 * Firecracker (tests/fixtures/acpi, see its README.md).  The MADT parser is
 * checked on those real tables and on malformed ones built here.
 */
#include "helpers.h"
#include <hv/acpi.h>

/* ---- checksums and table builders ---------------------------------------- */

static uint8_t sum8(const uint8_t *p, size_t n)
{
    uint8_t s = 0;
    for (size_t i = 0; i < n; i++)
        s += p[i];
    return s;
}

/* Sets byte `at` so that the first `n` bytes sum to zero. */
static void fix_checksum(uint8_t *p, size_t n, size_t at)
{
    p[at] = 0;
    p[at] = (uint8_t)(0x100 - sum8(p, n));
}

/* An SDT header; length and checksum are set by sdt_finish. */
static void sdt_begin(struct bytebuf *b, const char sig[4], uint8_t rev)
{
    memset(b, 0, sizeof(*b));
    bb_put(b, sig, 4);
    bb_u32(b, 0);
    bb_u8(b, rev);
    bb_u8(b, 0);
    bb_put(b, "HVTEST", 6);
    bb_put(b, "UNITTEST", 8);
    bb_u32(b, 1);
    bb_put(b, "HVT ", 4);
    bb_u32(b, 1);
}

static void sdt_finish(struct bytebuf *b)
{
    bb_set_u32(b, 4, (uint32_t)b->len);
    fix_checksum(b->data, b->len, 9);
}

/* ---- fake physical memory ---------------------------------------------------- */

#define MAX_REGIONS 16

struct fake_mem {
    struct { phys_addr_t phys; size_t len; uint8_t *data; } r[MAX_REGIONS];
    size_t n;
    unsigned map_calls;
};

static struct fake_mem mem;

/* Places an exact-size copy of `data` at `phys`; returns the copy. */
static uint8_t *mem_add(phys_addr_t phys, const void *data, size_t len)
{
    assert_true(mem.n < MAX_REGIONS);
    uint8_t *copy = exact_copy(data, len);
    mem.r[mem.n].phys = phys;
    mem.r[mem.n].len = len;
    mem.r[mem.n].data = copy;
    mem.n++;
    return copy;
}

static const void *fake_map(void *ctx, phys_addr_t phys, size_t len)
{
    struct fake_mem *m = ctx;
    assert_ptr_equal(m, &mem);
    m->map_calls++;
    for (size_t i = 0; i < m->n; i++)
        if (phys >= m->r[i].phys && phys - m->r[i].phys <= m->r[i].len &&
            len <= m->r[i].len - (phys - m->r[i].phys))
            return m->r[i].data + (phys - m->r[i].phys);
    return NULL;
}

static int reset_mem(void **state)
{
    (void)state;
    for (size_t i = 0; i < mem.n; i++)
        free(mem.r[i].data);
    memset(&mem, 0, sizeof(mem));
    return 0;
}

/* ---- RSDP ------------------------------------------------------------------- */

static void make_rsdp(struct acpi_rsdp *r, int revision, uint32_t rsdt, uint64_t xsdt)
{
    memset(r, 0, sizeof(*r));
    memcpy(r->signature, "RSD PTR ", 8);
    memcpy(r->oem_id, "HVTEST", 6);
    r->revision = (uint8_t)revision;
    r->rsdt_address = rsdt;
    if (revision >= 2) {
        r->length = sizeof(*r);
        r->xsdt_address = xsdt;
        fix_checksum((uint8_t *)r, sizeof(*r), offsetof(struct acpi_rsdp, extended_checksum));
    }
    fix_checksum((uint8_t *)r, 20, offsetof(struct acpi_rsdp, checksum));
    if (revision >= 2)
        fix_checksum((uint8_t *)r, sizeof(*r), offsetof(struct acpi_rsdp, extended_checksum));
}

static void test_checksum(void **state)
{
    (void)state;
    uint8_t b[64];
    for (size_t i = 0; i < sizeof(b); i++)
        b[i] = (uint8_t)(i * 37 + 11);
    fix_checksum(b, sizeof(b), 17);
    assert_true(acpi_checksum_ok(b, sizeof(b)));
    b[40]++;
    assert_false(acpi_checksum_ok(b, sizeof(b)));
    b[41]--;
    assert_true(acpi_checksum_ok(b, sizeof(b)));      /* compensating changes */
    assert_true(acpi_checksum_ok(b, 0));
    uint8_t z = 0, one = 1;
    assert_true(acpi_checksum_ok(&z, 1));
    assert_false(acpi_checksum_ok(&one, 1));
    /* Every real fixture checksums to zero as a whole. */
    static const char *const fixtures[] = {
        "acpi/madt-firecracker.bin", "acpi/madt-qemu-4cpu.bin", "acpi/madt-bochs-4cpu.bin",
        "acpi/fadt-qemu.bin",
    };
    for (size_t i = 0; i < ARRAY_SIZE(fixtures); i++) {
        size_t len;
        uint8_t *t = load_fixture(fixtures[i], &len);
        assert_true(acpi_checksum_ok(t, len));
        uint32_t tlen;
        memcpy(&tlen, t + 4, 4);
        assert_int_equal(tlen, len);
        free(t);
    }
}

static void test_rsdp_valid(void **state)
{
    (void)state;
    const char *err = NULL;
    struct acpi_rsdp r;

    make_rsdp(&r, 0, 0x7fe14a0, 0);
    struct acpi_rsdp *v1 = exact_copy(&r, 20);       /* an ACPI 1.0 RSDP is 20 bytes */
    assert_int_equal(acpi_check_rsdp(v1, 20, &err), 0);
    free(v1);

    make_rsdp(&r, 2, 0x7fe14a0, 0x7fe1500);
    struct acpi_rsdp *v2 = exact_copy(&r, sizeof(r));
    assert_int_equal(acpi_check_rsdp(v2, sizeof(r), &err), 0);
    /* More readable bytes than the RSDP's length is fine. */
    uint8_t big[64] = { 0 };
    memcpy(big, &r, sizeof(r));
    assert_int_equal(acpi_check_rsdp((struct acpi_rsdp *)big, sizeof(big), &err), 0);
    free(v2);
}

static void expect_rsdp_bad(const struct acpi_rsdp *r, size_t len)
{
    const char *err = NULL;
    void *copy = exact_copy(r, len);
    assert_int_equal(acpi_check_rsdp(copy, len, &err), -1);
    assert_non_null(err);
    free(copy);
}

static void test_rsdp_invalid(void **state)
{
    (void)state;
    struct acpi_rsdp r;

    make_rsdp(&r, 0, 0x1000, 0);
    r.signature[7] = '_';
    fix_checksum((uint8_t *)&r, 20, 8);                /* checksum right, signature wrong */
    expect_rsdp_bad(&r, 20);

    make_rsdp(&r, 0, 0x1000, 0);
    r.checksum++;
    expect_rsdp_bad(&r, 20);

    make_rsdp(&r, 0, 0x1000, 0);
    expect_rsdp_bad(&r, 19);                           /* shorter than an RSDP */
    expect_rsdp_bad(&r, 8);

    /* ACPI 2.0+: the extended checksum covers all 36 bytes. */
    make_rsdp(&r, 2, 0x1000, 0x2000);
    r.extended_checksum++;
    expect_rsdp_bad(&r, sizeof(r));
    make_rsdp(&r, 2, 0x1000, 0x2000);
    r.reserved[1] = 5;                                 /* outside the 20-byte checksum */
    expect_rsdp_bad(&r, sizeof(r));

    /* Length field: below 36, or beyond what was given. */
    make_rsdp(&r, 2, 0x1000, 0x2000);
    r.length = 20;
    fix_checksum((uint8_t *)&r, sizeof(r), offsetof(struct acpi_rsdp, extended_checksum));
    expect_rsdp_bad(&r, sizeof(r));
    make_rsdp(&r, 2, 0x1000, 0x2000);
    expect_rsdp_bad(&r, 20);                           /* revision 2 but only 20 bytes */
    expect_rsdp_bad(&r, 35);
    r.length = 40;                                     /* outside the 20-byte checksum */
    fix_checksum((uint8_t *)&r, sizeof(r), offsetof(struct acpi_rsdp, extended_checksum));
    expect_rsdp_bad(&r, sizeof(r));
}

/* ---- table lookup ------------------------------------------------------------ */

/* A root table (RSDT: 4-byte entries, XSDT: 8-byte entries). */
static void make_root(struct bytebuf *b, bool xsdt, const uint64_t *ptrs, size_t n)
{
    sdt_begin(b, xsdt ? "XSDT" : "RSDT", 1);
    for (size_t i = 0; i < n; i++) {
        if (xsdt)
            bb_u64(b, ptrs[i]);
        else
            bb_u32(b, (uint32_t)ptrs[i]);
    }
    sdt_finish(b);
}

/* A small table with a recognisable body. */
static void make_table(struct bytebuf *b, const char sig[4], uint32_t tag)
{
    sdt_begin(b, sig, 1);
    bb_u32(b, tag);
    bb_u32(b, ~tag);
    sdt_finish(b);
}

struct world {
    size_t madt_len, fadt_len;
    uint8_t *madt, *fadt;       /* copies inside the fake memory */
};

#define RSDT_PHYS   0x07fe1000ULL
#define XSDT_PHYS   0x07fe2000ULL
#define FADT_PHYS   0x07fe3000ULL
#define MADT_PHYS   0x07fe4000ULL
#define SSDT1_PHYS  0x07fe5000ULL
#define SSDT2_PHYS  0x07fe6000ULL

/* Real FADT (QEMU) and MADT (Bochs) tables, two SSDTs, and (XSDT only) an
 * HPET table above 4 GiB, with an RSDT and an XSDT pointing at them. */
static void build_world(struct world *w)
{
    struct bytebuf b;
    uint8_t *madt = load_fixture("acpi/madt-bochs-4cpu.bin", &w->madt_len);
    uint8_t *fadt = load_fixture("acpi/fadt-qemu.bin", &w->fadt_len);
    w->madt = mem_add(MADT_PHYS, madt, w->madt_len);
    w->fadt = mem_add(FADT_PHYS, fadt, w->fadt_len);
    free(madt);
    free(fadt);

    make_table(&b, "SSDT", 1);
    mem_add(SSDT1_PHYS, b.data, b.len);
    bb_free(&b);
    make_table(&b, "SSDT", 2);
    mem_add(SSDT2_PHYS, b.data, b.len);
    bb_free(&b);
    make_table(&b, "HPET", 3);
    mem_add(0x100000000ULL, b.data, b.len);
    bb_free(&b);

    /* A null entry and one pointing at unmapped memory are skipped. */
    uint64_t rsdt[] = { FADT_PHYS, 0, 0x0badf000ULL, SSDT1_PHYS, MADT_PHYS, SSDT2_PHYS };
    make_root(&b, false, rsdt, ARRAY_SIZE(rsdt));
    mem_add(RSDT_PHYS, b.data, b.len);
    bb_free(&b);
    uint64_t xsdt[] = { FADT_PHYS, SSDT1_PHYS, MADT_PHYS, 0, SSDT2_PHYS, 0x100000000ULL };
    make_root(&b, true, xsdt, ARRAY_SIZE(xsdt));
    mem_add(XSDT_PHYS, b.data, b.len);
    bb_free(&b);
}

static int find(const struct acpi_rsdp *r, const char *sig, const struct acpi_sdt_header **t,
                phys_addr_t *phys, const char **err)
{
    *t = NULL;
    *err = NULL;
    if (phys)
        *phys = 0;
    return acpi_find_table(r, fake_map, &mem, sig, t, phys, err);
}

static void test_find_via_rsdt(void **state)
{
    (void)state;
    struct world w;
    struct acpi_rsdp r;
    const struct acpi_sdt_header *t;
    phys_addr_t phys;
    const char *err;
    build_world(&w);
    make_rsdp(&r, 0, RSDT_PHYS, 0);

    assert_int_equal(find(&r, "APIC", &t, &phys, &err), 0);
    assert_ptr_equal(t, w.madt);
    assert_int_equal(phys, MADT_PHYS);
    assert_int_equal(t->length, w.madt_len);

    assert_int_equal(find(&r, "FACP", &t, &phys, &err), 0);
    assert_ptr_equal(t, w.fadt);
    assert_int_equal(phys, FADT_PHYS);

    /* The first of two tables with the same signature. */
    assert_int_equal(find(&r, "SSDT", &t, &phys, &err), 0);
    assert_int_equal(phys, SSDT1_PHYS);

    /* HPET is only in the XSDT. */
    assert_int_equal(find(&r, "HPET", &t, &phys, &err), 1);
    assert_int_equal(find(&r, "MCFG", &t, NULL, &err), 1);
    assert_int_equal(find(&r, "RSDT", &t, NULL, &err), 1);     /* the root is no entry */
}

static void test_find_via_xsdt(void **state)
{
    (void)state;
    struct world w;
    struct acpi_rsdp r;
    const struct acpi_sdt_header *t;
    phys_addr_t phys;
    const char *err;
    build_world(&w);
    make_rsdp(&r, 2, RSDT_PHYS, XSDT_PHYS);

    assert_int_equal(find(&r, "APIC", &t, &phys, &err), 0);
    assert_ptr_equal(t, w.madt);
    assert_int_equal(phys, MADT_PHYS);
    assert_int_equal(find(&r, "HPET", &t, &phys, &err), 0);     /* above 4 GiB */
    assert_int_equal(phys, 0x100000000ULL);
    assert_memory_equal(t->signature, "HPET", 4);
    assert_int_equal(find(&r, "SSDT", &t, NULL, &err), 0);
    assert_int_equal(find(&r, "DSDT", &t, NULL, &err), 1);

    /* Revision 2 with no XSDT address: the RSDT is used. */
    make_rsdp(&r, 2, RSDT_PHYS, 0);
    assert_int_equal(find(&r, "HPET", &t, NULL, &err), 1);
    assert_int_equal(find(&r, "APIC", &t, &phys, &err), 0);
    assert_int_equal(phys, MADT_PHYS);
}

/* An ACPI 1.0 RSDP of exactly 20 readable bytes: its XSDT fields are not read. */
static void test_find_with_v1_rsdp_only_20_bytes(void **state)
{
    (void)state;
    struct world w;
    struct acpi_rsdp r;
    const struct acpi_sdt_header *t;
    const char *err;
    build_world(&w);
    make_rsdp(&r, 0, RSDT_PHYS, 0);
    struct acpi_rsdp *v1 = exact_copy(&r, 20);
    assert_int_equal(acpi_find_table(v1, fake_map, &mem, "FACP", &t, NULL, &err), 0);
    assert_ptr_equal(t, w.fadt);
    free(v1);
}

/* The XSDT wins over the RSDT: give them different MADTs. */
static void test_xsdt_preferred(void **state)
{
    (void)state;
    struct bytebuf b;
    make_table(&b, "APIC", 0x1111);
    mem_add(0x10000, b.data, b.len);
    bb_free(&b);
    make_table(&b, "APIC", 0x2222);
    mem_add(0x20000, b.data, b.len);
    bb_free(&b);
    uint64_t rp[] = { 0x10000 }, xp[] = { 0x20000 };
    make_root(&b, false, rp, 1);
    mem_add(0x30000, b.data, b.len);
    bb_free(&b);
    make_root(&b, true, xp, 1);
    mem_add(0x40000, b.data, b.len);
    bb_free(&b);

    struct acpi_rsdp r;
    const struct acpi_sdt_header *t;
    phys_addr_t phys;
    const char *err;
    make_rsdp(&r, 2, 0x30000, 0x40000);
    assert_int_equal(find(&r, "APIC", &t, &phys, &err), 0);
    assert_int_equal(phys, 0x20000);
    make_rsdp(&r, 0, 0x30000, 0x40000);               /* ACPI 1.0: RSDT only */
    assert_int_equal(find(&r, "APIC", &t, &phys, &err), 0);
    assert_int_equal(phys, 0x10000);
}

static void test_find_broken_tables(void **state)
{
    (void)state;
    struct world w;
    struct acpi_rsdp r;
    const struct acpi_sdt_header *t;
    const char *err;
    build_world(&w);
    make_rsdp(&r, 2, RSDT_PHYS, XSDT_PHYS);

    /* A wrong checksum in the table looked for: -1, not "absent". */
    w.madt[20] ^= 0x40;
    assert_int_equal(find(&r, "APIC", &t, NULL, &err), -1);
    assert_non_null(err);
    /* Other tables are still found. */
    assert_int_equal(find(&r, "FACP", &t, NULL, &err), 0);
    w.madt[20] ^= 0x40;
    assert_int_equal(find(&r, "APIC", &t, NULL, &err), 0);

    /* A length that runs outside readable memory. */
    uint32_t len = (uint32_t)w.madt_len + 4;
    memcpy(w.madt + 4, &len, 4);
    assert_int_equal(find(&r, "APIC", &t, NULL, &err), -1);
    assert_non_null(err);
    /* A length smaller than a header. */
    len = 20;
    memcpy(w.madt + 4, &len, 4);
    assert_int_equal(find(&r, "APIC", &t, NULL, &err), -1);
    assert_non_null(err);
    len = (uint32_t)w.madt_len;
    memcpy(w.madt + 4, &len, 4);
    assert_int_equal(find(&r, "APIC", &t, NULL, &err), 0);
}

static void test_find_broken_root(void **state)
{
    (void)state;
    struct world w;
    struct acpi_rsdp r;
    const struct acpi_sdt_header *t;
    const char *err;
    build_world(&w);

    make_rsdp(&r, 0, 0x0badf000, 0);                   /* root not in memory */
    assert_int_equal(find(&r, "APIC", &t, NULL, &err), -1);
    assert_non_null(err);
    make_rsdp(&r, 0, XSDT_PHYS, 0);                    /* an XSDT where the RSDT should be */
    assert_int_equal(find(&r, "APIC", &t, NULL, &err), -1);
    assert_non_null(err);
    make_rsdp(&r, 2, RSDT_PHYS, RSDT_PHYS);            /* an RSDT where the XSDT should be */
    assert_int_equal(find(&r, "APIC", &t, NULL, &err), -1);
    assert_non_null(err);
    make_rsdp(&r, 2, RSDT_PHYS, MADT_PHYS);            /* not a root table at all */
    assert_int_equal(find(&r, "APIC", &t, NULL, &err), -1);

    /* A root table with a wrong checksum. */
    for (size_t i = 0; i < mem.n; i++)
        if (mem.r[i].phys == RSDT_PHYS)
            mem.r[i].data[30] ^= 1;
    make_rsdp(&r, 0, RSDT_PHYS, 0);
    assert_int_equal(find(&r, "APIC", &t, NULL, &err), -1);
    assert_non_null(err);
}

/* An empty root table (header only) has no tables. */
static void test_find_empty_root(void **state)
{
    (void)state;
    struct bytebuf b;
    make_root(&b, true, NULL, 0);
    mem_add(0x5000, b.data, b.len);
    bb_free(&b);
    struct acpi_rsdp r;
    const struct acpi_sdt_header *t;
    const char *err;
    make_rsdp(&r, 2, 0, 0x5000);
    assert_int_equal(find(&r, "APIC", &t, NULL, &err), 1);
}

/* ---- MADT on real tables ---------------------------------------------------- */

static struct acpi_madt_info madt;

static void parse_fixture(const char *name)
{
    size_t len;
    const char *err = NULL;
    uint8_t *t = load_fixture(name, &len);
    if (acpi_parse_madt(t, len, &madt, &err))
        fail_msg("%s: %s", name, err);
    free(t);
}

static void expect_cpu(size_t i, uint32_t apic_id, uint32_t uid)
{
    assert_true(i < madt.cpu_count);
    assert_int_equal(madt.cpus[i].apic_id, apic_id);
    assert_int_equal(madt.cpus[i].uid, uid);
    assert_true(madt.cpus[i].enabled);
    assert_false(madt.cpus[i].online_capable);
    assert_false(madt.cpus[i].x2apic);
}

/* Firecracker (this machine's own MADT): 2 vCPUs, no 8259s, no overrides. */
static void test_madt_firecracker(void **state)
{
    (void)state;
    parse_fixture("acpi/madt-firecracker.bin");
    assert_int_equal(madt.lapic_addr, 0xfee00000);
    assert_false(madt.pcat_compat);
    assert_int_equal(madt.cpu_count, 2);
    expect_cpu(0, 0, 0);
    expect_cpu(1, 1, 1);
    assert_int_equal(madt.cpus_disabled, 0);
    assert_int_equal(madt.ioapic_count, 1);
    assert_int_equal(madt.ioapics[0].id, 0);
    assert_int_equal(madt.ioapics[0].addr, 0xfec00000);
    assert_int_equal(madt.ioapics[0].gsi_base, 0);
    assert_int_equal(madt.override_count, 0);
    assert_int_equal(madt.nmi_entries, 0);
    assert_int_equal(madt.unknown_entries, 0);
}

/* QEMU 7.2, -smp 4: ISA IRQ 0 -> GSI 2 and level/high PCI IRQs 5, 9, 10, 11. */
static void test_madt_qemu(void **state)
{
    (void)state;
    parse_fixture("acpi/madt-qemu-4cpu.bin");
    assert_int_equal(madt.lapic_addr, 0xfee00000);
    assert_true(madt.pcat_compat);
    assert_int_equal(madt.cpu_count, 4);
    for (uint32_t i = 0; i < 4; i++)
        expect_cpu(i, i, i);
    assert_int_equal(madt.ioapic_count, 1);
    assert_int_equal(madt.ioapics[0].id, 0);
    assert_int_equal(madt.ioapics[0].addr, 0xfec00000);
    assert_int_equal(madt.ioapics[0].gsi_base, 0);
    assert_int_equal(madt.override_count, 5);
    static const struct { uint8_t src; uint32_t gsi; uint16_t flags; } ovr[] = {
        { 0, 2, 0x0000 }, { 5, 5, 0x000d }, { 9, 9, 0x000d }, { 10, 10, 0x000d }, { 11, 11, 0x000d },
    };
    for (size_t i = 0; i < ARRAY_SIZE(ovr); i++) {
        assert_int_equal(madt.overrides[i].bus, 0);
        assert_int_equal(madt.overrides[i].source, ovr[i].src);
        assert_int_equal(madt.overrides[i].gsi, ovr[i].gsi);
        assert_int_equal(madt.overrides[i].flags, ovr[i].flags);
    }
    assert_int_equal(madt.nmi_entries, 1);             /* LINT1 of all processors */
    assert_int_equal(madt.unknown_entries, 0);
}

/* Bochs 2.7, 4 CPUs: the IOAPIC takes the ID after the CPUs. */
static void test_madt_bochs(void **state)
{
    (void)state;
    parse_fixture("acpi/madt-bochs-4cpu.bin");
    assert_int_equal(madt.lapic_addr, 0xfee00000);
    assert_true(madt.pcat_compat);
    assert_int_equal(madt.cpu_count, 4);
    for (uint32_t i = 0; i < 4; i++)
        expect_cpu(i, i, i);
    assert_int_equal(madt.ioapic_count, 1);
    assert_int_equal(madt.ioapics[0].id, 4);
    assert_int_equal(madt.ioapics[0].addr, 0xfec00000);
    assert_int_equal(madt.override_count, 1);
    assert_int_equal(madt.overrides[0].source, 0);
    assert_int_equal(madt.overrides[0].gsi, 2);
    assert_int_equal(madt.overrides[0].flags, 0);
    assert_int_equal(madt.nmi_entries, 0);
}

/* Real tables cut short anywhere must be rejected, never over-read. */
static void test_madt_real_truncated(void **state)
{
    (void)state;
    static const char *const names[] = {
        "acpi/madt-firecracker.bin", "acpi/madt-qemu-4cpu.bin", "acpi/madt-bochs-4cpu.bin",
    };
    for (size_t n = 0; n < ARRAY_SIZE(names); n++) {
        size_t len;
        uint8_t *t = load_fixture(names[n], &len);
        for (size_t cut = 0; cut < len; cut++) {
            uint8_t *c = exact_copy(t, cut);
            const char *err = NULL;
            assert_int_equal(acpi_parse_madt(c, cut, &madt, &err), -1);
            assert_non_null(err);
            /* With the length field adjusted, a cut inside an entry is caught. */
            if (cut >= 44) {
                uint32_t l = (uint32_t)cut;
                memcpy(c + 4, &l, 4);
                int rc = acpi_parse_madt(c, cut, &madt, &err);
                /* Cuts on an entry boundary are well-formed shorter tables. */
                size_t off = 44;
                while (off < cut)
                    off += t[off + 1];
                assert_int_equal(rc, off == cut ? 0 : -1);
            }
            free(c);
        }
        free(t);
    }
}

/* ---- MADT built here ------------------------------------------------------- */

static void madt_begin(struct bytebuf *b, uint32_t lapic, uint32_t flags)
{
    sdt_begin(b, "APIC", 5);
    bb_u32(b, lapic);
    bb_u32(b, flags);
}

static void e_lapic(struct bytebuf *b, uint8_t uid, uint8_t id, uint32_t flags)
{
    bb_u8(b, 0); bb_u8(b, 8); bb_u8(b, uid); bb_u8(b, id); bb_u32(b, flags);
}

static void e_ioapic(struct bytebuf *b, uint8_t id, uint32_t addr, uint32_t gsi)
{
    bb_u8(b, 1); bb_u8(b, 12); bb_u8(b, id); bb_u8(b, 0); bb_u32(b, addr); bb_u32(b, gsi);
}

static void e_override(struct bytebuf *b, uint8_t src, uint32_t gsi, uint16_t flags)
{
    bb_u8(b, 2); bb_u8(b, 10); bb_u8(b, 0); bb_u8(b, src); bb_u32(b, gsi); bb_u16(b, flags);
}

static void e_lapic_addr(struct bytebuf *b, uint64_t addr)
{
    bb_u8(b, 5); bb_u8(b, 12); bb_u16(b, 0); bb_u64(b, addr);
}

static void e_x2apic(struct bytebuf *b, uint32_t id, uint32_t flags, uint32_t uid)
{
    bb_u8(b, 9); bb_u8(b, 16); bb_u16(b, 0); bb_u32(b, id); bb_u32(b, flags); bb_u32(b, uid);
}

static int parse_built(struct bytebuf *b, const char **err)
{
    sdt_finish(b);
    uint8_t *c = exact_copy(b->data, b->len);
    *err = NULL;
    int rc = acpi_parse_madt(c, b->len, &madt, err);
    free(c);
    bb_free(b);
    return rc;
}

static void test_madt_x2apic_and_override(void **state)
{
    (void)state;
    struct bytebuf b;
    const char *err;
    madt_begin(&b, 0xfee00000, 1);
    e_lapic(&b, 0, 0, 1);
    e_lapic_addr(&b, 0x00000000fed00000ULL);
    e_x2apic(&b, 300, 1, 17);
    e_x2apic(&b, 0x12345678, 1, 18);
    bb_u8(&b, 10); bb_u8(&b, 12); bb_zeros(&b, 10);   /* local x2APIC NMI */
    bb_u8(&b, 4); bb_u8(&b, 6); bb_zeros(&b, 4);      /* local APIC NMI */
    bb_u8(&b, 3); bb_u8(&b, 8); bb_zeros(&b, 6);      /* NMI source */
    bb_u8(&b, 0x7f); bb_u8(&b, 5); bb_zeros(&b, 3);   /* unknown, odd length */
    bb_u8(&b, 0x10); bb_u8(&b, 2);                    /* unknown, bare header */
    assert_int_equal(parse_built(&b, &err), 0);
    assert_int_equal(madt.lapic_addr, 0xfed00000ULL);
    assert_true(madt.pcat_compat);
    assert_int_equal(madt.cpu_count, 3);
    expect_cpu(0, 0, 0);
    assert_int_equal(madt.cpus[1].apic_id, 300);
    assert_int_equal(madt.cpus[1].uid, 17);
    assert_true(madt.cpus[1].x2apic);
    assert_true(madt.cpus[1].enabled);
    assert_int_equal(madt.cpus[2].apic_id, 0x12345678);
    assert_int_equal(madt.cpus[2].uid, 18);
    assert_int_equal(madt.nmi_entries, 3);
    assert_int_equal(madt.unknown_entries, 2);

    /* The 64-bit override above 4 GiB wins over the 32-bit field. */
    madt_begin(&b, 0xfee00000, 0);
    e_lapic_addr(&b, 0x0000001234567000ULL);
    e_lapic(&b, 0, 0, 1);
    assert_int_equal(parse_built(&b, &err), 0);
    assert_int_equal(madt.lapic_addr, 0x1234567000ULL);
    assert_false(madt.pcat_compat);
}

/* Enabled, online-capable and disabled processors (ACPI 6.5, table 5.23). */
static void test_madt_cpu_flags(void **state)
{
    (void)state;
    struct bytebuf b;
    const char *err;
    madt_begin(&b, 0xfee00000, 0);
    e_lapic(&b, 0, 0, 1);          /* enabled */
    e_lapic(&b, 1, 1, 0);          /* disabled for good */
    e_lapic(&b, 2, 2, 2);          /* online-capable: may be brought up later */
    e_lapic(&b, 3, 3, 3);          /* enabled (online-capable is reserved then) */
    e_x2apic(&b, 0x100, 0, 4);     /* disabled */
    e_x2apic(&b, 0x101, 2, 5);     /* online-capable */
    e_lapic(&b, 6, 6, 0xfffffffc); /* only reserved bits: disabled */
    assert_int_equal(parse_built(&b, &err), 0);
    assert_int_equal(madt.cpu_count, 4);
    assert_int_equal(madt.cpus_disabled, 3);
    assert_int_equal(madt.cpus[0].apic_id, 0);
    assert_true(madt.cpus[0].enabled);
    assert_int_equal(madt.cpus[1].apic_id, 2);
    assert_false(madt.cpus[1].enabled);
    assert_true(madt.cpus[1].online_capable);
    assert_int_equal(madt.cpus[2].apic_id, 3);
    assert_true(madt.cpus[2].enabled);
    assert_false(madt.cpus[2].online_capable);
    assert_int_equal(madt.cpus[3].apic_id, 0x101);
    assert_true(madt.cpus[3].online_capable);
    assert_true(madt.cpus[3].x2apic);
}

/* Duplicate APIC IDs (firmware listing a CPU as LAPIC and x2APIC): first kept. */
static void test_madt_duplicates(void **state)
{
    (void)state;
    struct bytebuf b;
    const char *err;
    madt_begin(&b, 0xfee00000, 0);
    e_lapic(&b, 0, 0, 1);
    e_lapic(&b, 1, 1, 1);
    e_x2apic(&b, 1, 1, 99);
    e_lapic(&b, 7, 0, 1);
    e_x2apic(&b, 2, 1, 2);
    assert_int_equal(parse_built(&b, &err), 0);
    assert_int_equal(madt.cpu_count, 3);
    assert_int_equal(madt.cpus[1].apic_id, 1);
    assert_int_equal(madt.cpus[1].uid, 1);
    assert_false(madt.cpus[1].x2apic);
    assert_int_equal(madt.cpus[2].apic_id, 2);
    assert_true(madt.cpus[2].x2apic);
}

static void test_madt_limits(void **state)
{
    (void)state;
    struct bytebuf b;
    const char *err;
    madt_begin(&b, 0xfee00000, 0);
    for (uint32_t i = 0; i < ACPI_MAX_CPUS + 44; i++)
        e_x2apic(&b, i, 1, i);
    for (uint32_t i = 0; i < ACPI_MAX_IOAPICS + 3; i++)
        e_ioapic(&b, (uint8_t)i, 0xfec00000 + i * 0x1000, i * 24);
    for (uint32_t i = 0; i < ACPI_MAX_OVERRIDES + 5; i++)
        e_override(&b, (uint8_t)i, i + 100, 0xf);
    assert_int_equal(parse_built(&b, &err), 0);
    assert_int_equal(madt.cpu_count, ACPI_MAX_CPUS);
    assert_int_equal(madt.cpus_dropped, 44);
    assert_int_equal(madt.cpus[ACPI_MAX_CPUS - 1].apic_id, ACPI_MAX_CPUS - 1);
    assert_int_equal(madt.ioapic_count, ACPI_MAX_IOAPICS);
    assert_int_equal(madt.ioapics[ACPI_MAX_IOAPICS - 1].addr,
                     0xfec00000 + (ACPI_MAX_IOAPICS - 1) * 0x1000);
    assert_int_equal(madt.ioapics[ACPI_MAX_IOAPICS - 1].gsi_base, (ACPI_MAX_IOAPICS - 1) * 24);
    assert_int_equal(madt.override_count, ACPI_MAX_OVERRIDES);
    assert_int_equal(madt.overrides[ACPI_MAX_OVERRIDES - 1].gsi, ACPI_MAX_OVERRIDES - 1 + 100);
}

/* The length field, not the buffer, bounds the entries. */
static void test_madt_length_field(void **state)
{
    (void)state;
    struct bytebuf b;
    const char *err;
    madt_begin(&b, 0xfee00000, 0);
    e_lapic(&b, 0, 0, 1);
    sdt_finish(&b);
    e_lapic(&b, 1, 1, 1);                             /* trailing bytes past `length` */
    uint8_t *c = exact_copy(b.data, b.len);
    assert_int_equal(acpi_parse_madt(c, b.len, &madt, &err), 0);
    assert_int_equal(madt.cpu_count, 1);
    free(c);
    bb_free(&b);
}

static void expect_madt_bad(struct bytebuf *b)
{
    const char *err;
    assert_int_equal(parse_built(b, &err), -1);
    assert_non_null(err);
}

static void test_madt_malformed(void **state)
{
    (void)state;
    struct bytebuf b;
    const char *err;

    /* Entry lengths 0 and 1 (0 would loop forever). */
    for (uint8_t l = 0; l < 2; l++) {
        madt_begin(&b, 0xfee00000, 0);
        e_lapic(&b, 0, 0, 1);
        bb_u8(&b, 0); bb_u8(&b, l); bb_zeros(&b, 6);
        expect_madt_bad(&b);
    }
    /* An entry running past the end of the table. */
    madt_begin(&b, 0xfee00000, 0);
    e_lapic(&b, 0, 0, 1);
    bb_u8(&b, 1); bb_u8(&b, 12); bb_zeros(&b, 6);
    expect_madt_bad(&b);
    /* One stray byte at the end. */
    madt_begin(&b, 0xfee00000, 0);
    e_lapic(&b, 0, 0, 1);
    bb_u8(&b, 0);
    expect_madt_bad(&b);
    /* Entries shorter than their type requires. */
    static const struct { uint8_t type, len; } shorts[] = {
        { 0, 6 }, { 1, 10 }, { 2, 8 }, { 5, 8 }, { 9, 12 }, { 0, 2 }, { 9, 2 },
    };
    for (size_t i = 0; i < ARRAY_SIZE(shorts); i++) {
        madt_begin(&b, 0xfee00000, 0);
        bb_u8(&b, shorts[i].type);
        bb_u8(&b, shorts[i].len);
        bb_zeros(&b, shorts[i].len - 2);
        for (size_t k = 2; k < shorts[i].len; k++)
            b.data[b.len - shorts[i].len + k] = 1;
        expect_madt_bad(&b);
    }
    /* Header problems: signature, length field, buffer shorter than a header. */
    madt_begin(&b, 0xfee00000, 0);
    e_lapic(&b, 0, 0, 1);
    memcpy(b.data, "APIX", 4);
    expect_madt_bad(&b);

    madt_begin(&b, 0xfee00000, 0);
    sdt_finish(&b);
    bb_set_u32(&b, 4, 43);                            /* below the 44-byte header */
    uint8_t *c = exact_copy(b.data, b.len);
    assert_int_equal(acpi_parse_madt(c, b.len, &madt, &err), -1);
    bb_set_u32(&b, 4, 45);                            /* beyond the buffer */
    memcpy(c, b.data, b.len);
    assert_int_equal(acpi_parse_madt(c, b.len, &madt, &err), -1);
    assert_int_equal(acpi_parse_madt(c, 43, &madt, &err), -1);
    bb_set_u32(&b, 4, 44);                            /* no entries at all: fine */
    memcpy(c, b.data, b.len);
    assert_int_equal(acpi_parse_madt(c, b.len, &madt, &err), 0);
    assert_int_equal(madt.cpu_count, 0);
    free(c);
    bb_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_checksum),
        cmocka_unit_test(test_rsdp_valid),
        cmocka_unit_test(test_rsdp_invalid),
        cmocka_unit_test_teardown(test_find_via_rsdt, reset_mem),
        cmocka_unit_test_teardown(test_find_via_xsdt, reset_mem),
        cmocka_unit_test_teardown(test_find_with_v1_rsdp_only_20_bytes, reset_mem),
        cmocka_unit_test_teardown(test_xsdt_preferred, reset_mem),
        cmocka_unit_test_teardown(test_find_broken_tables, reset_mem),
        cmocka_unit_test_teardown(test_find_broken_root, reset_mem),
        cmocka_unit_test_teardown(test_find_empty_root, reset_mem),
        cmocka_unit_test(test_madt_firecracker),
        cmocka_unit_test(test_madt_qemu),
        cmocka_unit_test(test_madt_bochs),
        cmocka_unit_test(test_madt_real_truncated),
        cmocka_unit_test(test_madt_x2apic_and_override),
        cmocka_unit_test(test_madt_cpu_flags),
        cmocka_unit_test(test_madt_duplicates),
        cmocka_unit_test(test_madt_limits),
        cmocka_unit_test(test_madt_length_field),
        cmocka_unit_test(test_madt_malformed),
    };
    return cmocka_run_group_tests_name("acpi", tests, NULL, NULL);
}
