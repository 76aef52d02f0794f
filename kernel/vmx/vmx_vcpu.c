/*
 * A vCPU under VMX: VMCS lifecycle (VMCLEAR, VMPTRLD, VMLAUNCH/VMRESUME,
 * VMCLEAR on teardown), decoding of each VM exit into the vendor-neutral
 * struct vm_exit, and the register and event-injection services that the
 * generic exit handlers use.  See docs/vmx-lifecycle.md for the walk-through.
 */
#include <hv/vmx.h>
#include <hv/lapic.h>
#include <hv/percpu.h>
#include <hv/paging.h>
#include <hv/kernel.h>
#include <hv/log.h>
#include <hv/x86.h>
#include <hv/kstring.h>

/* Basic exit reasons (SDM Vol. 3D, Appendix C). */
enum {
    EXIT_EXCEPTION_NMI = 0, EXIT_EXTERNAL_INTERRUPT = 1, EXIT_TRIPLE_FAULT = 2, EXIT_INIT = 3,
    EXIT_SIPI = 4, EXIT_CPUID = 10, EXIT_GETSEC = 11, EXIT_HLT = 12, EXIT_INVD = 13,
    EXIT_VMCALL = 18, EXIT_VMCLEAR = 19, EXIT_VMLAUNCH = 20, EXIT_VMPTRLD = 21,
    EXIT_VMPTRST = 22, EXIT_VMREAD = 23, EXIT_VMRESUME = 24, EXIT_VMWRITE = 25,
    EXIT_VMXOFF = 26, EXIT_VMXON = 27, EXIT_CR_ACCESS = 28, EXIT_IO = 30, EXIT_RDMSR = 31,
    EXIT_WRMSR = 32, EXIT_MWAIT = 36, EXIT_MONITOR = 39, EXIT_EPT_VIOLATION = 48,
    EXIT_EPT_MISCONFIG = 49, EXIT_INVEPT = 50, EXIT_PREEMPTION_TIMER = 52, EXIT_INVVPID = 53,
    EXIT_WBINVD = 54, EXIT_XSETBV = 55, EXIT_VMFUNC = 59, EXIT_TASK_SWITCH = 9,
    EXIT_APIC_ACCESS = 44, EXIT_INTERRUPT_WINDOW = 7,
};

#define VM_INSTRUCTION_ERROR_VMRESUME_NOT_LAUNCHED 5
#define INTERRUPTIBILITY_STI_MOVSS  0x3     /* blocking by STI (bit 0), by MOV SS (bit 1) */
#define PREEMPTION_SLICE_HZ         100     /* the host looks at least every 10 ms */
#define EFER_LME                    BIT(8)
#define EFER_LMA                    BIT(10)

int vmx_vcpu_init(struct vcpu *vcpu, const struct vcpu_boot_state *boot)
{
    struct percpu *cpu = this_cpu();
    struct vmx_vcpu *vv = kzalloc(sizeof(*vv));
    char why[160];

    if (!vv)
        return -1;
    vcpu->backend = vv;
    vv->caps = &cpu->virt.vmx;
    vv->vmcs = phys_alloc_pages(1);
    if (vv->vmcs == PMM_NO_MEMORY) {
        pr_err("VMCS: out of memory");
        return -1;
    }
    /* 25.2: the first 31 bits of a VMCS region hold the revision identifier. */
    *(uint32_t *)phys_to_virt(vv->vmcs) = vv->caps->revision_id;

    /* 25.11.3: VMCLEAR initializes the region and makes its launch state "clear". */
    enum vmx_result r = vmclear(vv->vmcs);
    if (r != VMX_OK) {
        pr_err("VMCLEAR failed: %s", vmx_result_describe(r, why, sizeof(why)));
        return -1;
    }
    r = vmptrld(vv->vmcs);
    if (r != VMX_OK) {
        pr_err("VMPTRLD failed: %s", vmx_result_describe(r, why, sizeof(why)));
        return -1;
    }
    if (vv->caps->preemption_timer) {
        uint64_t ticks = (tsc_frequency() / PREEMPTION_SLICE_HZ) >> vv->caps->preemption_timer_shift;
        vv->preemption_reload = (uint32_t)MIN(MAX(ticks, 1ULL), 0xFFFFFFFFULL);
    }
    return vmx_setup_vmcs(vcpu, vv, boot);
}

void vmx_vcpu_destroy(struct vcpu *vcpu)
{
    struct vmx_vcpu *vv = vcpu->backend;
    if (!vv)
        return;
    if (vv->vmcs && vv->vmcs != PMM_NO_MEMORY) {
        /* This core may still cache translations derived from the VM's EPT (and
         * its VPID): drop them before its pages can be reused by another VM,
         * which might even get the same EPTP (29.4.3.1). */
        const struct vmx_vm *xv = vcpu->vm->backend;
        if (vv->caps->invept_single)
            invept(INVEPT_SINGLE_CONTEXT, xv->eptp);
        else
            invept(INVEPT_ALL_CONTEXT, 0);
        if (vv->vpid && vv->caps->invvpid_single)
            invvpid(INVVPID_SINGLE_CONTEXT, vv->vpid);
        /* 25.11.1: VMCLEAR writes any cached VMCS data back and makes it inactive. */
        vmclear(vv->vmcs);
        phys_free_pages(vv->vmcs, 1);
    }
    if (vv->io_bitmaps && vv->io_bitmaps != PMM_NO_MEMORY)
        phys_free_pages(vv->io_bitmaps, 2);
    if (vv->msr_bitmap && vv->msr_bitmap != PMM_NO_MEMORY)
        phys_free_pages(vv->msr_bitmap, 1);
    kfree(vv);
    vcpu->backend = NULL;
}

/* An exit in the middle of delivering an event (27.2.4: IDT-vectoring
 * information) must not lose it: inject it again on the next entry. */
static __cold void requeue_interrupted_event(void)
{
    uint32_t info = (uint32_t)vmcs_read(VMCS_IDT_VECTORING_INFO);
    if (!(info & INTR_INFO_VALID))
        return;
    vmcs_write(VMCS_ENTRY_INTERRUPTION_INFO, info & ~INTR_INFO_NMI_UNBLOCKING);
    if (info & INTR_INFO_ERROR_CODE)
        vmcs_write(VMCS_ENTRY_EXCEPTION_ERROR_CODE, vmcs_read(VMCS_IDT_VECTORING_ERROR_CODE));
    unsigned type = (info >> INTR_INFO_TYPE_SHIFT) & 7;
    if (type == INTR_TYPE_SW_INTERRUPT || type == INTR_TYPE_PRIV_SW_EXCEPTION ||
        type == INTR_TYPE_SW_EXCEPTION)
        vmcs_write(VMCS_ENTRY_INSTRUCTION_LENGTH, vmcs_read(VMCS_EXIT_INSTRUCTION_LENGTH));
}

/* Only these exits can happen while an event is being delivered through the
 * IDT (28.2.4): instruction exits (CPUID, VMCALL, I/O, ...) never do, so the
 * exit path skips reading the IDT-vectoring information for them. */
static inline bool exit_may_interrupt_delivery(uint32_t basic)
{
    return basic == EXIT_EXCEPTION_NMI || basic == EXIT_EPT_VIOLATION ||
           basic == EXIT_EPT_MISCONFIG || basic == EXIT_TRIPLE_FAULT || basic == EXIT_TASK_SWITCH ||
           basic == EXIT_APIC_ACCESS;
}

static __cold void decode_cr_access(struct vm_exit *e, uint64_t q)
{
    /* Exit qualification for control-register accesses: table 28-3. */
    e->kind = VMEXIT_CR_ACCESS;
    e->cr.cr = q & 0xF;
    e->cr.type = (enum cr_access_type)((q >> 4) & 3);
    e->cr.gpr = (q >> 8) & 0xF;
    e->cr.lmsw_source = (uint16_t)(q >> 16);
}

static void decode_io(struct vm_exit *e, uint64_t q)
{
    /* Exit qualification for I/O instructions: table 28-5. */
    e->kind = VMEXIT_IO;
    e->io.size = (uint8_t)((q & 7) + 1);
    e->io.in = q & BIT(3);
    e->io.string = q & BIT(4);
    e->io.rep = q & BIT(5);
    e->io.port = (uint16_t)(q >> 16);
}

static __cold void decode_ept_violation(struct vm_exit *e, uint64_t q)
{
    /* Exit qualification for EPT violations: table 28-7. */
    e->kind = VMEXIT_NESTED_PAGE_FAULT;
    e->npf.qual = q;
    e->npf.access = q & 7;              /* read, write, instruction fetch */
    e->npf.allowed = (q >> 3) & 7;      /* what the EPT entry permitted */
    e->npf.gpa = vmcs_read(VMCS_GUEST_PHYSICAL_ADDRESS);
    e->npf.gla_valid = q & BIT(7);
    e->npf.gla = e->npf.gla_valid ? vmcs_read(VMCS_GUEST_LINEAR_ADDRESS) : 0;
}

static __cold void decode_exception(struct vm_exit *e)
{
    uint32_t info = (uint32_t)vmcs_read(VMCS_EXIT_INTERRUPTION_INFO);
    e->kind = VMEXIT_EXCEPTION;
    e->exc.vector = info & INTR_INFO_VECTOR_MASK;
    e->exc.has_error = info & INTR_INFO_ERROR_CODE;
    e->exc.error_code = e->exc.has_error ? (uint32_t)vmcs_read(VMCS_EXIT_INTERRUPTION_ERROR_CODE) : 0;
    e->exc.qual = vmcs_read(VMCS_EXIT_QUALIFICATION);
    if (((info >> INTR_INFO_TYPE_SHIFT) & 7) == INTR_TYPE_NMI)
        e->kind = VMEXIT_EXTERNAL_INTERRUPT;    /* a host NMI: handled like an interrupt */
}

static void decode_exit(struct vm_exit *e, uint32_t reason)
{
    uint32_t basic = EXIT_REASON_BASIC(reason);

    e->raw_reason = reason;
    switch (basic) {
    case EXIT_CPUID:            e->kind = VMEXIT_CPUID; break;
    case EXIT_HLT:              e->kind = VMEXIT_HLT; break;
    case EXIT_VMCALL:           e->kind = VMEXIT_HYPERCALL; break;
    case EXIT_RDMSR:            e->kind = VMEXIT_RDMSR; break;
    case EXIT_WRMSR:            e->kind = VMEXIT_WRMSR; break;
    case EXIT_XSETBV:           e->kind = VMEXIT_XSETBV; break;
    case EXIT_INVD:
    case EXIT_WBINVD:           e->kind = VMEXIT_CACHE_FLUSH; break;
    case EXIT_TRIPLE_FAULT:     e->kind = VMEXIT_TRIPLE_FAULT; break;
    case EXIT_INIT:             e->kind = VMEXIT_INIT; break;
    case EXIT_PREEMPTION_TIMER: e->kind = VMEXIT_PREEMPTION_TIMER; break;
    case EXIT_INTERRUPT_WINDOW: e->kind = VMEXIT_INTERRUPT_WINDOW; break;
    case EXIT_MWAIT:
    case EXIT_MONITOR:
    case EXIT_GETSEC:           e->kind = VMEXIT_UNDEFINED_INSTRUCTION; break;
    case EXIT_SIPI:
        e->kind = VMEXIT_SIPI;
        e->sipi.vector = (uint8_t)vmcs_read(VMCS_EXIT_QUALIFICATION);
        break;
    case EXIT_EXTERNAL_INTERRUPT:
        e->kind = VMEXIT_EXTERNAL_INTERRUPT;
        e->irq.vector = (uint8_t)vmcs_read(VMCS_EXIT_INTERRUPTION_INFO);
        break;
    case EXIT_EXCEPTION_NMI:    decode_exception(e); break;
    case EXIT_CR_ACCESS:        decode_cr_access(e, vmcs_read(VMCS_EXIT_QUALIFICATION)); break;
    case EXIT_IO:               decode_io(e, vmcs_read(VMCS_EXIT_QUALIFICATION)); break;
    case EXIT_EPT_VIOLATION:    decode_ept_violation(e, vmcs_read(VMCS_EXIT_QUALIFICATION)); break;
    case EXIT_EPT_MISCONFIG:
        e->kind = VMEXIT_NESTED_PAGE_MISCONFIG;
        e->npf.gpa = vmcs_read(VMCS_GUEST_PHYSICAL_ADDRESS);
        break;
    case EXIT_VMCLEAR: case EXIT_VMLAUNCH: case EXIT_VMPTRLD: case EXIT_VMPTRST:
    case EXIT_VMREAD: case EXIT_VMRESUME: case EXIT_VMWRITE: case EXIT_VMXOFF:
    case EXIT_VMXON: case EXIT_INVEPT: case EXIT_INVVPID: case EXIT_VMFUNC:
        e->kind = VMEXIT_VIRT_INSTRUCTION;
        e->virt.instruction = vmx_exit_reason_name(basic);
        break;
    default:
        e->kind = VMEXIT_UNHANDLED;
        break;
    }
}

/* VMLAUNCH/VMRESUME itself failed (VMfailInvalid/VMfailValid, 31.4). */
static __cold void report_entry_instruction_failure(struct vcpu *vcpu, int rc, bool launched)
{
    struct vmx_vcpu *vv = vcpu->backend;
    char why[160], diag[200];
    const char *insn = launched ? "VMRESUME" : "VMLAUNCH";

    if (rc == VMX_FAIL_INVALID) {
        pr_err("%s: VMfailInvalid: no valid current VMCS", insn);
        return;
    }
    uint32_t err = (uint32_t)vmcs_read(VMCS_VM_INSTRUCTION_ERROR);
    pr_err("%s failed: %s", insn, vmx_result_describe(VMX_FAIL_VALID, why, sizeof(why)));
    if (err == 7)
        pr_err("  most likely: %s", vmx_diagnose_controls(vv, diag, sizeof(diag)));
    else if (err == 8)
        pr_err("  a host-state field is invalid (SDM 27.2.2/27.2.3): this is a hypervisor bug");
}

/* VMLAUNCH/VMRESUME did not enter the guest (31.4).  A VMCS that was
 * VMCLEARed behind our back (or migrated) is no longer "launched": error 5,
 * recovered with VMLAUNCH.  Returns 0 when the retry entered the guest. */
static __cold int entry_instruction_failed(struct vcpu *vcpu, struct vm_exit *e, int rc)
{
    struct vmx_vcpu *vv = vcpu->backend;
    if (rc == VMX_FAIL_VALID && vv->launched &&
        vmcs_read(VMCS_VM_INSTRUCTION_ERROR) == VM_INSTRUCTION_ERROR_VMRESUME_NOT_LAUNCHED) {
        pr_debug("VMRESUME: VMCS not launched (error 5); falling back to VMLAUNCH");
        vv->launched = false;
        rc = vmx_enter(vcpu, 0);
        if (rc == 0)
            return 0;
    }
    report_entry_instruction_failure(vcpu, rc, vv->launched);
    e->kind = VMEXIT_ENTRY_FAILED;
    e->failure = "VMLAUNCH/VMRESUME failed (VM-instruction error)";
    return -1;
}

/* 27.8: the entry failed its guest-state (33), MSR-loading (34) or
 * machine-check (41) checks; the processor is back in the host. */
static __cold int entry_checks_failed(struct vcpu *vcpu, struct vm_exit *e, uint32_t reason)
{
    struct vmx_vcpu *vv = vcpu->backend;
    char diag[200];
    e->kind = VMEXIT_ENTRY_FAILED;
    e->raw_reason = reason;
    e->failure = vmx_exit_reason_name(EXIT_REASON_BASIC(reason));
    pr_warn("VM entry failed: %s (exit reason %u, exit qualification %llu)", e->failure,
            EXIT_REASON_BASIC(reason), (unsigned long long)vmcs_read(VMCS_EXIT_QUALIFICATION));
    pr_warn("  most likely: %s", vmx_diagnose_guest_state(vv, diag, sizeof(diag)));
    vmx_dump_guest_state(vcpu);
    return -1;
}

/* Moves the guest past the instruction that caused the last exit.  Completing
 * an instruction also ends an STI/MOV SS interrupt shadow (25.4.2). */
static inline void skip_instruction(const struct vm_exit *e)
{
    vmcs_write(VMCS_GUEST_RIP, e->rip + e->insn_len);
    uint64_t intr = vmcs_read(VMCS_GUEST_INTERRUPTIBILITY_STATE);
    if (unlikely(intr & INTERRUPTIBILITY_STI_MOVSS))
        vmcs_write(VMCS_GUEST_INTERRUPTIBILITY_STATE, intr & ~INTERRUPTIBILITY_STI_MOVSS);
}

int vmx_vcpu_run(struct vcpu *vcpu, struct vm_exit *e)
{
    struct vmx_vcpu *vv = vcpu->backend;

    if (e->skip) {
        skip_instruction(e);
        e->skip = false;
    }
    int rc = vmx_enter(vcpu, vv->launched);
    if (unlikely(rc) && entry_instruction_failed(vcpu, e, rc))
        return -1;
    vv->launched = true;

    uint32_t reason = (uint32_t)vmcs_read(VMCS_EXIT_REASON);
    e->rip = vmcs_read(VMCS_GUEST_RIP);
    if (unlikely(reason & EXIT_REASON_ENTRY_FAILURE))
        return entry_checks_failed(vcpu, e, reason);
    e->insn_len = (uint32_t)vmcs_read(VMCS_EXIT_INSTRUCTION_LENGTH);
    decode_exit(e, reason);
    if (unlikely(exit_may_interrupt_delivery(EXIT_REASON_BASIC(reason))))
        requeue_interrupted_event();
    if (unlikely(e->kind == VMEXIT_PREEMPTION_TIMER))
        vmcs_write(VMCS_PREEMPTION_TIMER_VALUE, vv->preemption_reload);
    return 0;
}

void vmx_inject_exception(struct vcpu *vcpu, uint8_t vector, bool has_error,
                                 uint32_t error_code)
{
    (void)vcpu;
    /* 27.2.1.3: in real mode (CR0.PE = 0) no error code may be delivered. */
    if (!(vmcs_read(VMCS_GUEST_CR0) & CR0_PE))
        has_error = false;
    uint32_t info = vector | (INTR_TYPE_HW_EXCEPTION << INTR_INFO_TYPE_SHIFT) | INTR_INFO_VALID |
                    (has_error ? INTR_INFO_ERROR_CODE : 0);
    vmcs_write(VMCS_ENTRY_INTERRUPTION_INFO, info);
    if (has_error)
        vmcs_write(VMCS_ENTRY_EXCEPTION_ERROR_CODE, error_code);
}

/* 26.3.1.1 / 27.2.1.3: an external interrupt can be injected only with
 * RFLAGS.IF = 1 and no blocking by STI or MOV SS; and only one event per entry. */
bool vmx_interrupt_window_open(struct vcpu *vcpu)
{
    (void)vcpu;
    return (vmcs_read(VMCS_GUEST_RFLAGS) & RFLAGS_IF) &&
           !(vmcs_read(VMCS_GUEST_INTERRUPTIBILITY_STATE) & INTERRUPTIBILITY_STI_MOVSS) &&
           !(vmcs_read(VMCS_ENTRY_INTERRUPTION_INFO) & INTR_INFO_VALID);
}

void vmx_request_interrupt_window(struct vcpu *vcpu, bool on)
{
    struct vmx_vcpu *vv = vcpu->backend;
    uint32_t proc = on ? vv->proc | PROC_INTERRUPT_WINDOW_EXITING
                       : vv->proc & ~PROC_INTERRUPT_WINDOW_EXITING;
    if (proc != vv->proc) {
        vv->proc = proc;
        vmcs_write(VMCS_PROC_BASED_CONTROLS, proc);
    }
}

void vmx_inject_interrupt(struct vcpu *vcpu, uint8_t vector)
{
    (void)vcpu;
    vmcs_write(VMCS_ENTRY_INTERRUPTION_INFO,
               vector | (INTR_TYPE_EXTERNAL << INTR_INFO_TYPE_SHIFT) | INTR_INFO_VALID);
    /* An interrupted HLT resumes as if woken (25.4.2: activity state). */
    vmcs_write(VMCS_GUEST_ACTIVITY_STATE, ACTIVITY_ACTIVE);
}

static const uint32_t reg_fields[VREG_COUNT] = {
    [VREG_RIP] = VMCS_GUEST_RIP, [VREG_RSP] = VMCS_GUEST_RSP, [VREG_RFLAGS] = VMCS_GUEST_RFLAGS,
    [VREG_CR0] = VMCS_GUEST_CR0, [VREG_CR3] = VMCS_GUEST_CR3, [VREG_CR4] = VMCS_GUEST_CR4,
    [VREG_EFER] = VMCS_GUEST_IA32_EFER, [VREG_CS_BASE] = VMCS_GUEST_CS_BASE,
    [VREG_CS_AR] = VMCS_GUEST_CS_ACCESS_RIGHTS, [VREG_SS_AR] = VMCS_GUEST_SS_ACCESS_RIGHTS,
    [VREG_DS_BASE] = VMCS_GUEST_DS_BASE, [VREG_ES_BASE] = VMCS_GUEST_ES_BASE,
    [VREG_SS_BASE] = VMCS_GUEST_SS_BASE, [VREG_FS_BASE] = VMCS_GUEST_FS_BASE,
    [VREG_GS_BASE] = VMCS_GUEST_GS_BASE,
    /* With EPT and PAE paging the CPU saves its PDPTE registers here on exit (28.3.4). */
    [VREG_PDPTE0] = VMCS_GUEST_PDPTE0, [VREG_PDPTE1] = VMCS_GUEST_PDPTE1,
    [VREG_PDPTE2] = VMCS_GUEST_PDPTE2, [VREG_PDPTE3] = VMCS_GUEST_PDPTE3,
};

uint64_t vmx_get_reg(struct vcpu *vcpu, enum vcpu_reg r)
{
    if (r == VREG_CR2)
        return vcpu->cr2;
    return vmcs_read(reg_fields[r]);
}

void vmx_set_reg(struct vcpu *vcpu, enum vcpu_reg r, uint64_t v)
{
    if (r == VREG_CR2) {
        vcpu->cr2 = v;
        return;
    }
    if (r == VREG_EFER) {
        /* Keep "IA-32e mode guest" equal to EFER.LMA (27.3.1.1). */
        struct vmx_vcpu *vv = vcpu->backend;
        vv->entry = (v & EFER_LMA) ? (vv->entry | ENTRY_IA32E_MODE_GUEST)
                                   : (vv->entry & ~ENTRY_IA32E_MODE_GUEST);
        vmcs_write(VMCS_ENTRY_CONTROLS, vv->entry);
    }
    vmcs_write(reg_fields[r], v);
}

/* The guest's view of CR0/CR4: host-owned bits come from the read shadow. */
uint64_t vmx_read_cr(struct vcpu *vcpu, unsigned cr)
{
    struct vmx_vcpu *vv = vcpu->backend;
    if (cr == 0)
        return (vmcs_read(VMCS_GUEST_CR0) & ~vv->cr0_mask) |
               (vmcs_read(VMCS_CR0_READ_SHADOW) & vv->cr0_mask);
    if (cr == 4)
        return (vmcs_read(VMCS_GUEST_CR4) & ~vv->cr4_mask) |
               (vmcs_read(VMCS_CR4_READ_SHADOW) & vv->cr4_mask);
    if (cr == 3)
        return vmcs_read(VMCS_GUEST_CR3);
    return 0;
}

static bool guest_write_cr0(struct vcpu *vcpu, struct vmx_vcpu *vv, uint64_t val)
{
    const struct vmx_msrs *m = &this_cpu()->virt.vmx_msrs;
    uint64_t old = vmx_read_cr(vcpu, 0);
    uint64_t efer = vmcs_read(VMCS_GUEST_IA32_EFER);
    uint64_t cr4 = vmx_read_cr(vcpu, 4);

    /* MOV to CR0 faults with #GP on these (SDM Vol. 2B, MOV CR). */
    if ((val >> 32) || ((val & CR0_PG) && !(val & CR0_PE)) || ((val & CR0_NW) && !(val & CR0_CD)))
        return false;
    if ((val & CR0_PG) && !(old & CR0_PG) && (efer & EFER_LME)) {
        if (!(cr4 & CR4_PAE))
            return false;
        efer |= EFER_LMA;                   /* entering IA-32e mode (SDM Vol. 3A, 10.8.5) */
        vmx_set_reg(vcpu, VREG_EFER, efer);
    } else if (!(val & CR0_PG) && (old & CR0_PG) && (efer & EFER_LMA)) {
        efer &= ~EFER_LMA;
        vmx_set_reg(vcpu, VREG_EFER, efer);
    }
    vmcs_write(VMCS_CR0_READ_SHADOW, val);
    vmcs_write(VMCS_GUEST_CR0, (val | (m->cr0_fixed0 & ~(CR0_PE | CR0_PG))) & m->cr0_fixed1);
    if ((val & CR0_PG) && (cr4 & CR4_PAE) && !(efer & EFER_LMA))
        return vmx_load_pdptes(vcpu, vmcs_read(VMCS_GUEST_CR3)) == 0;
    (void)vv;
    return true;
}

static bool guest_write_cr4(struct vcpu *vcpu, struct vmx_vcpu *vv, uint64_t val)
{
    const struct vmx_msrs *m = &this_cpu()->virt.vmx_msrs;
    uint64_t efer = vmcs_read(VMCS_GUEST_IA32_EFER);
    uint64_t cr0 = vmx_read_cr(vcpu, 0);

    /* Bits the CPU cannot set, VMXE (we hide VMX), and clearing PAE in long mode fault. */
    if ((val & ~m->cr4_fixed1) || (val & CR4_VMXE) || ((efer & EFER_LMA) && !(val & CR4_PAE)))
        return false;
    vmcs_write(VMCS_CR4_READ_SHADOW, val);
    vmcs_write(VMCS_GUEST_CR4, (val | m->cr4_fixed0) & m->cr4_fixed1);
    /* The guest expects a CR4 write to flush its TLB (SDM Vol. 3A, 4.10.4.1). */
    if (vv->vpid && vv->caps->invvpid_single)
        invvpid(INVVPID_SINGLE_CONTEXT, vv->vpid);
    if ((cr0 & CR0_PG) && (val & CR4_PAE) && !(efer & EFER_LMA))
        return vmx_load_pdptes(vcpu, vmcs_read(VMCS_GUEST_CR3)) == 0;
    return true;
}

bool vmx_write_cr(struct vcpu *vcpu, unsigned cr, uint64_t val)
{
    struct vmx_vcpu *vv = vcpu->backend;
    switch (cr) {
    case 0: return guest_write_cr0(vcpu, vv, val);
    case 4: return guest_write_cr4(vcpu, vv, val);
    case 3: vmcs_write(VMCS_GUEST_CR3, val); return true;
    default: return false;
    }
}

const char *vmx_exit_name(const struct vm_exit *e)
{
    if (e->kind == VMEXIT_ENTRY_FAILED)
        return e->failure;
    return vmx_exit_reason_name(EXIT_REASON_BASIC(e->raw_reason));
}
