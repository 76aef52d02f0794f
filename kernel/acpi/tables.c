/* ACPI table discovery and MADT parsing; see include/hv/acpi.h. */
#include <hv/acpi.h>
#include <hv/kstring.h>

/* MADT interrupt controller structure types (ACPI 6.5, table 5.21). */
#define MADT_LOCAL_APIC             0
#define MADT_IO_APIC                1
#define MADT_INTERRUPT_OVERRIDE     2
#define MADT_NMI_SOURCE             3
#define MADT_LOCAL_APIC_NMI         4
#define MADT_LOCAL_APIC_OVERRIDE    5
#define MADT_LOCAL_X2APIC           9
#define MADT_LOCAL_X2APIC_NMI       10

#define MADT_FLAG_PCAT_COMPAT       BIT(0)
#define LAPIC_FLAG_ENABLED          BIT(0)
#define LAPIC_FLAG_ONLINE_CAPABLE   BIT(1)

#define MADT_HEADER_LEN             44      /* SDT header + LAPIC address + flags */

static uint32_t rd32(const uint8_t *p) { uint32_t v; memcpy(&v, p, 4); return v; }
static uint64_t rd64(const uint8_t *p) { uint64_t v; memcpy(&v, p, 8); return v; }
static uint16_t rd16(const uint8_t *p) { uint16_t v; memcpy(&v, p, 2); return v; }

bool acpi_checksum_ok(const void *p, size_t len)
{
    const uint8_t *b = p;
    uint8_t sum = 0;
    for (size_t i = 0; i < len; i++)
        sum += b[i];
    return sum == 0;
}

int acpi_check_rsdp(const struct acpi_rsdp *rsdp, size_t len, const char **err)
{
    if (len < 20 || memcmp(rsdp->signature, "RSD PTR ", 8)) {
        *err = "RSDP signature is not \"RSD PTR \"";
        return -1;
    }
    if (!acpi_checksum_ok(rsdp, 20)) {
        *err = "RSDP checksum over its first 20 bytes is not zero";
        return -1;
    }
    if (rsdp->revision >= 2) {
        if (len < sizeof(*rsdp) || rsdp->length < sizeof(*rsdp) || rsdp->length > len) {
            *err = "ACPI 2.0+ RSDP length is shorter than 36 bytes or longer than what was given";
            return -1;
        }
        if (!acpi_checksum_ok(rsdp, rsdp->length)) {
            *err = "ACPI 2.0+ RSDP extended checksum is not zero";
            return -1;
        }
    }
    return 0;
}

/* Maps a whole SDT: header first to learn its length, then the full table. */
static const struct acpi_sdt_header *map_sdt(acpi_map_fn map, void *ctx, phys_addr_t phys,
                                             const char **err)
{
    const struct acpi_sdt_header *h = map(ctx, phys, sizeof(*h));
    if (!h) {
        *err = "an ACPI table address is outside readable memory";
        return NULL;
    }
    uint32_t len = h->length;
    if (len < sizeof(*h) || len > 16 * MiB) {
        *err = "an ACPI table's length is implausible";
        return NULL;
    }
    h = map(ctx, phys, len);
    if (!h) {
        *err = "an ACPI table runs outside readable memory";
        return NULL;
    }
    if (!acpi_checksum_ok(h, len)) {
        *err = "an ACPI table's checksum is not zero";
        return NULL;
    }
    return h;
}

int acpi_find_table(const struct acpi_rsdp *rsdp, acpi_map_fn map, void *ctx,
                    const char sig[4], const struct acpi_sdt_header **table,
                    phys_addr_t *table_phys, const char **err)
{
    bool use_xsdt = rsdp->revision >= 2 && rsdp->xsdt_address != 0;
    phys_addr_t root_phys = use_xsdt ? rsdp->xsdt_address : rsdp->rsdt_address;
    size_t entry_size = use_xsdt ? 8 : 4;

    const struct acpi_sdt_header *root = map_sdt(map, ctx, root_phys, err);
    if (!root)
        return -1;
    if (memcmp(root->signature, use_xsdt ? "XSDT" : "RSDT", 4)) {
        *err = use_xsdt ? "the RSDP's XSDT address does not point at an XSDT"
                        : "the RSDP's RSDT address does not point at an RSDT";
        return -1;
    }
    /* `map` must keep earlier mappings valid (the kernel's direct map does). */
    size_t count = (root->length - sizeof(*root)) / entry_size;
    const uint8_t *entries = (const uint8_t *)(root + 1);
    for (size_t i = 0; i < count; i++) {
        phys_addr_t phys = use_xsdt ? rd64(entries + i * 8) : rd32(entries + i * 4);
        if (!phys)
            continue;
        const struct acpi_sdt_header *h = map(ctx, phys, sizeof(*h));
        if (!h || memcmp(h->signature, sig, 4))
            continue;
        h = map_sdt(map, ctx, phys, err);
        if (!h)
            return -1;
        *table = h;
        if (table_phys)
            *table_phys = phys;
        return 0;
    }
    return 1;
}

static void add_cpu(struct acpi_madt_info *out, uint32_t apic_id, uint32_t uid, uint32_t flags,
                    bool x2apic)
{
    bool enabled = flags & LAPIC_FLAG_ENABLED;
    bool capable = !enabled && (flags & LAPIC_FLAG_ONLINE_CAPABLE);
    if (!enabled && !capable) {
        out->cpus_disabled++;
        return;
    }
    /* Firmware may list a CPU both as LAPIC and x2APIC: keep the first. */
    for (size_t i = 0; i < out->cpu_count; i++)
        if (out->cpus[i].apic_id == apic_id)
            return;
    if (out->cpu_count == ACPI_MAX_CPUS) {
        out->cpus_dropped++;
        return;
    }
    struct acpi_cpu *c = &out->cpus[out->cpu_count++];
    c->apic_id = apic_id;
    c->uid = uid;
    c->enabled = enabled;
    c->online_capable = capable;
    c->x2apic = x2apic;
}

int acpi_parse_madt(const void *madt, size_t len, struct acpi_madt_info *out, const char **err)
{
    const uint8_t *t = madt;

    memset(out, 0, sizeof(*out));
    if (len < MADT_HEADER_LEN || memcmp(t, "APIC", 4)) {
        *err = "not a MADT (signature \"APIC\") or shorter than its 44-byte header";
        return -1;
    }
    uint32_t table_len = rd32(t + 4);
    if (table_len < MADT_HEADER_LEN || table_len > len) {
        *err = "MADT length field is smaller than its header or larger than the table given";
        return -1;
    }
    out->lapic_addr = rd32(t + 36);
    out->pcat_compat = rd32(t + 40) & MADT_FLAG_PCAT_COMPAT;

    for (size_t off = MADT_HEADER_LEN; off < table_len;) {
        if (table_len - off < 2) {
            *err = "MADT ends inside an entry header";
            return -1;
        }
        const uint8_t *e = t + off;
        uint8_t type = e[0], elen = e[1];
        if (elen < 2 || elen > table_len - off) {
            *err = "MADT entry length is below 2 or runs past the end of the table";
            return -1;
        }
        switch (type) {
        case MADT_LOCAL_APIC:
            if (elen < 8) goto short_entry;
            add_cpu(out, e[3], e[2], rd32(e + 4), false);
            break;
        case MADT_IO_APIC:
            if (elen < 12) goto short_entry;
            if (out->ioapic_count < ACPI_MAX_IOAPICS) {
                struct acpi_ioapic *io = &out->ioapics[out->ioapic_count++];
                io->id = e[2];
                io->addr = rd32(e + 4);
                io->gsi_base = rd32(e + 8);
            }
            break;
        case MADT_INTERRUPT_OVERRIDE:
            if (elen < 10) goto short_entry;
            if (out->override_count < ACPI_MAX_OVERRIDES) {
                struct acpi_override *o = &out->overrides[out->override_count++];
                o->bus = e[2];
                o->source = e[3];
                o->gsi = rd32(e + 4);
                o->flags = rd16(e + 8);
            }
            break;
        case MADT_LOCAL_APIC_OVERRIDE:
            if (elen < 12) goto short_entry;
            out->lapic_addr = rd64(e + 4);
            break;
        case MADT_LOCAL_X2APIC:
            if (elen < 16) goto short_entry;
            add_cpu(out, rd32(e + 4), rd32(e + 12), rd32(e + 8), true);
            break;
        case MADT_NMI_SOURCE:
        case MADT_LOCAL_APIC_NMI:
        case MADT_LOCAL_X2APIC_NMI:
            out->nmi_entries++;
            break;
        default:
            out->unknown_entries++;
            break;
        }
        off += elen;
    }
    return 0;

short_entry:
    *err = "a MADT entry is shorter than its type requires";
    return -1;
}
