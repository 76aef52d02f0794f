/*
 * IDT and trap dispatch.  An unexpected exception prints a register dump and
 * a frame-pointer backtrace, then stops only the core that took it: on an AP
 * the BSP notices (state CPU_FAULTED) and carries on; on the BSP the run ends
 * with a FAIL verdict so that a test never waits for a timeout.
 */
#include <hv/trap.h>
#include <hv/percpu.h>
#include <hv/lapic.h>
#include <hv/power.h>
#include <hv/kernel.h>
#include <hv/log.h>
#include <hv/x86.h>
#include <hv/format.h>
#include <hv/vms.h>

#define IDT_ENTRIES         256
#define IDT_INTERRUPT_GATE  0x8E00      /* present, DPL 0, 64-bit interrupt gate */
#define BACKTRACE_DEPTH     12

struct idt_entry {
    uint16_t offset_lo;
    uint16_t selector;
    uint16_t flags;                     /* IST in bits 0-2, type/DPL/P above */
    uint16_t offset_mid;
    uint32_t offset_hi;
    uint32_t reserved;
} __packed;

extern const uint64_t isr_stub_table[IDT_ENTRIES];
static struct idt_entry idt[IDT_ENTRIES] __aligned(16);

static const char *const exception_names[32] = {
    "#DE divide error", "#DB debug", "NMI", "#BP breakpoint", "#OF overflow",
    "#BR bound range exceeded", "#UD invalid opcode", "#NM device not available",
    "#DF double fault", "coprocessor segment overrun", "#TS invalid TSS",
    "#NP segment not present", "#SS stack-segment fault", "#GP general protection",
    "#PF page fault", "reserved (15)", "#MF x87 floating-point error", "#AC alignment check",
    "#MC machine check", "#XM SIMD floating-point", "#VE virtualization exception",
    "#CP control protection", "reserved (22)", "reserved (23)", "reserved (24)",
    "reserved (25)", "reserved (26)", "reserved (27)", "#HV hypervisor injection",
    "#VC VMM communication", "#SX security exception", "reserved (31)",
};

const char *exception_name(unsigned vector)
{
    return vector < 32 ? exception_names[vector] : "external interrupt";
}

static void set_gate(unsigned vec, uint64_t handler, unsigned ist)
{
    idt[vec] = (struct idt_entry){
        .offset_lo = handler & 0xFFFF,
        .selector = GDT_KERNEL_CODE,
        .flags = IDT_INTERRUPT_GATE | (ist & 7),
        .offset_mid = (handler >> 16) & 0xFFFF,
        .offset_hi = handler >> 32,
    };
}

void idt_init(void)
{
    for (unsigned v = 0; v < IDT_ENTRIES; v++)
        set_gate(v, isr_stub_table[v], 0);
    set_gate(VEC_DOUBLE_FAULT, isr_stub_table[VEC_DOUBLE_FAULT], IST_DOUBLE_FAULT);
    set_gate(VEC_NMI, isr_stub_table[VEC_NMI], IST_NMI);
    set_gate(VEC_MACHINE_CHECK, isr_stub_table[VEC_MACHINE_CHECK], IST_MACHINE_CHECK);
}

void idt_load(void)
{
    struct { uint16_t limit; uint64_t base; } __packed idtr = {
        .limit = sizeof(idt) - 1, .base = (uint64_t)(uintptr_t)idt };
    __asm__ volatile("lidt %0" :: "m"(idtr));
}

/* Describes a #PF error code (SDM Vol. 3A, 4.7). */
static void describe_pf(uint64_t ec, char *buf, size_t n)
{
    ksnprintf(buf, n, " [%s, %s, %s%s%s]", ec & 1 ? "protection violation" : "not present",
              ec & 2 ? "write" : "read", ec & 4 ? "user" : "supervisor",
              ec & 8 ? ", reserved bit set" : "", ec & 16 ? ", instruction fetch" : "");
}

static bool kernel_address(uint64_t a)
{
    return a >= KERNEL_VMA || (a >= DIRECT_MAP_BASE && a < MMIO_WINDOW_BASE);
}

/* Follows saved frame pointers while they stay on this CPU's stack. */
static void backtrace(uint64_t rbp)
{
    struct percpu *cpu = this_cpu();
    uint64_t lo = cpu->stack_top - KERNEL_STACK_SIZE, hi = cpu->stack_top;
    char line[256];
    int n = ksnprintf(line, sizeof(line), "  call trace:");
    for (int depth = 0; depth < BACKTRACE_DEPTH; depth++) {
        if (rbp < lo || rbp + 16 > hi || (rbp & 7))
            break;
        uint64_t ret = ((uint64_t *)rbp)[1];
        if (!kernel_address(ret))
            break;
        n += ksnprintf(line + n, sizeof(line) - n, " %#llx", (unsigned long long)ret);
        rbp = ((uint64_t *)rbp)[0];
    }
    log_raw("%s\n", line);
}

static void dump_registers(const struct trap_frame *f)
{
    log_raw("  RIP=%016llx CS=%04llx RFLAGS=%016llx RSP=%016llx SS=%04llx\n",
            (unsigned long long)f->rip, (unsigned long long)f->cs,
            (unsigned long long)f->rflags, (unsigned long long)f->rsp, (unsigned long long)f->ss);
    log_raw("  RAX=%016llx RBX=%016llx RCX=%016llx RDX=%016llx\n",
            (unsigned long long)f->rax, (unsigned long long)f->rbx,
            (unsigned long long)f->rcx, (unsigned long long)f->rdx);
    log_raw("  RSI=%016llx RDI=%016llx RBP=%016llx R8 =%016llx\n",
            (unsigned long long)f->rsi, (unsigned long long)f->rdi,
            (unsigned long long)f->rbp, (unsigned long long)f->r8);
    log_raw("  R9 =%016llx R10=%016llx R11=%016llx R12=%016llx\n",
            (unsigned long long)f->r9, (unsigned long long)f->r10,
            (unsigned long long)f->r11, (unsigned long long)f->r12);
    log_raw("  R13=%016llx R14=%016llx R15=%016llx\n",
            (unsigned long long)f->r13, (unsigned long long)f->r14, (unsigned long long)f->r15);
    log_raw("  CR0=%016llx CR2=%016llx CR3=%016llx CR4=%016llx\n",
            (unsigned long long)read_cr0(), (unsigned long long)read_cr2(),
            (unsigned long long)read_cr3(), (unsigned long long)read_cr4());
    log_raw("  EFER=%016llx GS.base=%016llx\n", (unsigned long long)rdmsr(MSR_IA32_EFER),
            (unsigned long long)rdmsr(MSR_IA32_GS_BASE));
}

static void __noreturn unexpected_exception(struct trap_frame *f)
{
    struct percpu *cpu = this_cpu();
    char extra[96] = "";

    if (++cpu->in_trap > 1) {
        /* An exception while reporting one: say the bare minimum and stop. */
        log_raw("[cpu%u] nested %s at RIP=%#llx while handling an exception; halting\n",
                cpu->index, exception_name((unsigned)f->vector), (unsigned long long)f->rip);
        cpu->state = CPU_FAULTED;
        cpu_park();
    }
    if (f->vector == VEC_PAGE_FAULT)
        describe_pf(f->error_code, extra, sizeof(extra));
    pr_err("unexpected exception %s (vector %llu), error code %#llx%s at RIP=%#llx",
           exception_name((unsigned)f->vector), (unsigned long long)f->vector,
           (unsigned long long)f->error_code, extra, (unsigned long long)f->rip);
    dump_registers(f);
    backtrace(f->rbp);

    cpu->state = CPU_FAULTED;
    if (cpu->index == 0)
        finish_run(VERDICT_FAIL, "the BSP took an unexpected exception");
    vms_cpu_down();
    pr_err("cpu%u halted; the other cores go on", cpu->index);
    cpu_park();
}

void trap_dispatch(struct trap_frame *f)
{
    if (f->vector < VEC_FIRST_IRQ)
        unexpected_exception(f);

    irq_dispatch((uint8_t)f->vector);
}

/* Host interrupt handling, shared by the IDT path and by VM exits that
 * acknowledged an interrupt on exit (the guest was running when it came). */
void irq_dispatch(uint8_t vector)
{
    struct percpu *cpu = this_cpu();

    switch (vector) {
    case VEC_LAPIC_TIMER:
        cpu->timer_ticks++;
        lapic_eoi();
        break;
    case VEC_IPI_WORK:
        lapic_eoi();            /* the idle loop runs the work once it wakes */
        break;
    case VEC_SPURIOUS:
        break;                  /* no EOI for spurious interrupts (SDM 11.9) */
    case VEC_LAPIC_ERROR:
        pr_warn("local APIC error interrupt");
        lapic_eoi();
        break;
    case VEC_NMI:
        pr_warn("NMI received");
        break;
    default:
        pr_warn("unexpected interrupt vector %u", vector);
        lapic_eoi();
        break;
    }
}

void panic(const char *fmt, ...)
{
    char msg[256];
    va_list ap;
    va_start(ap, fmt);
    kvsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    irq_disable();
    pr_err("PANIC: %s", msg);
    if (!percpu_ready || this_cpu()->index == 0)
        finish_run(VERDICT_FAIL, msg);
    this_cpu()->state = CPU_FAULTED;
    cpu_park();
}
