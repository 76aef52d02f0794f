/* End of a run: the verdict line and power-off (kernel/power.c). */
#ifndef HV_POWER_H
#define HV_POWER_H

#include <hv/types.h>

enum verdict { VERDICT_PASS, VERDICT_FAIL, VERDICT_NOVMX };

/* Prints "VERDICT <status> key=value..." and powers off (tests) or idles. */
void __noreturn finish_run(enum verdict v, const char *reason);

/* QEMU isa-debug-exit, Bochs shutdown port, then ACPI S5; halts if all fail. */
void __noreturn machine_power_off(enum verdict v);

/* Stops this core for good (interrupts off). */
void __noreturn cpu_park(void);

/* Registers the ACPI S5 sleep method found in the FADT/DSDT (kernel/acpi/acpi.c). */
void power_set_acpi_s5(uint16_t pm1a_cnt, uint16_t pm1b_cnt, uint16_t slp_typa, uint16_t slp_typb);

#endif
