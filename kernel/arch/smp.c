/*
 * SMP bring-up with the INIT-SIPI-SIPI sequence (SDM Vol. 3A, 9.4.4.1).
 * The APs are started one at a time: each gets its own stack and per-CPU
 * block through the trampoline parameter block, and the BSP waits until the
 * AP reports itself online (or gives up with a message naming the APIC ID).
 */
#include <hv/smp.h>
#include <hv/acpi_glue.h>
#include <hv/lapic.h>
#include <hv/trap.h>
#include <hv/paging.h>
#include <hv/kernel.h>
#include <hv/config.h>
#include <hv/log.h>
#include <hv/x86.h>
#include <hv/kstring.h>

#define TRAMPOLINE_PHYS     0x8000      /* must match boot/trampoline.asm */
#define SIPI_VECTOR         (TRAMPOLINE_PHYS >> 12)
#define INIT_DELAY_US       10000       /* 10 ms after INIT (SDM 9.4.4.1) */
#define SIPI_DELAY_US       200         /* 200 us between the two SIPIs */
#define AP_START_TIMEOUT_US 200000      /* generous: emulators run APs slowly */
#define TIMER_HZ            100

struct trampoline_params {
    uint64_t cr3;
    uint64_t efer;
    uint64_t stack;
    uint64_t entry;
    uint64_t arg;
} __packed;

extern char trampoline_start[], trampoline_end[];
extern struct trampoline_params trampoline_params;
extern uint32_t boot_efer;

void cpu_bringup_common(struct percpu *cpu)
{
    cpu_init_tables(cpu);
    lapic_enable();
    virt_survey_this_cpu(&cpu->virt);
}

void __noreturn ap_idle_loop(void)
{
    struct percpu *cpu = this_cpu();
    for (;;) {
        irq_disable();
        cpu_work_fn fn = cpu->work;
        if (fn) {
            irq_enable();
            fn(cpu->work_arg);
            cpu->work = NULL;
            __atomic_store_n(&cpu->work_done, true, __ATOMIC_RELEASE);
            continue;
        }
        /* STI; HLT: the interrupt shadow of STI guarantees no wake-up is lost. */
        __asm__ volatile("sti; hlt" ::: "memory");
    }
}

static void __noreturn ap_entry(struct percpu *cpu)
{
    cpu_bringup_common(cpu);
    if (lapic_id() != cpu->apic_id)
        pr_warn("started as APIC ID %u but the MADT entry said %u", lapic_id(), cpu->apic_id);
    lapic_timer_start_periodic(TIMER_HZ);
    __atomic_store_n(&cpu->state, CPU_ONLINE, __ATOMIC_RELEASE);
    ap_idle_loop();
}

static bool wait_for_state(struct percpu *cpu, enum cpu_state s, uint64_t timeout_us)
{
    uint64_t step = 50;
    for (uint64_t waited = 0; waited < timeout_us; waited += step) {
        if (__atomic_load_n(&cpu->state, __ATOMIC_ACQUIRE) == s)
            return true;
        udelay(step);
    }
    return __atomic_load_n(&cpu->state, __ATOMIC_ACQUIRE) == s;
}

static bool start_ap(struct percpu *cpu)
{
    struct trampoline_params *tp =
        phys_to_virt(TRAMPOLINE_PHYS + ((uintptr_t)&trampoline_params - (uintptr_t)trampoline_start));
    tp->cr3 = paging_kernel_cr3();
    tp->efer = *(uint32_t *)phys_to_virt((uintptr_t)&boot_efer);  /* boot data is identity-addressed */
    tp->stack = cpu->stack_top;
    tp->entry = (uint64_t)(uintptr_t)ap_entry;
    tp->arg = (uint64_t)(uintptr_t)cpu;
    cpu->state = CPU_STARTING;
    __atomic_thread_fence(__ATOMIC_SEQ_CST);

    lapic_send_init(cpu->apic_id);
    if (!lapic_ipi_delivered())
        pr_warn("cpu%u: INIT IPI to APIC ID %u not accepted", cpu->index, cpu->apic_id);
    udelay(INIT_DELAY_US);
    for (int sipi = 0; sipi < 2; sipi++) {
        lapic_send_startup(cpu->apic_id, SIPI_VECTOR);
        lapic_ipi_delivered();
        udelay(SIPI_DELAY_US);
        if (cpu->state != CPU_STARTING)
            break;
    }
    return wait_for_state(cpu, CPU_ONLINE, AP_START_TIMEOUT_US);
}

unsigned smp_start_aps(unsigned max)
{
    uint32_t me = lapic_id();
    unsigned online = 1;

    if (!acpi_madt_valid)
        return online;
    size_t len = trampoline_end - trampoline_start;
    memcpy(phys_to_virt(TRAMPOLINE_PHYS), trampoline_start, len);

    for (size_t i = 0; i < acpi_madt.cpu_count; i++) {
        const struct acpi_cpu *ac = &acpi_madt.cpus[i];
        if (ac->apic_id == me || !ac->enabled)
            continue;
        if (max && cpu_count >= max) {
            pr_info("APIC ID %u not started (maxcpus=%u)", ac->apic_id, max);
            continue;
        }
        if (cpu_count == MAX_CPUS) {
            pr_warn("APIC ID %u not started: more than %u CPUs", ac->apic_id, MAX_CPUS);
            continue;
        }
        if (ac->apic_id > 0xFF && !lapic_x2apic_mode()) {
            pr_warn("APIC ID %u not started: needs x2APIC mode", ac->apic_id);
            continue;
        }
        struct percpu *cpu = percpu_alloc(cpu_count++, ac->apic_id, 0);
        if (start_ap(cpu)) {
            online++;
        } else {
            pr_err("cpu%u (APIC ID %u) did not come online within %u ms after INIT-SIPI-SIPI "
                   "(state %d)", cpu->index, cpu->apic_id, AP_START_TIMEOUT_US / 1000, cpu->state);
        }
    }
    return online;
}

int smp_post(struct percpu *cpu, cpu_work_fn fn, void *arg)
{
    if (cpu->state != CPU_ONLINE || cpu->work)
        return -1;
    cpu->work_done = false;
    cpu->work_arg = arg;
    __atomic_store_n(&cpu->work, fn, __ATOMIC_RELEASE);
    lapic_send_ipi(cpu->apic_id, VEC_IPI_WORK);
    return 0;
}

int smp_wait(struct percpu *cpu, uint64_t timeout_us)
{
    uint64_t step = 100;
    for (uint64_t waited = 0; waited < timeout_us; waited += step) {
        if (__atomic_load_n(&cpu->work_done, __ATOMIC_ACQUIRE))
            return 0;
        if (cpu->state != CPU_ONLINE)
            return -1;
        udelay(step);
    }
    return -1;
}

int smp_run_on(struct percpu *cpu, cpu_work_fn fn, void *arg, uint64_t timeout_us)
{
    if (smp_post(cpu, fn, arg))
        return -1;
    return smp_wait(cpu, timeout_us);
}
