/* The IDT of 32-bit test guests (see trap32.h and isr32.asm). */
#include <guest/guest.h>

#include "trap32.h"

#define IDT_GATE_INTERRUPT32    0x8E    /* present, DPL 0, 32-bit interrupt gate: IF cleared */
#define SEL_CODE                0x08

struct idt_gate32 {
    uint16_t offset_low;
    uint16_t selector;
    uint8_t zero;
    uint8_t type_attr;
    uint16_t offset_high;
} __attribute__((packed));

struct idt_descriptor32 {
    uint16_t limit;
    uint32_t base;
} __attribute__((packed));

_Static_assert(sizeof(struct idt_gate32) == 8, "32-bit IDT gates are 8 bytes");
_Static_assert(sizeof(struct trap_frame32) == 15 * 4, "the frame isr32.asm builds");

/* From isr32.asm: the entry stub of each vector. */
extern const uint32_t isr32_stubs[TRAP32_VECTORS];

/* Called from isr32.asm only. */
void trap32_dispatch(struct trap_frame32 *frame);

static struct idt_gate32 idt[TRAP32_VECTORS] __attribute__((aligned(8)));
static trap_handler32 handlers[TRAP32_VECTORS];

static const char *const exception_names[32] = {
    "#DE", "#DB", "NMI", "#BP", "#OF", "#BR", "#UD", "#NM", "#DF", "coprocessor overrun",
    "#TS", "#NP", "#SS", "#GP", "#PF", "reserved 15", "#MF", "#AC", "#MC", "#XM", "#VE",
    "#CP", "reserved 22", "reserved 23", "reserved 24", "reserved 25", "reserved 26",
    "reserved 27", "#HV", "#VC", "#SX", "reserved 31",
};

void trap32_install(void)
{
    for (unsigned v = 0; v < TRAP32_VECTORS; v++) {
        uint32_t addr = isr32_stubs[v];

        idt[v] = (struct idt_gate32){
            .offset_low = (uint16_t)addr,
            .selector = SEL_CODE,
            .type_attr = IDT_GATE_INTERRUPT32,
            .offset_high = (uint16_t)(addr >> 16),
        };
    }
    struct idt_descriptor32 desc = { .limit = sizeof(idt) - 1, .base = (uint32_t)(uintptr_t)idt };

    __asm__ volatile("lidt %0" : : "m"(desc) : "memory");
}

void trap32_set_handler(unsigned vector, trap_handler32 handler)
{
    if (vector < TRAP32_VECTORS)
        handlers[vector] = handler;
}

noreturn void trap32_fatal(const struct trap_frame32 *f)
{
    uint32_t cr2;

    __asm__ volatile("mov %%cr2, %0" : "=r"(cr2));
    printf("guest: unexpected %s %u (%s) at eip 0x%x, error code 0x%x\n",
           f->vector < 32 ? "exception" : "interrupt", f->vector,
           f->vector < 32 ? exception_names[f->vector] : "external", f->eip, f->error_code);
    printf("guest:   eflags 0x%x cr2 0x%x eax 0x%x ecx 0x%x edx 0x%x ebx 0x%x esi 0x%x edi 0x%x\n",
           f->eflags, cr2, f->eax, f->ecx, f->edx, f->ebx, f->esi, f->edi);
    hv_exit(GUEST_EXIT_FAULT);
}

void trap32_dispatch(struct trap_frame32 *frame)
{
    trap_handler32 handler = frame->vector < TRAP32_VECTORS ? handlers[frame->vector] : NULL;

    if (!handler)
        trap32_fatal(frame);
    handler(frame);
}
