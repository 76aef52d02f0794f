/*
 * badmmio64: an MMIO instruction the hypervisor cannot emulate must raise
 * #UD in the guest (the hypervisor logs its bytes), reported at the
 * instruction itself, and the guest must be able to carry on.  Two such
 * instructions with a memory operand on the test device (devices=testdev):
 * XADD (0F C1) and IMUL r32, r/m32 (0F AF).  Output:
 *     badmmio: got #UD at 0x<rip> for <name>      (per instruction)
 *     badmmio: <name> completed without #UD       (if it did)
 *     badmmio: 2 of 2 unsupported instructions raised #UD
 * Exit status 0 when both raised #UD where expected, 1 otherwise; 77
 * without the test device ("badmmio: no test device").
 */
#include <guest/guest.h>
#include <guest/trap64.h>

#include "testlib/testdev.h"

#define EXIT_MISSING_UD     1
#define SCRATCH_OFFSET      0x40

struct bad_instruction {
    const char *name;
    void (*try)(uintptr_t addr);
};

/* Where the current attempt's instruction is and where to go on after it;
 * resume 0 = no attempt running. */
static volatile uint64_t ud_expect_rip, ud_resume_rip;
static const char *volatile ud_name;
static volatile bool ud_seen;
static volatile uint64_t ud_rip;

/*
 * Each attempt publishes the instruction's address (a #UD is a fault: it
 * is reported there) and the resume address, then runs it on RBX = addr,
 * ECX = value (both instructions write ECX when they do run).
 */
#define TRY_INSTRUCTION(insn)                                                   \
    uint32_t value = 0x1234;                                                    \
    __asm__ volatile("lea 1f(%%rip), %%rax\n\t"                                 \
                     "mov %%rax, %[expect]\n\t"                                 \
                     "lea 2f(%%rip), %%rax\n\t"                                 \
                     "mov %%rax, %[resume]\n"                                   \
                     "1:\n\t" insn "\n"                                         \
                     "2:"                                                       \
                     : [expect] "=m"(ud_expect_rip), [resume] "=m"(ud_resume_rip), \
                       "+c"(value)                                              \
                     : "b"(addr)                                                \
                     : "rax", "cc", "memory")

static void try_xadd(uintptr_t addr)
{
    TRY_INSTRUCTION("xaddl %%ecx, (%%rbx)");        /* 0F C1 0B */
}

static void try_imul(uintptr_t addr)
{
    TRY_INSTRUCTION("imull (%%rbx), %%ecx");        /* 0F AF 0B */
}

static const struct bad_instruction instructions[] = {
    { "xadd", try_xadd },
    { "imul", try_imul },
};

static void on_invalid_opcode(struct trap_frame64 *frame)
{
    if (!ud_resume_rip)
        trap64_fatal(frame);        /* a #UD outside an attempt is a real bug */
    printf("badmmio: got #UD at 0x%lx for %s\n", (unsigned long)frame->rip, ud_name);
    ud_seen = true;
    ud_rip = frame->rip;
    frame->rip = ud_resume_rip;     /* skip the instruction */
    ud_resume_rip = 0;
}

static bool try_instruction(const struct bad_instruction *insn)
{
    ud_seen = false;
    ud_name = insn->name;
    insn->try(TESTDEV_MMIO_BASE + SCRATCH_OFFSET);
    ud_resume_rip = 0;
    if (!ud_seen) {
        printf("badmmio: %s completed without #UD\n", insn->name);
        return false;
    }
    if (ud_rip != ud_expect_rip) {
        printf("badmmio: %s: #UD reported at 0x%lx, but the instruction is at 0x%lx\n",
               insn->name, (unsigned long)ud_rip, (unsigned long)ud_expect_rip);
        return false;
    }
    return true;
}

int guest_main64(const char *args, uint64_t ram_size)
{
    unsigned raised = 0;

    (void)args;
    (void)ram_size;
    trap64_install();
    trap64_set_handler(VEC_UD, on_invalid_opcode);
    if (!testdev_present()) {
        printf("badmmio: no test device\n");
        return EXIT_NO_TESTDEV;
    }
    for (size_t i = 0; i < ARRAY_SIZE(instructions); i++)
        raised += try_instruction(&instructions[i]) ? 1 : 0;
    printf("badmmio: %u of %u unsupported instructions raised #UD\n", raised,
           (unsigned)ARRAY_SIZE(instructions));
    return raised == ARRAY_SIZE(instructions) ? 0 : EXIT_MISSING_UD;
}
