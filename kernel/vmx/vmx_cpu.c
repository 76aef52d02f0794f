/*
 * Entering and leaving VMX operation on one core (SDM Vol. 3C, 24.7 "Enabling
 * and Entering VMX Operation", 24.8 "Restrictions on VMX Operation").
 */
#include <hv/vmx.h>
#include <hv/percpu.h>
#include <hv/paging.h>
#include <hv/kernel.h>
#include <hv/log.h>
#include <hv/x86.h>

struct vmx_cpu {
    phys_addr_t vmxon_region;
    uint64_t saved_cr4;
};

/* Step 1 (24.7): IA32_FEATURE_CONTROL must be locked with "VMX outside SMX"
 * enabled.  Firmware normally does this; when it left the MSR unlocked we may
 * set the bits and lock it ourselves (until the next reset). */
static int enable_feature_control(void)
{
    uint64_t fc = rdmsr(MSR_IA32_FEATURE_CONTROL);
    if (fc & FEATURE_CONTROL_LOCKED) {
        if (!(fc & FEATURE_CONTROL_VMX_OUTSIDE_SMX)) {
            pr_err("VMXON impossible: IA32_FEATURE_CONTROL=%#llx is locked with bit 2 (enable "
                   "VMX outside SMX) clear; enable VT-x in the firmware setup",
                   (unsigned long long)fc);
            return -1;
        }
        return 0;
    }
    wrmsr(MSR_IA32_FEATURE_CONTROL, fc | FEATURE_CONTROL_VMX_OUTSIDE_SMX | FEATURE_CONTROL_LOCKED);
    pr_debug("IA32_FEATURE_CONTROL was unlocked: set bit 2 and locked it");
    return 0;
}

/* Step 2 (24.8, A.7/A.8): CR0 and CR4 must hold every bit the FIXED0 MSRs
 * force to 1 and none the FIXED1 MSRs force to 0; CR4.VMXE is among them. */
static int apply_fixed_bits(const struct vmx_msrs *m)
{
    uint64_t cr0 = read_cr0(), cr4 = read_cr4() | CR4_VMXE;
    uint64_t cr0_new = (cr0 | m->cr0_fixed0) & m->cr0_fixed1;
    uint64_t cr4_new = (cr4 | m->cr4_fixed0) & m->cr4_fixed1;
    if ((cr0_new ^ cr0) & (CR0_PE | CR0_PG)) {
        pr_err("VMXON impossible: IA32_VMX_CR0_FIXED0/1 (%#llx/%#llx) conflict with paging",
               (unsigned long long)m->cr0_fixed0, (unsigned long long)m->cr0_fixed1);
        return -1;
    }
    write_cr0(cr0_new);
    write_cr4(cr4_new);
    return 0;
}

int vmx_cpu_enable(void)
{
    struct percpu *cpu = this_cpu();
    const struct virt_report *r = &cpu->virt;
    char why[160];

    if (cpu->virt_enabled)
        return 0;
    if (!r->vmx_usable) {
        pr_err("VMX cannot be used on this core: %s", r->vmx_problem);
        return -1;
    }
    struct vmx_cpu *vc = cpu->virt_cpu;
    if (!vc) {
        vc = kzalloc(sizeof(*vc));
        if (!vc)
            return -1;
        cpu->virt_cpu = vc;
    }
    if (!vc->vmxon_region) {
        vc->vmxon_region = phys_alloc_pages(1);
        if (vc->vmxon_region == PMM_NO_MEMORY) {
            pr_err("VMXON: out of memory for the VMXON region");
            return -1;
        }
    }
    if (enable_feature_control())
        return -1;
    vc->saved_cr4 = read_cr4();
    if (apply_fixed_bits(&r->vmx_msrs))
        return -1;

    /* Step 3 (24.11.5): the VMXON region starts with the VMCS revision
     * identifier from IA32_VMX_BASIC[30:0]; bit 31 must be clear. */
    *(uint32_t *)phys_to_virt(vc->vmxon_region) = r->vmx.revision_id;
    enum vmx_result res = vmxon(vc->vmxon_region);
    if (res != VMX_OK) {
        pr_err("VMXON failed: %s", vmx_result_describe(res, why, sizeof(why)));
        write_cr4(vc->saved_cr4);
        return -1;
    }
    /* Mappings cached by an earlier VMX session must not survive (31.3). */
    if (r->vmx.invept_all)
        invept(INVEPT_ALL_CONTEXT, 0);
    cpu->virt_enabled = true;
    pr_debug("VMXON: in VMX root operation (VMXON region %#llx)",
             (unsigned long long)vc->vmxon_region);
    return 0;
}

void vmx_cpu_disable(void)
{
    struct percpu *cpu = this_cpu();
    struct vmx_cpu *vc = cpu->virt_cpu;
    char why[160];

    if (!cpu->virt_enabled)
        return;
    enum vmx_result res = vmxoff();
    if (res != VMX_OK) {
        pr_err("VMXOFF failed: %s", vmx_result_describe(res, why, sizeof(why)));
        return;
    }
    cpu->virt_enabled = false;
    write_cr4(vc->saved_cr4 & ~CR4_VMXE);
    pr_debug("VMXOFF: left VMX operation");
}
