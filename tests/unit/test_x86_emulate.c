/*
 * kernel/devices/x86_emulate.c: the MMIO instruction emulator.
 *
 * Part 1 checks results against values computed here independently: the
 * arithmetic flags from wide (128-bit) integer arithmetic rather than the
 * emulator's carry/borrow bit formulas, exhaustively for 8-bit operands and
 * on biased random values for 16/32/64 bits; register write widths; the
 * order, size, segment and offset of every memory access (a device must see
 * a read and then a write for read-modify-write instructions); string
 * instructions with REP, DF, address-size-wide rSI/rDI/rCX, the iteration
 * bound and faults; BT bit offsets beyond the operand; CMPXCHG's write-back;
 * the SSE moves; RIP advance and wrap-around.
 *
 * Part 2 compares with the host CPU (x86-64): for randomly generated
 * 64-bit-mode encodings of every supported instruction, the same bytes run
 * natively between a register/flags/XMM load and store sequence in an
 * executable page, against a data buffer the memory operand is steered into
 * (by choosing base/index values or patching the displacement), and the
 * emulator runs on a copy.  Registers, arithmetic flags (minus those the
 * SDM leaves undefined for the instruction), XMM registers and memory must
 * match.
 */
#define _GNU_SOURCE
#include "x86_test_util.h"
#include <setjmp.h>
#include <signal.h>
#include <sys/mman.h>

#define M16     X86_MODE_REAL
#define P16     X86_MODE_PROT16
#define M32     X86_MODE_PROT32
#define M64     X86_MODE_LONG64

#define CF      X86_FLAG_CF
#define PF      X86_FLAG_PF
#define AF      X86_FLAG_AF
#define ZF      X86_FLAG_ZF
#define SF      X86_FLAG_SF
#define DF      X86_FLAG_DF
#define OF      X86_FLAG_OF
#define ARITH   X86_ARITH_FLAGS
#define RFLAGS_FIXED    0x2ULL      /* bit 1 always reads as 1 */

/* ---- fake memory with an access log -------------------------------------------- */

#define FM_SIZE         0x20000ULL
#define LOG_MAX         64

struct access {
    char kind;              /* 'R', 'W', 'F' (flush); 'r', 'w': faulted */
    enum x86_seg seg;
    uint64_t off;
    unsigned size;
};

struct fakemem {
    uint64_t base, size;    /* offsets [base, base + size) are backed */
    uint8_t *mem;
    uint64_t fault_lo, fault_hi;    /* offsets in [lo, hi) fault */
    bool fault_writes_only;
    struct access log[LOG_MAX];
    unsigned nlog;
    uint8_t xmm[16][16];
    bool xmm_fault;
};

static void fm_log(struct fakemem *m, char kind, enum x86_seg seg, uint64_t off, unsigned size)
{
    if (m->nlog < LOG_MAX)
        m->log[m->nlog] = (struct access){ kind, seg, off, size };
    m->nlog++;
}

static bool fm_faults(struct fakemem *m, uint64_t off, unsigned size, bool write)
{
    if (off < m->base || off - m->base > m->size || size > m->size - (off - m->base))
        return true;
    if (m->fault_writes_only && !write)
        return false;
    return off + size > m->fault_lo && off < m->fault_hi;
}

static int fm_read(void *ctx, enum x86_seg seg, uint64_t off, void *buf, unsigned size)
{
    struct fakemem *m = ctx;
    assert_true(size == 1 || size == 2 || size == 4 || size == 8 || size == 16);
    if (fm_faults(m, off, size, false)) {
        fm_log(m, 'r', seg, off, size);     /* attempted, faulted */
        return -1;
    }
    fm_log(m, 'R', seg, off, size);
    memcpy(buf, m->mem + (off - m->base), size);
    return 0;
}

static int fm_write(void *ctx, enum x86_seg seg, uint64_t off, const void *buf, unsigned size)
{
    struct fakemem *m = ctx;
    assert_true(size == 1 || size == 2 || size == 4 || size == 8 || size == 16);
    if (fm_faults(m, off, size, true)) {
        fm_log(m, 'w', seg, off, size);
        return -1;
    }
    fm_log(m, 'W', seg, off, size);
    memcpy(m->mem + (off - m->base), buf, size);
    return 0;
}

static int fm_read_xmm(void *ctx, unsigned reg, void *buf16)
{
    struct fakemem *m = ctx;
    assert_true(reg < 16);
    if (m->xmm_fault)
        return -1;
    memcpy(buf16, m->xmm[reg], 16);
    return 0;
}

static int fm_write_xmm(void *ctx, unsigned reg, const void *buf16)
{
    struct fakemem *m = ctx;
    assert_true(reg < 16);
    if (m->xmm_fault)
        return -1;
    memcpy(m->xmm[reg], buf16, 16);
    return 0;
}

static void fm_flush(void *ctx, enum x86_seg seg, uint64_t off)
{
    fm_log(ctx, 'F', seg, off, 0);
}

static const struct x86_emu_ops fm_ops = {
    .read = fm_read, .write = fm_write, .read_xmm = fm_read_xmm, .write_xmm = fm_write_xmm,
    .flush = fm_flush,
};

static struct fakemem *fm_new(void)
{
    struct fakemem *m = calloc(1, sizeof(*m));
    assert_non_null(m);
    m->size = FM_SIZE;
    m->mem = calloc(1, FM_SIZE);
    assert_non_null(m->mem);
    return m;
}

static void fm_free(struct fakemem *m)
{
    free(m->mem);
    free(m);
}

static uint64_t fm_get(struct fakemem *m, uint64_t off, unsigned size)
{
    uint64_t v = 0;
    memcpy(&v, m->mem + off, size);
    return v;
}

static void fm_put(struct fakemem *m, uint64_t off, uint64_t v, unsigned size)
{
    memcpy(m->mem + off, &v, size);
}

static void expect_log(struct fakemem *m, unsigned i, char kind, enum x86_seg seg, uint64_t off,
                       unsigned size)
{
    if (i >= m->nlog)
        fail_msg("access %u missing (%u logged)", i, m->nlog);
    const struct access *a = &m->log[i];
    if (a->kind != kind || a->seg != seg || a->off != off || a->size != size)
        fail_msg("access %u: %c %s:%#llx/%u, expected %c %s:%#llx/%u", i, a->kind, seg_name(a->seg),
                 (unsigned long long)a->off, a->size, kind, seg_name(seg), (unsigned long long)off,
                 size);
}

/* Decodes `hex` (must succeed) and runs it. */
static enum x86_emu_result run(enum x86_cpu_mode mode, const char *hex, struct x86_regs *r,
                               struct fakemem *m, uint64_t max_iterations)
{
    uint8_t b[16];
    size_t n = parse_hex(hex, b, sizeof(b));
    struct x86_insn insn;
    const char *why = NULL;
    if (x86_decode(b, n, mode, &insn, &why))
        fail_msg("%s [%s] refused: %s", hex, mode_name(mode), why);
    m->nlog = 0;
    return x86_emulate(&insn, mode, r, &fm_ops, m, max_iterations);
}

static void run_ok(enum x86_cpu_mode mode, const char *hex, struct x86_regs *r, struct fakemem *m)
{
    enum x86_emu_result res = run(mode, hex, r, m, 0);
    if (res != X86_EMU_OK)
        fail_msg("%s [%s]: result %d", hex, mode_name(mode), res);
}

/* ---- independent arithmetic model ---------------------------------------------- */

enum aluop { A_ADD, A_OR, A_ADC, A_SBB, A_AND, A_SUB, A_XOR, A_CMP, A_TEST, A_NEG, A_NOT, A_INC, A_DEC };

struct ref {
    uint64_t res;
    uint64_t flags;
    uint64_t defined;       /* flags the SDM defines for the operation */
};

static int64_t sx(uint64_t v, unsigned bits)
{
    return bits == 64 ? (int64_t)v : (int64_t)(v << (64 - bits)) >> (64 - bits);
}

static uint64_t szp(uint64_t res, unsigned bits)
{
    uint64_t f = 0;
    if (res == 0)
        f |= ZF;
    if (res >> (bits - 1))
        f |= SF;
    if (__builtin_popcountll(res & 0xFF) % 2 == 0)
        f |= PF;
    return f;
}

/* Flags straight from the definitions (SDM Vol. 1, 3.4.3.1 and the
 * instruction pages): CF = unsigned result out of range, OF = signed result
 * out of range, AF = carry/borrow out of the low nibble. */
static struct ref ref_alu(enum aluop op, uint64_t a, uint64_t b, int cin, unsigned bits,
                          uint64_t old_flags)
{
    uint64_t mask = bits == 64 ? ~0ULL : (1ULL << bits) - 1;
    __int128 smin = -((__int128)1 << (bits - 1)), smax = ((__int128)1 << (bits - 1)) - 1;
    unsigned __int128 umax = mask;
    struct ref r = { 0, 0, ARITH };
    a &= mask;
    b &= mask;
    bool add = false, sub = false;
    unsigned c = 0;
    switch (op) {
    case A_ADD: add = true; break;
    case A_ADC: add = true; c = (unsigned)cin; break;
    case A_SUB: case A_CMP: sub = true; break;
    case A_SBB: sub = true; c = (unsigned)cin; break;
    case A_NEG: sub = true; b = a; a = 0; break;
    case A_INC: add = true; b = 1; break;
    case A_DEC: sub = true; b = 1; break;
    case A_AND: case A_TEST: r.res = a & b; break;
    case A_OR: r.res = a | b; break;
    case A_XOR: r.res = a ^ b; break;
    case A_NOT: r.res = ~a & mask; r.defined = 0; r.flags = 0; return r;
    }
    if (add) {
        unsigned __int128 u = (unsigned __int128)a + b + c;
        __int128 s = (__int128)sx(a, bits) + sx(b, bits) + c;
        r.res = (uint64_t)u & mask;
        r.flags = szp(r.res, bits);
        if (u > umax) r.flags |= CF;
        if (s < smin || s > smax) r.flags |= OF;
        if ((a & 0xF) + (b & 0xF) + c > 0xF) r.flags |= AF;
    } else if (sub) {
        __int128 u = (__int128)a - (__int128)b - c;
        __int128 s = (__int128)sx(a, bits) - sx(b, bits) - c;
        r.res = (uint64_t)u & mask;
        r.flags = szp(r.res, bits);
        if (u < 0) r.flags |= CF;
        if (s < smin || s > smax) r.flags |= OF;
        if ((a & 0xF) < (b & 0xF) + c) r.flags |= AF;
    } else {
        r.flags = szp(r.res, bits);
        r.defined = ARITH & ~AF;        /* AF undefined after logic ops */
    }
    if (op == A_INC || op == A_DEC)
        r.flags = (r.flags & ~CF) | (old_flags & CF);     /* CF not affected */
    return r;
}

/* Register-form encodings "op r/m=RAX-family, reg=RCX-family" for each size. */
static size_t alu_encoding(enum aluop op, unsigned bits, uint8_t *b)
{
    size_t n = 0;
    bool byte = bits == 8;
    if (bits == 16)
        b[n++] = 0x66;
    if (bits == 64)
        b[n++] = 0x48;
    switch (op) {
    case A_TEST: b[n++] = byte ? 0x84 : 0x85; b[n++] = 0xC8; break;
    case A_NOT: b[n++] = byte ? 0xF6 : 0xF7; b[n++] = 0xD0; break;
    case A_NEG: b[n++] = byte ? 0xF6 : 0xF7; b[n++] = 0xD8; break;
    case A_INC: b[n++] = byte ? 0xFE : 0xFF; b[n++] = 0xC0; break;
    case A_DEC: b[n++] = byte ? 0xFE : 0xFF; b[n++] = 0xC8; break;
    default: b[n++] = (uint8_t)(op * 8 + (byte ? 0 : 1)); b[n++] = 0xC8; break;   /* op al, cl */
    }
    return n;
}

static const uint64_t interesting[] = {
    0, 1, 2, 0x7F, 0x80, 0xFF, 0x100, 0x7FFF, 0x8000, 0xFFFF, 0x10000, 0x7FFFFFFF, 0x80000000,
    0xFFFFFFFF, 0x100000000ULL, 0x7FFFFFFFFFFFFFFFULL, 0x8000000000000000ULL, ~0ULL, 0xF, 0x10,
    0x0F0F0F0F0F0F0F0FULL, 0xFFFFFFFFFFFFFFFEULL,
};

static uint64_t biased(uint64_t *rng)
{
    switch (rng_below(rng, 4)) {
    case 0: return interesting[rng_below(rng, ARRAY_SIZE(interesting))];
    case 1: return interesting[rng_below(rng, ARRAY_SIZE(interesting))] + rng_below(rng, 3) - 1;
    case 2: return rng_below(rng, 64);
    default: return rng_next(rng);
    }
}

static unsigned long alu_checks;

static void check_alu_once(enum aluop op, unsigned bits, uint64_t a, uint64_t b, int cin)
{
    uint8_t enc[4];
    size_t n = alu_encoding(op, bits, enc);
    struct x86_insn insn;
    assert_int_equal(x86_decode(enc, n, M64, &insn, NULL), 0);
    uint64_t mask = bits == 64 ? ~0ULL : (1ULL << bits) - 1;
    struct x86_regs r = { .rip = 0x1000 };
    r.gpr[RAX] = 0xDEADBEEFCAFEF00DULL;
    r.gpr[RAX] = (r.gpr[RAX] & ~mask) | (a & mask);
    r.gpr[RCX] = b;
    uint64_t old = RFLAGS_FIXED | (cin ? CF : 0) | (a & 1 ? DF : 0) | ((b & 2) ? (ZF | SF | PF | AF | OF) : 0);
    r.rflags = old;
    struct x86_regs before = r;
    assert_int_equal(x86_emulate(&insn, M64, &r, &fm_ops, NULL, 0), X86_EMU_OK);
    struct ref want = ref_alu(op, a, b, cin, bits, old);
    bool writes = op != A_CMP && op != A_TEST;
    uint64_t want_rax = before.gpr[RAX];
    if (writes)
        want_rax = bits == 32 ? want.res : (before.gpr[RAX] & ~mask) | want.res;
    bool ok = r.gpr[RAX] == want_rax && r.gpr[RCX] == before.gpr[RCX] && r.rip == 0x1000 + n;
    /* the defined flags as computed; nothing else in RFLAGS changes */
    ok = ok && (r.rflags & want.defined) == (want.flags & want.defined);
    ok = ok && (r.rflags & ~ARITH) == (old & ~ARITH);
    if (op == A_NOT)
        ok = ok && (r.rflags & ARITH) == (old & ARITH);
    /* the emulator's documented choice for the undefined AF of logic ops: 0 */
    if (op == A_AND || op == A_OR || op == A_XOR || op == A_TEST)
        ok = ok && !(r.rflags & AF);
    if (!ok)
        fail_msg("alu op %d bits %u a %#llx b %#llx cf %d: rax %#llx (want %#llx) flags %#llx (want %#llx of %#llx)",
                 op, bits, (unsigned long long)a, (unsigned long long)b, cin,
                 (unsigned long long)r.gpr[RAX], (unsigned long long)want_rax,
                 (unsigned long long)r.rflags, (unsigned long long)want.flags,
                 (unsigned long long)want.defined);
    alu_checks++;
}

static void test_alu_8bit_exhaustive(void **state)
{
    (void)state;
    alu_checks = 0;
    for (int op = A_ADD; op <= A_DEC; op++)
        for (unsigned a = 0; a < 256; a++)
            for (unsigned b = 0; b < 256; b++)
                for (int cin = 0; cin < 2; cin++) {
                    bool unary = op >= A_NEG;
                    if (unary && (b > 3))
                        continue;
                    check_alu_once((enum aluop)op, 8, a, b, cin);
                }
    print_message("8-bit ALU: %lu operand combinations checked\n", alu_checks);
}

static void test_alu_wide_random(void **state)
{
    (void)state;
    static const unsigned widths[] = { 16, 32, 64 };
    uint64_t rng = 12345;
    alu_checks = 0;
    for (int i = 0; i < 60000; i++)
        check_alu_once((enum aluop)rng_below(&rng, A_DEC + 1), widths[rng_below(&rng, 3)],
                       biased(&rng), biased(&rng), (int)rng_below(&rng, 2));
    print_message("16/32/64-bit ALU: %lu random checks\n", alu_checks);
}

/* ---- register widths, MOV forms, moffs ------------------------------------------ */

static void test_register_widths(void **state)
{
    (void)state;
    struct fakemem *m = fm_new();
    struct x86_regs r = { 0 };
    fm_put(m, 0x100, 0x8877665544332211ULL, 8);
    const uint64_t junk = 0xA5A5A5A5A5A5A5A5ULL;

    /* 32-bit destination: zero-extended, in 64-bit and in 32-bit mode. */
    r = (struct x86_regs){ .gpr = { [RAX] = 0x100, [RCX] = junk } };
    run_ok(M64, "8b 08", &r, m);
    assert_int_equal(r.gpr[RCX], 0x44332211);
    r = (struct x86_regs){ .gpr = { [RAX] = 0x100, [RCX] = junk } };
    run_ok(M32, "8b 08", &r, m);
    assert_int_equal(r.gpr[RCX], 0x44332211);
    /* 16 and 8 bits: the rest stays. */
    r = (struct x86_regs){ .gpr = { [RAX] = 0x100, [RCX] = junk } };
    run_ok(M64, "66 8b 08", &r, m);
    assert_int_equal(r.gpr[RCX], 0xA5A5A5A5A5A52211ULL);
    r = (struct x86_regs){ .gpr = { [RAX] = 0x100, [RCX] = junk } };
    run_ok(M64, "8a 08", &r, m);
    assert_int_equal(r.gpr[RCX], 0xA5A5A5A5A5A5A511ULL);
    /* AH without REX, SPL with one. */
    r = (struct x86_regs){ .gpr = { [RAX] = 0x100, [RSP] = junk } };
    run_ok(M64, "8a 20", &r, m);
    assert_int_equal(r.gpr[RAX], 0x1100);
    assert_int_equal(r.gpr[RSP], junk);
    r = (struct x86_regs){ .gpr = { [RAX] = 0x100, [RSP] = junk } };
    run_ok(M64, "40 8a 20", &r, m);
    assert_int_equal(r.gpr[RAX], 0x100);
    assert_int_equal(r.gpr[RSP], 0xA5A5A5A5A5A5A511ULL);
    /* BH <- [rax]: byte 1 of RBX. */
    r = (struct x86_regs){ .gpr = { [RAX] = 0x101, [RBX] = junk } };
    run_ok(M64, "8a 38", &r, m);
    assert_int_equal(r.gpr[RBX], 0xA5A5A5A5A5A522A5ULL);
    /* 64-bit with REX.R: r9 */
    r = (struct x86_regs){ .gpr = { [RAX] = 0x100, [R9] = junk } };
    run_ok(M64, "4c 8b 08", &r, m);
    assert_int_equal(r.gpr[R9], 0x8877665544332211ULL);
    /* mov al, ah / mov ah, al style register moves */
    r = (struct x86_regs){ .gpr = { [RAX] = 0x1234 } };
    run_ok(M64, "88 e0", &r, m);        /* mov al, ah */
    assert_int_equal(r.gpr[RAX], 0x1212);
    r = (struct x86_regs){ .gpr = { [RAX] = 0x1234, [RSP] = 0x99 } };
    run_ok(M64, "40 88 e0", &r, m);     /* mov al, spl */
    assert_int_equal(r.gpr[RAX], 0x1299);
    fm_free(m);
}

static void test_mov_forms_and_accesses(void **state)
{
    (void)state;
    struct fakemem *m = fm_new();
    struct x86_regs r;

    /* store: one write, no read */
    r = (struct x86_regs){ .gpr = { [RBX] = 0x200, [RCX] = 0x1122334455667788ULL }, .rip = 0x10 };
    run_ok(M64, "48 89 4b 08", &r, m);
    assert_int_equal(m->nlog, 1);
    expect_log(m, 0, 'W', X86_SEG_DS, 0x208, 8);
    assert_int_equal(fm_get(m, 0x208, 8), 0x1122334455667788ULL);
    assert_int_equal(r.rip, 0x14);
    /* immediate store, sign-extended imm32 */
    r = (struct x86_regs){ .gpr = { [RBP] = 0x300 } };
    run_ok(M64, "48 c7 45 f8 fe ff ff ff", &r, m);
    expect_log(m, 0, 'W', X86_SEG_SS, 0x2F8, 8);
    assert_int_equal(fm_get(m, 0x2F8, 8), 0xFFFFFFFFFFFFFFFEULL);
    r = (struct x86_regs){ .gpr = { [RBX] = 0x300 } };
    run_ok(M64, "c6 03 ab", &r, m);
    expect_log(m, 0, 'W', X86_SEG_DS, 0x300, 1);
    assert_int_equal(m->mem[0x300], 0xAB);
    /* load: one read */
    r = (struct x86_regs){ .gpr = { [RSI] = 0x208 } };
    run_ok(M64, "65 8b 06", &r, m);
    assert_int_equal(m->nlog, 1);
    expect_log(m, 0, 'R', X86_SEG_GS, 0x208, 4);
    assert_int_equal(r.gpr[RAX], 0x55667788);

    /* moffs, every address size */
    fm_put(m, 0x1234, 0xCAFEBABE, 4);
    r = (struct x86_regs){ .gpr = { [RAX] = ~0ULL } };
    run_ok(M16, "a1 34 12", &r, m);
    expect_log(m, 0, 'R', X86_SEG_DS, 0x1234, 2);
    assert_int_equal(r.gpr[RAX], 0xFFFFFFFFFFFFBABEULL);
    assert_int_equal(r.rip, 3);
    r = (struct x86_regs){ .gpr = { [RAX] = ~0ULL } };
    run_ok(M16, "67 66 a1 34 12 00 00", &r, m);
    expect_log(m, 0, 'R', X86_SEG_DS, 0x1234, 4);
    assert_int_equal(r.gpr[RAX], 0xCAFEBABE);
    r = (struct x86_regs){ .gpr = { [RAX] = 0x77 } };
    run_ok(M32, "26 a2 00 10 00 00", &r, m);
    expect_log(m, 0, 'W', X86_SEG_ES, 0x1000, 1);
    assert_int_equal(m->mem[0x1000], 0x77);
    r = (struct x86_regs){ .gpr = { [RAX] = 0x0102030405060708ULL } };
    run_ok(M64, "48 a3 00 11 00 00 00 00 00 00", &r, m);
    expect_log(m, 0, 'W', X86_SEG_DS, 0x1100, 8);
    assert_int_equal(fm_get(m, 0x1100, 8), 0x0102030405060708ULL);
    r = (struct x86_regs){ 0 };
    run_ok(M64, "67 a0 00 11 00 00", &r, m);
    expect_log(m, 0, 'R', X86_SEG_DS, 0x1100, 1);
    assert_int_equal(r.gpr[RAX], 0x08);
    /* a 64-bit moffs beyond the backed range faults; registers unchanged */
    r = (struct x86_regs){ .gpr = { [RAX] = 5 }, .rip = 0x40 };
    struct x86_regs before = r;
    assert_int_equal(run(M64, "a1 00 00 00 00 00 00 00 80", &r, m, 0), X86_EMU_FAULT);
    assert_memory_equal(&r, &before, sizeof(r));

    /* MOVZX / MOVSX / MOVSXD */
    fm_put(m, 0x400, 0x80F1, 2);
    fm_put(m, 0x404, 0x80000001, 4);
    r = (struct x86_regs){ .gpr = { [RAX] = 0x400, [RCX] = ~0ULL } };
    run_ok(M64, "0f b6 08", &r, m);
    assert_int_equal(r.gpr[RCX], 0xF1);
    expect_log(m, 0, 'R', X86_SEG_DS, 0x400, 1);
    r = (struct x86_regs){ .gpr = { [RAX] = 0x400, [RCX] = ~0ULL } };
    run_ok(M64, "48 0f be 08", &r, m);
    assert_int_equal(r.gpr[RCX], 0xFFFFFFFFFFFFFFF1ULL);
    r = (struct x86_regs){ .gpr = { [RAX] = 0x400, [RCX] = ~0ULL } };
    run_ok(M64, "66 0f be 08", &r, m);
    assert_int_equal(r.gpr[RCX], 0xFFFFFFFFFFFFFFF1ULL);
    r = (struct x86_regs){ .gpr = { [RAX] = 0x400, [RCX] = 0x5555555555555555ULL } };
    run_ok(M64, "66 0f b6 08", &r, m);
    assert_int_equal(r.gpr[RCX], 0x55555555555500F1ULL);
    r = (struct x86_regs){ .gpr = { [RAX] = 0x400, [RCX] = ~0ULL } };
    run_ok(M64, "0f bf 08", &r, m);
    assert_int_equal(r.gpr[RCX], 0xFFFF80F1ULL);
    expect_log(m, 0, 'R', X86_SEG_DS, 0x400, 2);
    r = (struct x86_regs){ .gpr = { [RAX] = 0x400, [RCX] = ~0ULL } };
    run_ok(M64, "0f b7 08", &r, m);
    assert_int_equal(r.gpr[RCX], 0x80F1);
    r = (struct x86_regs){ .gpr = { [RAX] = 0x404 } };
    run_ok(M64, "48 63 08", &r, m);
    assert_int_equal(r.gpr[RCX], 0xFFFFFFFF80000001ULL);
    expect_log(m, 0, 'R', X86_SEG_DS, 0x404, 4);
    r = (struct x86_regs){ .gpr = { [RAX] = 0xFF80 } };
    run_ok(M64, "48 63 c8", &r, m);     /* movsxd rcx, eax */
    assert_int_equal(r.gpr[RCX], 0xFF80);
    /* MOVNTI: a plain store */
    r = (struct x86_regs){ .gpr = { [RAX] = 0x500, [RCX] = 0x1234567890ULL } };
    run_ok(M64, "48 0f c3 08", &r, m);
    expect_log(m, 0, 'W', X86_SEG_DS, 0x500, 8);
    assert_int_equal(fm_get(m, 0x500, 8), 0x1234567890ULL);
    fm_free(m);
}

/* ---- addressing ------------------------------------------------------------------ */

static void test_effective_addresses(void **state)
{
    (void)state;
    struct fakemem *m = fm_new();
    struct x86_regs r;

    /* 16-bit: (BX + SI + disp8) mod 64 KiB, upper register bits ignored */
    r = (struct x86_regs){ .gpr = { [RBX] = 0x12340000FFF0ULL, [RSI] = 0xAB0020 } };
    run_ok(M16, "8b 40 ff", &r, m);
    expect_log(m, 0, 'R', X86_SEG_DS, 0x000F, 2);
    /* [BP + DI + disp16] defaults to SS */
    r = (struct x86_regs){ .gpr = { [RBP] = 0x100, [RDI] = 0x20 } };
    run_ok(M16, "8b 83 00 f0", &r, m);
    expect_log(m, 0, 'R', X86_SEG_SS, 0xF120, 2);
    /* 32-bit address size in 16-bit mode, SIB */
    r = (struct x86_regs){ .gpr = { [RAX] = 0xFFFFFFF0, [RCX] = 0x8 } };
    run_ok(M16, "67 8b 54 88 40", &r, m);      /* mov dx, [eax + ecx*4 + 0x40] */
    expect_log(m, 0, 'R', X86_SEG_DS, 0x50, 2);
    /* 32-bit mode: wraps at 4 GiB */
    r = (struct x86_regs){ .gpr = { [RAX] = 0xFFFFF000, [RCX] = 0x800 } };
    run_ok(M32, "8b 94 48 00 10 00 00", &r, m);  /* mov edx, [eax + ecx*2 + 0x1000] */
    expect_log(m, 0, 'R', X86_SEG_DS, 0x1000, 4);
    /* 32-bit address size in 64-bit mode: truncated */
    r = (struct x86_regs){ .gpr = { [RAX] = 0x7700000100ULL } };
    run_ok(M64, "67 8b 10", &r, m);
    expect_log(m, 0, 'R', X86_SEG_DS, 0x100, 4);
    /* RIP-relative: from the end of the instruction (immediate included) */
    r = (struct x86_regs){ .rip = 0x1000 };
    run_ok(M64, "c7 05 10 00 00 00 01 00 00 00", &r, m);
    expect_log(m, 0, 'W', X86_SEG_DS, 0x1000 + 10 + 0x10, 4);
    assert_int_equal(r.rip, 0x100A);
    r = (struct x86_regs){ .rip = 0x1000 };
    run_ok(M64, "8b 05 f0 ff ff ff", &r, m);
    expect_log(m, 0, 'R', X86_SEG_DS, 0x1000 + 6 - 0x10, 4);
    /* EIP-relative: (rip + len + disp) truncated to 32 bits */
    r = (struct x86_regs){ .rip = 0x300000000ULL + 0x2000 };
    run_ok(M64, "67 8b 05 00 01 00 00", &r, m);
    expect_log(m, 0, 'R', X86_SEG_DS, 0x2107, 4);
    /* negative index wraps in 64-bit arithmetic */
    r = (struct x86_regs){ .gpr = { [RBX] = 0x3000, [RCX] = (uint64_t)-4 } };
    run_ok(M64, "8b 04 cb", &r, m);             /* mov eax, [rbx + rcx*8] */
    expect_log(m, 0, 'R', X86_SEG_DS, 0x3000 - 32, 4);
    /* x86_effective_address agrees */
    uint8_t b[] = { 0x8b, 0x44, 0x8b, 0x10 };   /* mov eax, [rbx + rcx*4 + 0x10] */
    struct x86_insn insn;
    assert_int_equal(x86_decode(b, sizeof(b), M64, &insn, NULL), 0);
    r = (struct x86_regs){ .gpr = { [RBX] = 0x1000, [RCX] = 3 } };
    assert_int_equal(x86_effective_address(&insn, &r), 0x1000 + 12 + 0x10);
    fm_free(m);
}

static void test_rip_advance(void **state)
{
    (void)state;
    struct fakemem *m = fm_new();
    struct x86_regs r;
    r = (struct x86_regs){ .gpr = { [RBX] = 0x10 }, .rip = 0xFFFE };
    run_ok(M16, "8b 47 02", &r, m);
    assert_int_equal(r.rip, 0x0001);
    r = (struct x86_regs){ .gpr = { [RBX] = 0x10 }, .rip = 0xFFFE };
    run_ok(P16, "8b 47 02", &r, m);
    assert_int_equal(r.rip, 0x0001);
    r = (struct x86_regs){ .gpr = { [RBX] = 0x10 }, .rip = 0xFFFFFFFE };
    run_ok(M32, "8b 43 02", &r, m);
    assert_int_equal(r.rip, 0x0001);
    r = (struct x86_regs){ .gpr = { [RBX] = 0x10 }, .rip = 0xFFFFFFFE };
    run_ok(M64, "8b 43 02", &r, m);
    assert_int_equal(r.rip, 0x100000001ULL);
    fm_free(m);
}

/* ---- read-modify-write: access order and faults ---------------------------------- */

static void test_rmw_accesses(void **state)
{
    (void)state;
    struct fakemem *m = fm_new();
    struct x86_regs r;
    static const struct { const char *hex; const char *log; unsigned size; } cases[] = {
        { "01 08", "RW", 4 }, { "f0 01 08", "RW", 4 }, { "03 08", "R", 4 }, { "39 08", "R", 4 },
        { "3b 08", "R", 4 }, { "85 08", "R", 4 }, { "f6 00 01", "R", 1 }, { "80 08 01", "RW", 1 },
        { "48 83 20 01", "RW", 8 }, { "66 81 30 01 00", "RW", 2 }, { "f7 10", "RW", 4 },
        { "f7 18", "RW", 4 }, { "fe 00", "RW", 1 }, { "ff 08", "RW", 4 }, { "87 08", "RW", 4 },
        { "86 08", "RW", 1 }, { "0f b1 08", "RW", 4 }, { "0f a3 08", "R", 4 },
        { "0f ab 08", "RW", 4 }, { "0f b3 08", "RW", 4 }, { "0f bb 08", "RW", 4 },
        { "0f ba 20 01", "R", 4 }, { "0f ba 28 01", "RW", 4 }, { "89 08", "W", 4 },
        { "8b 08", "R", 4 }, { "c7 00 01 00 00 00", "W", 4 }, { "0f c3 08", "W", 4 },
        { "0f b6 08", "R", 1 }, { "66 0f 7f 00", "W", 16 }, { "0f 28 00", "R", 16 },
        { "66 0f 6e 00", "R", 4 }, { "66 48 0f 7e 00", "W", 8 },
    };
    for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
        r = (struct x86_regs){ .gpr = { [RAX] = 0x600, [RCX] = 0 } };
        run_ok(M64, cases[i].hex, &r, m);
        size_t n = strlen(cases[i].log);
        if (m->nlog != n)
            fail_msg("%s: %u accesses, expected %s", cases[i].hex, m->nlog, cases[i].log);
        for (size_t k = 0; k < n; k++)
            expect_log(m, (unsigned)k, cases[i].log[k], X86_SEG_DS, 0x600, cases[i].size);
    }

    /* A fault on the read or on the write changes no register, flags included. */
    static const char *const faulting[] = {
        "01 08", "f0 48 01 08", "87 08", "0f b1 08", "f7 18", "ff 00", "0f ab 08", "8b 08", "89 08",
        "0f b6 08", "48 63 08", "66 0f 6f 00", "66 0f 7e 00",
    };
    for (size_t i = 0; i < ARRAY_SIZE(faulting); i++) {
        for (int wo = 0; wo < 2; wo++) {
            m->fault_lo = 0x600;
            m->fault_hi = 0x700;
            m->fault_writes_only = wo;
            memset(m->xmm, 0x5A, sizeof(m->xmm));
            r = (struct x86_regs){ .gpr = { [RAX] = 0x600, [RCX] = 0x77 }, .rip = 0x99,
                                   .rflags = RFLAGS_FIXED | CF | ZF };
            struct x86_regs before = r;
            enum x86_emu_result res = run(M64, faulting[i], &r, m, 0);
            bool has_write = strcmp(faulting[i], "8b 08") && strcmp(faulting[i], "0f b6 08") &&
                             strcmp(faulting[i], "48 63 08") && strcmp(faulting[i], "66 0f 6f 00");
            if (!wo || has_write) {
                if (res != X86_EMU_FAULT)
                    fail_msg("%s (fault on %s): result %d", faulting[i], wo ? "write" : "any", res);
                assert_memory_equal(&r, &before, sizeof(r));
                for (unsigned k = 0; k < m->nlog; k++)
                    assert_int_not_equal(m->log[k].kind, 'W');
                for (unsigned k = 0; k < 16; k++)
                    assert_int_equal(m->xmm[k][0], 0x5A);
            }
        }
    }
    m->fault_lo = m->fault_hi = 0;
    m->fault_writes_only = false;
    fm_free(m);
}

/* ---- CMPXCHG, XCHG ------------------------------------------------------------------ */

static void test_cmpxchg(void **state)
{
    (void)state;
    struct fakemem *m = fm_new();
    struct x86_regs r;

    /* equal: destination <- source, accumulator untouched (upper bits too), ZF = 1 */
    fm_put(m, 0x700, 0x11111111, 4);
    r = (struct x86_regs){ .gpr = { [RAX] = 0xABCD00000000ULL | 0x11111111, [RCX] = 0x22222222,
                                    [RBX] = 0x700 }, .rflags = RFLAGS_FIXED };
    run_ok(M64, "f0 0f b1 0b", &r, m);
    assert_int_equal(m->nlog, 2);
    expect_log(m, 0, 'R', X86_SEG_DS, 0x700, 4);
    expect_log(m, 1, 'W', X86_SEG_DS, 0x700, 4);
    assert_int_equal(fm_get(m, 0x700, 4), 0x22222222);
    assert_int_equal(r.gpr[RAX], 0xABCD00000000ULL | 0x11111111);
    assert_int_equal(r.rflags & ARITH, ZF | PF);
    /* not equal: the old value is written back (a write cycle either way, SDM
     * Vol. 2A CMPXCHG), then loaded into EAX (zero-extended); flags of CMP */
    fm_put(m, 0x700, 0x33333333, 4);
    r = (struct x86_regs){ .gpr = { [RAX] = 0xABCD00000000ULL | 0x11111111, [RCX] = 0x22222222,
                                    [RBX] = 0x700 }, .rflags = RFLAGS_FIXED | ZF };
    run_ok(M64, "0f b1 0b", &r, m);
    assert_int_equal(m->nlog, 2);
    expect_log(m, 1, 'W', X86_SEG_DS, 0x700, 4);
    assert_int_equal(fm_get(m, 0x700, 4), 0x33333333);
    assert_int_equal(r.gpr[RAX], 0x33333333);
    struct ref want = ref_alu(A_CMP, 0x11111111, 0x33333333, 0, 32, 0);
    assert_int_equal(r.rflags & ARITH, want.flags);
    /* byte form with AH... no: AL is the accumulator; source BH */
    fm_put(m, 0x701, 0x7F, 1);
    r = (struct x86_regs){ .gpr = { [RAX] = 0x1280, [RBX] = 0x5500, [RDI] = 0x701 } };
    run_ok(M64, "0f b0 3f", &r, m);     /* cmpxchg [rdi], bh */
    assert_int_equal(r.gpr[RAX], 0x127F);
    assert_int_equal(m->mem[0x701], 0x7F);
    r = (struct x86_regs){ .gpr = { [RAX] = 0x127F, [RBX] = 0x5500, [RDI] = 0x701 } };
    run_ok(M64, "0f b0 3f", &r, m);
    assert_int_equal(m->mem[0x701], 0x55);
    assert_true(r.rflags & ZF);
    /* 64-bit */
    fm_put(m, 0x708, 0x8000000000000000ULL, 8);
    r = (struct x86_regs){ .gpr = { [RAX] = 1, [RDX] = 9, [RSI] = 0x708 } };
    run_ok(M64, "48 0f b1 16", &r, m);
    assert_int_equal(r.gpr[RAX], 0x8000000000000000ULL);
    want = ref_alu(A_CMP, 1, 0x8000000000000000ULL, 0, 64, 0);
    assert_int_equal(r.rflags & ARITH, want.flags);

    /* XCHG: read, write, then the register */
    fm_put(m, 0x720, 0xAAAA, 2);
    r = (struct x86_regs){ .gpr = { [RAX] = 0x720, [RDX] = 0xFFFFFFFFFFFF5555ULL } };
    run_ok(M64, "66 87 10", &r, m);
    assert_int_equal(m->nlog, 2);
    expect_log(m, 0, 'R', X86_SEG_DS, 0x720, 2);
    expect_log(m, 1, 'W', X86_SEG_DS, 0x720, 2);
    assert_int_equal(fm_get(m, 0x720, 2), 0x5555);
    assert_int_equal(r.gpr[RDX], 0xFFFFFFFFFFFFAAAAULL);
    /* register-register, AH/BL */
    r = (struct x86_regs){ .gpr = { [RAX] = 0x1122, [RBX] = 0x33 } };
    run_ok(M64, "86 e3", &r, m);        /* xchg bl, ah */
    assert_int_equal(r.gpr[RAX], 0x3322);
    assert_int_equal(r.gpr[RBX], 0x11);
    fm_free(m);
}

/* ---- BT family ---------------------------------------------------------------------- */

static enum x86_emu_result run_bytes(enum x86_cpu_mode mode, const uint8_t *b, size_t n,
                                     struct x86_regs *r, struct fakemem *m)
{
    struct x86_insn insn;
    const char *why = NULL;
    if (x86_decode(b, n, mode, &insn, &why))
        fail_msg("%02x %02x %02x [%s] refused: %s", b[0], b[1], b[2], mode_name(mode), why);
    m->nlog = 0;
    return x86_emulate(&insn, mode, r, &fm_ops, m, 0);
}

static void test_bt(void **state)
{
    (void)state;
    struct fakemem *m = fm_new();
    struct x86_regs r;
    static const struct {
        enum x86_cpu_mode mode;
        uint8_t size;               /* operand size; 66 / REX.W added as needed */
        bool imm;                   /* 0F BA /4-7 ib, else 0F A3/AB/B3/BB with ECX-family */
        uint64_t base, off;         /* base register (RBX, or BX in 16-bit mode); bit offset (RCX or imm8) */
        uint64_t word;              /* offset of the word accessed */
        unsigned bit;
    } cases[] = {
        /* register offset: signed, selects a word around the operand */
        { M64, 4, false, 0x1000, 5, 0x1000, 5 },
        { M64, 4, false, 0x1000, 100, 0x100C, 4 },
        { M64, 4, false, 0x1000, (uint64_t)-1, 0x0FFC, 31 },
        { M64, 4, false, 0x1000, (uint64_t)-33, 0x0FF8, 31 },
        { M64, 4, false, 0x1000, 0xFFFFFFFF00000005ULL, 0x1000, 5 },     /* ECX: upper half ignored */
        { M64, 4, false, 0x1000, 0x80000000ULL, 0x1000 - 0x10000000ULL, 0 },   /* -2^31 bits */
        { M64, 2, false, 0x1000, 0xFFFF, 0x0FFE, 15 },                  /* CX = -1 */
        { M64, 2, false, 0x1000, 0x12340011, 0x1002, 1 },
        { M64, 8, false, 0x1000, (uint64_t)-65, 0x0FF0, 63 },
        { M64, 8, false, 0x1000, 0x200, 0x1040, 0 },
        { M64, 8, false, 0x1000, 0x8000000000000000ULL, 0x1000 - (1ULL << 60), 0 },
        /* 16-bit address size: the word address wraps at 64 KiB */
        { M16, 2, false, 0x0002, (uint64_t)-64, 0xFFFA, 0 },
        { M16, 4, false, 0x0002, 0x40, 0x000A, 0 },
        { M32, 4, false, 0x10, 0xFFFFFFFF, 0x0C, 31 },
        /* immediate: modulo the operand size, no displacement */
        { M64, 4, true, 0x1000, 37, 0x1000, 5 },
        { M64, 2, true, 0x1000, 0xFF, 0x1000, 15 },
        { M64, 8, true, 0x1000, 0x7F, 0x1000, 63 },
        { M16, 2, true, 0x2000, 0x11, 0x2000, 1 },
    };
    static const uint8_t reg_opcodes[4] = { 0xA3, 0xAB, 0xB3, 0xBB };
    for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
        bool mode16 = cases[i].mode == M16;
        unsigned size = cases[i].size;
        for (unsigned op = 0; op < 4; op++) {     /* BT, BTS, BTR, BTC */
            uint8_t b[8];
            size_t n = 0;
            if ((size == 2) != mode16)
                b[n++] = 0x66;
            if (size == 8)
                b[n++] = 0x48;
            b[n++] = 0x0F;
            uint8_t rm = mode16 ? 7 : 3;        /* [bx] / [rbx] */
            if (cases[i].imm) {
                b[n++] = 0xBA;
                b[n++] = (uint8_t)(((4 + op) << 3) | rm);
                b[n++] = (uint8_t)cases[i].off;
            } else {
                b[n++] = reg_opcodes[op];
                b[n++] = (uint8_t)((RCX << 3) | rm);
            }
            uint64_t word = cases[i].word;
            r = (struct x86_regs){ .gpr = { [RBX] = cases[i].base, [RCX] = cases[i].off },
                                   .rflags = RFLAGS_FIXED | ZF | SF | OF | AF | PF };
            if (word >= FM_SIZE) {
                /* far outside the operand: the access is tried there and faults */
                assert_int_equal(run_bytes(cases[i].mode, b, n, &r, m), X86_EMU_FAULT);
                expect_log(m, 0, 'r', X86_SEG_DS, word, size);
                continue;
            }
            uint64_t before = 0x5A5A5A5A5A5A5A5AULL ^ (i * 0x0101010101010101ULL);
            fm_put(m, word, before, size);
            assert_int_equal(run_bytes(cases[i].mode, b, n, &r, m), X86_EMU_OK);
            bool old = (before >> cases[i].bit) & 1;
            uint64_t after = before;
            if (op == 1) after |= 1ULL << cases[i].bit;
            if (op == 2) after &= ~(1ULL << cases[i].bit);
            if (op == 3) after ^= 1ULL << cases[i].bit;
            uint64_t mask = size == 8 ? ~0ULL : (1ULL << (8 * size)) - 1;
            if (fm_get(m, word, size) != (after & mask) || !!(r.rflags & CF) != old)
                fail_msg("case %zu op %u: word %#llx = %#llx (want %#llx), CF %d", i, op,
                         (unsigned long long)word, (unsigned long long)fm_get(m, word, size),
                         (unsigned long long)(after & mask), !!(r.rflags & CF));
            expect_log(m, 0, 'R', X86_SEG_DS, word, size);
            assert_int_equal(m->nlog, op == 0 ? 1 : 2);
            if (op)
                expect_log(m, 1, 'W', X86_SEG_DS, word, size);
            /* ZF unaffected; the undefined ones are left as they were */
            assert_int_equal(r.rflags & (ZF | SF | OF | AF | PF), ZF | SF | OF | AF | PF);
        }
    }
    /* register operand: offset modulo the width */
    r = (struct x86_regs){ .gpr = { [RAX] = 0x20, [RCX] = 37 } };
    run_ok(M64, "0f ab c8", &r, m);     /* bts eax, ecx */
    assert_int_equal(r.gpr[RAX], 0x20);
    assert_true(r.rflags & CF);
    r = (struct x86_regs){ .gpr = { [RAX] = 0xFFFFFFFF00000000ULL, [RCX] = 37 } };
    run_ok(M64, "0f ab c8", &r, m);
    assert_int_equal(r.gpr[RAX], 0x20);  /* 32-bit write: zero-extended */
    r = (struct x86_regs){ .gpr = { [RAX] = 0xFFFFFFFF00000000ULL, [RCX] = 37 } };
    run_ok(M64, "48 0f b3 c8", &r, m);  /* btr rax, rcx */
    assert_int_equal(r.gpr[RAX], 0xFFFFFFDF00000000ULL);
    assert_true(r.rflags & CF);
    fm_free(m);
}

/* ---- string instructions -------------------------------------------------------------- */

static void test_string_basic(void **state)
{
    (void)state;
    struct fakemem *m = fm_new();
    struct x86_regs r;
    for (unsigned i = 0; i < 64; i++)
        m->mem[0x800 + i] = (uint8_t)(0x40 + i);

    /* REP with a zero count: nothing but RIP */
    r = (struct x86_regs){ .gpr = { [RCX] = 0, [RSI] = 0x800, [RDI] = 0x900 }, .rip = 0x50 };
    struct x86_regs before = r;
    run_ok(M64, "f3 a4", &r, m);
    assert_int_equal(m->nlog, 0);
    before.rip = 0x52;
    assert_memory_equal(&r, &before, sizeof(r));
    /* 16-bit count: CX = 0 with non-zero upper bits is still zero */
    r = (struct x86_regs){ .gpr = { [RCX] = 0x10000, [RSI] = 0x800, [RDI] = 0x900 } };
    run_ok(M16, "f3 a4", &r, m);
    assert_int_equal(m->nlog, 0);
    assert_int_equal(r.gpr[RCX], 0x10000);

    /* REP MOVSD forward: element by element, read then write */
    r = (struct x86_regs){ .gpr = { [RCX] = 3, [RSI] = 0x800, [RDI] = 0x900 }, .rip = 0x10 };
    run_ok(M64, "f3 a5", &r, m);
    assert_int_equal(m->nlog, 6);
    for (unsigned i = 0; i < 3; i++) {
        expect_log(m, 2 * i, 'R', X86_SEG_DS, 0x800 + 4 * i, 4);
        expect_log(m, 2 * i + 1, 'W', X86_SEG_ES, 0x900 + 4 * i, 4);
    }
    assert_memory_equal(m->mem + 0x900, m->mem + 0x800, 12);
    assert_int_equal(r.gpr[RCX], 0);
    assert_int_equal(r.gpr[RSI], 0x80C);
    assert_int_equal(r.gpr[RDI], 0x90C);
    assert_int_equal(r.rip, 0x12);
    /* DF = 1: backwards; segment override applies to the source only */
    r = (struct x86_regs){ .gpr = { [RCX] = 2, [RSI] = 0x808, [RDI] = 0xA08 }, .rflags = RFLAGS_FIXED | DF };
    run_ok(M64, "64 f3 48 a5", &r, m);
    expect_log(m, 0, 'R', X86_SEG_FS, 0x808, 8);
    expect_log(m, 1, 'W', X86_SEG_ES, 0xA08, 8);
    expect_log(m, 2, 'R', X86_SEG_FS, 0x800, 8);
    expect_log(m, 3, 'W', X86_SEG_ES, 0xA00, 8);
    assert_int_equal(r.gpr[RSI], 0x7F8);
    assert_int_equal(r.gpr[RDI], 0x9F8);
    /* STOS: ES:rDI whatever the override; no RCX change without REP */
    r = (struct x86_regs){ .gpr = { [RAX] = 0x11223344, [RCX] = 7, [RDI] = 0xB00 } };
    run_ok(M64, "65 66 ab", &r, m);
    assert_int_equal(m->nlog, 1);
    expect_log(m, 0, 'W', X86_SEG_ES, 0xB00, 2);
    assert_int_equal(fm_get(m, 0xB00, 2), 0x3344);
    assert_int_equal(r.gpr[RDI], 0xB02);
    assert_int_equal(r.gpr[RCX], 7);
    /* REP LODSB: the accumulator ends with the last element */
    r = (struct x86_regs){ .gpr = { [RAX] = ~0ULL, [RCX] = 4, [RSI] = 0x800 } };
    run_ok(M64, "f3 ac", &r, m);
    assert_int_equal(r.gpr[RAX], 0xFFFFFFFFFFFFFF43ULL);
    assert_int_equal(r.gpr[RSI], 0x804);
    /* LODSD zero-extends RAX */
    r = (struct x86_regs){ .gpr = { [RAX] = ~0ULL, [RSI] = 0x800 } };
    run_ok(M64, "ad", &r, m);
    assert_int_equal(r.gpr[RAX], 0x43424140);
    fm_free(m);
}

static void test_string_address_size(void **state)
{
    (void)state;
    struct fakemem *m = fm_new();
    struct x86_regs r;

    /* 16-bit: SI/DI/CX wrap within 16 bits, bits 63:16 untouched */
    m->mem[0xFFFF] = 0xAA;
    m->mem[0x0000] = 0xBB;
    r = (struct x86_regs){ .gpr = { [RCX] = 0x7777000000000002ULL, [RSI] = 0x12340000FFFFULL,
                                    [RDI] = 0x5678000000F0ULL } };
    run_ok(M16, "f3 a4", &r, m);
    expect_log(m, 0, 'R', X86_SEG_DS, 0xFFFF, 1);
    expect_log(m, 2, 'R', X86_SEG_DS, 0x0000, 1);
    assert_int_equal(r.gpr[RSI], 0x123400000001ULL);
    assert_int_equal(r.gpr[RDI], 0x5678000000F2ULL);
    assert_int_equal(r.gpr[RCX], 0x7777000000000000ULL);
    assert_int_equal(m->mem[0xF0], 0xAA);
    assert_int_equal(m->mem[0xF1], 0xBB);
    /* backwards through zero */
    r = (struct x86_regs){ .gpr = { [RDI] = 0xABCD0000ULL }, .rflags = RFLAGS_FIXED | DF };
    run_ok(M16, "aa", &r, m);
    expect_log(m, 0, 'W', X86_SEG_ES, 0, 1);
    assert_int_equal(r.gpr[RDI], 0xABCDFFFFULL);

    /* 32-bit address size in 64-bit mode: ESI/EDI/ECX, written zero-extended */
    r = (struct x86_regs){ .gpr = { [RCX] = 0xFFFFFFFF00000001ULL, [RSI] = 0xAAAAAAAA00000100ULL,
                                    [RDI] = 0xBBBBBBBB00000200ULL } };
    run_ok(M64, "67 f3 a4", &r, m);
    expect_log(m, 0, 'R', X86_SEG_DS, 0x100, 1);
    expect_log(m, 1, 'W', X86_SEG_ES, 0x200, 1);
    assert_int_equal(r.gpr[RCX], 0);
    assert_int_equal(r.gpr[RSI], 0x101);
    assert_int_equal(r.gpr[RDI], 0x201);
    fm_free(m);

    /* 32-bit mode: ESI wraps at 4 GiB (memory backed at 4 GiB - 64 KiB up) */
    m = fm_new();
    m->base = 0xFFFF0000ULL;
    m->mem[0xFFFF] = 0x99;
    r = (struct x86_regs){ .gpr = { [RSI] = 0xFFFFFFFF } };
    run_ok(M32, "ac", &r, m);
    expect_log(m, 0, 'R', X86_SEG_DS, 0xFFFFFFFFULL, 1);
    assert_int_equal(r.gpr[RSI], 0);
    assert_int_equal(r.gpr[RAX], 0x99);
    fm_free(m);
}

static void test_string_restart_and_faults(void **state)
{
    (void)state;
    struct fakemem *m = fm_new();
    struct x86_regs r;
    for (unsigned i = 0; i < 32; i++)
        m->mem[0xC00 + i] = (uint8_t)i;

    /* 10 elements, at most 3 per call: RESTART, RESTART, RESTART, OK */
    r = (struct x86_regs){ .gpr = { [RCX] = 10, [RSI] = 0xC00, [RDI] = 0xD00 }, .rip = 0x30 };
    unsigned calls = 0, copied = 0;
    enum x86_emu_result res;
    do {
        uint64_t rcx = r.gpr[RCX];
        res = run(M64, "f3 a4", &r, m, 3);
        copied += m->nlog / 2;
        calls++;
        if (res == X86_EMU_RESTART) {
            assert_int_equal(r.rip, 0x30);
            assert_int_equal(r.gpr[RCX], rcx - 3);
        }
    } while (res == X86_EMU_RESTART && calls < 10);
    assert_int_equal(res, X86_EMU_OK);
    assert_int_equal(calls, 4);
    assert_int_equal(copied, 10);
    assert_int_equal(r.rip, 0x32);
    assert_int_equal(r.gpr[RCX], 0);
    assert_int_equal(r.gpr[RSI], 0xC0A);
    assert_memory_equal(m->mem + 0xD00, m->mem + 0xC00, 10);
    /* exactly max_iterations elements left: done in one call */
    r = (struct x86_regs){ .gpr = { [RCX] = 3, [RSI] = 0xC00, [RDI] = 0xD00 }, .rip = 0x30 };
    assert_int_equal(run(M64, "f3 a4", &r, m, 3), X86_EMU_OK);
    assert_int_equal(r.rip, 0x32);

    /* a fault on the third element: two done and kept, RIP unchanged */
    m->fault_lo = 0xE02;
    m->fault_hi = 0xE03;
    r = (struct x86_regs){ .gpr = { [RCX] = 5, [RSI] = 0xC00, [RDI] = 0xE00 }, .rip = 0x30 };
    assert_int_equal(run(M64, "f3 a4", &r, m, 0), X86_EMU_FAULT);
    assert_int_equal(r.gpr[RCX], 3);
    assert_int_equal(r.gpr[RSI], 0xC02);
    assert_int_equal(r.gpr[RDI], 0xE02);
    assert_int_equal(r.rip, 0x30);
    assert_int_equal(m->nlog, 6);       /* R W R W R w: the third write faulted */
    expect_log(m, 5, 'w', X86_SEG_ES, 0xE02, 1);
    assert_memory_equal(m->mem + 0xE00, m->mem + 0xC00, 2);
    /* without REP a fault changes nothing */
    r = (struct x86_regs){ .gpr = { [RSI] = 0xC00, [RDI] = 0xE02 }, .rip = 0x30 };
    struct x86_regs before = r;
    assert_int_equal(run(M64, "a4", &r, m, 0), X86_EMU_FAULT);
    assert_memory_equal(&r, &before, sizeof(r));
    m->fault_lo = m->fault_hi = 0;
    fm_free(m);
}

/* ---- SSE moves, CLFLUSH ----------------------------------------------------------------- */

static void test_sse(void **state)
{
    (void)state;
    struct fakemem *m = fm_new();
    struct x86_regs r;
    uint8_t pattern[16], ones[16];
    for (unsigned i = 0; i < 16; i++) {
        pattern[i] = (uint8_t)(0xA0 + i);
        m->mem[0xF00 + i] = (uint8_t)(0x10 + i);
    }
    memset(ones, 0xFF, sizeof(ones));

    /* MOVD xmm, m32: the rest of the register zeroed */
    memcpy(m->xmm[3], ones, 16);
    r = (struct x86_regs){ .gpr = { [RAX] = 0xF00 } };
    run_ok(M64, "66 0f 6e 18", &r, m);
    expect_log(m, 0, 'R', X86_SEG_DS, 0xF00, 4);
    assert_memory_equal(m->xmm[3], m->mem + 0xF00, 4);
    for (unsigned i = 4; i < 16; i++)
        assert_int_equal(m->xmm[3][i], 0);
    /* MOVQ xmm9, m64 (REX.W + REX.R) */
    memcpy(m->xmm[9], ones, 16);
    run_ok(M64, "66 4c 0f 6e 08", &r, m);
    expect_log(m, 0, 'R', X86_SEG_DS, 0xF00, 8);
    assert_memory_equal(m->xmm[9], m->mem + 0xF00, 8);
    for (unsigned i = 8; i < 16; i++)
        assert_int_equal(m->xmm[9][i], 0);
    /* F3 0F 7E: MOVQ xmm, xmm/m64 */
    memcpy(m->xmm[1], ones, 16);
    memcpy(m->xmm[2], pattern, 16);
    run_ok(M64, "f3 0f 7e ca", &r, m);  /* movq xmm1, xmm2 */
    assert_int_equal(m->nlog, 0);
    assert_memory_equal(m->xmm[1], pattern, 8);
    for (unsigned i = 8; i < 16; i++)
        assert_int_equal(m->xmm[1][i], 0);
    /* 66 0F D6: MOVQ m64, xmm */
    memcpy(m->xmm[4], pattern, 16);
    run_ok(M64, "66 0f d6 60 10", &r, m);
    expect_log(m, 0, 'W', X86_SEG_DS, 0xF10, 8);
    assert_memory_equal(m->mem + 0xF10, pattern, 8);
    /* MOVD r/m32 <- xmm: GPR zero-extended; MOVQ r64 */
    r = (struct x86_regs){ .gpr = { [RDX] = ~0ULL } };
    run_ok(M64, "66 0f 7e e2", &r, m);  /* movd edx, xmm4 */
    assert_int_equal(r.gpr[RDX], 0xA3A2A1A0ULL);
    run_ok(M64, "66 48 0f 7e e2", &r, m);
    assert_int_equal(r.gpr[RDX], 0xA7A6A5A4A3A2A1A0ULL);
    /* MOVD xmm, r32 */
    r = (struct x86_regs){ .gpr = { [RCX] = 0x1122334455667788ULL } };
    run_ok(M64, "66 0f 6e f9", &r, m);  /* movd xmm7, ecx */
    uint64_t lo;
    memcpy(&lo, m->xmm[7], 8);
    assert_int_equal(lo, 0x55667788ULL);
    /* 16-byte loads and stores: one access of 16 bytes */
    r = (struct x86_regs){ .gpr = { [RBX] = 0xF00 } };
    for (unsigned i = 0; i < 4; i++) {
        static const char *const loads[] = { "66 0f 6f 2b", "f3 0f 6f 2b", "0f 28 2b", "0f 10 2b" };
        memset(m->xmm[5], 0, 16);
        run_ok(M64, loads[i], &r, m);
        assert_int_equal(m->nlog, 1);
        expect_log(m, 0, 'R', X86_SEG_DS, 0xF00, 16);
        assert_memory_equal(m->xmm[5], m->mem + 0xF00, 16);
    }
    for (unsigned i = 0; i < 4; i++) {
        static const char *const stores[] = { "66 44 0f 7f 73 20", "f3 44 0f 7f 73 20",
                                              "44 0f 29 73 20", "44 0f 11 73 20" };
        memcpy(m->xmm[14], pattern, 16);
        pattern[0]++;
        run_ok(M64, stores[i], &r, m);
        expect_log(m, 0, 'W', X86_SEG_DS, 0xF20, 16);
        assert_memory_equal(m->mem + 0xF20, m->xmm[14], 16);
    }
    run_ok(M64, "0f 28 c6", &r, m);     /* movaps xmm0, xmm6 */
    assert_memory_equal(m->xmm[0], m->xmm[6], 16);
    /* 16-bit mode: [bx+si] */
    r = (struct x86_regs){ .gpr = { [RBX] = 0xF00, [RSI] = 0x10 } };
    run_ok(M16, "66 0f 7f 00", &r, m);
    expect_log(m, 0, 'W', X86_SEG_DS, 0xF10, 16);
    /* XMM access failing: FAULT, no memory write */
    m->xmm_fault = true;
    r = (struct x86_regs){ .gpr = { [RBX] = 0xF00 } };
    assert_int_equal(run(M64, "66 0f 7f 03", &r, m, 0), X86_EMU_FAULT);
    assert_int_equal(m->nlog, 0);
    assert_int_equal(run(M64, "66 0f 6f 03", &r, m, 0), X86_EMU_FAULT);
    m->xmm_fault = false;
    /* no XMM callbacks: UNSUPPORTED */
    struct x86_emu_ops noxmm = fm_ops;
    noxmm.read_xmm = NULL;
    noxmm.write_xmm = NULL;
    uint8_t b[] = { 0x66, 0x0f, 0x6f, 0x03 };
    struct x86_insn insn;
    assert_int_equal(x86_decode(b, sizeof(b), M64, &insn, NULL), 0);
    struct x86_regs before = r;
    assert_int_equal(x86_emulate(&insn, M64, &r, &noxmm, m, 0), X86_EMU_UNSUPPORTED);
    assert_memory_equal(&r, &before, sizeof(r));
    fm_free(m);
}

static void test_clflush(void **state)
{
    (void)state;
    struct fakemem *m = fm_new();
    struct x86_regs r = { .gpr = { [RAX] = 0x1234, [RSP] = 0x8000 }, .rip = 0x100 };
    run_ok(M64, "0f ae 38", &r, m);
    assert_int_equal(m->nlog, 1);
    expect_log(m, 0, 'F', X86_SEG_DS, 0x1234, 0);
    assert_int_equal(r.rip, 0x103);
    run_ok(M64, "66 0f ae 7c 24 08", &r, m);
    expect_log(m, 0, 'F', X86_SEG_SS, 0x8008, 0);
    /* beyond the backed range: still no access, so no fault */
    r.gpr[RAX] = 0xFFFFFFFFFFFF0000ULL;
    run_ok(M64, "0f ae 38", &r, m);
    /* no flush callback: nothing to do */
    struct x86_emu_ops noflush = fm_ops;
    noflush.flush = NULL;
    uint8_t b[] = { 0x0f, 0xae, 0x38 };
    struct x86_insn insn;
    assert_int_equal(x86_decode(b, sizeof(b), M64, &insn, NULL), 0);
    assert_int_equal(x86_emulate(&insn, M64, &r, &noflush, m, 0), X86_EMU_OK);
    fm_free(m);
}

static void test_bad_arguments(void **state)
{
    (void)state;
    struct fakemem *m = fm_new();
    struct x86_regs r = { .gpr = { [RAX] = 0x100 } };
    struct x86_insn insn;
    memset(&insn, 0, sizeof(insn));
    assert_int_equal(x86_emulate(&insn, M64, &r, &fm_ops, m, 0), X86_EMU_UNSUPPORTED);
    uint8_t b[] = { 0x01, 0x08 };
    assert_int_equal(x86_decode(b, sizeof(b), M64, &insn, NULL), 0);
    assert_int_equal(x86_emulate(NULL, M64, &r, &fm_ops, m, 0), X86_EMU_UNSUPPORTED);
    assert_int_equal(x86_emulate(&insn, M64, NULL, &fm_ops, m, 0), X86_EMU_UNSUPPORTED);
    assert_int_equal(x86_emulate(&insn, M64, &r, NULL, m, 0), X86_EMU_UNSUPPORTED);
    struct x86_emu_ops noread = fm_ops;
    noread.read = NULL;
    assert_int_equal(x86_emulate(&insn, M64, &r, &noread, m, 0), X86_EMU_UNSUPPORTED);
    struct x86_insn bogus = insn;
    bogus.mnemonic = X86_MN_COUNT + 5;
    assert_int_equal(x86_emulate(&bogus, M64, &r, &fm_ops, m, 0), X86_EMU_UNSUPPORTED);
    fm_free(m);
}

/* ---- Part 2: the host CPU as the reference -------------------------------------------- */

/*
 * An executable arena below 2 GiB, so that absolute disp32 and RIP-relative
 * operands can reach it: the code page, the register file the stub loads
 * and stores, and the data the memory operands are steered into.
 */
#define ARENA_SIZE      0x10000UL
#define CODE_OFF        0x0000UL
#define STATE_OFF       0x1000UL
#define DATA_OFF        0x4000UL
#define DATA_SIZE       0x2000UL
#define TARGET_LO       0x0800UL    /* targets in [DATA + LO, DATA + HI): margins for strings and BT */
#define TARGET_HI       0x1800UL

struct cpu_state {
    uint64_t gpr[16];
    uint64_t rflags;
    uint64_t pad;
    uint8_t xmm[16][16];
};

struct native_area {
    struct cpu_state in, out;
};

static struct {
    uint8_t *arena;
    uintptr_t base;
    sigjmp_buf jmp;
    volatile sig_atomic_t armed;
    int sig;
} nat;

static void native_signal(int sig)
{
    if (!nat.armed)
        abort();
    nat.sig = sig;
    siglongjmp(nat.jmp, 1);
}

static int native_setup(void **state)
{
    (void)state;
    static const uintptr_t candidates[] = { 0x50000000, 0x58000000, 0x60000000, 0x68000000, 0x3f000000 };
    for (size_t i = 0; i < ARRAY_SIZE(candidates) && !nat.arena; i++) {
        void *p = mmap((void *)candidates[i], ARENA_SIZE, PROT_READ | PROT_WRITE | PROT_EXEC,
                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
        if (p != MAP_FAILED && (uintptr_t)p == candidates[i])
            nat.arena = p;
        else if (p != MAP_FAILED)
            munmap(p, ARENA_SIZE);
    }
    if (nat.arena)
        nat.base = (uintptr_t)nat.arena;
    struct sigaction sa = { .sa_handler = native_signal };
    sigemptyset(&sa.sa_mask);
    sigaction(SIGSEGV, &sa, NULL);
    sigaction(SIGBUS, &sa, NULL);
    sigaction(SIGILL, &sa, NULL);
    sigaction(SIGFPE, &sa, NULL);
    return 0;
}

static int native_teardown(void **state)
{
    (void)state;
    if (nat.arena)
        munmap(nat.arena, ARENA_SIZE);
    nat.arena = NULL;
    signal(SIGSEGV, SIG_DFL);
    signal(SIGBUS, SIG_DFL);
    signal(SIGILL, SIG_DFL);
    signal(SIGFPE, SIG_DFL);
    return 0;
}

static struct native_area *area(void)
{
    return (struct native_area *)(nat.arena + STATE_OFF);
}

/* Code emission: every stub access uses [disp32] absolute addressing
 * (ModRM mod=00 rm=100, SIB base=101 index=100), so it needs no register. */
struct emitter {
    uint8_t *p;
    size_t n;
};

static void emit(struct emitter *e, const uint8_t *b, size_t n)
{
    memcpy(e->p + e->n, b, n);
    e->n += n;
}

static void emit_abs(struct emitter *e, const uint8_t *op, size_t nop, unsigned reg, uintptr_t addr)
{
    emit(e, op, nop);
    uint8_t tail[6] = { (uint8_t)(((reg & 7) << 3) | 4), 0x25 };
    uint32_t a = (uint32_t)addr;
    memcpy(tail + 2, &a, 4);
    emit(e, tail, 6);
}

static void emit_gpr(struct emitter *e, bool store, unsigned reg, uintptr_t addr)
{
    uint8_t op[2] = { (uint8_t)(0x48 | (reg >= 8 ? 4 : 0)), store ? 0x89 : 0x8B };
    emit_abs(e, op, 2, reg, addr);
}

static void emit_xmm(struct emitter *e, bool store, unsigned reg, uintptr_t addr)
{
    uint8_t op[4];
    size_t n = 0;
    op[n++] = 0xF3;
    if (reg >= 8)
        op[n++] = 0x44;
    op[n++] = 0x0F;
    op[n++] = store ? 0x7F : 0x6F;
    emit_abs(e, op, n, reg, addr);
}

static const uint8_t push_callee_saved[] = { 0x53, 0x55, 0x41, 0x54, 0x41, 0x55, 0x41, 0x56, 0x41, 0x57 };
static const uint8_t pop_callee_saved[] = { 0x41, 0x5F, 0x41, 0x5E, 0x41, 0x5D, 0x41, 0x5C, 0x5D, 0x5B, 0xC3 };

/* Prologue: save callee-saved registers, load XMM, RFLAGS and every GPR but
 * RSP from area()->in.  Returns its length (fixed). */
static size_t emit_prologue(struct emitter *e)
{
    struct native_area *a = area();
    emit(e, push_callee_saved, sizeof(push_callee_saved));
    for (unsigned x = 0; x < 16; x++)
        emit_xmm(e, false, x, (uintptr_t)a->in.xmm[x]);
    const uint8_t push_m[] = { 0xFF };
    emit_abs(e, push_m, 1, 6, (uintptr_t)&a->in.rflags);       /* push qword [in.rflags] */
    const uint8_t popfq = 0x9D;
    emit(e, &popfq, 1);
    for (unsigned g = 0; g < 16; g++)
        if (g != RSP)
            emit_gpr(e, false, g, (uintptr_t)&a->in.gpr[g]);
    return e->n;
}

static void emit_epilogue(struct emitter *e)
{
    struct native_area *a = area();
    for (unsigned g = 0; g < 16; g++)
        if (g != RSP)
            emit_gpr(e, true, g, (uintptr_t)&a->out.gpr[g]);
    const uint8_t pushfq = 0x9C, cld = 0xFC, pop_m[] = { 0x8F };
    emit(e, &pushfq, 1);
    emit_abs(e, pop_m, 1, 0, (uintptr_t)&a->out.rflags);        /* pop qword [out.rflags] */
    emit(e, &cld, 1);
    for (unsigned x = 0; x < 16; x++)
        emit_xmm(e, true, x, (uintptr_t)a->out.xmm[x]);
    emit(e, pop_callee_saved, sizeof(pop_callee_saved));
}

static uintptr_t native_insn_address(void)
{
    uint8_t scratch[512];
    struct emitter e = { scratch, 0 };
    return nat.base + CODE_OFF + emit_prologue(&e);
}

/* Runs `bytes` on the CPU with `in`; returns false (with nat.sig) on a signal. */
static bool native_run(const uint8_t *bytes, size_t len, const struct cpu_state *in,
                       struct cpu_state *out)
{
    struct emitter e = { nat.arena + CODE_OFF, 0 };
    emit_prologue(&e);
    emit(&e, bytes, len);
    emit_epilogue(&e);
    area()->in = *in;
    memset(&area()->out, 0, sizeof(area()->out));
    void (*fn)(void) = (void (*)(void))(void *)(nat.arena + CODE_OFF);
    nat.sig = 0;
    if (sigsetjmp(nat.jmp, 1)) {
        nat.armed = 0;
        return false;
    }
    nat.armed = 1;
    fn();
    nat.armed = 0;
    *out = area()->out;
    return true;
}

/* The emulator's view of the same machine: memory is a shadow of the data area. */
static bool emulate_on_shadow(const struct x86_insn *insn, struct cpu_state *st, uint64_t rip,
                              uint8_t *shadow, enum x86_emu_result *res)
{
    struct fakemem m = { .base = nat.base + DATA_OFF, .size = DATA_SIZE, .mem = shadow };
    memcpy(m.xmm, st->xmm, sizeof(m.xmm));
    struct x86_regs r = { .rip = rip, .rflags = st->rflags };
    memcpy(r.gpr, st->gpr, sizeof(r.gpr));
    *res = x86_emulate(insn, M64, &r, &fm_ops, &m, 0);
    memcpy(st->gpr, r.gpr, sizeof(r.gpr));
    st->rflags = r.rflags;
    memcpy(st->xmm, m.xmm, sizeof(m.xmm));
    return *res == X86_EMU_OK && r.rip == rip + insn->len;
}

/* Flags the SDM leaves undefined after the instruction. */
static uint64_t undefined_flags(const struct x86_insn *insn)
{
    switch (insn->mnemonic) {
    case X86_MN_AND: case X86_MN_OR: case X86_MN_XOR: case X86_MN_TEST:
        return AF;
    case X86_MN_BT: case X86_MN_BTS: case X86_MN_BTR: case X86_MN_BTC:
        return OF | SF | AF | PF;
    default:
        return 0;
    }
}

static bool uses_gpr(unsigned reg, unsigned size, const struct x86_insn *in, unsigned which)
{
    /* A byte operand 4-7 without REX is AH..BH, not SPL..DIL. */
    return which == reg && !(size == 1 && in->rex == 0);
}

/* The instruction must not touch RSP (the stub runs on the host stack). */
static bool touches_rsp(const struct x86_insn *in)
{
    bool gpr_reg = in->form == X86_FORM_E_G || in->form == X86_FORM_G_E;
    bool gpr_rm = !in->has_mem && (in->form == X86_FORM_E_G || in->form == X86_FORM_G_E ||
                                   in->form == X86_FORM_E_I || in->form == X86_FORM_E ||
                                   in->form == X86_FORM_X_GM || in->form == X86_FORM_GM_X);
    if (gpr_reg && uses_gpr(RSP, in->opsize, in, in->reg))
        return true;
    if (gpr_rm && uses_gpr(RSP, in->memsize, in, in->rm))
        return true;
    return in->base_reg == RSP || in->index_reg == RSP;
}

struct nstats {
    unsigned long runs[X86_MN_COUNT];
    const char *names[X86_MN_COUNT];
    unsigned long generated, refused, unsafe;
};

static void fill_random(uint64_t *rng, uint8_t *p, size_t n)
{
    for (size_t i = 0; i + 8 <= n; i += 8) {
        uint64_t v = rng_next(rng);
        memcpy(p + i, &v, 8);
    }
}

/* Patches the displacement (or moffs) of `b` so that it equals `v`. */
static void patch_disp(uint8_t *b, const struct x86_insn *in, uint64_t v)
{
    size_t at = in->len - in->imm_size - in->disp_size;
    memcpy(b + at, &v, in->disp_size);
}

/*
 * Points the memory operand at `target` by choosing base/index register
 * values or patching the displacement; false when that is not possible
 * without clobbering another operand.
 */
static bool steer(uint64_t *rng, uint8_t *b, struct x86_insn *in, struct cpu_state *st,
                  uint64_t target, uintptr_t rip)
{
    uint64_t amask = in->addrsize == 8 ? ~0ULL : 0xFFFFFFFFULL;
    uint64_t junk = in->addrsize == 8 ? 0 : rng_next(rng) & ~amask;
    if (in->rip_relative) {
        patch_disp(b, in, target - (rip + in->len));
    } else if (in->base_reg == NOREG && in->index_reg == NOREG) {
        patch_disp(b, in, target);
    } else if (in->base_reg != NOREG && in->base_reg != in->index_reg) {
        uint64_t idx = in->index_reg == NOREG ? 0 : st->gpr[in->index_reg] * in->scale;
        st->gpr[in->base_reg] = ((target - in->disp - idx) & amask) | junk;
    } else {
        uint64_t factor = in->scale + (in->base_reg == NOREG ? 0 : 1);
        uint64_t d = (target - in->disp) & amask;
        if (d % factor)
            return false;
        st->gpr[in->index_reg] = (d / factor) | junk;
    }
    if (in->rip_relative || (in->base_reg == NOREG && in->index_reg == NOREG))
        return x86_decode(b, in->len, M64, in, NULL) == 0;
    return true;
}

/* Opcode templates for the generator: mandatory prefix, REX bits, opcode, ModRM.reg. */
struct ntemplate {
    uint8_t prefix, rex;
    bool op0f;
    uint8_t opcode;
    int reg;                /* -1: random */
};

static const struct ntemplate ntemplates[] = {
    { 0, 0, true, 0xAE, 7 }, { 0x66, 0, true, 0xAE, 7 },
    { 0x66, 0, true, 0x6E, -1 }, { 0x66, 0x48, true, 0x6E, -1 }, { 0x66, 0, true, 0x7E, -1 },
    { 0x66, 0x48, true, 0x7E, -1 }, { 0xF3, 0, true, 0x7E, -1 }, { 0x66, 0, true, 0xD6, -1 },
    { 0x66, 0, true, 0x6F, -1 }, { 0x66, 0, true, 0x7F, -1 }, { 0xF3, 0, true, 0x6F, -1 },
    { 0xF3, 0, true, 0x7F, -1 }, { 0, 0, true, 0x28, -1 }, { 0, 0, true, 0x29, -1 },
    { 0, 0, true, 0x10, -1 }, { 0, 0, true, 0x11, -1 }, { 0, 0, true, 0xC3, -1 },
    { 0, 0, true, 0xBA, 4 }, { 0, 0, true, 0xBA, 5 }, { 0, 0, true, 0xBA, 6 }, { 0, 0, true, 0xBA, 7 },
    { 0, 0, true, 0xB0, -1 }, { 0, 0, true, 0xB1, -1 },
    { 0, 0, false, 0xF6, 0 }, { 0, 0, false, 0xF7, 0 }, { 0, 0, false, 0xF6, 2 },
    { 0, 0, false, 0xF7, 2 }, { 0, 0, false, 0xF6, 3 }, { 0, 0, false, 0xF7, 3 },
    { 0, 0, false, 0xFE, 0 }, { 0, 0, false, 0xFF, 0 }, { 0, 0, false, 0xFE, 1 },
    { 0, 0, false, 0xFF, 1 }, { 0, 0, false, 0xC6, 0 }, { 0, 0, false, 0xC7, 0 },
    { 0, 0x48, false, 0x63, -1 }, { 0xF3, 0, false, 0xA4, -1 }, { 0xF3, 0, false, 0xA5, -1 },
    { 0xF3, 0, false, 0xAA, -1 }, { 0xF3, 0, false, 0xAB, -1 }, { 0xF3, 0, false, 0xAC, -1 },
    { 0xF3, 0, false, 0xAD, -1 },
};

static bool native_case(uint64_t *rng, struct nstats *ns, uint8_t *shadow)
{
    uint8_t b[40];
    size_t n = 0;
    ns->generated++;

    /* prefixes in random order, an optional REX, a supported opcode (half of
     * the time from templates that reach every group and mandatory-prefix
     * slot), random ModRM/SIB/displacement/immediate bytes */
    uint8_t pfx[6];
    size_t np = 0;
    if (rng_below(rng, 4) == 0) pfx[np++] = 0x66;
    if (rng_below(rng, 5) == 0) pfx[np++] = 0x67;
    if (rng_below(rng, 6) == 0) pfx[np++] = 0xF0;
    if (rng_below(rng, 6) == 0) pfx[np++] = 0xF3;
    const struct ntemplate *t = NULL;
    if (rng_below(rng, 2)) {
        t = &ntemplates[rng_below(rng, ARRAY_SIZE(ntemplates))];
        if (t->prefix)
            pfx[np++] = t->prefix;
    }
    for (size_t i = np; i > 1; i--) {
        size_t j = rng_below(rng, i);
        uint8_t tmp = pfx[i - 1];
        pfx[i - 1] = pfx[j];
        pfx[j] = tmp;
    }
    memcpy(b, pfx, np);
    n = np;
    if (t && t->rex)
        b[n++] = (uint8_t)(t->rex | rng_below(rng, 8));
    else if (rng_below(rng, 2))
        b[n++] = (uint8_t)(0x40 + rng_below(rng, 16));
    if (t) {
        if (t->op0f)
            b[n++] = 0x0F;
        b[n++] = t->opcode;
        uint8_t modrm = (uint8_t)rng_next(rng);
        if (t->reg >= 0)
            modrm = (uint8_t)((modrm & ~0x38) | (t->reg << 3));
        b[n++] = modrm;
    } else if (rng_below(rng, 3) == 0) {
        b[n++] = 0x0F;
        b[n++] = x86_supported_0f[rng_below(rng, ARRAY_SIZE(x86_supported_0f))];
    } else {
        b[n++] = x86_supported_1byte[rng_below(rng, ARRAY_SIZE(x86_supported_1byte))];
    }
    while (n < 24)
        b[n++] = (uint8_t)rng_next(rng);

    struct x86_insn in;
    if (x86_decode(b, 15, M64, &in, NULL)) {
        ns->refused++;
        return false;
    }
    if (in.seg == X86_SEG_FS || in.seg == X86_SEG_GS || touches_rsp(&in)) {
        ns->unsafe++;
        return false;
    }

    /* machine state */
    struct cpu_state st;
    for (unsigned g = 0; g < 16; g++)
        st.gpr[g] = biased(rng);
    st.gpr[RSP] = 0;
    st.rflags = RFLAGS_FIXED | (rng_next(rng) & ARITH) | (rng_below(rng, 2) ? DF : 0);
    st.pad = 0;
    fill_random(rng, &st.xmm[0][0], sizeof(st.xmm));
    fill_random(rng, nat.arena + DATA_OFF, DATA_SIZE);

    uintptr_t rip = native_insn_address();
    uint64_t data = nat.base + DATA_OFF;
    uint64_t target = data + TARGET_LO + rng_below(rng, TARGET_HI - TARGET_LO);
    if (in.mnemonic == X86_MN_MOVDQA || in.mnemonic == X86_MN_MOVAPS)
        target &= ~15ULL;

    if (in.form == X86_FORM_STRING) {
        uint64_t amask = in.addrsize == 8 ? ~0ULL : 0xFFFFFFFFULL;
        uint64_t junk = amask == ~0ULL ? 0 : rng_next(rng) & ~amask;
        st.gpr[RSI] = target | junk;
        st.gpr[RDI] = (data + TARGET_LO + rng_below(rng, TARGET_HI - TARGET_LO)) | junk;
        if (in.rep)
            st.gpr[RCX] = rng_below(rng, 13) | (rng_next(rng) & ~amask);
    } else if (in.has_mem) {
        /* BT with a register offset: a small signed bit offset */
        if (in.mnemonic >= X86_MN_BT && in.mnemonic <= X86_MN_BTC && in.form == X86_FORM_E_G) {
            if (in.reg == in.base_reg || in.reg == in.index_reg) {
                ns->unsafe++;
                return false;
            }
            uint64_t m = in.opsize == 8 ? ~0ULL : (1ULL << (8 * in.opsize)) - 1;
            uint64_t off = (uint64_t)((int64_t)rng_below(rng, 1024) - 512);
            st.gpr[in.reg] = (st.gpr[in.reg] & ~m) | (off & m);
        }
        if (!steer(rng, b, &in, &st, target, rip)) {
            ns->unsafe++;
            return false;
        }
        uint64_t interesting_v = biased(rng);
        memcpy(nat.arena + (target - nat.base), &interesting_v, 8);
        if (in.mnemonic == X86_MN_CMPXCHG && rng_below(rng, 2))
            memcpy(nat.arena + (target - nat.base), &st.gpr[RAX], in.opsize);
    } else if (in.mnemonic == X86_MN_CMPXCHG && rng_below(rng, 2)) {
        st.gpr[in.rm] = st.gpr[RAX];
    }

    /* emulator first, on a shadow of the data */
    struct cpu_state emu = st, cpu;
    memcpy(shadow, nat.arena + DATA_OFF, DATA_SIZE);
    enum x86_emu_result res;
    char hex[64];
    hex_string(b, in.len, hex, sizeof(hex));
    if (!emulate_on_shadow(&in, &emu, rip, shadow, &res))
        fail_msg("%s (%s): emulator result %d (memory operand not where the test put it?)", hex,
                 in.name, res);
    if (!native_run(b, in.len, &st, &cpu))
        fail_msg("%s (%s): signal %d when run natively", hex, in.name, nat.sig);

    uint64_t flags_mask = (ARITH & ~undefined_flags(&in)) | DF;
    for (unsigned g = 0; g < 16; g++)
        if (g != RSP && emu.gpr[g] != cpu.gpr[g])
            fail_msg("%s (%s): %s = %#llx, CPU %#llx (was %#llx)", hex, in.name, gpr_name(g, 8, true),
                     (unsigned long long)emu.gpr[g], (unsigned long long)cpu.gpr[g],
                     (unsigned long long)st.gpr[g]);
    if ((emu.rflags & flags_mask) != (cpu.rflags & flags_mask))
        fail_msg("%s (%s): rflags %#llx, CPU %#llx (was %#llx, compared %#llx)", hex, in.name,
                 (unsigned long long)emu.rflags, (unsigned long long)cpu.rflags,
                 (unsigned long long)st.rflags, (unsigned long long)flags_mask);
    if (memcmp(emu.xmm, cpu.xmm, sizeof(emu.xmm)))
        fail_msg("%s (%s): XMM registers differ", hex, in.name);
    if (memcmp(shadow, nat.arena + DATA_OFF, DATA_SIZE)) {
        size_t at = 0;
        while (shadow[at] == nat.arena[DATA_OFF + at])
            at++;
        fail_msg("%s (%s): memory differs at data+%#zx: %02x, CPU %02x", hex, in.name, at,
                 shadow[at], nat.arena[DATA_OFF + at]);
    }
    ns->runs[in.mnemonic]++;
    ns->names[in.mnemonic] = in.name;
    return true;
}

#define NATIVE_CASES    40000

static void test_native_random(void **state)
{
    (void)state;
    if (!nat.arena) {
        print_message("no executable arena below 2 GiB: native comparison skipped\n");
        skip();
    }
    struct nstats ns = { 0 };
    uint8_t *shadow = malloc(DATA_SIZE);
    assert_non_null(shadow);
    uint64_t rng = 0xC0FFEE1234ULL;
    unsigned long done = 0;
    while (done < NATIVE_CASES)
        done += native_case(&rng, &ns, shadow);
    free(shadow);

    char line[2048];
    size_t at = 0;
    for (unsigned mn = 1; mn < X86_MN_COUNT; mn++) {
        if (ns.runs[mn] < 100)
            fail_msg("only %lu native runs of mnemonic %u (%s)", ns.runs[mn], mn,
                     ns.names[mn] ? ns.names[mn] : "never generated");
        at += (size_t)snprintf(line + at, sizeof(line) - at, " %s:%lu", ns.names[mn], ns.runs[mn]);
    }
    print_message("native comparison: %lu instructions run on the CPU and emulated, all equal "
                  "(%lu generated, %lu refused by the decoder, %lu not runnable here: FS/GS, RSP)\n"
                  " per mnemonic:%s\n",
                  done, ns.generated, ns.refused, ns.unsafe, line);
}

/* 8-bit ALU operations on every operand pair, on the CPU and in the emulator. */
static void test_native_alu8_exhaustive(void **state)
{
    (void)state;
    if (!nat.arena)
        skip();
    unsigned long n = 0;
    for (int op = A_ADD; op <= A_DEC; op++) {
        uint8_t enc[4];
        size_t len = alu_encoding((enum aluop)op, 8, enc);
        struct x86_insn in;
        assert_int_equal(x86_decode(enc, len, M64, &in, NULL), 0);
        uintptr_t rip = native_insn_address();
        uint64_t undefined = undefined_flags(&in);
        for (unsigned a = 0; a < 256; a++)
            for (unsigned b = 0; b < 256; b++)
                for (int cin = 0; cin < 2; cin++) {
                    if (op >= A_NEG && b > 1)
                        continue;
                    struct cpu_state st = { .gpr = { [RAX] = 0x1111111111111100ULL | a,
                                                     [RCX] = 0x2222222222222200ULL | b },
                                            .rflags = RFLAGS_FIXED | (cin ? CF : 0) | (b & 1 ? OF | ZF : 0) };
                    struct cpu_state emu = st, cpu;
                    enum x86_emu_result res;
                    assert_true(emulate_on_shadow(&in, &emu, rip, NULL, &res));
                    assert_true(native_run(enc, len, &st, &cpu));
                    uint64_t cmp = (ARITH & ~undefined) | DF;
                    if (emu.gpr[RAX] != cpu.gpr[RAX] || (emu.rflags & cmp) != (cpu.rflags & cmp))
                        fail_msg("op %d a %#x b %#x cf %d: al %#llx flags %#llx, CPU al %#llx flags %#llx",
                                 op, a, b, cin, (unsigned long long)emu.gpr[RAX],
                                 (unsigned long long)emu.rflags, (unsigned long long)cpu.gpr[RAX],
                                 (unsigned long long)cpu.rflags);
                    n++;
                }
    }
    print_message("native 8-bit ALU: %lu operand combinations equal to the CPU\n", n);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_alu_8bit_exhaustive),
        cmocka_unit_test(test_alu_wide_random),
        cmocka_unit_test(test_register_widths),
        cmocka_unit_test(test_mov_forms_and_accesses),
        cmocka_unit_test(test_effective_addresses),
        cmocka_unit_test(test_rip_advance),
        cmocka_unit_test(test_rmw_accesses),
        cmocka_unit_test(test_cmpxchg),
        cmocka_unit_test(test_bt),
        cmocka_unit_test(test_string_basic),
        cmocka_unit_test(test_string_address_size),
        cmocka_unit_test(test_string_restart_and_faults),
        cmocka_unit_test(test_sse),
        cmocka_unit_test(test_clflush),
        cmocka_unit_test(test_bad_arguments),
        cmocka_unit_test_setup_teardown(test_native_alu8_exhaustive, native_setup, native_teardown),
        cmocka_unit_test_setup_teardown(test_native_random, native_setup, native_teardown),
    };
    return cmocka_run_group_tests_name("x86_emulate", tests, NULL, NULL);
}
