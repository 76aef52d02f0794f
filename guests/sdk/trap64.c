/* The IDT of 64-bit guests (see guest/trap64.h and sdk/isr64.asm). */
#include <guest/guest.h>
#include <guest/trap64.h>

#define IDT_GATE_INTERRUPT  0x8E    /* present, DPL 0, 64-bit interrupt gate */

struct idt_gate {
    uint16_t offset_low;
    uint16_t selector;
    uint8_t ist;                    /* 0: stay on the current stack */
    uint8_t type_attr;
    uint16_t offset_mid;
    uint32_t offset_high;
    uint32_t reserved;
} __attribute__((packed));

struct idt_descriptor {
    uint16_t limit;
    uint64_t base;
} __attribute__((packed));

_Static_assert(sizeof(struct idt_gate) == 16, "64-bit IDT gates are 16 bytes");

/* From isr64.asm: the entry stub of each vector. */
extern const uint64_t isr64_stubs[TRAP64_VECTORS];

/* Called from isr64.asm only. */
void trap64_dispatch(struct trap_frame64 *frame);

static struct idt_gate idt[TRAP64_VECTORS] __attribute__((aligned(16)));
static trap_handler64 handlers[TRAP64_VECTORS];

static const char *const vector_names[TRAP64_VECTORS] = {
    "#DE divide error", "#DB debug", "NMI", "#BP breakpoint", "#OF overflow",
    "#BR bound range", "#UD invalid opcode", "#NM device not available",
    "#DF double fault", "coprocessor segment overrun", "#TS invalid TSS",
    "#NP segment not present", "#SS stack fault", "#GP general protection",
    "#PF page fault", "reserved 15", "#MF x87 error", "#AC alignment check",
    "#MC machine check", "#XM SIMD error", "#VE virtualization exception",
    "#CP control protection", "reserved 22", "reserved 23", "reserved 24",
    "reserved 25", "reserved 26", "reserved 27", "#HV hypervisor injection",
    "#VC VMM communication", "#SX security exception", "reserved 31",
};

static uint16_t current_cs(void)
{
    uint16_t cs;

    __asm__("mov %%cs, %0" : "=r"(cs));
    return cs;
}

void trap64_install(void)
{
    uint16_t cs = current_cs();

    for (unsigned v = 0; v < TRAP64_VECTORS; v++) {
        uint64_t addr = isr64_stubs[v];

        idt[v] = (struct idt_gate){
            .offset_low = (uint16_t)addr,
            .selector = cs,
            .type_attr = IDT_GATE_INTERRUPT,
            .offset_mid = (uint16_t)(addr >> 16),
            .offset_high = (uint32_t)(addr >> 32),
        };
    }
    struct idt_descriptor desc = { .limit = sizeof(idt) - 1, .base = (uint64_t)(uintptr_t)idt };

    __asm__ volatile("lidt %0" : : "m"(desc) : "memory");
}

void trap64_set_handler(unsigned vector, trap_handler64 handler)
{
    if (vector < TRAP64_VECTORS)
        handlers[vector] = handler;
}

noreturn void trap64_fatal(const struct trap_frame64 *f)
{
    uint64_t cr2;

    __asm__ volatile("mov %%cr2, %0" : "=r"(cr2));
    printf("guest: unexpected exception %lu (%s) at rip 0x%lx, error code 0x%lx\n",
           (unsigned long)f->vector,
           f->vector < TRAP64_VECTORS ? vector_names[f->vector] : "?",
           (unsigned long)f->rip, (unsigned long)f->error_code);
    printf("guest:   cs 0x%lx rflags 0x%lx rsp 0x%lx cr2 0x%lx\n", (unsigned long)f->cs,
           (unsigned long)f->rflags, (unsigned long)f->rsp, (unsigned long)cr2);
    hv_exit(GUEST_EXIT_FAULT);
}

void trap64_dispatch(struct trap_frame64 *frame)
{
    trap_handler64 handler = frame->vector < TRAP64_VECTORS ? handlers[frame->vector] : NULL;

    if (!handler)
        trap64_fatal(frame);
    handler(frame);
}
