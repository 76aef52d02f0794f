/*
 * What CPUID tells a guest: the host's answers, filtered.  We hide what the
 * guest cannot use (VMX, SVM, SMX, MONITOR/MWAIT, the local APIC and x2APIC
 * until a virtual interrupt controller exists, thermal and performance
 * monitoring), present one logical processor, set the "hypervisor present"
 * bit and answer leaf 0x40000000 with our signature (include/hv/hypercall.h).
 */
#include <hv/vm_internal.h>
#include <hv/hypercall.h>
#include <hv/x86.h>

#define LEAF1_ECX_HIDDEN    (BIT(3) | BIT(5) | BIT(6) | BIT(7) | BIT(8) | BIT(15) | BIT(21) | \
                             BIT(24))   /* MONITOR VMX SMX EST TM2 PDCM x2APIC TSC-deadline */
#define LEAF1_ECX_HYPERVISOR BIT(31)
#define LEAF1_EDX_HIDDEN    (BIT(9) | BIT(22) | BIT(28) | BIT(29) | BIT(31))  /* APIC ACPI HTT TM PBE */
#define LEAF1_EBX_KEEP      0x0000FFFFu /* brand index, CLFLUSH size; APIC ID 0, 1 CPU */
#define LEAF1_EBX_ONE_CPU   (1u << 16)
#define LEAF4_EAX_KEEP      0x03FFFFFFu /* one core per package, one thread per cache */
#define LEAF7_EBX_HIDDEN    (BIT(2) | BIT(12) | BIT(15) | BIT(25))  /* SGX PQM PQE Intel PT */
#define LEAF7_ECX_HIDDEN    (BIT(5))    /* WAITPKG */
#define EXT1_ECX_SVM        BIT(2)
#define HV_LEAF_MAX         HV_CPUID_LEAF_BASE

/* Leaves whose answer depends on the subleaf in ECX (SDM Vol. 2A, CPUID). */
#define SUBLEAF_LEAVES      (BIT(4) | BIT(7) | BIT(0xB) | BIT(0xD) | BIT(0xF) | BIT(0x10) | \
                             BIT(0x12) | BIT(0x14) | BIT(0x17) | BIT(0x18) | BIT(0x1D) | BIT(0x1F))


static void compute(struct vcpu *vcpu, uint32_t leaf, uint32_t subleaf, uint32_t out[4])
{
    struct cpuid_regs r = { 0, 0, 0, 0 };

    if (leaf >= HV_CPUID_LEAF_BASE && leaf < HV_CPUID_LEAF_BASE + 0x100) {
        if (leaf == HV_CPUID_LEAF_BASE)
            r = (struct cpuid_regs){ HV_LEAF_MAX, HV_CPUID_SIG_EBX, HV_CPUID_SIG_ECX, HV_CPUID_SIG_EDX };
    } else if ((leaf < 0x80000000 && leaf <= cpuid(0, 0).eax) ||
               (leaf >= 0x80000000 && leaf <= cpuid(0x80000000, 0).eax)) {
        r = cpuid(leaf, subleaf);
    }

    switch (leaf) {
    case 1:
        r.ecx &= ~LEAF1_ECX_HIDDEN;
        r.ecx |= LEAF1_ECX_HYPERVISOR;
        r.ecx &= ~CPUID_LEAF1_ECX_OSXSAVE;      /* set per guest CR4 in vm_cpuid() */
        (void)vcpu;
        r.edx &= ~LEAF1_EDX_HIDDEN;
        r.ebx = (r.ebx & LEAF1_EBX_KEEP) | LEAF1_EBX_ONE_CPU;
        break;
    case 4:
        r.eax &= LEAF4_EAX_KEEP;
        break;
    case 5:     /* MONITOR/MWAIT */
    case 6:     /* thermal and power management */
    case 0xA:   /* architectural performance monitoring */
    case 0xB:   /* x2APIC topology */
    case 0x1F:
        r = (struct cpuid_regs){ 0, 0, 0, 0 };
        break;
    case 7:
        if (subleaf == 0) {
            r.ebx &= ~LEAF7_EBX_HIDDEN;
            r.ecx &= ~LEAF7_ECX_HIDDEN;
        }
        break;
    case 0x80000001:
        r.ecx &= ~EXT1_ECX_SVM;
        break;
    default:
        break;
    }
    out[0] = r.eax;
    out[1] = r.ebx;
    out[2] = r.ecx;
    out[3] = r.edx;
}

void vm_cpuid_init(struct vm *vm)
{
    struct cpuid_table *t = &vm->cpuid;
    t->max_basic = cpuid(0, 0).eax;
    t->max_ext = cpuid(0x80000000, 0).eax;
    t->subleaf_leaves = SUBLEAF_LEAVES;
    for (uint32_t l = 0; l < CPUID_TABLE_LEAVES; l++) {
        compute(NULL, l, 0, t->basic[l]);
        compute(NULL, 0x80000000 + l, 0, t->ext[l]);
    }
}

void cpuid_uncached(struct vcpu *vcpu, uint32_t leaf, uint32_t subleaf)
{
    uint32_t out[4];
    compute(vcpu, leaf, subleaf, out);
    vcpu->gpr[GPR_RAX] = out[0];
    vcpu->gpr[GPR_RBX] = out[1];
    vcpu->gpr[GPR_RCX] = out[2];
    vcpu->gpr[GPR_RDX] = out[3];
}
