/*
 * Building a VMCS (SDM Vol. 3C, chapter 25 "Virtual Machine Control
 * Structures", and 27.2/27.3 for what VM entry checks).  Each function fills
 * one area of the VMCS: execution controls, exit/entry controls, host state,
 * guest state.  Control values are computed from the capability MSRs.
 */
#include <hv/vmx.h>
#include <hv/percpu.h>
#include <hv/paging.h>
#include <hv/kernel.h>
#include <hv/trap.h>
#include <hv/log.h>
#include <hv/x86.h>
#include <hv/kstring.h>
#include <hv/format.h>

#define MSR_IA32_PAT            0x277
#define MSR_IA32_SYSENTER_CS    0x174
#define MSR_IA32_SYSENTER_ESP   0x175
#define MSR_IA32_SYSENTER_EIP   0x176
#define MSR_STAR                0xC0000081
#define MSR_LSTAR               0xC0000082
#define MSR_CSTAR               0xC0000083
#define MSR_SFMASK              0xC0000084
#define MSR_TSC_AUX             0xC0000103

#define EFER_LME                BIT(8)
#define EFER_LMA                BIT(10)
#define EFER_NXE                BIT(11)
#define RFLAGS_RESERVED_1       BIT(1)
#define DR7_INIT                0x400
#define PAT_POWER_ON            0x0007040600070406ULL   /* SDM Vol. 3A, 13.12.4 */
#define VMCS_LINK_NONE          (~0ULL)
#define EXC_DEBUG               1
#define EXC_ALIGNMENT_CHECK     17

/* Access rights (table 25-2) of the segments our entry modes start with. */
#define AR_CODE16_REAL          0x009B      /* P, S, type 11: execute/read, accessed */
#define AR_DATA16_REAL          0x0093      /* P, S, type 3: read/write, accessed */
#define AR_CODE32               0xC09B      /* + G, D/B */
#define AR_DATA32               0xC093
#define AR_CODE64               0xA09B      /* + G, L */
#define AR_TSS_BUSY             0x008B      /* P, type 11: busy 32/64-bit TSS */
#define AR_TSS16_BUSY           0x0083      /* P, type 3: busy 16-bit TSS */
#define AR_LDTR_UNUSABLE        VMX_AR_UNUSABLE
#define SEL_CODE                0x08
#define SEL_DATA                0x10
#define LIMIT_4G                0xFFFFFFFF
#define LIMIT_64K               0xFFFF
#define TSS_LIMIT               0x67

/* VPIDs tag the guest's TLB entries (28.1); 0 is the host's. */
static uint16_t next_vpid = 1;

static int setup_controls(struct vmx_vcpu *vv, const struct vcpu_boot_state *boot)
{
    struct vmx_controls ctl;
    struct vmx_ctl_failure fail;

    if (vmx_compute_controls(vv->caps, boot->mode == GUEST_LONG64, &ctl, &fail)) {
        pr_err("VMCS: the %s control \"%s\" is required but %s does not allow it "
               "(allowed-1 settings %#x, missing %#x)", fail.field, fail.control, fail.msr,
               fail.may_be_1, fail.missing);
        return -1;
    }
    vv->pin = ctl.pin;
    vv->proc = ctl.proc;
    vv->proc2 = ctl.proc2;
    vv->exit = ctl.exit;
    vv->entry = ctl.entry;
    if (!(vv->proc2 & PROC2_ENABLE_VPID))
        pr_debug("VMCS: no VPID: every VM exit flushes the guest's TLB entries");

    vmcs_write(VMCS_PIN_BASED_CONTROLS, vv->pin);
    vmcs_write(VMCS_PROC_BASED_CONTROLS, vv->proc);
    vmcs_write(VMCS_SECONDARY_PROC_BASED_CONTROLS, vv->proc2);
    vmcs_write(VMCS_EXIT_CONTROLS, vv->exit);
    vmcs_write(VMCS_ENTRY_CONTROLS, vv->entry);

    /* #DB and #AC exit so that a guest cannot wedge the core with an endless
     * chain of them (CVE-2015-5307, CVE-2015-8104); we reflect them back. */
    vmcs_write(VMCS_EXCEPTION_BITMAP, BIT(EXC_DEBUG) | BIT(EXC_ALIGNMENT_CHECK));
    vmcs_write(VMCS_PAGE_FAULT_ERROR_CODE_MASK, 0);
    vmcs_write(VMCS_PAGE_FAULT_ERROR_CODE_MATCH, 0);
    vmcs_write(VMCS_CR3_TARGET_COUNT, 0);
    vmcs_write(VMCS_EXIT_MSR_STORE_COUNT, 0);
    vmcs_write(VMCS_EXIT_MSR_LOAD_COUNT, 0);
    vmcs_write(VMCS_ENTRY_MSR_LOAD_COUNT, 0);
    vmcs_write(VMCS_ENTRY_INTERRUPTION_INFO, 0);
    vmcs_write(VMCS_TSC_OFFSET, 0);
    if (vv->proc2 & PROC2_ENABLE_VPID) {
        vv->vpid = __atomic_fetch_add(&next_vpid, 1, __ATOMIC_RELAXED);
        vmcs_write(VMCS_VPID, vv->vpid);
    }
    return 0;
}

/* MSRs the guest may read and write without an exit: those the VMCS switches
 * (FS/GS base, SYSENTER) and the SYSCALL/SWAPGS MSRs, which the host never
 * uses and which are saved with the vCPU when it leaves the core. */
static const uint32_t passthrough_msrs[] = {
    MSR_IA32_FS_BASE, MSR_IA32_GS_BASE, MSR_IA32_KERNEL_GS_BASE, MSR_STAR, MSR_LSTAR,
    MSR_CSTAR, MSR_SFMASK, MSR_IA32_SYSENTER_CS, MSR_IA32_SYSENTER_ESP, MSR_IA32_SYSENTER_EIP,
    MSR_TSC_AUX,
};

/* MSR bitmap layout (25.6.9): read-low, read-high, write-low, write-high, 1 KiB each;
 * "low" covers 0-0x1FFF, "high" 0xC0000000-0xC0001FFF. */
static void msr_bitmap_allow(uint8_t *bm, uint32_t msr)
{
    uint32_t base = msr >= 0xC0000000 ? 1024 : 0;
    uint32_t idx = msr & 0x1FFF;
    bm[base + idx / 8] &= ~(1u << (idx % 8));            /* read */
    bm[2048 + base + idx / 8] &= ~(1u << (idx % 8));     /* write */
}

static int setup_bitmaps(struct vmx_vcpu *vv)
{
    vv->io_bitmaps = phys_alloc_pages(2);
    vv->msr_bitmap = phys_alloc_pages(1);
    if (vv->io_bitmaps == PMM_NO_MEMORY || vv->msr_bitmap == PMM_NO_MEMORY) {
        pr_err("VMCS: out of memory for the I/O and MSR bitmaps");
        return -1;
    }
    /* Every port exits (25.6.4); devices decide, unowned ports read as all ones. */
    memset(phys_to_virt(vv->io_bitmaps), 0xFF, 2 * PAGE_SIZE);
    uint8_t *msr = phys_to_virt(vv->msr_bitmap);
    memset(msr, 0xFF, PAGE_SIZE);
    for (size_t i = 0; i < ARRAY_SIZE(passthrough_msrs); i++)
        msr_bitmap_allow(msr, passthrough_msrs[i]);
    vmcs_write(VMCS_IO_BITMAP_A, vv->io_bitmaps);
    vmcs_write(VMCS_IO_BITMAP_B, vv->io_bitmaps + PAGE_SIZE);
    vmcs_write(VMCS_MSR_BITMAP, vv->msr_bitmap);
    return 0;
}

/* Host state (25.5, checked by 27.2.3): what the core returns to on exit. */
static void setup_host_state(void)
{
    struct percpu *cpu = this_cpu();
    struct { uint16_t limit; uint64_t base; } __packed idtr;
    __asm__ volatile("sidt %0" : "=m"(idtr));

    vmcs_write(VMCS_HOST_CR0, read_cr0());
    vmcs_write(VMCS_HOST_CR3, read_cr3());
    vmcs_write(VMCS_HOST_CR4, read_cr4());
    vmcs_write(VMCS_HOST_CS_SELECTOR, GDT_KERNEL_CODE);
    vmcs_write(VMCS_HOST_SS_SELECTOR, GDT_KERNEL_DATA);
    vmcs_write(VMCS_HOST_DS_SELECTOR, GDT_KERNEL_DATA);
    vmcs_write(VMCS_HOST_ES_SELECTOR, GDT_KERNEL_DATA);
    vmcs_write(VMCS_HOST_FS_SELECTOR, 0);
    vmcs_write(VMCS_HOST_GS_SELECTOR, 0);
    vmcs_write(VMCS_HOST_TR_SELECTOR, GDT_TSS);
    vmcs_write(VMCS_HOST_FS_BASE, rdmsr(MSR_IA32_FS_BASE));
    vmcs_write(VMCS_HOST_GS_BASE, (uint64_t)(uintptr_t)cpu);
    vmcs_write(VMCS_HOST_TR_BASE, (uint64_t)(uintptr_t)&cpu->tss);
    vmcs_write(VMCS_HOST_GDTR_BASE, (uint64_t)(uintptr_t)cpu->gdt);
    vmcs_write(VMCS_HOST_IDTR_BASE, idtr.base);
    vmcs_write(VMCS_HOST_IA32_SYSENTER_CS, 0);
    vmcs_write(VMCS_HOST_IA32_SYSENTER_ESP, 0);
    vmcs_write(VMCS_HOST_IA32_SYSENTER_EIP, 0);
    vmcs_write(VMCS_HOST_IA32_EFER, rdmsr(MSR_IA32_EFER));
    vmcs_write(VMCS_HOST_IA32_PAT, rdmsr(MSR_IA32_PAT));
    vmcs_write(VMCS_HOST_RIP, (uint64_t)(uintptr_t)vmx_exit_stub);
    /* HOST_RSP is written by vmx_enter before every entry. */
}

struct seg { uint16_t sel; uint32_t limit, ar; uint64_t base; };

static void write_segment(unsigned idx, const struct seg *s)
{
    /* Guest segment fields are laid out at a stride of 2 per segment (B.1-B.4). */
    vmcs_write(VMCS_GUEST_ES_SELECTOR + idx * 2, s->sel);
    vmcs_write(VMCS_GUEST_ES_LIMIT + idx * 2, s->limit);
    vmcs_write(VMCS_GUEST_ES_ACCESS_RIGHTS + idx * 2, s->ar);
    vmcs_write(VMCS_GUEST_ES_BASE + idx * 2, s->base);
}

enum { SEG_ES, SEG_CS, SEG_SS, SEG_DS, SEG_FS, SEG_GS, SEG_LDTR, SEG_TR };

/* CR0/CR4 ownership (25.6.6): bits in the mask belong to the host, the guest
 * reads them from the read shadow and writing a different value exits.
 * The host owns the bits VMX fixes (except PE/PG, free with unrestricted
 * guest) and PG itself, so that entering and leaving long mode goes through
 * vmx_write_cr() which keeps "IA-32e mode guest" and EFER.LMA consistent. */
static void setup_cr_ownership(struct vmx_vcpu *vv, uint64_t cr0, uint64_t cr4)
{
    const struct vmx_msrs *m = &this_cpu()->virt.vmx_msrs;
    uint64_t cr0_fixed = (m->cr0_fixed0 | ~m->cr0_fixed1) & ~(CR0_PE | CR0_PG);
    vv->cr0_mask = cr0_fixed | CR0_PG;
    vv->cr4_mask = m->cr4_fixed0 | ~m->cr4_fixed1;
    vmcs_write(VMCS_CR0_GUEST_HOST_MASK, vv->cr0_mask);
    vmcs_write(VMCS_CR4_GUEST_HOST_MASK, vv->cr4_mask);
    vmcs_write(VMCS_CR0_READ_SHADOW, cr0);
    vmcs_write(VMCS_CR4_READ_SHADOW, cr4);
    vmcs_write(VMCS_GUEST_CR0, (cr0 | (m->cr0_fixed0 & ~(CR0_PE | CR0_PG))) & m->cr0_fixed1);
    vmcs_write(VMCS_GUEST_CR4, (cr4 | m->cr4_fixed0) & m->cr4_fixed1);
}

/* Guest state (25.4) for each entry mode, so that VM entry's checks (27.3.1)
 * pass and the guest starts as its boot protocol promises. */
static void setup_guest_state(struct vmx_vcpu *vv, const struct vcpu_boot_state *b)
{
    struct seg code, data, tr = { 0, TSS_LIMIT, AR_TSS_BUSY, 0 };
    struct seg ldtr = { 0, 0, AR_LDTR_UNUSABLE, 0 };
    uint64_t cr0 = b->cr0, cr4 = b->cr4, efer = b->efer;

    switch (b->mode) {
    case GUEST_REAL:
        /* Real mode: selectors and bases agree (base = selector << 4). */
        code = (struct seg){ 0, LIMIT_64K, AR_CODE16_REAL, 0 };
        data = (struct seg){ 0, LIMIT_64K, AR_DATA16_REAL, 0 };
        tr.ar = AR_TSS16_BUSY;
        if (!cr0)
            cr0 = CR0_ET;
        break;
    case GUEST_PROTECTED32:
        code = (struct seg){ SEL_CODE, LIMIT_4G, AR_CODE32, 0 };
        data = (struct seg){ SEL_DATA, LIMIT_4G, AR_DATA32, 0 };
        if (!cr0)
            cr0 = CR0_PE | CR0_ET;
        break;
    case GUEST_LONG64:
    default:
        code = (struct seg){ SEL_CODE, LIMIT_4G, AR_CODE64, 0 };
        data = (struct seg){ SEL_DATA, LIMIT_4G, AR_DATA32, 0 };
        if (!cr0)
            cr0 = CR0_PE | CR0_ET | CR0_PG | CR0_WP;
        if (!cr4)
            cr4 = CR4_PAE;
        if (!efer)
            efer = EFER_LME | EFER_LMA | EFER_NXE;
        break;
    }
    setup_cr_ownership(vv, cr0, cr4);
    vmcs_write(VMCS_GUEST_CR3, b->cr3);
    vmcs_write(VMCS_GUEST_IA32_EFER, efer);
    vmcs_write(VMCS_GUEST_IA32_PAT, PAT_POWER_ON);
    vmcs_write(VMCS_GUEST_IA32_DEBUGCTL, 0);
    vmcs_write(VMCS_GUEST_DR7, DR7_INIT);

    write_segment(SEG_CS, &code);
    write_segment(SEG_SS, &data);
    write_segment(SEG_DS, &data);
    write_segment(SEG_ES, &data);
    write_segment(SEG_FS, &data);
    write_segment(SEG_GS, &data);
    write_segment(SEG_LDTR, &ldtr);
    write_segment(SEG_TR, &tr);
    vmcs_write(VMCS_GUEST_GDTR_BASE, 0);
    vmcs_write(VMCS_GUEST_GDTR_LIMIT, b->mode == GUEST_REAL ? LIMIT_64K : 0);
    vmcs_write(VMCS_GUEST_IDTR_BASE, 0);
    vmcs_write(VMCS_GUEST_IDTR_LIMIT, b->mode == GUEST_REAL ? 0x3FF : 0);   /* the real-mode IVT */

    vmcs_write(VMCS_GUEST_RIP, b->rip);
    vmcs_write(VMCS_GUEST_RSP, b->rsp);
    vmcs_write(VMCS_GUEST_RFLAGS, b->rflags);
    vmcs_write(VMCS_GUEST_INTERRUPTIBILITY_STATE, 0);
    vmcs_write(VMCS_GUEST_ACTIVITY_STATE, ACTIVITY_ACTIVE);
    vmcs_write(VMCS_GUEST_PENDING_DEBUG_EXCEPTIONS, 0);
    vmcs_write(VMCS_GUEST_SYSENTER_CS, 0);
    vmcs_write(VMCS_GUEST_SYSENTER_ESP, 0);
    vmcs_write(VMCS_GUEST_SYSENTER_EIP, 0);
    /* No shadow VMCS: the link pointer must be all ones (27.3.1.5). */
    vmcs_write(VMCS_LINK_POINTER, VMCS_LINK_NONE);
}

int vmx_setup_vmcs(struct vcpu *vcpu, struct vmx_vcpu *vv, const struct vcpu_boot_state *boot)
{
    struct vmx_vm *vm = vcpu->vm->backend;

    if (setup_controls(vv, boot) || setup_bitmaps(vv))
        return -1;
    vmcs_write(VMCS_EPT_POINTER, vm->eptp);
    setup_host_state();
    setup_guest_state(vv, boot);
    if (vv->pin & PIN_VMX_PREEMPTION_TIMER)
        vmcs_write(VMCS_PREEMPTION_TIMER_VALUE, vv->preemption_reload);
    return 0;
}
