/*
 * When VM entry fails: a readable dump of the guest-state area (in the spirit
 * of KVM's "*** Guest State ***") and a diagnosis that replays the most common
 * checks of SDM Vol. 3C, 27.3.1 ("Checks on the Guest State Area") and 27.2.1
 * ("Checks on VMX Controls") to name the one that most likely failed.
 */
#include <hv/vmx.h>
#include <hv/percpu.h>
#include <hv/log.h>
#include <hv/x86.h>
#include <hv/format.h>

#define RFLAGS_FIXED1           BIT(1)
#define RFLAGS_RESERVED0        (BIT(3) | BIT(5) | BIT(15) | (~0ULL << 22))
#define RFLAGS_VM               BIT(17)
#define EFER_LME                BIT(8)
#define EFER_LMA                BIT(10)
#define AR_TYPE(ar)             ((ar) & VMX_AR_TYPE_MASK)
#define AR_DPL(ar)              (((ar) >> VMX_AR_DPL_SHIFT) & 3)

static const char *const seg_names[] = { "ES", "CS", "SS", "DS", "FS", "GS", "LDTR", "TR" };

void vmx_dump_guest_state(struct vcpu *vcpu)
{
    log_raw("*** Guest State (VM '%s') ***\n", vcpu->vm->name);
    log_raw("  CR0=%#018llx (shadow %#llx) CR3=%#018llx CR4=%#018llx (shadow %#llx)\n",
            (unsigned long long)vmcs_read(VMCS_GUEST_CR0),
            (unsigned long long)vmcs_read(VMCS_CR0_READ_SHADOW),
            (unsigned long long)vmcs_read(VMCS_GUEST_CR3),
            (unsigned long long)vmcs_read(VMCS_GUEST_CR4),
            (unsigned long long)vmcs_read(VMCS_CR4_READ_SHADOW));
    log_raw("  RIP=%#018llx RSP=%#018llx RFLAGS=%#010llx DR7=%#llx\n",
            (unsigned long long)vmcs_read(VMCS_GUEST_RIP),
            (unsigned long long)vmcs_read(VMCS_GUEST_RSP),
            (unsigned long long)vmcs_read(VMCS_GUEST_RFLAGS),
            (unsigned long long)vmcs_read(VMCS_GUEST_DR7));
    for (unsigned i = 0; i < ARRAY_SIZE(seg_names); i++)
        log_raw("  %-4s: sel=%#06llx attr=%#07llx limit=%#010llx base=%#018llx\n", seg_names[i],
                (unsigned long long)vmcs_read(VMCS_GUEST_ES_SELECTOR + i * 2),
                (unsigned long long)vmcs_read(VMCS_GUEST_ES_ACCESS_RIGHTS + i * 2),
                (unsigned long long)vmcs_read(VMCS_GUEST_ES_LIMIT + i * 2),
                (unsigned long long)vmcs_read(VMCS_GUEST_ES_BASE + i * 2));
    log_raw("  GDTR: limit=%#010llx base=%#018llx  IDTR: limit=%#010llx base=%#018llx\n",
            (unsigned long long)vmcs_read(VMCS_GUEST_GDTR_LIMIT),
            (unsigned long long)vmcs_read(VMCS_GUEST_GDTR_BASE),
            (unsigned long long)vmcs_read(VMCS_GUEST_IDTR_LIMIT),
            (unsigned long long)vmcs_read(VMCS_GUEST_IDTR_BASE));
    log_raw("  EFER=%#llx PAT=%#llx DEBUGCTL=%#llx interruptibility=%#llx activity=%llu\n",
            (unsigned long long)vmcs_read(VMCS_GUEST_IA32_EFER),
            (unsigned long long)vmcs_read(VMCS_GUEST_IA32_PAT),
            (unsigned long long)vmcs_read(VMCS_GUEST_IA32_DEBUGCTL),
            (unsigned long long)vmcs_read(VMCS_GUEST_INTERRUPTIBILITY_STATE),
            (unsigned long long)vmcs_read(VMCS_GUEST_ACTIVITY_STATE));
    log_raw("  controls: pin=%#x proc=%#x proc2=%#x entry=%#x exit=%#x; entry event=%#llx; "
            "link pointer=%#llx\n",
            (unsigned)vmcs_read(VMCS_PIN_BASED_CONTROLS),
            (unsigned)vmcs_read(VMCS_PROC_BASED_CONTROLS),
            (unsigned)vmcs_read(VMCS_SECONDARY_PROC_BASED_CONTROLS),
            (unsigned)vmcs_read(VMCS_ENTRY_CONTROLS), (unsigned)vmcs_read(VMCS_EXIT_CONTROLS),
            (unsigned long long)vmcs_read(VMCS_ENTRY_INTERRUPTION_INFO),
            (unsigned long long)vmcs_read(VMCS_LINK_POINTER));
}

#define FAIL(...) do { ksnprintf(buf, n, __VA_ARGS__); return buf; } while (0)

static const char *check_control_regs(const struct vmx_vcpu *vv, char *buf, size_t n)
{
    const struct vmx_msrs *m = &this_cpu()->virt.vmx_msrs;
    uint64_t cr0 = vmcs_read(VMCS_GUEST_CR0), cr4 = vmcs_read(VMCS_GUEST_CR4);
    uint64_t efer = vmcs_read(VMCS_GUEST_IA32_EFER);
    bool ia32e = vv->entry & ENTRY_IA32E_MODE_GUEST;
    uint64_t fixed0 = m->cr0_fixed0;

    if (vv->proc2 & PROC2_UNRESTRICTED_GUEST)
        fixed0 &= ~(CR0_PE | CR0_PG);
    if ((cr0 & fixed0) != fixed0 || (cr0 & ~m->cr0_fixed1))
        FAIL("guest CR0 %#llx violates IA32_VMX_CR0_FIXED0/1 (%#llx/%#llx) (SDM 27.3.1.1)",
             (unsigned long long)cr0, (unsigned long long)fixed0, (unsigned long long)m->cr0_fixed1);
    if ((cr0 & CR0_PG) && !(cr0 & CR0_PE))
        FAIL("guest CR0.PG = 1 with CR0.PE = 0 (SDM 27.3.1.1)");
    if ((cr4 & m->cr4_fixed0) != m->cr4_fixed0 || (cr4 & ~m->cr4_fixed1))
        FAIL("guest CR4 %#llx violates IA32_VMX_CR4_FIXED0/1 (%#llx/%#llx) (SDM 27.3.1.1)",
             (unsigned long long)cr4, (unsigned long long)m->cr4_fixed0,
             (unsigned long long)m->cr4_fixed1);
    if (ia32e && (!(cr0 & CR0_PG) || !(cr4 & CR4_PAE)))
        FAIL("\"IA-32e mode guest\" = 1 needs CR0.PG = 1 and CR4.PAE = 1 (SDM 27.3.1.1)");
    if (!ia32e && (cr4 & CR4_PCIDE))
        FAIL("CR4.PCIDE = 1 outside IA-32e mode (SDM 27.3.1.1)");
    if (vv->entry & ENTRY_LOAD_IA32_EFER) {
        if (!!(efer & EFER_LMA) != ia32e)
            FAIL("guest IA32_EFER.LMA (%d) differs from \"IA-32e mode guest\" (%d) (SDM 27.3.1.1)",
                 !!(efer & EFER_LMA), ia32e);
        if ((cr0 & CR0_PG) && !!(efer & EFER_LMA) != !!(efer & EFER_LME))
            FAIL("guest IA32_EFER.LMA differs from LME while CR0.PG = 1 (SDM 27.3.1.1)");
    }
    return NULL;
}

static const char *check_rflags_and_state(const struct vmx_vcpu *vv, char *buf, size_t n)
{
    uint64_t rflags = vmcs_read(VMCS_GUEST_RFLAGS), cr0 = vmcs_read(VMCS_GUEST_CR0);
    uint64_t intr = vmcs_read(VMCS_GUEST_INTERRUPTIBILITY_STATE);
    uint64_t act = vmcs_read(VMCS_GUEST_ACTIVITY_STATE);

    if (!(rflags & RFLAGS_FIXED1))
        FAIL("RFLAGS %#llx: bit 1 (reserved) must be 1 (SDM 27.3.1.4)", (unsigned long long)rflags);
    if (rflags & RFLAGS_RESERVED0)
        FAIL("RFLAGS %#llx: reserved bits 3, 5, 15 or 63:22 are set (SDM 27.3.1.4)",
             (unsigned long long)rflags);
    if ((rflags & RFLAGS_VM) && ((vv->entry & ENTRY_IA32E_MODE_GUEST) || !(cr0 & CR0_PE)))
        FAIL("RFLAGS.VM = 1 in IA-32e mode or with CR0.PE = 0 (SDM 27.3.1.4)");
    if ((intr & 1) && !(rflags & RFLAGS_IF))
        FAIL("blocking by STI with RFLAGS.IF = 0 (SDM 27.3.1.5)");
    if (act > ACTIVITY_WAIT_FOR_SIPI)
        FAIL("activity state %llu is not defined (SDM 27.3.1.5)", (unsigned long long)act);
    if (vmcs_read(VMCS_LINK_POINTER) != ~0ULL)
        FAIL("VMCS link pointer is not all ones (SDM 27.3.1.5)");
    return NULL;
}

static const char *check_segments(const struct vmx_vcpu *vv, char *buf, size_t n)
{
    uint32_t cs = (uint32_t)vmcs_read(VMCS_GUEST_CS_ACCESS_RIGHTS);
    uint32_t ss = (uint32_t)vmcs_read(VMCS_GUEST_SS_ACCESS_RIGHTS);
    uint32_t tr = (uint32_t)vmcs_read(VMCS_GUEST_TR_ACCESS_RIGHTS);
    bool ia32e = vv->entry & ENTRY_IA32E_MODE_GUEST;
    bool pe = vmcs_read(VMCS_GUEST_CR0) & CR0_PE;

    if (cs & VMX_AR_UNUSABLE || !(cs & VMX_AR_P) || !(cs & VMX_AR_S))
        FAIL("CS access rights %#x: CS must be a present code segment (SDM 27.3.1.2)", cs);
    if (!(AR_TYPE(cs) & 8) && !(AR_TYPE(cs) == 3 && (vv->proc2 & PROC2_UNRESTRICTED_GUEST)))
        FAIL("CS access rights %#x: type %u is not a code segment (SDM 27.3.1.2)", cs, AR_TYPE(cs));
    if (ia32e && (cs & VMX_AR_L) && (cs & VMX_AR_DB))
        FAIL("CS.L = 1 and CS.D = 1 in IA-32e mode (SDM 27.3.1.2)");
    if (!(ss & VMX_AR_UNUSABLE) && AR_TYPE(ss) != 3 && AR_TYPE(ss) != 7)
        FAIL("SS access rights %#x: type must be 3 or 7 (SDM 27.3.1.2)", ss);
    if (!pe && !(ss & VMX_AR_UNUSABLE) && AR_DPL(ss) != 0)
        FAIL("SS.DPL must be 0 when CR0.PE = 0 (SDM 27.3.1.2)");
    if (tr & VMX_AR_UNUSABLE || (AR_TYPE(tr) != 11 && !(AR_TYPE(tr) == 3 && !ia32e)))
        FAIL("TR access rights %#x: must be a usable busy TSS (type 11, or 3 outside IA-32e mode) "
             "(SDM 27.3.1.2)", tr);
    for (unsigned i = 0; i < 8; i++) {
        uint32_t ar = (uint32_t)vmcs_read(VMCS_GUEST_ES_ACCESS_RIGHTS + i * 2);
        uint32_t limit = (uint32_t)vmcs_read(VMCS_GUEST_ES_LIMIT + i * 2);
        if (ar & VMX_AR_UNUSABLE)
            continue;
        if (((limit & 0xFFF) != 0xFFF && (ar & VMX_AR_G)) || ((limit >> 20) && !(ar & VMX_AR_G)))
            FAIL("%s limit %#x is inconsistent with its granularity bit (SDM 27.3.1.2)",
                 seg_names[i], limit);
    }
    return NULL;
}

const char *vmx_diagnose_guest_state(const struct vmx_vcpu *vv, char *buf, size_t n)
{
    const char *r;
    if ((r = check_rflags_and_state(vv, buf, n)) || (r = check_control_regs(vv, buf, n)) ||
        (r = check_segments(vv, buf, n)))
        return r;
    ksnprintf(buf, n, "none of the common guest-state checks failed: compare the dump with "
              "SDM Vol. 3C, 27.3.1");
    return buf;
}

const char *vmx_diagnose_controls(const struct vmx_vcpu *vv, char *buf, size_t n)
{
    const struct vmx_caps *c = vv->caps;
    const struct { const char *name; uint32_t v; const struct vmx_ctl_caps *cap; } f[] = {
        { "pin-based", vv->pin, &c->pin }, { "processor-based", vv->proc, &c->proc },
        { "secondary processor-based", vv->proc2, &c->proc2 }, { "VM-exit", vv->exit, &c->exit },
        { "VM-entry", vv->entry, &c->entry },
    };
    for (size_t i = 0; i < ARRAY_SIZE(f); i++) {
        if ((f[i].v & f[i].cap->must_be_1) != f[i].cap->must_be_1 || (f[i].v & ~f[i].cap->may_be_1))
            FAIL("%s controls %#x do not match the capability MSR (must be 1: %#x, may be 1: %#x) "
                 "(SDM 27.2.1.1)", f[i].name, f[i].v, f[i].cap->must_be_1, f[i].cap->may_be_1);
    }
    if ((vv->proc2 & PROC2_UNRESTRICTED_GUEST) && !(vv->proc2 & PROC2_ENABLE_EPT))
        FAIL("\"unrestricted guest\" without \"enable EPT\" (SDM 27.2.1.1)");
    FAIL("the controls match the capability MSRs: check the EPTP and bitmap addresses "
         "(SDM 27.2.1.1)");
}
