/*
 * Per-CPU descriptor tables.  Each core gets its own GDT with a 64-bit TSS:
 * the TSS gives exceptions that must not trust the current stack (#DF, NMI,
 * #MC) stacks of their own through the IST (SDM Vol. 3A, 6.14.5), and VMX
 * requires a non-null host TR selector (SDM Vol. 3C, 27.2.3).
 */
#include <hv/percpu.h>
#include <hv/paging.h>
#include <hv/kernel.h>
#include <hv/trap.h>
#include <hv/x86.h>
#include <hv/kstring.h>
#include <hv/fpu.h>

#define GDT_CODE64      0x00AF9A000000FFFFULL   /* present, DPL 0, execute/read, L=1 */
#define GDT_DATA        0x00CF92000000FFFFULL   /* present, DPL 0, read/write */
#define TSS_TYPE_AVAIL  0x9ULL
#define DESC_PRESENT    BIT(47)

struct percpu *cpus[MAX_CPUS];
unsigned cpu_count = 1;
bool percpu_ready;

static uint64_t alloc_stack_top(uint64_t size)
{
    phys_addr_t p = phys_alloc_pages(size / PAGE_SIZE);
    if (p == PMM_NO_MEMORY)
        panic("out of memory allocating a %llu KiB stack", (unsigned long long)(size / KiB));
    return (uint64_t)(uintptr_t)phys_to_virt(p) + size;
}

struct percpu *percpu_alloc(uint32_t index, uint32_t apic_id, uint64_t stack_top)
{
    STATIC_ASSERT(sizeof(struct percpu) <= 2 * PAGE_SIZE, "struct percpu grew past 2 pages");
    phys_addr_t p = phys_alloc_pages(2);
    if (p == PMM_NO_MEMORY)
        panic("out of memory allocating per-CPU data for cpu%u", index);
    struct percpu *cpu = phys_to_virt(p);
    cpu->self = cpu;
    cpu->index = index;
    cpu->apic_id = apic_id;
    cpu->state = CPU_ABSENT;
    cpu->stack_top = stack_top ? stack_top : alloc_stack_top(KERNEL_STACK_SIZE);
    cpu->tss.ist[IST_DOUBLE_FAULT - 1] = alloc_stack_top(IST_STACK_SIZE);
    cpu->tss.ist[IST_NMI - 1] = alloc_stack_top(IST_STACK_SIZE);
    cpu->tss.ist[IST_MACHINE_CHECK - 1] = alloc_stack_top(IST_STACK_SIZE);
    cpu->tss.iomap_base = sizeof(struct tss64);     /* no I/O permission bitmap */
    cpus[index] = cpu;
    return cpu;
}

void cpu_init_tables(struct percpu *cpu)
{
    uint64_t tss = (uint64_t)(uintptr_t)&cpu->tss;
    uint64_t limit = sizeof(struct tss64) - 1;

    cpu->gdt[0] = 0;
    cpu->gdt[1] = GDT_CODE64;
    cpu->gdt[2] = GDT_DATA;
    /* 16-byte system descriptor (SDM Vol. 3A, 8.2.3). */
    cpu->gdt[3] = (limit & 0xFFFF) | ((tss & 0xFFFFFF) << 16) | (TSS_TYPE_AVAIL << 40) |
                  DESC_PRESENT | (((limit >> 16) & 0xF) << 48) | (((tss >> 24) & 0xFF) << 56);
    cpu->gdt[4] = tss >> 32;

    struct { uint16_t limit; uint64_t base; } __packed gdtr = {
        .limit = 5 * 8 - 1, .base = (uint64_t)(uintptr_t)cpu->gdt };
    __asm__ volatile(
        "lgdt %0\n\t"
        "pushq %1\n\t"
        "leaq 1f(%%rip), %%rax\n\t"
        "pushq %%rax\n\t"
        "lretq\n"
        "1:\n\t"
        "mov %2, %%ds\n\t"
        "mov %2, %%es\n\t"
        "mov %2, %%ss\n\t"
        "xor %%eax, %%eax\n\t"
        "mov %%eax, %%fs\n\t"
        "mov %%eax, %%gs\n\t"
        "ltr %w3\n\t"
        :: "m"(gdtr), "i"((uint64_t)GDT_KERNEL_CODE), "r"((uint32_t)GDT_KERNEL_DATA),
           "r"((uint32_t)GDT_TSS)
        : "rax", "memory");
    /* Loading GS with a null selector clears the base on AMD: set it afterwards. */
    wrmsr(MSR_IA32_GS_BASE, (uint64_t)(uintptr_t)cpu);
    idt_load();
    fpu_enable_host();
}
