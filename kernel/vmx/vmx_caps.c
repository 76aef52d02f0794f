/* Decoding of the VMX capability MSRs; see include/hv/vmx_caps.h. */
#include <hv/vmx_caps.h>
#include <hv/kstring.h>

static struct vmx_ctl_caps ctl_caps(uint64_t msr)
{
    /* Low dword: allowed-0 settings (1 = must be 1); high dword: allowed-1. */
    return (struct vmx_ctl_caps){ .must_be_1 = (uint32_t)msr, .may_be_1 = (uint32_t)(msr >> 32) };
}

void vmx_caps_decode(const struct vmx_msrs *m, struct vmx_caps *c)
{
    memset(c, 0, sizeof(*c));
    c->revision_id = (uint32_t)(m->basic & VMX_BASIC_REVISION_MASK);
    c->region_size = (uint32_t)VMX_BASIC_REGION_SIZE(m->basic);
    c->vmcs_memtype = (uint8_t)VMX_BASIC_MEMTYPE(m->basic);
    c->phys_addr_32bit = m->basic & VMX_BASIC_32BIT_ADDR;
    c->ins_outs_info = m->basic & VMX_BASIC_INS_OUTS_INFO;
    c->true_ctls = (m->basic & VMX_BASIC_TRUE_CTLS) && m->have_true;

    /* SDM A.2: with bit 55 set, the TRUE MSRs report the real allowed-0
     * settings (some "default1" controls may be cleared); allowed-1 is the same. */
    c->pin = ctl_caps(c->true_ctls ? m->true_pinbased : m->pinbased);
    c->proc = ctl_caps(c->true_ctls ? m->true_procbased : m->procbased);
    c->exit = ctl_caps(c->true_ctls ? m->true_exit : m->exit);
    c->entry = ctl_caps(c->true_ctls ? m->true_entry : m->entry);
    if ((c->proc.may_be_1 & PROC_ACTIVATE_SECONDARY_CONTROLS) && m->have_procbased2)
        c->proc2 = ctl_caps(m->procbased2);

    c->ept = c->proc2.may_be_1 & PROC2_ENABLE_EPT;
    c->vpid = c->proc2.may_be_1 & PROC2_ENABLE_VPID;
    c->unrestricted_guest = c->proc2.may_be_1 & PROC2_UNRESTRICTED_GUEST;
    c->preemption_timer = c->pin.may_be_1 & PIN_VMX_PREEMPTION_TIMER;
    c->preemption_timer_shift = VMX_MISC_PREEMPT_SHIFT(m->misc);
    c->hlt_activity_state = m->misc & VMX_MISC_ACTIVITY_HLT;
    c->max_msr_list = VMX_MISC_MAX_MSR_LIST(m->misc);

    c->io_bitmaps = c->proc.may_be_1 & PROC_USE_IO_BITMAPS;
    c->msr_bitmaps = c->proc.may_be_1 & PROC_USE_MSR_BITMAPS;
    c->load_efer = (c->entry.may_be_1 & ENTRY_LOAD_IA32_EFER) &&
                   (c->exit.may_be_1 & EXIT_LOAD_IA32_EFER);
    c->save_efer = c->exit.may_be_1 & EXIT_SAVE_IA32_EFER;
    c->ack_interrupt_on_exit = c->exit.may_be_1 & EXIT_ACK_INTERRUPT_ON_EXIT;

    if (m->have_ept_vpid_cap && (c->ept || c->vpid)) {
        uint64_t e = m->ept_vpid_cap;
        if (c->ept) {
            c->ept_execute_only = e & EPT_CAP_EXECUTE_ONLY;
            c->ept_walk4 = e & EPT_CAP_WALK_4;
            c->ept_walk5 = e & EPT_CAP_WALK_5;
            c->ept_uc = e & EPT_CAP_MEMTYPE_UC;
            c->ept_wb = e & EPT_CAP_MEMTYPE_WB;
            c->ept_2mb = e & EPT_CAP_PDE_2MB;
            c->ept_1gb = e & EPT_CAP_PDPTE_1GB;
            c->ept_ad = e & EPT_CAP_ACCESSED_DIRTY;
            c->invept = e & EPT_CAP_INVEPT;
            c->invept_single = c->invept && (e & EPT_CAP_INVEPT_SINGLE_CONTEXT);
            c->invept_all = c->invept && (e & EPT_CAP_INVEPT_ALL_CONTEXT);
        }
        if (c->vpid) {
            c->invvpid = e & VPID_CAP_INVVPID;
            c->invvpid_single = c->invvpid && (e & VPID_CAP_INVVPID_SINGLE_CONTEXT);
            c->invvpid_all = c->invvpid && (e & VPID_CAP_INVVPID_ALL_CONTEXT);
        }
    }
}

int vmx_ctl_compute(const struct vmx_ctl_caps *caps, uint32_t required, uint32_t wanted,
                    uint32_t *value, uint32_t *missing)
{
    uint32_t absent = required & ~caps->may_be_1;
    *missing = absent;
    *value = caps->must_be_1 | ((required | wanted) & caps->may_be_1);
    return absent ? -1 : 0;
}

const char *vmx_caps_missing_feature(const struct vmx_caps *c)
{
    if (c->region_size == 0 || c->region_size > 4096)
        return "IA32_VMX_BASIC reports an invalid VMXON/VMCS region size";
    if (c->phys_addr_32bit)
        return "IA32_VMX_BASIC[48] limits VMX structures to 32-bit addresses (not supported)";
    if (c->vmcs_memtype != 6)
        return "IA32_VMX_BASIC[53:50]: VMCS memory type is not write-back";
    if (!(c->proc.may_be_1 & PROC_ACTIVATE_SECONDARY_CONTROLS))
        return "secondary processor-based controls (IA32_VMX_PROCBASED_CTLS[63])";
    if (!c->ept)
        return "EPT (IA32_VMX_PROCBASED_CTLS2[33])";
    if (!c->unrestricted_guest)
        return "unrestricted guest (IA32_VMX_PROCBASED_CTLS2[39])";
    if (!c->ept_walk4)
        return "4-level EPT page walks (IA32_VMX_EPT_VPID_CAP[6])";
    if (!c->ept_wb)
        return "write-back EPT memory type (IA32_VMX_EPT_VPID_CAP[14])";
    if (!c->invept || !(c->invept_single || c->invept_all))
        return "INVEPT (IA32_VMX_EPT_VPID_CAP[20] with single- or all-context)";
    if (!c->io_bitmaps)
        return "I/O bitmaps (IA32_VMX_PROCBASED_CTLS[57])";
    if (!c->msr_bitmaps)
        return "MSR bitmaps (IA32_VMX_PROCBASED_CTLS[60])";
    if (!(c->exit.may_be_1 & EXIT_HOST_ADDRESS_SPACE_SIZE))
        return "64-bit host (IA32_VMX_EXIT_CTLS[41], host address-space size)";
    return NULL;
}

/* Bit numbers repeat across fields (bit 7 is HLT exiting and unrestricted
 * guest): a name belongs to one field, an index into vmx_compute_controls()'s
 * request table. */
enum { CTL_PIN, CTL_PROC, CTL_PROC2, CTL_EXIT, CTL_ENTRY };

struct ctl_name { unsigned field; uint32_t bit; const char *name; };

static const struct ctl_name control_names[] = {
    { CTL_PIN, PIN_EXTERNAL_INTERRUPT_EXITING, "external-interrupt exiting" },
    { CTL_PIN, PIN_NMI_EXITING, "NMI exiting" },
    { CTL_PIN, PIN_VMX_PREEMPTION_TIMER, "activate VMX-preemption timer" },
    { CTL_PROC, PROC_HLT_EXITING, "HLT exiting" },
    { CTL_PROC, PROC_USE_IO_BITMAPS, "use I/O bitmaps" },
    { CTL_PROC, PROC_USE_MSR_BITMAPS, "use MSR bitmaps" },
    { CTL_PROC, PROC_ACTIVATE_SECONDARY_CONTROLS, "activate secondary controls" },
    { CTL_PROC2, PROC2_ENABLE_EPT, "enable EPT" },
    { CTL_PROC2, PROC2_UNRESTRICTED_GUEST, "unrestricted guest" },
    { CTL_EXIT, EXIT_HOST_ADDRESS_SPACE_SIZE, "host address-space size" },
    { CTL_EXIT, EXIT_ACK_INTERRUPT_ON_EXIT, "acknowledge interrupt on exit" },
    { CTL_EXIT, EXIT_SAVE_IA32_EFER, "save IA32_EFER" },
    { CTL_EXIT, EXIT_LOAD_IA32_EFER, "load IA32_EFER" },
    { CTL_ENTRY, ENTRY_LOAD_IA32_EFER, "load IA32_EFER" },
    { CTL_ENTRY, ENTRY_IA32E_MODE_GUEST, "IA-32e mode guest" },
};

struct ctl_request {
    const char *field, *true_msr, *msr;
    const struct vmx_ctl_caps *caps;
    uint32_t required, wanted, *out;
};

int vmx_compute_controls(const struct vmx_caps *c, bool long_mode_guest,
                         struct vmx_controls *out, struct vmx_ctl_failure *fail)
{
    /* Primary controls the hypervisor depends on; the table order is also the
     * order in which a missing one is reported. */
    struct ctl_request req[] = {
        /* External interrupts and NMIs belong to the host (SDM 25.6.1); the
         * preemption timer bounds how long a guest runs unobserved. */
        { "pin-based", "IA32_VMX_TRUE_PINBASED_CTLS", "IA32_VMX_PINBASED_CTLS", &c->pin,
          PIN_EXTERNAL_INTERRUPT_EXITING | PIN_NMI_EXITING, PIN_VMX_PREEMPTION_TIMER, &out->pin },
        /* HLT, every port and every MSR exit (the guest never reaches a host
         * port or MSR); MONITOR/MWAIT exit so they can be refused.  No CR3
         * exits: EPT makes the guest's CR3 harmless. */
        { "primary processor-based", "IA32_VMX_TRUE_PROCBASED_CTLS", "IA32_VMX_PROCBASED_CTLS",
          &c->proc, PROC_HLT_EXITING | PROC_USE_IO_BITMAPS | PROC_USE_MSR_BITMAPS |
          PROC_ACTIVATE_SECONDARY_CONTROLS, PROC_MWAIT_EXITING | PROC_MONITOR_EXITING, &out->proc },
        { "secondary processor-based", "IA32_VMX_PROCBASED_CTLS2", "IA32_VMX_PROCBASED_CTLS2",
          &c->proc2, PROC2_ENABLE_EPT | PROC2_UNRESTRICTED_GUEST,
          PROC2_ENABLE_VPID | PROC2_ENABLE_RDTSCP | PROC2_ENABLE_INVPCID |
          PROC2_ENABLE_XSAVES_XRSTORS | PROC2_WBINVD_EXITING, &out->proc2 },
        /* A 64-bit host; the interrupt's vector arrives with the exit (28.2.2). */
        { "VM-exit", "IA32_VMX_TRUE_EXIT_CTLS", "IA32_VMX_EXIT_CTLS", &c->exit,
          EXIT_HOST_ADDRESS_SPACE_SIZE | EXIT_ACK_INTERRUPT_ON_EXIT | EXIT_SAVE_IA32_EFER |
          EXIT_LOAD_IA32_EFER, EXIT_SAVE_IA32_PAT | EXIT_LOAD_IA32_PAT, &out->exit },
        { "VM-entry", "IA32_VMX_TRUE_ENTRY_CTLS", "IA32_VMX_ENTRY_CTLS", &c->entry,
          ENTRY_LOAD_IA32_EFER | (long_mode_guest ? ENTRY_IA32E_MODE_GUEST : 0),
          ENTRY_LOAD_IA32_PAT, &out->entry },
    };

    for (size_t i = 0; i < ARRAY_SIZE(req); i++) {
        uint32_t missing;
        if (vmx_ctl_compute(req[i].caps, req[i].required, req[i].wanted, req[i].out, &missing)) {
            fail->field = req[i].field;
            fail->msr = c->true_ctls && req[i].caps != &c->proc2 ? req[i].true_msr : req[i].msr;
            fail->missing = missing;
            fail->may_be_1 = req[i].caps->may_be_1;
            fail->control = "(unnamed control)";
            for (size_t k = 0; k < ARRAY_SIZE(control_names); k++)
                if (control_names[k].field == i && (missing & control_names[k].bit)) {
                    fail->control = control_names[k].name;
                    break;
                }
            return -1;
        }
    }
    /* Saving the timer value keeps it counting across exits (25.7.1), so it
     * need not be rewritten on every entry. */
    if ((out->pin & PIN_VMX_PREEMPTION_TIMER) && (c->exit.may_be_1 & EXIT_SAVE_VMX_PREEMPTION_TIMER))
        out->exit |= EXIT_SAVE_VMX_PREEMPTION_TIMER;
    /* A forced "IA-32e mode guest" cannot be: the entry must match the guest. */
    if (!long_mode_guest)
        out->entry &= ~ENTRY_IA32E_MODE_GUEST;
    return 0;
}
