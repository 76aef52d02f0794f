/*
 * ACPI table discovery and MADT parsing (ACPI 6.5, sections 5.2.5 - 5.2.12).
 * Pure: physical memory is reached only through the `map` callback, so host
 * unit tests feed real table bytes captured from machines and emulators.
 */
#ifndef HV_ACPI_H
#define HV_ACPI_H

#include <hv/types.h>

#define ACPI_MAX_CPUS       256
#define ACPI_MAX_IOAPICS    16
#define ACPI_MAX_OVERRIDES  32

struct acpi_sdt_header {
    char signature[4];
    uint32_t length;
    uint8_t revision;
    uint8_t checksum;
    char oem_id[6];
    char oem_table_id[8];
    uint32_t oem_revision;
    uint32_t creator_id;
    uint32_t creator_revision;
} __packed;

struct acpi_rsdp {
    char signature[8];          /* "RSD PTR " */
    uint8_t checksum;           /* of the first 20 bytes */
    char oem_id[6];
    uint8_t revision;           /* 0: ACPI 1.0, 2: ACPI 2.0+ */
    uint32_t rsdt_address;
    uint32_t length;            /* ACPI 2.0+ fields from here */
    uint64_t xsdt_address;
    uint8_t extended_checksum;
    uint8_t reserved[3];
} __packed;

/* Returns a pointer through which `len` bytes at `phys` can be read, or NULL. */
typedef const void *(*acpi_map_fn)(void *ctx, phys_addr_t phys, size_t len);

struct acpi_cpu {
    uint32_t apic_id;
    uint32_t uid;
    bool enabled;               /* usable now */
    bool online_capable;        /* disabled but may be brought online (ACPI 6.3+) */
    bool x2apic;                /* came from a Processor Local x2APIC entry */
};

struct acpi_ioapic {
    uint32_t id;
    phys_addr_t addr;
    uint32_t gsi_base;
};

struct acpi_override {
    uint8_t bus, source;
    uint32_t gsi;
    uint16_t flags;             /* MPS INTI flags: polarity and trigger mode */
};

struct acpi_madt_info {
    phys_addr_t lapic_addr;
    bool pcat_compat;           /* dual 8259 PICs present */
    struct acpi_cpu cpus[ACPI_MAX_CPUS];
    size_t cpu_count;           /* enabled or online-capable only */
    size_t cpus_dropped;        /* beyond ACPI_MAX_CPUS */
    size_t cpus_disabled;       /* entries neither enabled nor online-capable */
    struct acpi_ioapic ioapics[ACPI_MAX_IOAPICS];
    size_t ioapic_count;
    struct acpi_override overrides[ACPI_MAX_OVERRIDES];
    size_t override_count;
    size_t nmi_entries;
    size_t unknown_entries;
};

bool acpi_checksum_ok(const void *p, size_t len);

/* Validates an RSDP (signature, checksum(s), revision) of `len` readable bytes. */
int acpi_check_rsdp(const struct acpi_rsdp *rsdp, size_t len, const char **err);

/*
 * Finds the first table with `sig` through the XSDT (revision 2+, when its
 * address is non-zero) or else the RSDT.  Each table's length and checksum is
 * checked.  On success *table points at the whole table (header included).
 * Returns 0, 1 when no such table exists, -1 with *err on broken tables.
 */
int acpi_find_table(const struct acpi_rsdp *rsdp, acpi_map_fn map, void *ctx,
                    const char sig[4], const struct acpi_sdt_header **table,
                    phys_addr_t *table_phys, const char **err);

/* Parses a whole MADT ("APIC") of `len` bytes. Returns 0 or -1 with *err. */
int acpi_parse_madt(const void *madt, size_t len, struct acpi_madt_info *out, const char **err);

#endif
