/* Interrupts and exceptions (SDM Vol. 3A, chapter 6). */
#ifndef HV_TRAP_H
#define HV_TRAP_H

#include <hv/types.h>

/* Layout pushed by boot/isr.asm, lowest address first. */
struct trap_frame {
    uint64_t r15, r14, r13, r12, r11, r10, r9, r8;
    uint64_t rbp, rdi, rsi, rdx, rcx, rbx, rax;
    uint64_t vector, error_code;
    uint64_t rip, cs, rflags, rsp, ss;      /* pushed by the CPU */
};

#define VEC_NMI             2
#define VEC_DOUBLE_FAULT    8
#define VEC_PAGE_FAULT      14
#define VEC_MACHINE_CHECK   18
#define VEC_FIRST_IRQ       32
#define VEC_LAPIC_TIMER     0xF0
#define VEC_IPI_WORK        0xF1
#define VEC_LAPIC_ERROR     0xFE
#define VEC_SPURIOUS        0xFF

#define IST_DOUBLE_FAULT    1
#define IST_NMI             2
#define IST_MACHINE_CHECK   3

void idt_init(void);            /* once, on the BSP */
void idt_load(void);            /* on every CPU */
void trap_dispatch(struct trap_frame *f);
void irq_dispatch(uint8_t vector);
const char *exception_name(unsigned vector);

#endif
