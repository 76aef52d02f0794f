/*
 * vmxinstr64: a guest must not be able to use VMX itself (no nested VMX):
 * every VMX instruction it executes exits to the hypervisor, which must
 * inject #UD, exactly as a CPU without VMX would.  This guest installs a
 * #UD handler, tries four VMX instructions, and checks that each raised #UD
 * reported at the instruction itself.  Exit 0 when all four did, 1 otherwise.
 */
#include <guest/guest.h>
#include <guest/trap64.h>

#define EXIT_MISSING_UD 1

struct vmx_instruction {
    const char *name;
    void (*try)(void);              /* from vmxinstr64_ops.asm */
};

void vmx_try_vmxon(void);
void vmx_try_vmread(void);
void vmx_try_vmlaunch(void);
void vmx_try_invept(void);

static const struct vmx_instruction instructions[] = {
    { "VMXON", vmx_try_vmxon },
    { "VMREAD", vmx_try_vmread },
    { "VMLAUNCH", vmx_try_vmlaunch },
    { "INVEPT", vmx_try_invept },
};

/* Set by vmxinstr64_ops.asm before each attempt; 0 = no #UD expected. */
volatile uint64_t ud_expect_rip;
volatile uint64_t ud_resume_rip;

/* What the handler saw during the current attempt. */
static volatile bool ud_seen;
static volatile uint64_t ud_rip;

static void on_invalid_opcode(struct trap_frame64 *frame)
{
    if (!ud_resume_rip)
        trap64_fatal(frame);        /* a #UD outside an attempt is a real bug */
    printf("vmxinstr: got #UD at 0x%lx\n", (unsigned long)frame->rip);
    ud_seen = true;
    ud_rip = frame->rip;
    frame->rip = ud_resume_rip;     /* skip the instruction */
    ud_resume_rip = 0;
}

static bool try_instruction(const struct vmx_instruction *insn)
{
    ud_seen = false;
    insn->try();
    ud_resume_rip = 0;
    if (!ud_seen) {
        printf("vmxinstr: %s completed without #UD\n", insn->name);
        return false;
    }
    if (ud_rip != ud_expect_rip) {
        printf("vmxinstr: %s: #UD reported at 0x%lx, but the instruction is at 0x%lx\n",
               insn->name, (unsigned long)ud_rip, (unsigned long)ud_expect_rip);
        return false;
    }
    printf("vmxinstr: %s raised #UD\n", insn->name);
    return true;
}

int guest_main64(const char *args, uint64_t ram_size)
{
    unsigned raised = 0;

    (void)args;
    (void)ram_size;
    trap64_install();
    trap64_set_handler(VEC_UD, on_invalid_opcode);
    printf("vmxinstr: trying %u VMX instructions\n", (unsigned)ARRAY_SIZE(instructions));
    for (size_t i = 0; i < ARRAY_SIZE(instructions); i++)
        raised += try_instruction(&instructions[i]) ? 1 : 0;
    printf("vmxinstr: %u of %u VMX instructions raised #UD\n", raised,
           (unsigned)ARRAY_SIZE(instructions));
    return raised == ARRAY_SIZE(instructions) ? 0 : EXIT_MISSING_UD;
}
