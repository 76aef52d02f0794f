/* Local APIC in xAPIC (MMIO) or x2APIC (MSR) mode, SDM Vol. 3A, chapter 11. */
#ifndef HV_LAPIC_H
#define HV_LAPIC_H

#include <hv/types.h>

int lapic_init(phys_addr_t madt_addr);     /* BSP, once: mode and mapping */
void lapic_enable(void);                    /* every CPU */
uint32_t lapic_id(void);
void lapic_eoi(void);
bool lapic_x2apic_mode(void);
void lapic_send_init(uint32_t apic_id);
void lapic_send_startup(uint32_t apic_id, uint8_t vector);
void lapic_send_ipi(uint32_t apic_id, uint8_t vector);
bool lapic_ipi_delivered(void);             /* delivery status idle (xAPIC) */

/* Timer: calibrated once on the BSP against the PIT, then used on every CPU. */
int lapic_timer_calibrate(void);
void lapic_timer_start_periodic(uint32_t hz);
uint64_t lapic_timer_frequency(void);

/* TSC (kernel/arch/timer.c). */
int tsc_calibrate(void);
uint64_t tsc_frequency(void);
void udelay(uint64_t us);
/* Busy-waits on the PIT (channel 2) for `us` microseconds; used to calibrate. */
void pit_delay_us(uint32_t us);

#endif
