/* What the kernel learned from ACPI (kernel/acpi/acpi.c). */
#ifndef HV_ACPI_GLUE_H
#define HV_ACPI_GLUE_H

#include <hv/acpi.h>
#include <hv/mb2.h>

extern struct acpi_madt_info acpi_madt;
extern bool acpi_madt_valid;

/* Finds the RSDP (multiboot2 tag, else the BIOS areas), parses the MADT and
 * the FADT's S5 sleep type.  Returns 0 or -1 (already logged). */
int acpi_init(const struct mb2_info *mb);

#endif
