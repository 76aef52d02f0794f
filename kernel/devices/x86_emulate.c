/*
 * x86 instruction emulator for MMIO (interface: include/hv/x86_emulate.h);
 * executes what kernel/devices/x86_decode.c decoded.
 *
 * Registers are worked on in a copy that is committed only when the
 * instruction completes, so a faulting memory callback leaves the guest's
 * registers as they were and the instruction can be re-executed after the
 * caller injected the fault.  Memory is reached only through the callbacks,
 * in the order the CPU performs the accesses: a read-modify-write
 * instruction reads its memory destination and then writes it, so a device
 * model sees the same read and write cycles as on hardware.
 *
 * Arithmetic flags follow the "Flags Affected" sections of SDM Vol. 2 for
 * each instruction.  Flags the SDM leaves undefined are set as documented at
 * the handler (and masked by the tests that compare with the host CPU).
 */
#include <hv/x86_emulate.h>
#include <hv/kstring.h>

#define GPR_COUNT           16
#define GPR_RAX             0
#define GPR_RCX             1
#define GPR_RSI             6
#define GPR_RDI             7
#define HIGH_BYTE_FIRST     4       /* AH, CH, DH, BH: encodings 4-7 without REX */
#define HIGH_BYTE_LAST      7
#define HIGH_BYTE_SHIFT     8
#define XMM_BYTES           16
#define AF_BIT              0x10    /* carry/borrow out of bit 3 */
#define PFX_REP             0xF3
#define IP_MASK_16          0xFFFFULL
#define IP_MASK_32          0xFFFFFFFFULL

struct emu {
    const struct x86_insn *insn;
    enum x86_cpu_mode mode;
    struct x86_regs r;              /* working copy, committed on completion */
    const struct x86_emu_ops *ops;
    void *ctx;
    uint64_t ea;                    /* offset of the memory operand */
};

typedef enum x86_emu_result (*handler_fn)(struct emu *e);

/* ---- values ------------------------------------------------------------------- */

static uint64_t size_mask(unsigned size)
{
    return size >= 8 ? ~0ULL : BIT(8 * size) - 1;
}

static uint64_t sign_bit(unsigned size)
{
    return BIT(8 * size - 1);
}

static uint64_t sign_extend(uint64_t v, unsigned size)
{
    if (size >= 8)
        return v;
    v &= size_mask(size);
    return (v & sign_bit(size)) ? v | ~size_mask(size) : v;
}

/* Arithmetic right shift without relying on implementation-defined signed shifts. */
static uint64_t shift_right_signed(uint64_t v, unsigned n)
{
    uint64_t r = v >> n;
    if (n && (v & BIT(63)))
        r |= ~(~0ULL >> n);
    return r;
}

static uint64_t load_le(const uint8_t *b, unsigned size)
{
    uint64_t v = 0;
    for (unsigned i = 0; i < size && i < 8; i++)
        v |= (uint64_t)b[i] << (8 * i);
    return v;
}

static void store_le(uint8_t *b, uint64_t v, unsigned size)
{
    for (unsigned i = 0; i < size && i < 8; i++)
        b[i] = (uint8_t)(v >> (8 * i));
}

/* ---- registers ---------------------------------------------------------------- */

/* Without any REX prefix, byte registers 4-7 are AH, CH, DH, BH; with one
 * they are SPL, BPL, SIL, DIL (SDM Vol. 2A, 2.2.1.2, Table 2-5 note). */
static bool is_high_byte(const struct emu *e, unsigned reg, unsigned size)
{
    return size == 1 && e->insn->rex == 0 && reg >= HIGH_BYTE_FIRST && reg <= HIGH_BYTE_LAST;
}

static uint64_t gpr_get(const struct emu *e, unsigned reg, unsigned size)
{
    reg %= GPR_COUNT;
    if (is_high_byte(e, reg, size))
        return (e->r.gpr[reg - HIGH_BYTE_FIRST] >> HIGH_BYTE_SHIFT) & 0xFF;
    return e->r.gpr[reg] & size_mask(size);
}

/* 8- and 16-bit writes leave the rest of the register alone; 32-bit writes
 * zero-extend to 64 bits (SDM Vol. 1, 3.4.1.1). */
static void gpr_set(struct emu *e, unsigned reg, unsigned size, uint64_t v)
{
    reg %= GPR_COUNT;
    if (is_high_byte(e, reg, size)) {
        uint64_t *r = &e->r.gpr[reg - HIGH_BYTE_FIRST];
        *r = (*r & ~(0xFFULL << HIGH_BYTE_SHIFT)) | ((v & 0xFF) << HIGH_BYTE_SHIFT);
    } else if (size == 4) {
        e->r.gpr[reg] = v & size_mask(4);
    } else {
        uint64_t m = size_mask(size);
        e->r.gpr[reg] = (e->r.gpr[reg] & ~m) | (v & m);
    }
}

/* rSI/rDI/rCX as string-instruction address registers: the address size
 * picks SI/ESI/RSI (SDM Vol. 2B, MOVS: "address-size attribute"); a 16-bit
 * update leaves bits 63:16 alone, a 32-bit one zero-extends. */
static void addr_reg_set(struct emu *e, unsigned reg, uint64_t v)
{
    gpr_set(e, reg, e->insn->addrsize, v);
}

static uint64_t ip_mask(enum x86_cpu_mode mode)
{
    switch (mode) {
    case X86_MODE_LONG64: return ~0ULL;
    case X86_MODE_PROT32: return IP_MASK_32;
    default:              return IP_MASK_16;
    }
}

static void advance_rip(struct emu *e)
{
    e->r.rip = (e->r.rip + e->insn->len) & ip_mask(e->mode);
}

/* ---- memory ------------------------------------------------------------------- */

static enum x86_emu_result mem_read(struct emu *e, enum x86_seg seg, uint64_t off, unsigned size,
                                    uint64_t *v)
{
    uint8_t buf[8];
    if (!e->ops->read || size > sizeof(buf))
        return X86_EMU_UNSUPPORTED;
    if (e->ops->read(e->ctx, seg, off, buf, size))
        return X86_EMU_FAULT;
    *v = load_le(buf, size);
    return X86_EMU_OK;
}

static enum x86_emu_result mem_write(struct emu *e, enum x86_seg seg, uint64_t off, unsigned size,
                                     uint64_t v)
{
    uint8_t buf[8];
    if (!e->ops->write || size > sizeof(buf))
        return X86_EMU_UNSUPPORTED;
    store_le(buf, v, size);
    if (e->ops->write(e->ctx, seg, off, buf, size))
        return X86_EMU_FAULT;
    return X86_EMU_OK;
}

/* ---- operands ----------------------------------------------------------------- */

/* The r/m (or moffs) operand, memsize wide. */
static enum x86_emu_result rm_get(struct emu *e, uint64_t *v)
{
    const struct x86_insn *insn = e->insn;
    if (!insn->has_mem) {
        *v = gpr_get(e, insn->rm, insn->memsize);
        return X86_EMU_OK;
    }
    return mem_read(e, insn->seg, e->ea, insn->memsize, v);
}

static enum x86_emu_result rm_put(struct emu *e, uint64_t v)
{
    const struct x86_insn *insn = e->insn;
    if (!insn->has_mem) {
        gpr_set(e, insn->rm, insn->memsize, v);
        return X86_EMU_OK;
    }
    return mem_write(e, insn->seg, e->ea, insn->memsize, v);
}

static bool dst_is_rm(const struct x86_insn *insn)
{
    return insn->form == X86_FORM_E_G || insn->form == X86_FORM_E_I ||
           insn->form == X86_FORM_E || insn->form == X86_FORM_MOFFS_ACC;
}

static enum x86_emu_result dst_get(struct emu *e, uint64_t *v)
{
    if (dst_is_rm(e->insn))
        return rm_get(e, v);
    *v = gpr_get(e, e->insn->reg, e->insn->opsize);
    return X86_EMU_OK;
}

static enum x86_emu_result dst_put(struct emu *e, uint64_t v)
{
    if (dst_is_rm(e->insn))
        return rm_put(e, v);
    gpr_set(e, e->insn->reg, e->insn->opsize, v);
    return X86_EMU_OK;
}

static enum x86_emu_result src_get(struct emu *e, uint64_t *v)
{
    const struct x86_insn *insn = e->insn;
    switch (insn->form) {
    case X86_FORM_E_G:
    case X86_FORM_MOFFS_ACC:
        *v = gpr_get(e, insn->reg, insn->opsize);
        return X86_EMU_OK;
    case X86_FORM_G_E:
    case X86_FORM_ACC_MOFFS:
        return rm_get(e, v);
    case X86_FORM_E_I:
    case X86_FORM_ACC_I:
        *v = insn->imm & size_mask(insn->opsize);
        return X86_EMU_OK;
    default:
        return X86_EMU_UNSUPPORTED;
    }
}

/* ---- flags -------------------------------------------------------------------- */

static bool parity_even(uint64_t v)
{
    uint8_t b = (uint8_t)v;
    b ^= (uint8_t)(b >> 4);
    b ^= (uint8_t)(b >> 2);
    b ^= (uint8_t)(b >> 1);
    return !(b & 1);
}

/* SF, ZF and PF (PF: even parity of the low byte only, SDM Vol. 1, 3.4.3.1). */
static uint64_t flags_szp(uint64_t res, unsigned size)
{
    uint64_t f = 0;
    if (!(res & size_mask(size)))
        f |= X86_FLAG_ZF;
    if (res & sign_bit(size))
        f |= X86_FLAG_SF;
    if (parity_even(res))
        f |= X86_FLAG_PF;
    return f;
}

/* a + b (+ carry-in) = res, all masked: carry out of the top bit, signed
 * overflow, and AF = carry out of bit 3.  The carry-out formula holds for
 * any carry into a bit, so ADC needs no special case. */
static uint64_t flags_add(uint64_t a, uint64_t b, uint64_t res, unsigned size)
{
    uint64_t f = flags_szp(res, size);
    uint64_t carries = (a & b) | ((a | b) & ~res);
    if (carries & sign_bit(size))
        f |= X86_FLAG_CF;
    if ((a ^ res) & (b ^ res) & sign_bit(size))
        f |= X86_FLAG_OF;
    if ((a ^ b ^ res) & AF_BIT)
        f |= X86_FLAG_AF;
    return f;
}

/* a - b (- borrow-in) = res: borrow out of the top bit, signed overflow,
 * AF = borrow out of bit 3; SBB needs no special case either. */
static uint64_t flags_sub(uint64_t a, uint64_t b, uint64_t res, unsigned size)
{
    uint64_t f = flags_szp(res, size);
    uint64_t borrows = (~a & b) | ((~a | b) & res);
    if (borrows & sign_bit(size))
        f |= X86_FLAG_CF;
    if ((a ^ b) & (a ^ res) & sign_bit(size))
        f |= X86_FLAG_OF;
    if ((a ^ b ^ res) & AF_BIT)
        f |= X86_FLAG_AF;
    return f;
}

/* AND/OR/XOR/TEST: OF = CF = 0, SF ZF PF from the result; AF is undefined
 * (SDM Vol. 2A, AND) and this emulator clears it. */
static uint64_t flags_logic(uint64_t res, unsigned size)
{
    return flags_szp(res, size);
}

static void set_flags(struct emu *e, uint64_t which, uint64_t f)
{
    e->r.rflags = (e->r.rflags & ~which) | (f & which);
}

/* ---- ALU ---------------------------------------------------------------------- */

/* ADD..CMP and TEST on masked operands; returns the result, *f the flags. */
static uint64_t alu(unsigned mnemonic, uint64_t a, uint64_t b, bool carry_in, unsigned size,
                    uint64_t *f)
{
    uint64_t m = size_mask(size);
    uint64_t cin = carry_in ? 1 : 0;
    uint64_t res;
    switch (mnemonic) {
    case X86_MN_ADD:
    case X86_MN_ADC:
        if (mnemonic == X86_MN_ADD)
            cin = 0;
        res = (a + b + cin) & m;
        *f = flags_add(a, b, res, size);
        return res;
    case X86_MN_SUB:
    case X86_MN_CMP:
    case X86_MN_SBB:
        if (mnemonic != X86_MN_SBB)
            cin = 0;
        res = (a - b - cin) & m;
        *f = flags_sub(a, b, res, size);
        return res;
    case X86_MN_AND:
    case X86_MN_TEST:
        res = a & b;
        break;
    case X86_MN_OR:
        res = a | b;
        break;
    default:    /* X86_MN_XOR */
        res = a ^ b;
        break;
    }
    *f = flags_logic(res, size);
    return res;
}

/* ADD OR ADC SBB AND SUB XOR CMP TEST: the destination is read first (a
 * memory destination is read, then written: one read and one write cycle). */
static enum x86_emu_result emu_alu(struct emu *e)
{
    const struct x86_insn *insn = e->insn;
    uint64_t a, b, f;
    enum x86_emu_result r = dst_get(e, &a);
    if (r == X86_EMU_OK)
        r = src_get(e, &b);
    if (r != X86_EMU_OK)
        return r;
    uint64_t res = alu(insn->mnemonic, a, b, e->r.rflags & X86_FLAG_CF, insn->opsize, &f);
    if (insn->mnemonic != X86_MN_CMP && insn->mnemonic != X86_MN_TEST) {
        r = dst_put(e, res);
        if (r != X86_EMU_OK)
            return r;
    }
    set_flags(e, X86_ARITH_FLAGS, f);
    return X86_EMU_OK;
}

/* NOT (no flags), NEG (flags of 0 - x; CF = x != 0), INC/DEC (CF preserved,
 * SDM Vol. 2A, INC/DEC). */
static enum x86_emu_result emu_unary(struct emu *e)
{
    const struct x86_insn *insn = e->insn;
    unsigned size = insn->opsize;
    uint64_t m = size_mask(size);
    uint64_t a, res, f = 0, which = X86_ARITH_FLAGS;
    enum x86_emu_result r = dst_get(e, &a);
    if (r != X86_EMU_OK)
        return r;
    switch (insn->mnemonic) {
    case X86_MN_NOT:
        res = ~a & m;
        which = 0;
        break;
    case X86_MN_NEG:
        res = (0 - a) & m;
        f = flags_sub(0, a, res, size);
        break;
    case X86_MN_INC:
        res = (a + 1) & m;
        f = flags_add(a, 1, res, size);
        which &= ~X86_FLAG_CF;
        break;
    default:    /* X86_MN_DEC */
        res = (a - 1) & m;
        f = flags_sub(a, 1, res, size);
        which &= ~X86_FLAG_CF;
        break;
    }
    r = dst_put(e, res);
    if (r != X86_EMU_OK)
        return r;
    set_flags(e, which, f);
    return X86_EMU_OK;
}

/* ---- moves -------------------------------------------------------------------- */

/* MOV in all forms and MOVNTI: a memory destination is written, not read. */
static enum x86_emu_result emu_mov(struct emu *e)
{
    uint64_t v;
    enum x86_emu_result r = src_get(e, &v);
    if (r != X86_EMU_OK)
        return r;
    return dst_put(e, v);
}

/* MOVZX, MOVSX, MOVSXD: the r/m operand is memsize wide. */
static enum x86_emu_result emu_movx(struct emu *e)
{
    const struct x86_insn *insn = e->insn;
    uint64_t v;
    enum x86_emu_result r = rm_get(e, &v);
    if (r != X86_EMU_OK)
        return r;
    if (insn->mnemonic != X86_MN_MOVZX)
        v = sign_extend(v, insn->memsize);
    gpr_set(e, insn->reg, insn->opsize, v);
    return X86_EMU_OK;
}

/* XCHG: read the memory operand, write the register's value to it, then the
 * old value to the register (the bus cycles of the implicitly locked
 * exchange, SDM Vol. 2B, XCHG). */
static enum x86_emu_result emu_xchg(struct emu *e)
{
    const struct x86_insn *insn = e->insn;
    uint64_t old;
    uint64_t v = gpr_get(e, insn->reg, insn->opsize);
    enum x86_emu_result r = rm_get(e, &old);
    if (r == X86_EMU_OK)
        r = rm_put(e, v);
    if (r != X86_EMU_OK)
        return r;
    gpr_set(e, insn->reg, insn->opsize, old);
    return X86_EMU_OK;
}

/*
 * CMPXCHG: flags of CMP accumulator, destination.  A memory destination is
 * written in both cases, as on hardware (SDM Vol. 2A, CMPXCHG: "the
 * destination operand receives a write cycle without regard to the result of
 * the comparison"): with the source when equal, else with the value just
 * read, and then the accumulator is loaded.  A device therefore always sees a
 * read followed by a write.  A register destination is left alone when the
 * comparison fails -- CPUs do not zero-extend a 32-bit one then (checked
 * against the host CPU by the unit tests) -- and on success the accumulator
 * is not written (its upper half survives a 32-bit CMPXCHG).
 */
static enum x86_emu_result emu_cmpxchg(struct emu *e)
{
    const struct x86_insn *insn = e->insn;
    unsigned size = insn->opsize;
    uint64_t d;
    uint64_t acc = gpr_get(e, GPR_RAX, size);
    uint64_t src = gpr_get(e, insn->reg, size);
    enum x86_emu_result r = rm_get(e, &d);
    if (r != X86_EMU_OK)
        return r;
    bool equal = acc == d;
    if (equal || insn->has_mem) {
        r = rm_put(e, equal ? src : d);
        if (r != X86_EMU_OK)
            return r;
    }
    if (!equal)
        gpr_set(e, GPR_RAX, size, d);
    set_flags(e, X86_ARITH_FLAGS, flags_sub(acc, d, (acc - d) & size_mask(size), size));
    return X86_EMU_OK;
}

/*
 * BT, BTS, BTR, BTC (SDM Vol. 2A, BT).  With an immediate, or with a
 * register operand, the bit offset is taken modulo the operand width.  With
 * a register offset and a memory operand the offset is a signed
 * operand-size integer that can select any bit around the effective
 * address: the CPU accesses the operand-size word at
 *   EA + opsize * floor(offset / (8 * opsize))
 * and the bit offset modulo 8 * opsize within it.
 * CF receives the bit; ZF is unaffected; OF, SF, AF and PF are undefined and
 * this emulator leaves them unchanged.
 */
static enum x86_emu_result emu_bt(struct emu *e)
{
    const struct x86_insn *insn = e->insn;
    unsigned size = insn->opsize;
    unsigned bits = 8 * size;
    unsigned log2_bits = size == 2 ? 4 : size == 4 ? 5 : 6;
    uint64_t off, v;
    enum x86_emu_result r;

    if (insn->form == X86_FORM_E_G)
        off = gpr_get(e, insn->reg, size);
    else
        off = insn->imm;
    unsigned bit = (unsigned)(off & (bits - 1));
    uint64_t addr = e->ea;
    if (insn->form == X86_FORM_E_G && insn->has_mem) {
        uint64_t word = shift_right_signed(sign_extend(off, size), log2_bits);
        addr = (e->ea + word * size) & size_mask(insn->addrsize);
    }

    if (insn->has_mem)
        r = mem_read(e, insn->seg, addr, size, &v);
    else
        r = rm_get(e, &v);
    if (r != X86_EMU_OK)
        return r;
    bool old = (v >> bit) & 1;
    switch (insn->mnemonic) {
    case X86_MN_BTS: v |= BIT(bit); break;
    case X86_MN_BTR: v &= ~BIT(bit); break;
    case X86_MN_BTC: v ^= BIT(bit); break;
    default: break;
    }
    if (insn->mnemonic != X86_MN_BT) {
        if (insn->has_mem)
            r = mem_write(e, insn->seg, addr, size, v);
        else
            r = rm_put(e, v);
        if (r != X86_EMU_OK)
            return r;
    }
    set_flags(e, X86_FLAG_CF, old ? X86_FLAG_CF : 0);
    return X86_EMU_OK;
}

/* CLFLUSH / CLFLUSHOPT: no data access; the caller decides what flushing a
 * device address means. */
static enum x86_emu_result emu_clflush(struct emu *e)
{
    if (e->ops->flush)
        e->ops->flush(e->ctx, e->insn->seg, e->ea);
    return X86_EMU_OK;
}

/* ---- SSE moves ---------------------------------------------------------------- */

static enum x86_emu_result xmm_read(struct emu *e, unsigned reg, uint8_t *buf16)
{
    if (!e->ops->read_xmm)
        return X86_EMU_UNSUPPORTED;
    return e->ops->read_xmm(e->ctx, reg % GPR_COUNT, buf16) ? X86_EMU_FAULT : X86_EMU_OK;
}

static enum x86_emu_result xmm_write(struct emu *e, unsigned reg, const uint8_t *buf16)
{
    if (!e->ops->write_xmm)
        return X86_EMU_UNSUPPORTED;
    return e->ops->write_xmm(e->ctx, reg % GPR_COUNT, buf16) ? X86_EMU_FAULT : X86_EMU_OK;
}

static enum x86_emu_result sse_mem_read(struct emu *e, uint8_t *buf, unsigned size)
{
    if (!e->ops->read)
        return X86_EMU_UNSUPPORTED;
    return e->ops->read(e->ctx, e->insn->seg, e->ea, buf, size) ? X86_EMU_FAULT : X86_EMU_OK;
}

static enum x86_emu_result sse_mem_write(struct emu *e, const uint8_t *buf, unsigned size)
{
    if (!e->ops->write)
        return X86_EMU_UNSUPPORTED;
    return e->ops->write(e->ctx, e->insn->seg, e->ea, buf, size) ? X86_EMU_FAULT : X86_EMU_OK;
}

/* The source of an SSE move: `size` bytes from memory, a GPR or the low
 * bytes of an XMM register; the rest of buf stays zero. */
static enum x86_emu_result sse_source(struct emu *e, uint8_t *buf, unsigned size)
{
    const struct x86_insn *insn = e->insn;
    uint8_t xmm[XMM_BYTES];
    enum x86_emu_result r;

    switch (insn->form) {
    case X86_FORM_XM_X:
    case X86_FORM_GM_X:
        r = xmm_read(e, insn->reg, xmm);
        break;
    case X86_FORM_X_GM:
        if (insn->has_mem)
            return sse_mem_read(e, buf, size);
        store_le(buf, gpr_get(e, insn->rm, size), size);
        return X86_EMU_OK;
    default:    /* X86_FORM_X_XM */
        if (insn->has_mem)
            return sse_mem_read(e, buf, size);
        r = xmm_read(e, insn->rm, xmm);
        break;
    }
    if (r == X86_EMU_OK)
        memcpy(buf, xmm, size);
    return r;
}

/*
 * MOVD, MOVQ, MOVDQA, MOVDQU, MOVAPS, MOVUPS.  A move of 4 or 8 bytes into
 * an XMM register zeroes the rest of it (SDM Vol. 2B, MOVD/MOVQ; MOVQ).
 * Alignment of MOVDQA/MOVAPS is not checked here: the CPU checks it before
 * the access that caused the exit.  The XMM register is written last, as it
 * cannot be restored if a later step failed.
 */
static enum x86_emu_result emu_sse(struct emu *e)
{
    const struct x86_insn *insn = e->insn;
    unsigned size = insn->memsize;
    uint8_t buf[XMM_BYTES];

    if (size > XMM_BYTES)
        return X86_EMU_UNSUPPORTED;
    memset(buf, 0, sizeof(buf));
    enum x86_emu_result r = sse_source(e, buf, size);
    if (r != X86_EMU_OK)
        return r;
    switch (insn->form) {
    case X86_FORM_X_XM:
    case X86_FORM_X_GM:
        return xmm_write(e, insn->reg, buf);
    case X86_FORM_XM_X:
        if (insn->has_mem)
            return sse_mem_write(e, buf, size);
        return xmm_write(e, insn->rm, buf);
    default:    /* X86_FORM_GM_X */
        if (insn->has_mem)
            return sse_mem_write(e, buf, size);
        gpr_set(e, insn->rm, size, load_le(buf, size));
        return X86_EMU_OK;
    }
}

/* ---- string instructions ------------------------------------------------------ */

/* One element of MOVS/STOS/LODS, then rSI/rDI step by the element size,
 * backwards when DF is set (SDM Vol. 2B, MOVS). */
static enum x86_emu_result string_step(struct emu *e)
{
    const struct x86_insn *insn = e->insn;
    unsigned size = insn->opsize;
    uint64_t amask = size_mask(insn->addrsize);
    uint64_t step = (e->r.rflags & X86_FLAG_DF) ? 0 - (uint64_t)size : size;
    uint64_t rsi = e->r.gpr[GPR_RSI], rdi = e->r.gpr[GPR_RDI];
    uint64_t v = 0;
    enum x86_emu_result r = X86_EMU_OK;

    if (insn->mnemonic != X86_MN_STOS)
        r = mem_read(e, insn->seg, rsi & amask, size, &v);
    else
        v = gpr_get(e, GPR_RAX, size);
    if (r == X86_EMU_OK && insn->mnemonic != X86_MN_LODS)
        r = mem_write(e, X86_SEG_ES, rdi & amask, size, v);
    if (r != X86_EMU_OK)
        return r;
    if (insn->mnemonic == X86_MN_LODS)
        gpr_set(e, GPR_RAX, size, v);
    if (insn->mnemonic != X86_MN_STOS)
        addr_reg_set(e, GPR_RSI, rsi + step);
    if (insn->mnemonic != X86_MN_LODS)
        addr_reg_set(e, GPR_RDI, rdi + step);
    return X86_EMU_OK;
}

/*
 * MOVS/STOS/LODS with or without REP (SDM Vol. 2B, REP).  The count is
 * CX/ECX/RCX by address size; a zero count does nothing.  After
 * max_iterations elements with the count still non-zero the registers are
 * committed with RIP unchanged (X86_EMU_RESTART): the guest re-executes the
 * instruction and continues, as after an interrupt between iterations.
 * A fault keeps the iterations already done, like hardware: their device
 * accesses must not be repeated.
 */
static enum x86_emu_result emu_string(struct emu *e, uint64_t max_iterations,
                                      struct x86_regs *out)
{
    const struct x86_insn *insn = e->insn;
    bool rep = insn->rep == PFX_REP;
    uint64_t amask = size_mask(insn->addrsize);
    uint64_t done = 0;

    for (;;) {
        if (rep && (e->r.gpr[GPR_RCX] & amask) == 0)
            break;
        enum x86_emu_result r = string_step(e);
        if (r != X86_EMU_OK) {
            *out = e->r;
            return r;
        }
        if (!rep)
            break;
        addr_reg_set(e, GPR_RCX, e->r.gpr[GPR_RCX] - 1);
        done++;
        if (max_iterations && done >= max_iterations && (e->r.gpr[GPR_RCX] & amask) != 0) {
            *out = e->r;
            return X86_EMU_RESTART;
        }
    }
    advance_rip(e);
    *out = e->r;
    return X86_EMU_OK;
}

/* ---- dispatch ----------------------------------------------------------------- */

static const handler_fn handlers[X86_MN_COUNT] = {
    [X86_MN_ADD] = emu_alu, [X86_MN_OR] = emu_alu, [X86_MN_ADC] = emu_alu,
    [X86_MN_SBB] = emu_alu, [X86_MN_AND] = emu_alu, [X86_MN_SUB] = emu_alu,
    [X86_MN_XOR] = emu_alu, [X86_MN_CMP] = emu_alu, [X86_MN_TEST] = emu_alu,
    [X86_MN_MOV] = emu_mov, [X86_MN_MOVNTI] = emu_mov,
    [X86_MN_MOVZX] = emu_movx, [X86_MN_MOVSX] = emu_movx, [X86_MN_MOVSXD] = emu_movx,
    [X86_MN_NOT] = emu_unary, [X86_MN_NEG] = emu_unary,
    [X86_MN_INC] = emu_unary, [X86_MN_DEC] = emu_unary,
    [X86_MN_XCHG] = emu_xchg, [X86_MN_CMPXCHG] = emu_cmpxchg,
    [X86_MN_BT] = emu_bt, [X86_MN_BTS] = emu_bt, [X86_MN_BTR] = emu_bt, [X86_MN_BTC] = emu_bt,
    [X86_MN_CLFLUSH] = emu_clflush, [X86_MN_CLFLUSHOPT] = emu_clflush,
    [X86_MN_MOVD] = emu_sse, [X86_MN_MOVQ] = emu_sse, [X86_MN_MOVDQA] = emu_sse,
    [X86_MN_MOVDQU] = emu_sse, [X86_MN_MOVAPS] = emu_sse, [X86_MN_MOVUPS] = emu_sse,
};

uint64_t x86_effective_address(const struct x86_insn *insn, const struct x86_regs *regs)
{
    uint64_t ea = insn->disp;
    if (insn->rip_relative)
        ea += regs->rip + insn->len;        /* RIP of the next instruction */
    if (insn->base_reg < GPR_COUNT)
        ea += regs->gpr[insn->base_reg];
    if (insn->index_reg < GPR_COUNT)
        ea += regs->gpr[insn->index_reg] * insn->scale;
    return ea & size_mask(insn->addrsize);
}

enum x86_emu_result x86_emulate(const struct x86_insn *insn, enum x86_cpu_mode mode,
                                struct x86_regs *regs, const struct x86_emu_ops *ops, void *ctx,
                                uint64_t max_iterations)
{
    if (!insn || !regs || !ops || insn->mnemonic >= X86_MN_COUNT || insn->len == 0)
        return X86_EMU_UNSUPPORTED;

    struct emu e = { .insn = insn, .mode = mode, .r = *regs, .ops = ops, .ctx = ctx };
    if (insn->has_mem)
        e.ea = x86_effective_address(insn, regs);
    if (insn->form == X86_FORM_STRING)
        return emu_string(&e, max_iterations, regs);

    handler_fn h = handlers[insn->mnemonic];
    if (!h)
        return X86_EMU_UNSUPPORTED;
    enum x86_emu_result r = h(&e);
    if (r != X86_EMU_OK)
        return r;
    advance_rip(&e);
    *regs = e.r;
    return X86_EMU_OK;
}
