/*
 * MMIO emulation.  A device window is never mapped in the EPT, so every
 * access to it exits with an EPT violation.  We fetch the instruction at
 * CS:RIP through the guest's paging, decode and execute it with the in-kernel
 * emulator (kernel/devices/x86_emulate.c), whose memory operands reach the
 * device (or RAM, for the other side of a MOVS) through guest_access.c.
 * An instruction we cannot emulate gets #UD, as on a CPU without it, and is
 * logged with its bytes; the host never trusts the guest's bytes.
 */
#include <hv/vm_internal.h>
#include <hv/guest_access.h>
#include <hv/x86_emulate.h>
#include <hv/fpu.h>
#include <hv/format.h>
#include <hv/log.h>
#include <hv/kstring.h>

#define EXC_UD              6
#define MMIO_MAX_REP        4096    /* REP iterations per exit; the guest re-executes the rest */

static int emu_read(void *ctx, enum x86_seg seg, uint64_t off, void *buf, unsigned size)
{
    struct guest_access *ga = ctx;
    return guest_access(ga, guest_linear(ga, seg, off), buf, size, false);
}

static int emu_write(void *ctx, enum x86_seg seg, uint64_t off, const void *buf, unsigned size)
{
    struct guest_access *ga = ctx;
    return guest_access(ga, guest_linear(ga, seg, off), (void *)buf, size, true);
}

static int emu_read_xmm(void *ctx, unsigned reg, void *buf16)
{
    (void)ctx;
    fpu_read_xmm(reg, buf16);
    return 0;
}

static int emu_write_xmm(void *ctx, unsigned reg, const void *buf16)
{
    (void)ctx;
    fpu_write_xmm(reg, buf16);
    return 0;
}

static void emu_flush(void *ctx, enum x86_seg seg, uint64_t off)
{
    /* Device registers are not cached (the EPT never maps them): nothing to flush. */
    (void)ctx;
    (void)seg;
    (void)off;
}

static const struct x86_emu_ops emu_ops = {
    .read = emu_read, .write = emu_write, .read_xmm = emu_read_xmm, .write_xmm = emu_write_xmm,
    .flush = emu_flush,
};

static void load_regs(struct vcpu *vcpu, struct x86_regs *r, uint64_t rip)
{
    memcpy(r->gpr, vcpu->gpr, sizeof(r->gpr));
    r->gpr[GPR_RSP] = virt->get_reg(vcpu, VREG_RSP);
    r->rip = rip;
    r->rflags = virt->get_reg(vcpu, VREG_RFLAGS);
}

static void store_regs(struct vcpu *vcpu, const struct x86_regs *r)
{
    uint64_t rsp = r->gpr[GPR_RSP];
    memcpy(vcpu->gpr, r->gpr, sizeof(r->gpr));
    virt->set_reg(vcpu, VREG_RSP, rsp);
    virt->set_reg(vcpu, VREG_RIP, r->rip);
    virt->set_reg(vcpu, VREG_RFLAGS, r->rflags);
}

static __cold void refuse(struct vcpu *vcpu, const struct vm_exit *e, const uint8_t *bytes,
                          size_t n, const char *why)
{
    char hex[3 * X86_MAX_INSN_LEN + 1];
    size_t k = 0;
    for (size_t i = 0; i < n && k + 4 <= sizeof(hex); i++)
        k += ksnprintf(hex + k, sizeof(hex) - k, "%02x ", bytes[i]);
    hex[k ? k - 1 : 0] = '\0';
    pr_warn("VM '%s': MMIO at guest-physical %#llx by the instruction at RIP=%#llx [%s]: %s; "
            "#UD injected", vcpu->vm->name, (unsigned long long)e->npf.gpa,
            (unsigned long long)e->rip, hex, why);
    virt->inject_exception(vcpu, EXC_UD, false, 0);
}

bool vm_emulate_mmio(struct vcpu *vcpu, struct vm_exit *e)
{
    struct guest_access ga;
    struct x86_insn insn;
    struct x86_regs regs;
    uint8_t bytes[X86_MAX_INSN_LEN];
    const char *why = "not an instruction this hypervisor emulates";

    guest_access_init(&ga, vcpu);
    size_t n = guest_fetch(&ga, e->rip, bytes, sizeof(bytes));
    if (x86_decode(bytes, n, ga.mode, &insn, &why)) {
        if (n < sizeof(bytes) && ga.fetch_status != GWALK_OK && n < 1) {
            /* Could not even fetch: deliver the fetch's fault. */
            ga.status = ga.fetch_status;
            ga.fault = ga.fetch_fault;
            guest_access_deliver_fault(&ga, "the instruction fetch");
            return vcpu->vm->stop_reason == STOP_NONE;
        }
        refuse(vcpu, e, bytes, n, why);
        return true;
    }
    load_regs(vcpu, &regs, e->rip);
    enum x86_emu_result r = x86_emulate(&insn, ga.mode, &regs, &emu_ops, &ga, MMIO_MAX_REP);
    switch (r) {
    case X86_EMU_OK:
    case X86_EMU_RESTART:
        store_regs(vcpu, &regs);
        vcpu->vm->stats.emulated++;
        return true;
    case X86_EMU_FAULT:
        guest_access_deliver_fault(&ga, "an emulated instruction");
        return vcpu->vm->stop_reason == STOP_NONE;
    case X86_EMU_UNSUPPORTED:
    default:
        refuse(vcpu, e, bytes, insn.len, insn.name ? insn.name : why);
        return true;
    }
}
