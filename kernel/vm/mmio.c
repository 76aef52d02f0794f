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
#include <hv/guestmem.h>
#include <hv/x86_emulate.h>
#include <hv/fpu.h>
#include <hv/format.h>
#include <hv/log.h>
#include <hv/kstring.h>
#include <hv/paging.h>

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

/*
 * Decoded instructions by RIP.  A driver touches its device registers from the
 * same few instructions over and over; decoding costs more than the rest of
 * the emulation.  An entry is used only when the bytes fetched now equal the
 * bytes it was decoded from, so rewritten code is simply decoded again.
 */
#define DECODE_CACHE_SIZE   16

struct decode_cache_entry {
    uint64_t rip;
    enum x86_cpu_mode mode;
    uint8_t bytes[X86_MAX_INSN_LEN];
    struct x86_insn insn;
    bool valid;
};

struct decode_cache {
    struct decode_cache_entry e[DECODE_CACHE_SIZE];
};

static struct decode_cache_entry *cache_slot(struct vm *vm, uint64_t rip)
{
    if (!vm->decode_cache && !(vm->decode_cache = kzalloc(sizeof(struct decode_cache))))
        return NULL;
    struct decode_cache *dc = vm->decode_cache;
    return &dc->e[(rip ^ (rip >> 4)) % DECODE_CACHE_SIZE];
}

/* Are the instruction bytes at RIP still the cached ones?  Without paging and
 * inside one page they are compared in place; otherwise fetched first. */
static bool cached_bytes_match(struct guest_access *ga, uint64_t rip,
                               const struct decode_cache_entry *c, uint8_t *bytes, size_t *fetched)
{
    unsigned len = c->insn.len;
    uint64_t linear = guest_linear(ga, X86_SEG_CS, rip);
    if (!(ga->paging.cr0 & CR0_PG) && (linear & (PAGE_SIZE - 1)) + len <= PAGE_SIZE) {
        const uint8_t *page = vm_ram_page(ga->vcpu->vm, (uint32_t)linear);
        *fetched = 0;
        return page && !memcmp(page + (linear & (PAGE_SIZE - 1)), c->bytes, len);
    }
    *fetched = guest_fetch(ga, rip, bytes, len);
    return *fetched == len && !memcmp(bytes, c->bytes, len);
}

/* Fetches and decodes the instruction at RIP, from the cache when its bytes
 * are unchanged.  Returns the decoded instruction (owned by the cache or by
 * *scratch), or NULL with *why set. */
static const struct x86_insn *fetch_and_decode(struct vcpu *vcpu, struct guest_access *ga,
                                               uint64_t rip, uint8_t *bytes, size_t *fetched,
                                               struct x86_insn *scratch, const char **why)
{
    struct decode_cache_entry *c = cache_slot(vcpu->vm, rip);
    if (c && c->valid && c->rip == rip && c->mode == ga->mode &&
        cached_bytes_match(ga, rip, c, bytes, fetched))
        return &c->insn;
    size_t n = guest_fetch(ga, rip, bytes, X86_MAX_INSN_LEN);
    *fetched = n;
    if (x86_decode(bytes, n, ga->mode, scratch, why))
        return NULL;
    if (!c)
        return scratch;
    c->rip = rip;
    c->mode = ga->mode;
    memcpy(c->bytes, bytes, scratch->len);
    c->insn = *scratch;
    c->valid = true;
    return &c->insn;
}

void vm_decode_cache_free(struct vm *vm)
{
    kfree(vm->decode_cache);
    vm->decode_cache = NULL;
}

/* The byte register an 8-bit operand names: without REX, 4-7 are AH, CH, DH, BH. */
static uint8_t *byte_reg(struct vcpu *vcpu, const struct x86_insn *insn, unsigned reg)
{
    if (!insn->rex && reg >= 4 && reg < 8)
        return (uint8_t *)&vcpu->gpr[reg - 4] + 1;
    return (uint8_t *)&vcpu->gpr[reg];
}

/*
 * The common case, done without the general emulator: MOV between a general
 * register (or an immediate) and the device (88/89/8A/8B/C6/C7).  Same
 * semantics as x86_emulate() (tests/unit/test_x86_emulate.c covers those;
 * the boot tests run every form both ways).  Returns false to fall back.
 */
static bool fast_mov(struct vcpu *vcpu, struct vm_exit *e, struct guest_access *ga,
                     const struct x86_insn *insn)
{
    if (insn->mnemonic != X86_MN_MOV || !insn->has_mem || insn->rep ||
        (insn->form != X86_FORM_E_G && insn->form != X86_FORM_G_E && insn->form != X86_FORM_E_I))
        return false;
    /* RSP lives in the backend, not in vcpu->gpr: leave those to the emulator. */
    if (insn->base_reg == GPR_RSP || insn->index_reg == GPR_RSP || insn->reg == GPR_RSP)
        return false;
    uint64_t ea = insn->disp;
    if (insn->rip_relative)
        ea += e->rip + insn->len;
    if (insn->base_reg != X86_REG_NONE)
        ea += vcpu->gpr[insn->base_reg];
    if (insn->index_reg != X86_REG_NONE)
        ea += vcpu->gpr[insn->index_reg] * insn->scale;
    if (insn->addrsize < 8)
        ea &= (1ULL << (insn->addrsize * 8)) - 1;
    uint64_t linear = guest_linear(ga, insn->seg, ea);
    unsigned size = insn->opsize;
    uint64_t v = 0;

    if (insn->form == X86_FORM_G_E) {
        if (guest_access(ga, linear, &v, size, false))
            return guest_access_deliver_fault(ga, "an emulated MOV"), true;
        uint64_t *dst = &vcpu->gpr[insn->reg];
        switch (size) {
        case 1: *byte_reg(vcpu, insn, insn->reg) = (uint8_t)v; break;
        case 2: *dst = (*dst & ~0xFFFFULL) | (v & 0xFFFF); break;
        case 4: *dst = (uint32_t)v; break;          /* 32-bit writes zero-extend */
        default: *dst = v; break;
        }
    } else {
        if (insn->form == X86_FORM_E_I)
            v = insn->imm;
        else if (size == 1)
            v = *byte_reg(vcpu, insn, insn->reg);
        else
            v = vcpu->gpr[insn->reg];
        if (guest_access(ga, linear, &v, size, true))
            return guest_access_deliver_fault(ga, "an emulated MOV"), true;
    }
    e->insn_len = insn->len;        /* not valid in the VMCS for EPT violations */
    e->skip = true;
    vcpu->vm->stats.emulated++;
    return true;
}

bool vm_emulate_mmio(struct vcpu *vcpu, struct vm_exit *e)
{
    struct guest_access ga;
    struct x86_insn scratch;
    struct x86_regs regs;
    uint8_t bytes[X86_MAX_INSN_LEN];
    const char *why = "not an instruction this hypervisor emulates";
    size_t n;

    guest_access_init(&ga, vcpu);
    const struct x86_insn *insn = fetch_and_decode(vcpu, &ga, e->rip, bytes, &n, &scratch, &why);
    if (!insn) {
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
    if (fast_mov(vcpu, e, &ga, insn))
        return vcpu->vm->stop_reason == STOP_NONE;
    load_regs(vcpu, &regs, e->rip);
    enum x86_emu_result r = x86_emulate(insn, ga.mode, &regs, &emu_ops, &ga, MMIO_MAX_REP);
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
        refuse(vcpu, e, bytes, insn->len, insn->name ? insn->name : why);
        return true;
    }
}
