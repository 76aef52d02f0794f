/*
 * Vendor-neutral VM exit handling.  Every input here comes from the guest
 * and is treated as hostile: register values, port numbers, MSR indices,
 * hypercall arguments.  A guest that does something real hardware would
 * fault gets that fault injected; one that does something we refuse is
 * stopped with a report; the host and the other guests go on.
 */
#include <hv/vm_internal.h>
#include <hv/guestmem.h>
#include <hv/hypercall.h>
#include <hv/devices.h>
#include <hv/ept.h>
#include <hv/trap.h>
#include <hv/percpu.h>
#include <hv/format.h>
#include <hv/kstring.h>
#include <hv/log.h>
#include <hv/x86.h>

#define EXC_UD                  6
#define EXC_GP                  13
#define EXC_PF                  14
#define EXC_DB                  1
#define EXC_AC                  17
#define EXC_MC                  18
#define CS_AR_L                 BIT(13)     /* 64-bit code segment */
#define SS_AR_DPL(ar)           (((ar) >> 5) & 3)
#define HC_EPERM                (-4L)

#define MSR_IA32_TSC            0x010
#define MSR_IA32_PLATFORM_ID    0x017
#define MSR_IA32_BIOS_SIGN_ID   0x08B
#define MSR_IA32_MTRRCAP        0x0FE
#define MSR_IA32_MISC_ENABLE    0x1A0
#define MSR_IA32_PAT            0x277
#define MSR_IA32_MTRR_DEF_TYPE  0x2FF
#define APIC_BASE_DEFAULT       0xFEE00000ULL
#define APIC_BASE_BSP           BIT(8)
#define MISC_ENABLE_FAST_STRING BIT(0)
#define FEATURE_CONTROL_LOCKED_VMX_OFF 1    /* locked, VMX disabled: we hide VMX */
#define EFER_SCE                BIT(0)
#define EFER_LME                BIT(8)
#define EFER_LMA                BIT(10)
#define EFER_NXE                BIT(11)
#define EFER_WRITABLE           (EFER_SCE | EFER_LME | EFER_LMA | EFER_NXE)
#define XCR0_X87                BIT(0)
#define XCR0_SSE                BIT(1)
#define XCR0_AVX                BIT(2)

void vm_stop(struct vm *vm, enum vm_stop_reason why, uint64_t status, const char *fmt, ...)
{
    va_list ap;
    if (vm->stop_reason != STOP_NONE)
        return;                         /* the first reason is the one that counts */
    vm->stop_reason = why;
    vm->exit_status = status;
    va_start(ap, fmt);
    kvsnprintf(vm->stop_detail, sizeof(vm->stop_detail), fmt, ap);
    va_end(ap);
}

/* Arguments and results are machine words of the guest's current mode. */
static bool guest_in_64bit_mode(struct vcpu *vcpu)
{
    return virt->get_reg(vcpu, VREG_CS_AR) & CS_AR_L;
}

static uint64_t word_mask(struct vcpu *vcpu)
{
    return guest_in_64bit_mode(vcpu) ? ~0ULL : 0xFFFFFFFFULL;
}

static void inject_ud(struct vcpu *vcpu) { virt->inject_exception(vcpu, EXC_UD, false, 0); }
static void inject_gp(struct vcpu *vcpu) { virt->inject_exception(vcpu, EXC_GP, true, 0); }

static bool handle_cpuid(struct vcpu *vcpu, struct vm_exit *e)
{
    vm_cpuid(vcpu);
    e->skip = true;
    return true;
}

static __cold long hypercall_console_write(struct vcpu *vcpu, uint64_t gla, uint64_t len)
{
    char buf[HC_CONSOLE_WRITE_MAX];
    struct gwalk_fault fault;
    if (len > sizeof(buf))
        return HC_EINVAL;
    if (vcpu_read_linear(vcpu, gla, buf, len, &fault))
        return HC_EFAULT;
    for (uint64_t i = 0; i < len; i++)
        vm_console_putc(vcpu->vm, buf[i]);
    return (long)len;
}

static __attribute__((noinline)) bool handle_hypercall(struct vcpu *vcpu, struct vm_exit *e)
{
    struct vm *vm = vcpu->vm;
    uint64_t mask = word_mask(vcpu);
    uint64_t nr = vcpu->gpr[GPR_RAX] & mask, a1 = vcpu->gpr[GPR_RBX] & mask;
    uint64_t a2 = vcpu->gpr[GPR_RCX] & mask;
    long ret;

    /* Only the guest kernel may call the hypervisor (CPL = SS.DPL, SDM 5.5). */
    if (SS_AR_DPL(virt->get_reg(vcpu, VREG_SS_AR)) != 0) {
        ret = HC_EPERM;
    } else {
        switch (nr) {
        case HC_EXIT:
            vm_stop(vm, STOP_EXITED, a1, "exited through hypercall HC_EXIT with status %llu",
                    (unsigned long long)a1);
            e->skip = true;
            return false;
        case HC_CONSOLE_WRITE:
            ret = hypercall_console_write(vcpu, a1, a2);
            break;
        case HC_NOP:
            ret = 0;
            break;
        case HC_GET_VM_INFO:
            ret = (long)(((uint64_t)vm->id << 32) | this_cpu()->index);
            if (!guest_in_64bit_mode(vcpu))
                ret = vm->id;
            break;
        default:
            ret = HC_ENOSYS;
            break;
        }
    }
    vcpu->gpr[GPR_RAX] = (uint64_t)ret & mask;
    e->skip = true;
    return true;
}

static __cold bool handle_hlt(struct vcpu *vcpu, struct vm_exit *e)
{
    bool if_set = virt->get_reg(vcpu, VREG_RFLAGS) & RFLAGS_IF;
    e->skip = true;
    /* An interrupt already pending wakes it at once (delivered before the
     * next entry).  Otherwise only the guest's own device accesses raise
     * interrupts (no timers yet), so a halted vCPU could never wake: stop. */
    if (if_set && vm_interrupt_pending(vcpu->vm))
        return true;
    vm_stop(vcpu->vm, STOP_HALTED, 0, "halted at RIP=%#llx with interrupts %s: nothing can "
            "wake it", (unsigned long long)e->rip, if_set ? "enabled but no interrupt source"
                                                         : "disabled (cli; hlt)");
    return false;
}

/* Port I/O: the device that owns the port, or what an empty bus gives. */
static __attribute__((noinline)) bool handle_io(struct vcpu *vcpu, struct vm_exit *e)
{
    struct vm *vm = vcpu->vm;
    uint64_t mask = e->io.size == 4 ? 0xFFFFFFFFULL : (1ULL << (e->io.size * 8)) - 1;

    if (e->io.string)
        return vm_string_io(vcpu, e);
    if (e->io.in) {
        uint64_t v = mask;                      /* a floating bus reads all ones */
        bus_pio(&vm->bus, e->io.port, e->io.size, false, &v);
        /* IN to EAX zero-extends into RAX; to AL/AX leaves the rest alone. */
        if (e->io.size == 4)
            vcpu->gpr[GPR_RAX] = v & mask;
        else
            vcpu->gpr[GPR_RAX] = (vcpu->gpr[GPR_RAX] & ~mask) | (v & mask);
    } else {
        uint64_t v = vcpu->gpr[GPR_RAX] & mask;
        bus_pio(&vm->bus, e->io.port, e->io.size, true, &v);
    }
    e->skip = true;
    return vm->stop_reason == STOP_NONE;
}

static __cold bool rdmsr_emulated(struct vcpu *vcpu, uint32_t msr, uint64_t *v)
{
    switch (msr) {
    case MSR_IA32_TSC:              *v = rdtsc(); return true;
    case MSR_IA32_APIC_BASE:        *v = APIC_BASE_DEFAULT | APIC_BASE_BSP; return true;
    case MSR_IA32_FEATURE_CONTROL:  *v = FEATURE_CONTROL_LOCKED_VMX_OFF; return true;
    case MSR_IA32_MISC_ENABLE:      *v = MISC_ENABLE_FAST_STRING; return true;
    case MSR_IA32_PLATFORM_ID:
    case MSR_IA32_BIOS_SIGN_ID:
    case MSR_IA32_MTRRCAP:
    case MSR_IA32_MTRR_DEF_TYPE:    *v = 0; return true;
    case MSR_IA32_EFER:             *v = virt->get_reg(vcpu, VREG_EFER); return true;
    default:                        return false;
    }
}

static __cold bool wrmsr_emulated(struct vcpu *vcpu, uint32_t msr, uint64_t v)
{
    switch (msr) {
    case MSR_IA32_EFER: {
        uint64_t old = virt->get_reg(vcpu, VREG_EFER);
        bool paging = virt->read_cr(vcpu, 0) & CR0_PG;
        /* Reserved bits, or LME changed while paging is on: #GP (SDM Vol. 3A, 10.8.5). */
        if ((v & ~EFER_WRITABLE) || (paging && ((v ^ old) & EFER_LME)))
            return false;
        virt->set_reg(vcpu, VREG_EFER, (v & ~EFER_LMA) | (old & EFER_LMA));
        return true;
    }
    case MSR_IA32_TSC:              /* accepted and ignored: the TSC stays the host's */
    case MSR_IA32_APIC_BASE:
    case MSR_IA32_MISC_ENABLE:
    case MSR_IA32_BIOS_SIGN_ID:
    case MSR_IA32_MTRR_DEF_TYPE:
        return true;
    default:
        return false;
    }
}

/* Only the MSRs above exist for a guest: anything else is #GP, as on a CPU
 * without that MSR, and never reaches the hardware. */
static __cold bool handle_msr(struct vcpu *vcpu, struct vm_exit *e)
{
    uint32_t msr = (uint32_t)vcpu->gpr[GPR_RCX];
    if (e->kind == VMEXIT_RDMSR) {
        uint64_t v;
        if (!rdmsr_emulated(vcpu, msr, &v)) {
            pr_debug("VM '%s': RDMSR %#x: no such MSR for guests, #GP", vcpu->vm->name, msr);
            inject_gp(vcpu);
            return true;
        }
        vcpu->gpr[GPR_RAX] = (uint32_t)v;
        vcpu->gpr[GPR_RDX] = v >> 32;
    } else {
        uint64_t v = (vcpu->gpr[GPR_RDX] << 32) | (uint32_t)vcpu->gpr[GPR_RAX];
        if (!wrmsr_emulated(vcpu, msr, v)) {
            pr_debug("VM '%s': WRMSR %#x <- %#llx refused, #GP", vcpu->vm->name, msr,
                     (unsigned long long)v);
            inject_gp(vcpu);
            return true;
        }
    }
    e->skip = true;
    return true;
}

static __cold bool handle_cr(struct vcpu *vcpu, struct vm_exit *e)
{
    uint64_t *gpr = &vcpu->gpr[e->cr.gpr];
    bool ok = true;

    if (e->cr.gpr == GPR_RSP && e->cr.type <= CR_MOV_FROM) {
        vm_stop(vcpu->vm, STOP_MISBEHAVED, 0, "MOV CR%u with RSP is not emulated", e->cr.cr);
        return false;
    }
    switch (e->cr.type) {
    case CR_MOV_TO:
        ok = virt->write_cr(vcpu, e->cr.cr, *gpr & word_mask(vcpu));
        break;
    case CR_MOV_FROM:
        *gpr = virt->read_cr(vcpu, e->cr.cr);
        break;
    case CR_CLTS:
        ok = virt->write_cr(vcpu, 0, virt->read_cr(vcpu, 0) & ~CR0_TS);
        break;
    case CR_LMSW: {
        /* LMSW loads CR0[3:0] but can set PE, never clear it (SDM Vol. 2A, LMSW). */
        uint64_t cr0 = virt->read_cr(vcpu, 0);
        uint64_t v = (cr0 & ~0xEULL) | (e->cr.lmsw_source & 0xF) | (cr0 & CR0_PE);
        ok = virt->write_cr(vcpu, 0, v);
        break;
    }
    }
    if (!ok) {
        inject_gp(vcpu);
        return true;
    }
    e->skip = true;
    return true;
}

/* XSETBV (SDM Vol. 2C): the CPU already checked CPL and CR4.OSXSAVE before
 * the exit; we check the value against what the host CPU supports. */
static __cold bool handle_xsetbv(struct vcpu *vcpu, struct vm_exit *e)
{
    uint32_t index = (uint32_t)vcpu->gpr[GPR_RCX];
    uint64_t v = (vcpu->gpr[GPR_RDX] << 32) | (uint32_t)vcpu->gpr[GPR_RAX];
    struct cpuid_regs xs = cpuid(0xD, 0);
    uint64_t supported = ((uint64_t)xs.edx << 32) | xs.eax;

    if (index != 0 || !(v & XCR0_X87) || (v & ~supported) ||
        ((v & XCR0_AVX) && !(v & XCR0_SSE)) || !(read_cr4() & CR4_OSXSAVE)) {
        inject_gp(vcpu);
        return true;
    }
    __asm__ volatile("xsetbv" :: "c"(0), "a"((uint32_t)v), "d"((uint32_t)(v >> 32)));
    e->skip = true;
    return true;
}

static void report_bad_access(struct vm *vm, const struct vm_exit *e, char *what, size_t n);

/* A guest-physical access the EPT did not allow. */
static __attribute__((noinline)) bool handle_npf(struct vcpu *vcpu, struct vm_exit *e)
{
    struct vm *vm = vcpu->vm;
    const struct mem_region *r = vm_find_region(vm, e->npf.gpa);
    char what[120];

    if (r && r->kind == MEM_MMIO)
        return vm_emulate_mmio(vcpu, e);
    if (r && r->kind == MEM_RAM) {
        if (vm_ram_page(vm, e->npf.gpa))
            return true;                        /* first touch: now backed, retry */
        vm_stop(vm, STOP_HOST_ERROR, 0, "out of host memory backing guest RAM at %#llx",
                (unsigned long long)e->npf.gpa);
        return false;
    }
    report_bad_access(vm, e, what, sizeof(what));
    return false;
}

static __cold void report_bad_access(struct vm *vm, const struct vm_exit *e, char *what, size_t n)
{
    ept_violation_access_string(e->npf.qual, what, n);
    vm_stop(vm, STOP_MISBEHAVED, 0, "EPT violation at guest-physical %#llx, outside its %llu MiB "
            "of RAM and any device, RIP=%#llx: %s", (unsigned long long)e->npf.gpa,
            (unsigned long long)(vm->ram_size / MiB), (unsigned long long)e->rip, what);
}

static __cold bool handle_exception(struct vcpu *vcpu, struct vm_exit *e)
{
    if (e->exc.vector == EXC_MC) {
        vm_stop(vcpu->vm, STOP_HOST_ERROR, 0, "machine check while the guest ran");
        return false;
    }
    /* #DB and #AC are intercepted only to bound them; give them back. */
    virt->inject_exception(vcpu, e->exc.vector, e->exc.has_error, e->exc.error_code);
    return true;
}

static __cold bool handle_rare_exit(struct vcpu *vcpu, struct vm_exit *e);

/* The hot exits are dispatched here; everything else in handle_rare_exit(). */
bool vm_handle_exit(struct vcpu *vcpu, struct vm_exit *e)
{
    switch (e->kind) {
    case VMEXIT_CPUID:              return handle_cpuid(vcpu, e);
    case VMEXIT_HYPERCALL:          return handle_hypercall(vcpu, e);
    case VMEXIT_IO:                 return handle_io(vcpu, e);
    case VMEXIT_NESTED_PAGE_FAULT:  return handle_npf(vcpu, e);
    case VMEXIT_EXTERNAL_INTERRUPT:
        irq_dispatch(e->irq.vector);
        return vm_periodic_check(vcpu);
    case VMEXIT_PREEMPTION_TIMER:   return vm_periodic_check(vcpu);
    case VMEXIT_INTERRUPT_WINDOW:   return true;    /* the run loop delivers */
    default:                        return handle_rare_exit(vcpu, e);
    }
}

static bool handle_rare_exit(struct vcpu *vcpu, struct vm_exit *e)
{
    struct vm *vm = vcpu->vm;

    switch (e->kind) {
    case VMEXIT_HLT:                return handle_hlt(vcpu, e);
    case VMEXIT_RDMSR:
    case VMEXIT_WRMSR:              return handle_msr(vcpu, e);
    case VMEXIT_CR_ACCESS:          return handle_cr(vcpu, e);
    case VMEXIT_XSETBV:             return handle_xsetbv(vcpu, e);
    case VMEXIT_EXCEPTION:          return handle_exception(vcpu, e);
    case VMEXIT_CACHE_FLUSH:
        /* Guest memory is write-back and coherent: nothing to write back for it. */
        e->skip = true;
        return true;
    case VMEXIT_VIRT_INSTRUCTION:
    case VMEXIT_UNDEFINED_INSTRUCTION:
        /* CR4.VMXE is 0 for the guest (and CPUID hides VMX, MONITOR): #UD, as hardware. */
        inject_ud(vcpu);
        return true;
    case VMEXIT_TRIPLE_FAULT:
        vm_stop(vm, STOP_TRIPLE_FAULT, 0, "triple fault at RIP=%#llx (the guest's exception "
                "handling failed three times; a real machine would reset)",
                (unsigned long long)e->rip);
        virt->dump_state(vcpu);
        return false;
    case VMEXIT_INIT:
    case VMEXIT_SIPI:
        vm_stop(vm, STOP_MISBEHAVED, 0, "received %s: single-vCPU VMs do not take INIT/SIPI",
                virt->exit_name(e));
        return false;
    case VMEXIT_NESTED_PAGE_MISCONFIG:
        vm_stop(vm, STOP_HOST_ERROR, 0, "EPT misconfiguration at guest-physical %#llx: a "
                "hypervisor bug (SDM 29.3.3.1)", (unsigned long long)e->npf.gpa);
        return false;
    case VMEXIT_ENTRY_FAILED:
        vm_stop(vm, STOP_ENTRY_FAILED, 0, "VM entry failed: %s", e->failure);
        return false;
    default:
        vm_stop(vm, STOP_MISBEHAVED, 0, "unhandled VM exit: %s (reason %u) at RIP=%#llx",
                virt->exit_name(e), e->raw_reason, (unsigned long long)e->rip);
        return false;
    }
}
