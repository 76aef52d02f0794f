/*
 * libFuzzer target for the MMIO instruction decoder and emulator
 * (kernel/devices/x86_decode.c, x86_emulate.c).  Build and run with
 * `make -C tests/fuzz` (clang -fsanitize=fuzzer,address,undefined).
 *
 * Input layout: byte 0 = CPU mode (bits 1:0), REP iteration bound (bits 5:2),
 * fault pattern (bits 7:6); bytes 1-3 seed the register file; the rest are
 * the instruction bytes, handed to the decoder in their own exact-size heap
 * buffer so that AddressSanitizer sees any read past them.
 *
 * Memory is a 4 KiB window at offset 0x1000 of every segment; accesses
 * outside it fault, and, per the fault pattern, so do accesses to some
 * offsets inside it or every access after the first few.
 *
 * Invariants (a violation aborts, which libFuzzer reports as a crash):
 *  - decode: len in 1..15 and within the input; sizes and mnemonic sane;
 *    decoding exactly the first len bytes gives the same instruction; a
 *    refusal comes with a reason;
 *  - emulate: an accepted instruction is never UNSUPPORTED (all callbacks
 *    are provided); OK advances RIP by len (wrapped to the mode's IP width);
 *    RESTART only for REP string instructions, with RIP unchanged; FAULT
 *    leaves the registers as they were except for completed REP iterations;
 *    every callback gets a valid size and a buffer within bounds.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <hv/x86_emulate.h>

#define CHECK(c)    do { if (!(c)) __builtin_trap(); } while (0)

#define CTRL_BYTES      4
#define WINDOW_BASE     0x1000ULL
#define WINDOW_SIZE     0x1000ULL
#define FAULT_EVERY_N   3

struct fuzzmem {
    uint8_t mem[WINDOW_SIZE];
    uint8_t xmm[16][16];
    unsigned pattern;           /* 0: window only, 1: + offsets with bit 9 set, 2: + after 3 accesses, 3: all fault */
    unsigned accesses;
};

static bool valid_size(unsigned size)
{
    return size == 1 || size == 2 || size == 4 || size == 8 || size == 16;
}

static bool faults(struct fuzzmem *m, uint64_t off, unsigned size)
{
    m->accesses++;
    if (off < WINDOW_BASE || off - WINDOW_BASE > WINDOW_SIZE - size)
        return true;
    switch (m->pattern) {
    case 1: return (off & 0x200) != 0;
    case 2: return m->accesses > FAULT_EVERY_N;
    case 3: return true;
    default: return false;
    }
}

static int fz_read(void *ctx, enum x86_seg seg, uint64_t off, void *buf, unsigned size)
{
    struct fuzzmem *m = ctx;
    CHECK(valid_size(size) && buf && seg <= X86_SEG_GS);
    if (faults(m, off, size))
        return -1;
    memcpy(buf, m->mem + (off - WINDOW_BASE), size);
    return 0;
}

static int fz_write(void *ctx, enum x86_seg seg, uint64_t off, const void *buf, unsigned size)
{
    struct fuzzmem *m = ctx;
    CHECK(valid_size(size) && buf && seg <= X86_SEG_GS);
    if (faults(m, off, size))
        return -1;
    memcpy(m->mem + (off - WINDOW_BASE), buf, size);
    return 0;
}

static int fz_read_xmm(void *ctx, unsigned reg, void *buf16)
{
    struct fuzzmem *m = ctx;
    CHECK(reg < 16 && buf16);
    memcpy(buf16, m->xmm[reg], 16);
    return 0;
}

static int fz_write_xmm(void *ctx, unsigned reg, const void *buf16)
{
    struct fuzzmem *m = ctx;
    CHECK(reg < 16 && buf16);
    memcpy(m->xmm[reg], buf16, 16);
    return 0;
}

static void fz_flush(void *ctx, enum x86_seg seg, uint64_t off)
{
    (void)ctx;
    (void)off;
    CHECK(seg <= X86_SEG_GS);
}

static const struct x86_emu_ops fz_ops = {
    .read = fz_read, .write = fz_write, .read_xmm = fz_read_xmm, .write_xmm = fz_write_xmm,
    .flush = fz_flush,
};

static uint64_t splitmix(uint64_t *s)
{
    uint64_t z = (*s += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

/* Registers: mostly addresses in or near the window, some arbitrary. */
static void make_regs(struct x86_regs *r, uint32_t seed, enum x86_cpu_mode mode)
{
    uint64_t s = seed;
    for (unsigned i = 0; i < 16; i++) {
        uint64_t v = splitmix(&s);
        switch (v & 3) {
        case 0: r->gpr[i] = WINDOW_BASE + ((v >> 8) & (WINDOW_SIZE - 1)); break;
        case 1: r->gpr[i] = (v >> 8) & 0x1F; break;      /* small counts and bit offsets */
        case 2: r->gpr[i] = v; break;
        default: r->gpr[i] = (uint64_t)-(int64_t)((v >> 8) & 0xFF); break;
        }
    }
    uint64_t v = splitmix(&s);
    r->rip = mode == X86_MODE_LONG64 ? v : v & 0xFFFF;
    r->rflags = 0x2 | (v & (X86_ARITH_FLAGS | X86_FLAG_DF));
}

static uint64_t ip_mask(enum x86_cpu_mode mode)
{
    return mode == X86_MODE_LONG64 ? ~0ULL : mode == X86_MODE_PROT32 ? 0xFFFFFFFFULL : 0xFFFFULL;
}

static void check_decoded(const struct x86_insn *in, size_t n)
{
    CHECK(in->len >= 1 && in->len <= X86_MAX_INSN_LEN && in->len <= n);
    CHECK(in->opsize == 1 || in->opsize == 2 || in->opsize == 4 || in->opsize == 8 || in->opsize == 16);
    CHECK(in->addrsize == 2 || in->addrsize == 4 || in->addrsize == 8);
    CHECK(in->mnemonic > X86_MN_INVALID && in->mnemonic < X86_MN_COUNT && in->name);
    CHECK(in->memsize >= 1 && in->memsize <= 16);
    CHECK(in->has_mem == (in->seg != X86_SEG_NONE));
    CHECK(in->base_reg < 16 || in->base_reg == X86_REG_NONE);
    CHECK(in->index_reg < 16 || in->index_reg == X86_REG_NONE);
    CHECK(!in->has_mem || in->scale == 1 || in->scale == 2 || in->scale == 4 || in->scale == 8);
    CHECK(in->reg < 16 && in->rm < 16);
    CHECK(in->rep == 0 || in->form == X86_FORM_STRING);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < CTRL_BYTES)
        return 0;
    enum x86_cpu_mode mode = (enum x86_cpu_mode)(data[0] & 3);
    uint64_t max_iterations = 1 + ((data[0] >> 2) & 0xF);
    uint32_t seed = (uint32_t)data[1] | (uint32_t)data[2] << 8 | (uint32_t)data[3] << 16;
    size_t n = size - CTRL_BYTES;
    uint8_t *bytes = malloc(n ? n : 1);
    CHECK(bytes);
    memcpy(bytes, data + CTRL_BYTES, n);

    struct x86_insn in;
    const char *why = NULL;
    if (x86_decode(bytes, n, mode, &in, &why)) {
        CHECK(why && in.len == 0 && in.mnemonic == X86_MN_INVALID);
        free(bytes);
        return 0;
    }
    check_decoded(&in, n);

    /* The instruction alone decodes the same; any shorter prefix of it is refused. */
    struct x86_insn again;
    CHECK(x86_decode(bytes, in.len, mode, &again, NULL) == 0);
    CHECK(memcmp(&in, &again, sizeof(in)) == 0);
    CHECK(x86_decode(bytes, in.len - 1u, mode, &again, &why) != 0 && why);
    free(bytes);

    static struct fuzzmem m;
    memset(&m, 0, sizeof(m));
    m.pattern = data[0] >> 6;
    for (unsigned i = 0; i < WINDOW_SIZE; i++)
        m.mem[i] = (uint8_t)(i * 37 + seed);
    struct x86_regs r, before;
    make_regs(&r, seed, mode);
    before = r;

    enum x86_emu_result res = x86_emulate(&in, mode, &r, &fz_ops, &m, max_iterations);
    bool rep = in.form == X86_FORM_STRING && in.rep;
    switch (res) {
    case X86_EMU_OK:
        CHECK(r.rip == ((before.rip + in.len) & ip_mask(mode)));
        break;
    case X86_EMU_RESTART:
        CHECK(rep && r.rip == before.rip);
        break;
    case X86_EMU_FAULT:
        CHECK(r.rip == before.rip);
        if (!rep)
            CHECK(memcmp(&r, &before, sizeof(r)) == 0);
        break;
    default:
        CHECK(0);   /* decoded, all callbacks present: must be emulated */
    }
    CHECK((r.rflags & ~(uint64_t)X86_ARITH_FLAGS) == (before.rflags & ~(uint64_t)X86_ARITH_FLAGS));
    return 0;
}
