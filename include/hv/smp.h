/* Application processor bring-up and cross-CPU work (kernel/arch/smp.c). */
#ifndef HV_SMP_H
#define HV_SMP_H

#include <hv/percpu.h>

/* Starts every CPU the MADT lists (up to `max`, 0 = all); returns how many run. */
unsigned smp_start_aps(unsigned max);

/* Runs fn(arg) on an online AP from its idle loop; waits up to timeout_us.
 * Returns 0 when it ran to completion, -1 otherwise. */
int smp_run_on(struct percpu *cpu, cpu_work_fn fn, void *arg, uint64_t timeout_us);

/* Hands fn(arg) to an online AP without waiting / waits for it to finish. */
int smp_post(struct percpu *cpu, cpu_work_fn fn, void *arg);
int smp_wait(struct percpu *cpu, uint64_t timeout_us);

/* Common per-CPU start: tables, LAPIC, survey.  Used by the BSP and the APs. */
void cpu_bringup_common(struct percpu *cpu);

/* The idle loop of an AP: halts until work arrives. */
void __noreturn ap_idle_loop(void);

#endif
