/*
 * Reads this core's VMX capability MSRs (SDM Vol. 3D, Appendix A) and
 * IA32_FEATURE_CONTROL (Vol. 3C, 24.7).  Each MSR is read only when the CPU
 * says it exists: reading a missing MSR raises #GP on real hardware.
 */
#include <hv/virt.h>
#include <hv/x86.h>

#define CPUID_1_ECX_VMX     BIT(5)

static void read_vmx_msrs(struct vmx_msrs *m)
{
    m->basic = rdmsr(MSR_IA32_VMX_BASIC);
    m->pinbased = rdmsr(MSR_IA32_VMX_PINBASED_CTLS);
    m->procbased = rdmsr(MSR_IA32_VMX_PROCBASED_CTLS);
    m->exit = rdmsr(MSR_IA32_VMX_EXIT_CTLS);
    m->entry = rdmsr(MSR_IA32_VMX_ENTRY_CTLS);
    m->misc = rdmsr(MSR_IA32_VMX_MISC);
    m->cr0_fixed0 = rdmsr(MSR_IA32_VMX_CR0_FIXED0);
    m->cr0_fixed1 = rdmsr(MSR_IA32_VMX_CR0_FIXED1);
    m->cr4_fixed0 = rdmsr(MSR_IA32_VMX_CR4_FIXED0);
    m->cr4_fixed1 = rdmsr(MSR_IA32_VMX_CR4_FIXED1);
    m->vmcs_enum = rdmsr(MSR_IA32_VMX_VMCS_ENUM);

    /* A.3.3: IA32_VMX_PROCBASED_CTLS2 exists only if the primary controls
     * allow "activate secondary controls" (bit 63 of the MSR = bit 31 allowed-1). */
    if (m->procbased & (PROC_ACTIVATE_SECONDARY_CONTROLS << 32)) {
        m->procbased2 = rdmsr(MSR_IA32_VMX_PROCBASED_CTLS2);
        m->have_procbased2 = true;
    }
    /* A.10: IA32_VMX_EPT_VPID_CAP exists if EPT or VPID may be enabled. */
    if (m->have_procbased2 &&
        (m->procbased2 & ((uint64_t)(PROC2_ENABLE_EPT | PROC2_ENABLE_VPID) << 32))) {
        m->ept_vpid_cap = rdmsr(MSR_IA32_VMX_EPT_VPID_CAP);
        m->have_ept_vpid_cap = true;
    }
    if (m->have_procbased2 && (m->procbased2 & ((uint64_t)PROC2_ENABLE_VMFUNC << 32))) {
        m->vmfunc = rdmsr(MSR_IA32_VMX_VMFUNC);
        m->have_vmfunc = true;
    }
    /* A.1: bit 55 of IA32_VMX_BASIC announces the TRUE_* control MSRs. */
    if (m->basic & VMX_BASIC_TRUE_CTLS) {
        m->true_pinbased = rdmsr(MSR_IA32_VMX_TRUE_PINBASED_CTLS);
        m->true_procbased = rdmsr(MSR_IA32_VMX_TRUE_PROCBASED_CTLS);
        m->true_exit = rdmsr(MSR_IA32_VMX_TRUE_EXIT_CTLS);
        m->true_entry = rdmsr(MSR_IA32_VMX_TRUE_ENTRY_CTLS);
        m->have_true = true;
    }
}

void vmx_survey(struct virt_report *r)
{
    r->vmx_cpuid = cpuid(1, 0).ecx & CPUID_1_ECX_VMX;
    if (!r->vmx_cpuid) {
        r->vmx_problem = "CPUID.1:ECX.VMX[bit 5] = 0";
        return;
    }
    r->feature_control = rdmsr(MSR_IA32_FEATURE_CONTROL);
    read_vmx_msrs(&r->vmx_msrs);
    vmx_caps_decode(&r->vmx_msrs, &r->vmx);

    /* 24.7: a locked IA32_FEATURE_CONTROL without "enable VMX outside SMX"
     * makes VMXON #GP; only a reset (firmware setting) can change that. */
    if ((r->feature_control & FEATURE_CONTROL_LOCKED) &&
        !(r->feature_control & FEATURE_CONTROL_VMX_OUTSIDE_SMX)) {
        r->vmx_problem = "IA32_FEATURE_CONTROL is locked with VMX outside SMX disabled "
                         "(bit 0 = 1, bit 2 = 0): enable VT-x in the firmware setup";
        return;
    }
    const char *missing = vmx_caps_missing_feature(&r->vmx);
    if (missing) {
        r->vmx_problem = missing;
        return;
    }
    r->vmx_usable = true;
}
