/*
 * ACPI glue: find the RSDP, then the MADT (CPUs, IOAPICs) and the FADT (for
 * powering off through S5).  Table parsing itself is in tables.c (pure).
 */
#include <hv/acpi_glue.h>
#include <hv/kernel.h>
#include <hv/power.h>
#include <hv/config.h>
#include <hv/log.h>
#include <hv/kstring.h>

#define EBDA_SEGMENT_PTR    0x40E
#define BIOS_AREA_START     0xE0000
#define BIOS_AREA_END       0x100000
#define EBDA_SCAN_LEN       1024
#define RSDP_ALIGN          16

/* FADT field offsets (ACPI 6.5, table 5.9). */
#define FADT_DSDT           40
#define FADT_PM1A_CNT_BLK   64
#define FADT_PM1B_CNT_BLK   68
#define FADT_X_DSDT         140
#define AML_NAME_OP         0x08
#define AML_PACKAGE_OP      0x12
#define AML_BYTE_PREFIX     0x0A
#define AML_ZERO_OP         0x00
#define AML_ONE_OP          0x01

struct acpi_madt_info acpi_madt;
bool acpi_madt_valid;

static const void *map_direct(void *ctx, phys_addr_t phys, size_t len)
{
    (void)ctx;
    (void)len;
    return phys_to_virt(phys);
}

static const struct acpi_rsdp *scan_for_rsdp(phys_addr_t start, phys_addr_t end)
{
    for (phys_addr_t p = ALIGN_UP(start, RSDP_ALIGN); p + 20 <= end; p += RSDP_ALIGN) {
        const struct acpi_rsdp *r = phys_to_virt(p);
        const char *err;
        if (!memcmp(r->signature, "RSD PTR ", 8) &&
            !acpi_check_rsdp(r, r->revision >= 2 ? sizeof(*r) : 20, &err))
            return r;
    }
    return NULL;
}

/* ACPI 6.5, 5.2.5.1: the first KiB of the EBDA, then 0xE0000 - 0xFFFFF. */
static const struct acpi_rsdp *find_rsdp_in_bios(void)
{
    phys_addr_t ebda = (phys_addr_t)(*(uint16_t *)phys_to_virt(EBDA_SEGMENT_PTR)) << 4;
    const struct acpi_rsdp *r = NULL;
    if (ebda >= 0x80000 && ebda < 0xA0000)
        r = scan_for_rsdp(ebda, ebda + EBDA_SCAN_LEN);
    return r ? r : scan_for_rsdp(BIOS_AREA_START, BIOS_AREA_END);
}

/* Decodes one AML integer constant of the \_S5 package. */
static const uint8_t *aml_small_int(const uint8_t *p, const uint8_t *end, uint16_t *out)
{
    if (p >= end)
        return NULL;
    if (*p == AML_ZERO_OP || *p == AML_ONE_OP) {
        *out = *p;
        return p + 1;
    }
    if (*p == AML_BYTE_PREFIX && p + 1 < end) {
        *out = p[1];
        return p + 2;
    }
    if (*p <= 7) {          /* some compilers emit the raw value */
        *out = *p;
        return p + 1;
    }
    return NULL;
}

/* Finds "Name(\_S5, Package(){a, b, ...})" in the DSDT without an AML interpreter. */
static void find_s5(const struct acpi_rsdp *rsdp)
{
    const struct acpi_sdt_header *fadt;
    const char *err;
    if (acpi_find_table(rsdp, map_direct, NULL, "FACP", &fadt, NULL, &err))
        return;
    const uint8_t *f = (const uint8_t *)fadt;
    uint32_t pm1a, pm1b;
    uint64_t dsdt = 0;
    memcpy(&pm1a, f + FADT_PM1A_CNT_BLK, 4);
    memcpy(&pm1b, f + FADT_PM1B_CNT_BLK, 4);
    if (fadt->length >= FADT_X_DSDT + 8)
        memcpy(&dsdt, f + FADT_X_DSDT, 8);
    if (!dsdt) {
        uint32_t d32;
        memcpy(&d32, f + FADT_DSDT, 4);
        dsdt = d32;
    }
    if (!dsdt || !pm1a || pm1a > 0xFFFF)
        return;
    const struct acpi_sdt_header *dh = phys_to_virt(dsdt);
    if (memcmp(dh->signature, "DSDT", 4))
        return;
    const uint8_t *p = (const uint8_t *)dh, *end = p + dh->length;
    for (const uint8_t *s = p + sizeof(*dh); s + 8 < end; s++) {
        if (memcmp(s, "_S5_", 4) || (s[-1] != AML_NAME_OP && !(s[-2] == AML_NAME_OP && s[-1] == '\\')))
            continue;
        const uint8_t *q = s + 4;
        if (*q++ != AML_PACKAGE_OP)
            continue;
        q += ((*q >> 6) & 3) + 1;   /* PkgLength: lead byte plus 0-3 more */
        q++;                        /* NumElements */
        uint16_t a, b;
        q = aml_small_int(q, end, &a);
        if (!q || !aml_small_int(q, end, &b))
            continue;
        power_set_acpi_s5((uint16_t)pm1a, (uint16_t)pm1b, a, b);
        pr_debug("ACPI: S5 sleep type %u/%u, PM1a_CNT %#x", a, b, pm1a);
        return;
    }
}

/* "ACPIDUMP <sig> <offset> <hex bytes>" lines: tools/acpidump.py turns them back into
 * table files (the unit tests' fixtures come from real machines this way). */
static void dump_table(const struct acpi_rsdp *rsdp, const char sig[4])
{
    const struct acpi_sdt_header *t;
    const char *err;
    if (acpi_find_table(rsdp, map_direct, NULL, sig, &t, NULL, &err))
        return;
    const uint8_t *b = (const uint8_t *)t;
    for (uint32_t off = 0; off < t->length; off += 32) {
        char hex[65];
        uint32_t n = MIN(32u, t->length - off);
        for (uint32_t i = 0; i < n; i++) {
            hex[i * 2] = "0123456789abcdef"[b[off + i] >> 4];
            hex[i * 2 + 1] = "0123456789abcdef"[b[off + i] & 15];
        }
        hex[n * 2] = '\0';
        log_raw("ACPIDUMP %.4s %04x %s\n", sig, off, hex);
    }
}

int acpi_init(const struct mb2_info *mb)
{
    const struct acpi_rsdp *rsdp = mb->rsdp;
    size_t len = mb->rsdp_len;
    const char *err = NULL;
    const char *source = "multiboot2 tag";

    if (!rsdp) {
        rsdp = find_rsdp_in_bios();
        len = rsdp && rsdp->revision >= 2 ? sizeof(*rsdp) : 20;
        source = "BIOS memory scan";
    }
    if (!rsdp) {
        pr_err("ACPI: no RSDP (neither a multiboot2 ACPI tag nor one in the BIOS areas)");
        return -1;
    }
    if (acpi_check_rsdp(rsdp, len, &err)) {
        pr_err("ACPI: RSDP from the %s is invalid: %s", source, err);
        return -1;
    }
    pr_info("ACPI: RSDP revision %u (OEM \"%.6s\") from the %s, using the %s", rsdp->revision,
            rsdp->oem_id, source, rsdp->revision >= 2 && rsdp->xsdt_address ? "XSDT" : "RSDT");

    const struct acpi_sdt_header *madt;
    phys_addr_t madt_phys = 0;
    int rc = acpi_find_table(rsdp, map_direct, NULL, "APIC", &madt, &madt_phys, &err);
    if (rc < 0) {
        pr_err("ACPI: %s", err);
        return -1;
    }
    if (rc > 0) {
        pr_err("ACPI: no MADT (\"APIC\" table): cannot enumerate CPUs");
        return -1;
    }
    if (acpi_parse_madt(madt, madt->length, &acpi_madt, &err)) {
        pr_err("ACPI: MADT at %#llx: %s", (unsigned long long)madt_phys, err);
        return -1;
    }
    acpi_madt_valid = true;
    pr_info("ACPI: MADT at %#llx: %zu CPU(s), %zu IOAPIC(s), %zu interrupt override(s), "
            "local APIC at %#llx%s",
            (unsigned long long)madt_phys, acpi_madt.cpu_count, acpi_madt.ioapic_count,
            acpi_madt.override_count, (unsigned long long)acpi_madt.lapic_addr,
            acpi_madt.pcat_compat ? ", dual 8259 PICs" : "");
    for (size_t i = 0; i < acpi_madt.ioapic_count; i++)
        pr_info("ACPI: IOAPIC id %u at %#llx, GSI base %u", acpi_madt.ioapics[i].id,
                (unsigned long long)acpi_madt.ioapics[i].addr, acpi_madt.ioapics[i].gsi_base);
    if (acpi_madt.cpus_dropped)
        pr_warn("ACPI: %zu CPUs beyond the supported %u ignored", acpi_madt.cpus_dropped,
                ACPI_MAX_CPUS);
    find_s5(rsdp);
    if (config.acpidump) {
        dump_table(rsdp, "APIC");
        dump_table(rsdp, "FACP");
    }
    return 0;
}
