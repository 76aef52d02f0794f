/*
 * End of a run.  The verdict line is the machine-readable summary tests look
 * for; then the machine is switched off through whichever mechanism exists:
 * QEMU's isa-debug-exit device (exit status (v << 1) | 1), Bochs's shutdown
 * port, ACPI S5 (real hardware), and if all of that fails, a halted CPU.
 */
#include <hv/power.h>
#include <hv/config.h>
#include <hv/percpu.h>
#include <hv/log.h>
#include <hv/x86.h>

#define QEMU_DEBUG_EXIT_PORT    0xF4
#define BOCHS_SHUTDOWN_PORT     0x8900
#define ACPI_SLP_EN             BIT(13)
#define ACPI_SLP_TYP_SHIFT      10

static struct {
    bool valid;
    uint16_t pm1a_cnt, pm1b_cnt, slp_typa, slp_typb;
} s5;

static const char *const verdict_names[] = { "PASS", "FAIL", "NOVMX" };

void power_set_acpi_s5(uint16_t pm1a_cnt, uint16_t pm1b_cnt, uint16_t slp_typa, uint16_t slp_typb)
{
    s5.valid = true;
    s5.pm1a_cnt = pm1a_cnt;
    s5.pm1b_cnt = pm1b_cnt;
    s5.slp_typa = slp_typa;
    s5.slp_typb = slp_typb;
}

void __noreturn cpu_park(void)
{
    irq_disable();
    for (;;)
        halt();
}

void __noreturn machine_power_off(enum verdict v)
{
    irq_disable();
    outb(QEMU_DEBUG_EXIT_PORT, (uint8_t)v);
    for (const char *s = "Shutdown"; *s; s++)
        outb(BOCHS_SHUTDOWN_PORT, (uint8_t)*s);
    if (s5.valid) {
        outw(s5.pm1a_cnt, (uint16_t)((s5.slp_typa << ACPI_SLP_TYP_SHIFT) | ACPI_SLP_EN));
        if (s5.pm1b_cnt)
            outw(s5.pm1b_cnt, (uint16_t)((s5.slp_typb << ACPI_SLP_TYP_SHIFT) | ACPI_SLP_EN));
    }
    log_raw("power off did not work (no QEMU debug-exit, Bochs or ACPI S5); halted\n");
    cpu_park();
}

void __noreturn finish_run(enum verdict v, const char *reason)
{
    unsigned online = 0, vmx_ready = 0, faulted = 0;
    for (unsigned i = 0; i < cpu_count; i++) {
        if (!cpus[i])
            continue;
        if (cpus[i]->state == CPU_ONLINE)
            online++;
        if (cpus[i]->state == CPU_FAULTED)
            faulted++;
        if (cpus[i]->virt.vmx_usable)
            vmx_ready++;
    }
    /* Any error logged during the run outweighs PASS and NOVMX: say the first one. */
    if (v != VERDICT_FAIL && log_error_count()) {
        v = VERDICT_FAIL;
        reason = log_first_error();
    }
    log_raw("VERDICT %s scenario=%s cpus=%u/%u vmx=%u faulted=%u errors=%u warnings=%u",
            verdict_names[v], test_scenario_names[config.test], online, cpu_count, vmx_ready,
            faulted, log_error_count(), log_warning_count());
    log_raw(reason && *reason ? " reason=\"%s\"\n" : "\n", reason);
    if (config.poweroff || config.test != TEST_NONE)
        machine_power_off(v);
    log_raw("run finished; the machine stays on (boot with poweroff=1 to switch it off)\n");
    cpu_park();
}
