/*
 * Per-core virtualization survey: identifies the CPU, lets each vendor part
 * read its own capabilities, and prints them.  Vendor-neutral: the MSR and
 * CPUID details live in kernel/vmx/ and kernel/svm/.
 */
#include <hv/virt.h>
#include <hv/log.h>
#include <hv/x86.h>
#include <hv/kstring.h>

#define CPUID_1_ECX_HYPERVISOR  BIT(31)

static void copy_regs(char *dst, const uint32_t *regs, size_t n)
{
    memcpy(dst, regs, n * 4);
    dst[n * 4] = '\0';
}

static void identify(struct virt_report *r)
{
    struct cpuid_regs v = cpuid(0, 0);
    uint32_t vend[3] = { v.ebx, v.edx, v.ecx };
    copy_regs(r->vendor, vend, 3);

    struct cpuid_regs f = cpuid(1, 0);
    uint32_t family = (f.eax >> 8) & 0xF, model = (f.eax >> 4) & 0xF;
    if (family == 0xF)
        family += (f.eax >> 20) & 0xFF;
    if (family == 0x6 || family >= 0xF)
        model |= ((f.eax >> 16) & 0xF) << 4;
    r->family = family;
    r->model = model;
    r->stepping = f.eax & 0xF;

    r->hypervisor_present = f.ecx & CPUID_1_ECX_HYPERVISOR;
    if (r->hypervisor_present) {
        struct cpuid_regs h = cpuid(0x40000000, 0);
        uint32_t sig[3] = { h.ebx, h.ecx, h.edx };
        copy_regs(r->hypervisor_sig, sig, 3);
    }

    if (cpuid(0x80000000, 0).eax >= 0x80000004) {
        uint32_t b[12];
        for (uint32_t i = 0; i < 3; i++) {
            struct cpuid_regs x = cpuid(0x80000002 + i, 0);
            b[i * 4 + 0] = x.eax;
            b[i * 4 + 1] = x.ebx;
            b[i * 4 + 2] = x.ecx;
            b[i * 4 + 3] = x.edx;
        }
        copy_regs(r->brand, b, 12);
        /* Brand strings are often right-aligned with leading spaces. */
        size_t lead = 0;
        while (r->brand[lead] == ' ')
            lead++;
        memmove(r->brand, r->brand + lead, sizeof(r->brand) - lead);
    }
}

void virt_survey_this_cpu(struct virt_report *r)
{
    memset(r, 0, sizeof(*r));
    identify(r);
    vmx_survey(r);
    svm_survey(r);
}

static const char *yn(bool b) { return b ? "yes" : "no"; }

static void log_vmx_detail(unsigned cpu, const struct virt_report *r)
{
    const struct vmx_msrs *m = &r->vmx_msrs;
    const struct vmx_caps *c = &r->vmx;

    pr_info("cpu%u: IA32_VMX_BASIC=%#018llx: revision %#x, region %u bytes, VMCS memory type %u, "
            "TRUE controls %s, INS/OUTS info %s",
            cpu, (unsigned long long)m->basic, c->revision_id, c->region_size, c->vmcs_memtype,
            yn(c->true_ctls), yn(c->ins_outs_info));
    pr_info("cpu%u: controls (must-be-1 / may-be-1, %s MSRs): pin %08x/%08x proc %08x/%08x "
            "proc2 %08x/%08x exit %08x/%08x entry %08x/%08x",
            cpu, c->true_ctls ? "TRUE" : "plain",
            c->pin.must_be_1, c->pin.may_be_1, c->proc.must_be_1, c->proc.may_be_1,
            c->proc2.must_be_1, c->proc2.may_be_1, c->exit.must_be_1, c->exit.may_be_1,
            c->entry.must_be_1, c->entry.may_be_1);
    pr_info("cpu%u: EPT %s (4-level walk %s, 5-level %s, WB %s, UC %s, 2MiB %s, 1GiB %s, "
            "A/D %s, INVEPT single %s all %s); VPID %s (INVVPID %s)",
            cpu, yn(c->ept), yn(c->ept_walk4), yn(c->ept_walk5), yn(c->ept_wb), yn(c->ept_uc),
            yn(c->ept_2mb), yn(c->ept_1gb), yn(c->ept_ad), yn(c->invept_single),
            yn(c->invept_all), yn(c->vpid), yn(c->invvpid));
    pr_info("cpu%u: IA32_VMX_MISC=%#llx: preemption timer %s (rate: TSC >> %u), HLT activity "
            "state %s, MSR list up to %u; CR0 fixed0/1 %#llx/%#llx, CR4 fixed0/1 %#llx/%#llx",
            cpu, (unsigned long long)m->misc, yn(c->preemption_timer), c->preemption_timer_shift,
            yn(c->hlt_activity_state), c->max_msr_list,
            (unsigned long long)m->cr0_fixed0, (unsigned long long)m->cr0_fixed1,
            (unsigned long long)m->cr4_fixed0, (unsigned long long)m->cr4_fixed1);
    if (m->have_ept_vpid_cap)
        pr_info("cpu%u: IA32_VMX_EPT_VPID_CAP=%#018llx", cpu, (unsigned long long)m->ept_vpid_cap);

    /* Raw values, one MSR per line, for recording test fixtures. */
    static const struct { uint32_t msr; size_t off; } raw[] = {
#define RAW(n, f) { n, __builtin_offsetof(struct vmx_msrs, f) }
        RAW(MSR_IA32_VMX_BASIC, basic), RAW(MSR_IA32_VMX_PINBASED_CTLS, pinbased),
        RAW(MSR_IA32_VMX_PROCBASED_CTLS, procbased), RAW(MSR_IA32_VMX_EXIT_CTLS, exit),
        RAW(MSR_IA32_VMX_ENTRY_CTLS, entry), RAW(MSR_IA32_VMX_MISC, misc),
        RAW(MSR_IA32_VMX_CR0_FIXED0, cr0_fixed0), RAW(MSR_IA32_VMX_CR0_FIXED1, cr0_fixed1),
        RAW(MSR_IA32_VMX_CR4_FIXED0, cr4_fixed0), RAW(MSR_IA32_VMX_CR4_FIXED1, cr4_fixed1),
        RAW(MSR_IA32_VMX_VMCS_ENUM, vmcs_enum), RAW(MSR_IA32_VMX_PROCBASED_CTLS2, procbased2),
        RAW(MSR_IA32_VMX_EPT_VPID_CAP, ept_vpid_cap),
        RAW(MSR_IA32_VMX_TRUE_PINBASED_CTLS, true_pinbased),
        RAW(MSR_IA32_VMX_TRUE_PROCBASED_CTLS, true_procbased),
        RAW(MSR_IA32_VMX_TRUE_EXIT_CTLS, true_exit), RAW(MSR_IA32_VMX_TRUE_ENTRY_CTLS, true_entry),
        RAW(MSR_IA32_VMX_VMFUNC, vmfunc),
#undef RAW
    };
    for (size_t i = 0; i < ARRAY_SIZE(raw); i++)
        pr_debug("cpu%u: MSR %#x = %#018llx", cpu, raw[i].msr,
                 (unsigned long long)*(const uint64_t *)((const char *)m + raw[i].off));
}

void virt_report_log(unsigned cpu, const struct virt_report *r, bool detailed)
{
    if (r->vmx_cpuid) {
        const struct vmx_caps *c = &r->vmx;
        const char *fc_state = !(r->feature_control & FEATURE_CONTROL_LOCKED) ? "unlocked"
                             : (r->feature_control & FEATURE_CONTROL_VMX_OUTSIDE_SMX)
                                   ? "locked, VMX enabled" : "locked, VMX disabled";
        pr_info("cpu%u: VMX %s: IA32_FEATURE_CONTROL=%#llx (%s), VMCS revision %#x, %s controls, "
                "EPT %s, VPID %s, unrestricted guest %s, preemption timer %s (TSC >> %u)",
                cpu, r->vmx_usable ? "ready" : "NOT usable",
                (unsigned long long)r->feature_control, fc_state, c->revision_id,
                c->true_ctls ? "TRUE" : "default", yn(c->ept), yn(c->vpid),
                yn(c->unrestricted_guest), yn(c->preemption_timer), c->preemption_timer_shift);
        if (!r->vmx_usable)
            pr_err("cpu%u: VMX not usable: %s", cpu, r->vmx_problem);
        if (detailed)
            log_vmx_detail(cpu, r);
    }
    if (r->svm_cpuid) {
        pr_info("cpu%u: AMD SVM: revision %u, %u ASIDs, nested paging (NPT) %s, NRIP save %s, "
                "VMCB clean bits %s, decode assists %s, VM_CR=%#llx%s",
                cpu, r->svm.revision, r->svm.asids, yn(r->svm.npt), yn(r->svm.nrips),
                yn(r->svm.vmcb_clean), yn(r->svm.decode_assists),
                (unsigned long long)r->svm.vm_cr,
                r->svm.locked_by_firmware ? " (SVM disabled by firmware)" : "");
    }
}

const char *virt_report_mismatch(const struct virt_report *a, const struct virt_report *b)
{
    if (a->vmx_cpuid != b->vmx_cpuid)
        return "CPUID.1:ECX.VMX differs";
    if (a->vmx_usable != b->vmx_usable)
        return "VMX usable on one core and not on the other";
    if (memcmp(&a->vmx_msrs, &b->vmx_msrs, sizeof(a->vmx_msrs)))
        return "VMX capability MSRs differ";
    if ((a->feature_control ^ b->feature_control) &
        (FEATURE_CONTROL_LOCKED | FEATURE_CONTROL_VMX_OUTSIDE_SMX))
        return "IA32_FEATURE_CONTROL lock/enable state differs";
    if (a->svm_cpuid != b->svm_cpuid || a->svm.npt != b->svm.npt)
        return "SVM capabilities differ";
    return NULL;
}
