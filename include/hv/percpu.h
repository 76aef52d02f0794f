/* Per-CPU data, reached through GS (gs:0 holds the structure's own address). */
#ifndef HV_PERCPU_H
#define HV_PERCPU_H

#include <hv/types.h>
#include <hv/virt.h>

#define MAX_CPUS            64
#define KERNEL_STACK_SIZE   (16 * KiB)
#define IST_STACK_SIZE      (8 * KiB)

enum cpu_state {
    CPU_ABSENT,         /* not started */
    CPU_STARTING,       /* SIPI sent, not yet in C */
    CPU_ONLINE,
    CPU_FAULTED,        /* took an unexpected exception; halted */
    CPU_PARKED,         /* stopped on purpose (shutdown) */
};

struct tss64 {
    uint32_t reserved0;
    uint64_t rsp[3];
    uint64_t reserved1;
    uint64_t ist[7];
    uint64_t reserved2;
    uint16_t reserved3;
    uint16_t iomap_base;
} __packed;

typedef void (*cpu_work_fn)(void *arg);

struct percpu {
    struct percpu *self;            /* must stay first: this_cpu() reads gs:0 */
    uint32_t index;                 /* 0 = BSP */
    uint32_t apic_id;
    uint64_t stack_top;
    volatile enum cpu_state state;
    volatile uint64_t timer_ticks;
    volatile cpu_work_fn work;      /* set by smp_run_on(), run by the idle loop */
    void *work_arg;
    volatile bool work_done;
    int in_trap;                    /* nesting depth of exception handling */
    uint64_t gdt[8] __aligned(16);  /* null, code, data, TSS (two slots) */
    struct tss64 tss __aligned(16);
    struct virt_report virt;        /* what this core offers (kernel/virt_survey.c) */
    void *virt_cpu;                 /* the backend's per-core state (VMXON region, ...) */
    bool virt_enabled;              /* in VMX operation */
};

#define GDT_KERNEL_CODE     0x08
#define GDT_KERNEL_DATA     0x10
#define GDT_TSS             0x18

static inline struct percpu *this_cpu(void)
{
    struct percpu *p;
    __asm__ volatile("mov %%gs:0, %0" : "=r"(p));
    return p;
}

extern struct percpu *cpus[MAX_CPUS];
extern unsigned cpu_count;          /* CPUs known from ACPI (including the BSP) */
extern bool percpu_ready;           /* GS is valid on the BSP */

/* stack_top 0: allocate a kernel stack (APs); the BSP passes the stack it runs on. */
struct percpu *percpu_alloc(uint32_t index, uint32_t apic_id, uint64_t stack_top);
/* Loads this CPU's GDT, TSS, IDT and GS base. */
void cpu_init_tables(struct percpu *cpu);

#endif
