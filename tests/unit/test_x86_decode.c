/*
 * kernel/devices/x86_decode.c: the MMIO instruction decoder.
 *
 * 1. A table of encodings (per instruction, operand size, address size,
 *    addressing form, prefix rule and CPU mode) with the expected length,
 *    sizes, segment, effective-address components and immediate, worked out
 *    by hand from SDM Vol. 2A, chapter 2 and the instruction pages.
 * 2. A table of byte strings the decoder must refuse, with the reason.
 * 3. A differential test against Capstone: every table encoding plus a few
 *    hundred thousand random, structured-random and mutated byte strings
 *    (deterministic seed).  Whenever the decoder accepts, Capstone must
 *    decode the same bytes to the same length, mnemonic, operands (register
 *    names, memory base/index/scale/displacement/segment/size, immediates).
 *    The decoder may refuse what Capstone accepts, never the reverse.
 *
 * Every input is handed to the decoder in an exact-size heap copy, so
 * AddressSanitizer catches any read past the bytes it was given.
 */
/* Capstone's x86.h names its instruction-ID enum x86_insn, like the decoder's
 * struct; the enum is not used here, so it is renamed away. */
#define x86_insn capstone_x86_insn_id
#include <capstone/capstone.h>
#undef x86_insn
#include "x86_test_util.h"

#define M16     X86_MODE_REAL
#define P16     X86_MODE_PROT16
#define M32     X86_MODE_PROT32
#define M64     X86_MODE_LONG64

static int decode_exact(const uint8_t *bytes, size_t len, enum x86_cpu_mode mode,
                        struct x86_insn *insn, const char **why)
{
    void *copy = exact_copy(bytes, len);
    int r = x86_decode(copy, len, mode, insn, why);
    free(copy);
    return r;
}

/* ---- 1. the encoding table -------------------------------------------------- */

struct dcase {
    enum x86_cpu_mode mode;
    const char *hex;
    const char *name;
    uint8_t len, opsize, addrsize;
    bool mem;
    enum x86_seg seg;
    uint8_t base, index, scale;
    uint64_t disp;
    bool riprel;
    bool has_imm;
    uint64_t imm;
    int reg1;               /* ModRM.reg (with REX.R) + 1, 0 = not checked */
    uint8_t memsize;        /* 0 = same as opsize */
    bool lock;
    uint8_t rep;
};

#define MEM(s, b, i, sc, d) .mem = true, .seg = X86_SEG_##s, .base = (b), .index = (i), \
                            .scale = (sc), .disp = (uint64_t)(int64_t)(d)
#define RIP(d)              .mem = true, .seg = X86_SEG_DS, .base = NOREG, .index = NOREG, \
                            .scale = 1, .disp = (uint64_t)(int64_t)(d), .riprel = true
#define NOMEM               .mem = false
#define IMM(v)              .has_imm = true, .imm = (uint64_t)(int64_t)(v)
#define REG(r)              .reg1 = (r) + 1
#define SIZES(l, o, a)      .len = (l), .opsize = (o), .addrsize = (a)

static const struct dcase dcases[] = {
    /* MOV, and ModRM/SIB addressing forms (SDM Vol. 2A, Tables 2-2, 2-3) */
    { M64, "89 08", "mov", SIZES(2, 4, 8), MEM(DS, RAX, NOREG, 1, 0), REG(RCX) },
    { M64, "48 89 08", "mov", SIZES(3, 8, 8), MEM(DS, RAX, NOREG, 1, 0), REG(RCX) },
    { M64, "66 89 08", "mov", SIZES(3, 2, 8), MEM(DS, RAX, NOREG, 1, 0), REG(RCX) },
    { M64, "88 08", "mov", SIZES(2, 1, 8), MEM(DS, RAX, NOREG, 1, 0), REG(RCX) },
    { M64, "8b 45 08", "mov", SIZES(3, 4, 8), MEM(SS, RBP, NOREG, 1, 8), REG(RAX) },
    { M64, "8b 44 24 10", "mov", SIZES(4, 4, 8), MEM(SS, RSP, NOREG, 1, 0x10) },
    { M64, "8b 04 8d 00 10 00 00", "mov", SIZES(7, 4, 8), MEM(DS, NOREG, RCX, 4, 0x1000) },
    { M64, "8b 84 c8 f0 ff ff ff", "mov", SIZES(7, 4, 8), MEM(DS, RAX, RCX, 8, -16) },
    { M64, "8b 4c 5e 80", "mov", SIZES(4, 4, 8), MEM(DS, RSI, RBX, 2, -128), REG(RCX) },
    { M64, "8b 05 10 00 00 00", "mov", SIZES(6, 4, 8), RIP(0x10) },
    { M64, "48 8b 0d 00 00 00 80", "mov", SIZES(7, 8, 8), RIP(-0x80000000LL), REG(RCX) },
    { M64, "67 8b 05 10 00 00 00", "mov", SIZES(7, 4, 4), RIP(0x10) },
    { M64, "67 8b 00", "mov", SIZES(3, 4, 4), MEM(DS, RAX, NOREG, 1, 0) },
    { M64, "67 42 8b 04 ab", "mov", SIZES(5, 4, 4), MEM(DS, RBX, R13, 4, 0) },
    { M64, "46 8b 04 ab", "mov", SIZES(4, 4, 8), MEM(DS, RBX, R13, 4, 0), REG(R8) },
    { M64, "41 8b 45 00", "mov", SIZES(4, 4, 8), MEM(DS, R13, NOREG, 1, 0) },
    { M64, "41 8b 04 24", "mov", SIZES(4, 4, 8), MEM(DS, R12, NOREG, 1, 0) },
    { M64, "42 8b 04 25 00 00 00 00", "mov", SIZES(8, 4, 8), MEM(DS, NOREG, R12, 1, 0) },
    { M64, "41 8b 04 25 44 33 22 11", "mov", SIZES(8, 4, 8), MEM(DS, NOREG, NOREG, 1, 0x11223344) },
    { M64, "8b 04 25 00 00 00 80", "mov", SIZES(7, 4, 8), MEM(DS, NOREG, NOREG, 1, -0x80000000LL) },
    { M64, "4d 8b bc 24 00 01 00 00", "mov", SIZES(8, 8, 8), MEM(DS, R12, NOREG, 1, 0x100), REG(R15) },
    { M64, "8b 04 64", "mov", SIZES(3, 4, 8), MEM(SS, RSP, NOREG, 1, 0) },
    { M64, "8b 44 65 f8", "mov", SIZES(4, 4, 8), MEM(SS, RBP, NOREG, 1, -8) },
    /* segment overrides: last wins; in 64-bit mode ES/CS/SS/DS are null prefixes */
    { M64, "64 8b 04 25 00 00 00 00", "mov", SIZES(8, 4, 8), MEM(FS, NOREG, NOREG, 1, 0) },
    { M64, "65 48 8b 03", "mov", SIZES(4, 8, 8), MEM(GS, RBX, NOREG, 1, 0) },
    { M64, "2e 8b 03", "mov", SIZES(3, 4, 8), MEM(DS, RBX, NOREG, 1, 0) },
    { M64, "36 8b 03", "mov", SIZES(3, 4, 8), MEM(DS, RBX, NOREG, 1, 0) },
    { M64, "3e 8b 45 00", "mov", SIZES(4, 4, 8), MEM(SS, RBP, NOREG, 1, 0) },
    { M64, "64 26 8b 03", "mov", SIZES(4, 4, 8), MEM(FS, RBX, NOREG, 1, 0) },
    { M64, "26 64 8b 03", "mov", SIZES(4, 4, 8), MEM(FS, RBX, NOREG, 1, 0) },
    { M64, "65 64 8b 03", "mov", SIZES(4, 4, 8), MEM(FS, RBX, NOREG, 1, 0) },
    { M32, "36 8b 03", "mov", SIZES(3, 4, 4), MEM(SS, RBX, NOREG, 1, 0) },
    { M32, "64 26 8b 03", "mov", SIZES(4, 4, 4), MEM(ES, RBX, NOREG, 1, 0) },
    { M32, "26 64 8b 03", "mov", SIZES(4, 4, 4), MEM(FS, RBX, NOREG, 1, 0) },
    { M32, "3e 8b 45 00", "mov", SIZES(4, 4, 4), MEM(DS, RBP, NOREG, 1, 0) },
    { M32, "2e 8b 44 24 04", "mov", SIZES(5, 4, 4), MEM(CS, RSP, NOREG, 1, 4) },
    { M32, "8b 05 00 10 00 00", "mov", SIZES(6, 4, 4), MEM(DS, NOREG, NOREG, 1, 0x1000) },
    { M32, "66 8b 4c 24 fc", "mov", SIZES(5, 2, 4), MEM(SS, RSP, NOREG, 1, -4), REG(RCX) },
    /* immediates */
    { M64, "c6 00 ff", "mov", SIZES(3, 1, 8), MEM(DS, RAX, NOREG, 1, 0), IMM(-1) },
    { M64, "c7 00 78 56 34 12", "mov", SIZES(6, 4, 8), MEM(DS, RAX, NOREG, 1, 0), IMM(0x12345678) },
    { M64, "48 c7 00 00 00 00 80", "mov", SIZES(7, 8, 8), MEM(DS, RAX, NOREG, 1, 0), IMM(-0x80000000LL) },
    { M64, "66 c7 00 34 12", "mov", SIZES(5, 2, 8), MEM(DS, RAX, NOREG, 1, 0), IMM(0x1234) },
    { M64, "c7 40 08 01 00 00 00", "mov", SIZES(7, 4, 8), MEM(DS, RAX, NOREG, 1, 8), IMM(1) },
    { M64, "c7 05 f6 ff ff ff 01 00 00 00", "mov", SIZES(10, 4, 8), RIP(-10), IMM(1) },
    { M64, "66 c7 05 00 01 00 00 ff 7f", "mov", SIZES(9, 2, 8), RIP(0x100), IMM(0x7fff) },
    /* byte registers: AH..BH without REX, SPL..DIL with any REX */
    { M64, "8a 24 11", "mov", SIZES(3, 1, 8), MEM(DS, RCX, RDX, 1, 0), REG(RSP) },
    { M64, "40 8a 24 11", "mov", SIZES(4, 1, 8), MEM(DS, RCX, RDX, 1, 0), REG(RSP) },
    { M64, "44 88 00", "mov", SIZES(3, 1, 8), MEM(DS, RAX, NOREG, 1, 0), REG(R8) },
    { M64, "88 e0", "mov", SIZES(2, 1, 8), NOMEM, REG(RSP) },
    /* moffs: address-size offsets (SDM Vol. 2A, MOV) */
    { M64, "a0 88 77 66 55 44 33 22 11", "mov", SIZES(9, 1, 8), MEM(DS, NOREG, NOREG, 1, 0x1122334455667788LL), REG(RAX) },
    { M64, "48 a1 f0 de bc 9a 78 56 34 12", "mov", SIZES(10, 8, 8), MEM(DS, NOREG, NOREG, 1, 0x123456789abcdef0LL) },
    { M64, "67 a3 44 33 22 11", "mov", SIZES(6, 4, 4), MEM(DS, NOREG, NOREG, 1, 0x11223344) },
    { M64, "67 a3 00 00 00 80", "mov", SIZES(6, 4, 4), MEM(DS, NOREG, NOREG, 1, 0x80000000ULL) },
    { M64, "64 a2 00 00 00 00 00 00 00 00", "mov", SIZES(10, 1, 8), MEM(FS, NOREG, NOREG, 1, 0) },
    { M64, "66 a3 08 00 00 00 00 00 00 00", "mov", SIZES(10, 2, 8), MEM(DS, NOREG, NOREG, 1, 8) },
    { M32, "a1 44 33 22 11", "mov", SIZES(5, 4, 4), MEM(DS, NOREG, NOREG, 1, 0x11223344) },
    { M32, "67 a1 34 12", "mov", SIZES(4, 4, 2), MEM(DS, NOREG, NOREG, 1, 0x1234) },
    { M16, "a1 34 12", "mov", SIZES(3, 2, 2), MEM(DS, NOREG, NOREG, 1, 0x1234) },
    { M16, "67 66 a1 44 33 22 11", "mov", SIZES(7, 4, 4), MEM(DS, NOREG, NOREG, 1, 0x11223344) },
    { M16, "26 a2 ff ff", "mov", SIZES(4, 1, 2), MEM(ES, NOREG, NOREG, 1, 0xffff) },
    /* 16-bit addressing (SDM Vol. 2A, Table 2-1) */
    { M16, "8b 00", "mov", SIZES(2, 2, 2), MEM(DS, RBX, RSI, 1, 0), REG(RAX) },
    { M16, "8b 09", "mov", SIZES(2, 2, 2), MEM(DS, RBX, RDI, 1, 0), REG(RCX) },
    { M16, "8b 02", "mov", SIZES(2, 2, 2), MEM(SS, RBP, RSI, 1, 0) },
    { M16, "8b 03", "mov", SIZES(2, 2, 2), MEM(SS, RBP, RDI, 1, 0) },
    { M16, "8b 04", "mov", SIZES(2, 2, 2), MEM(DS, RSI, NOREG, 1, 0) },
    { M16, "8b 05", "mov", SIZES(2, 2, 2), MEM(DS, RDI, NOREG, 1, 0) },
    { M16, "8b 06 34 12", "mov", SIZES(4, 2, 2), MEM(DS, NOREG, NOREG, 1, 0x1234) },
    { M16, "8b 07", "mov", SIZES(2, 2, 2), MEM(DS, RBX, NOREG, 1, 0) },
    { M16, "8b 46 fe", "mov", SIZES(3, 2, 2), MEM(SS, RBP, NOREG, 1, -2) },
    { M16, "8b 87 00 80", "mov", SIZES(4, 2, 2), MEM(DS, RBX, NOREG, 1, -0x8000) },
    { M16, "8b 42 7f", "mov", SIZES(3, 2, 2), MEM(SS, RBP, RSI, 1, 0x7f) },
    { M16, "26 8b 46 00", "mov", SIZES(4, 2, 2), MEM(ES, RBP, NOREG, 1, 0) },
    { M16, "3e 8b 46 00", "mov", SIZES(4, 2, 2), MEM(DS, RBP, NOREG, 1, 0) },
    { M16, "36 8b 07", "mov", SIZES(3, 2, 2), MEM(SS, RBX, NOREG, 1, 0) },
    { P16, "66 8b 00", "mov", SIZES(3, 4, 2), MEM(DS, RBX, RSI, 1, 0) },
    { M32, "67 8b 00", "mov", SIZES(3, 4, 2), MEM(DS, RBX, RSI, 1, 0) },
    { M32, "67 8b 46 10", "mov", SIZES(4, 4, 2), MEM(SS, RBP, NOREG, 1, 0x10) },
    { M16, "67 8b 04 24", "mov", SIZES(4, 2, 4), MEM(SS, RSP, NOREG, 1, 0) },
    { M16, "67 8b 04 8d 00 10 00 00", "mov", SIZES(8, 2, 4), MEM(DS, NOREG, RCX, 4, 0x1000) },
    /* ALU: r/m,r  r,r/m  acc,imm and group 1 */
    { M64, "01 08", "add", SIZES(2, 4, 8), MEM(DS, RAX, NOREG, 1, 0), REG(RCX) },
    { M64, "03 08", "add", SIZES(2, 4, 8), MEM(DS, RAX, NOREG, 1, 0), REG(RCX) },
    { M64, "00 e0", "add", SIZES(2, 1, 8), NOMEM, REG(RSP) },
    { M64, "04 7f", "add", SIZES(2, 1, 8), NOMEM, IMM(0x7f), REG(RAX) },
    { M64, "05 78 56 34 12", "add", SIZES(5, 4, 8), NOMEM, IMM(0x12345678) },
    { M64, "48 05 ff ff ff ff", "add", SIZES(6, 8, 8), NOMEM, IMM(-1) },
    { M64, "66 05 34 12", "add", SIZES(4, 2, 8), NOMEM, IMM(0x1234) },
    { M64, "80 00 80", "add", SIZES(3, 1, 8), MEM(DS, RAX, NOREG, 1, 0), IMM(-128) },
    { M64, "81 08 78 56 34 12", "or", SIZES(6, 4, 8), MEM(DS, RAX, NOREG, 1, 0), IMM(0x12345678) },
    { M64, "09 08", "or", SIZES(2, 4, 8), MEM(DS, RAX, NOREG, 1, 0) },
    { M64, "0b 0c 24", "or", SIZES(3, 4, 8), MEM(SS, RSP, NOREG, 1, 0), REG(RCX) },
    { M64, "0c 01", "or", SIZES(2, 1, 8), NOMEM, IMM(1) },
    { M64, "83 10 ff", "adc", SIZES(3, 4, 8), MEM(DS, RAX, NOREG, 1, 0), IMM(-1) },
    { M64, "11 08", "adc", SIZES(2, 4, 8), MEM(DS, RAX, NOREG, 1, 0) },
    { M64, "12 08", "adc", SIZES(2, 1, 8), MEM(DS, RAX, NOREG, 1, 0) },
    { M64, "48 83 18 80", "sbb", SIZES(4, 8, 8), MEM(DS, RAX, NOREG, 1, 0), IMM(-128) },
    { M64, "1b 08", "sbb", SIZES(2, 4, 8), MEM(DS, RAX, NOREG, 1, 0) },
    { M64, "66 83 20 7f", "and", SIZES(4, 2, 8), MEM(DS, RAX, NOREG, 1, 0), IMM(0x7f) },
    { M64, "21 08", "and", SIZES(2, 4, 8), MEM(DS, RAX, NOREG, 1, 0) },
    { M64, "25 ff 00 00 00", "and", SIZES(5, 4, 8), NOMEM, IMM(0xff) },
    { M64, "81 28 00 00 00 80", "sub", SIZES(6, 4, 8), MEM(DS, RAX, NOREG, 1, 0), IMM(-0x80000000LL) },
    { M64, "2b 08", "sub", SIZES(2, 4, 8), MEM(DS, RAX, NOREG, 1, 0) },
    { M64, "2d 00 00 00 80", "sub", SIZES(5, 4, 8), NOMEM, IMM(-0x80000000LL) },
    { M64, "83 30 01", "xor", SIZES(3, 4, 8), MEM(DS, RAX, NOREG, 1, 0), IMM(1) },
    { M64, "32 08", "xor", SIZES(2, 1, 8), MEM(DS, RAX, NOREG, 1, 0) },
    { M64, "83 38 00", "cmp", SIZES(3, 4, 8), MEM(DS, RAX, NOREG, 1, 0), IMM(0) },
    { M64, "3b 08", "cmp", SIZES(2, 4, 8), MEM(DS, RAX, NOREG, 1, 0) },
    { M64, "3c 05", "cmp", SIZES(2, 1, 8), NOMEM, IMM(5) },
    { M64, "f0 01 08", "add", SIZES(3, 4, 8), MEM(DS, RAX, NOREG, 1, 0), .lock = true },
    { M64, "f0 83 00 01", "add", SIZES(4, 4, 8), MEM(DS, RAX, NOREG, 1, 0), IMM(1), .lock = true },
    { M64, "f0 48 81 4c 24 08 00 01 00 00", "or", SIZES(10, 8, 8), MEM(SS, RSP, NOREG, 1, 8), IMM(0x100), .lock = true },
    { M32, "81 05 00 00 00 10 01 00 00 00", "add", SIZES(10, 4, 4), MEM(DS, NOREG, NOREG, 1, 0x10000000), IMM(1) },
    { M16, "83 06 00 10 ff", "add", SIZES(5, 2, 2), MEM(DS, NOREG, NOREG, 1, 0x1000), IMM(-1) },
    { M16, "66 81 47 02 00 00 01 00", "add", SIZES(8, 4, 2), MEM(DS, RBX, NOREG, 1, 2), IMM(0x10000) },
    /* TEST, NOT, NEG, INC, DEC */
    { M64, "84 08", "test", SIZES(2, 1, 8), MEM(DS, RAX, NOREG, 1, 0), REG(RCX) },
    { M64, "85 08", "test", SIZES(2, 4, 8), MEM(DS, RAX, NOREG, 1, 0), REG(RCX) },
    { M64, "f6 00 81", "test", SIZES(3, 1, 8), MEM(DS, RAX, NOREG, 1, 0), IMM(-127) },
    { M64, "f7 00 78 56 34 12", "test", SIZES(6, 4, 8), MEM(DS, RAX, NOREG, 1, 0), IMM(0x12345678) },
    { M64, "66 f7 00 34 12", "test", SIZES(5, 2, 8), MEM(DS, RAX, NOREG, 1, 0), IMM(0x1234) },
    { M64, "48 f7 40 10 ff ff ff ff", "test", SIZES(8, 8, 8), MEM(DS, RAX, NOREG, 1, 0x10), IMM(-1) },
    { M64, "f6 10", "not", SIZES(2, 1, 8), MEM(DS, RAX, NOREG, 1, 0) },
    { M64, "f7 18", "neg", SIZES(2, 4, 8), MEM(DS, RAX, NOREG, 1, 0) },
    { M64, "48 f7 18", "neg", SIZES(3, 8, 8), MEM(DS, RAX, NOREG, 1, 0) },
    { M64, "f0 f7 10", "not", SIZES(3, 4, 8), MEM(DS, RAX, NOREG, 1, 0), .lock = true },
    { M64, "fe 00", "inc", SIZES(2, 1, 8), MEM(DS, RAX, NOREG, 1, 0) },
    { M64, "fe 08", "dec", SIZES(2, 1, 8), MEM(DS, RAX, NOREG, 1, 0) },
    { M64, "ff 00", "inc", SIZES(2, 4, 8), MEM(DS, RAX, NOREG, 1, 0) },
    { M64, "66 ff 08", "dec", SIZES(3, 2, 8), MEM(DS, RAX, NOREG, 1, 0) },
    { M64, "f0 48 ff 00", "inc", SIZES(4, 8, 8), MEM(DS, RAX, NOREG, 1, 0), .lock = true },
    { M16, "ff 06 00 20", "inc", SIZES(4, 2, 2), MEM(DS, NOREG, NOREG, 1, 0x2000) },
    /* XCHG, CMPXCHG */
    { M64, "87 08", "xchg", SIZES(2, 4, 8), MEM(DS, RAX, NOREG, 1, 0), REG(RCX) },
    { M64, "86 08", "xchg", SIZES(2, 1, 8), MEM(DS, RAX, NOREG, 1, 0), REG(RCX) },
    { M64, "48 87 08", "xchg", SIZES(3, 8, 8), MEM(DS, RAX, NOREG, 1, 0) },
    { M64, "f0 87 08", "xchg", SIZES(3, 4, 8), MEM(DS, RAX, NOREG, 1, 0), .lock = true },
    { M64, "0f b1 08", "cmpxchg", SIZES(3, 4, 8), MEM(DS, RAX, NOREG, 1, 0), REG(RCX) },
    { M64, "f0 0f b1 08", "cmpxchg", SIZES(4, 4, 8), MEM(DS, RAX, NOREG, 1, 0), .lock = true },
    { M64, "0f b0 08", "cmpxchg", SIZES(3, 1, 8), MEM(DS, RAX, NOREG, 1, 0) },
    { M64, "f0 4c 0f b1 0c 24", "cmpxchg", SIZES(6, 8, 8), MEM(SS, RSP, NOREG, 1, 0), REG(R9), .lock = true },
    { M64, "66 0f b1 08", "cmpxchg", SIZES(4, 2, 8), MEM(DS, RAX, NOREG, 1, 0) },
    /* MOVZX, MOVSX, MOVSXD */
    { M64, "0f b6 00", "movzx", SIZES(3, 4, 8), MEM(DS, RAX, NOREG, 1, 0), .memsize = 1 },
    { M64, "66 0f b6 00", "movzx", SIZES(4, 2, 8), MEM(DS, RAX, NOREG, 1, 0), .memsize = 1 },
    { M64, "48 0f b7 00", "movzx", SIZES(4, 8, 8), MEM(DS, RAX, NOREG, 1, 0), .memsize = 2 },
    { M64, "0f be 00", "movsx", SIZES(3, 4, 8), MEM(DS, RAX, NOREG, 1, 0), .memsize = 1 },
    { M64, "0f bf 00", "movsx", SIZES(3, 4, 8), MEM(DS, RAX, NOREG, 1, 0), .memsize = 2 },
    { M64, "4c 0f bf 00", "movsx", SIZES(4, 8, 8), MEM(DS, RAX, NOREG, 1, 0), REG(R8), .memsize = 2 },
    { M64, "0f b6 c4", "movzx", SIZES(3, 4, 8), NOMEM, .memsize = 1 },
    { M64, "48 63 00", "movsxd", SIZES(3, 8, 8), MEM(DS, RAX, NOREG, 1, 0), .memsize = 4 },
    { M64, "4c 63 40 04", "movsxd", SIZES(4, 8, 8), MEM(DS, RAX, NOREG, 1, 4), REG(R8), .memsize = 4 },
    { M32, "0f b7 46 02", "movzx", SIZES(4, 4, 4), MEM(DS, RSI, NOREG, 1, 2), .memsize = 2 },
    /* string instructions: address-size rSI/rDI, ES for the destination */
    { M64, "a4", "movs", SIZES(1, 1, 8), MEM(DS, RSI, NOREG, 1, 0) },
    { M64, "f3 a4", "movs", SIZES(2, 1, 8), MEM(DS, RSI, NOREG, 1, 0), .rep = 0xF3 },
    { M64, "f3 48 a5", "movs", SIZES(3, 8, 8), MEM(DS, RSI, NOREG, 1, 0), .rep = 0xF3 },
    { M64, "66 a5", "movs", SIZES(2, 2, 8), MEM(DS, RSI, NOREG, 1, 0) },
    { M64, "a5", "movs", SIZES(1, 4, 8), MEM(DS, RSI, NOREG, 1, 0) },
    { M64, "aa", "stos", SIZES(1, 1, 8), MEM(ES, RDI, NOREG, 1, 0) },
    { M64, "f3 ab", "stos", SIZES(2, 4, 8), MEM(ES, RDI, NOREG, 1, 0), .rep = 0xF3 },
    { M64, "f3 48 ab", "stos", SIZES(3, 8, 8), MEM(ES, RDI, NOREG, 1, 0), .rep = 0xF3 },
    { M64, "26 aa", "stos", SIZES(2, 1, 8), MEM(ES, RDI, NOREG, 1, 0) },
    { M64, "ac", "lods", SIZES(1, 1, 8), MEM(DS, RSI, NOREG, 1, 0) },
    { M64, "64 ac", "lods", SIZES(2, 1, 8), MEM(FS, RSI, NOREG, 1, 0) },
    { M64, "2e ad", "lods", SIZES(2, 4, 8), MEM(DS, RSI, NOREG, 1, 0) },
    { M64, "65 f3 a4", "movs", SIZES(3, 1, 8), MEM(GS, RSI, NOREG, 1, 0), .rep = 0xF3 },
    { M64, "67 f3 a4", "movs", SIZES(3, 1, 4), MEM(DS, RSI, NOREG, 1, 0), .rep = 0xF3 },
    { M16, "f3 a4", "movs", SIZES(2, 1, 2), MEM(DS, RSI, NOREG, 1, 0), .rep = 0xF3 },
    { M16, "26 f3 a5", "movs", SIZES(3, 2, 2), MEM(ES, RSI, NOREG, 1, 0), .rep = 0xF3 },
    { M32, "66 f3 a5", "movs", SIZES(3, 2, 4), MEM(DS, RSI, NOREG, 1, 0), .rep = 0xF3 },
    { M32, "2e ac", "lods", SIZES(2, 1, 4), MEM(CS, RSI, NOREG, 1, 0) },
    /* BT family */
    { M64, "0f a3 08", "bt", SIZES(3, 4, 8), MEM(DS, RAX, NOREG, 1, 0), REG(RCX) },
    { M64, "0f ab 08", "bts", SIZES(3, 4, 8), MEM(DS, RAX, NOREG, 1, 0) },
    { M64, "0f b3 08", "btr", SIZES(3, 4, 8), MEM(DS, RAX, NOREG, 1, 0) },
    { M64, "0f bb 08", "btc", SIZES(3, 4, 8), MEM(DS, RAX, NOREG, 1, 0) },
    { M64, "48 0f a3 08", "bt", SIZES(4, 8, 8), MEM(DS, RAX, NOREG, 1, 0) },
    { M64, "66 0f a3 08", "bt", SIZES(4, 2, 8), MEM(DS, RAX, NOREG, 1, 0) },
    { M64, "0f ba 20 05", "bt", SIZES(4, 4, 8), MEM(DS, RAX, NOREG, 1, 0), IMM(5) },
    { M64, "0f ba 28 ff", "bts", SIZES(4, 4, 8), MEM(DS, RAX, NOREG, 1, 0), IMM(0xff) },
    { M64, "0f ba 30 1f", "btr", SIZES(4, 4, 8), MEM(DS, RAX, NOREG, 1, 0), IMM(0x1f) },
    { M64, "48 0f ba 38 80", "btc", SIZES(5, 8, 8), MEM(DS, RAX, NOREG, 1, 0), IMM(0x80) },
    { M64, "f0 0f ab 08", "bts", SIZES(4, 4, 8), MEM(DS, RAX, NOREG, 1, 0), .lock = true },
    { M64, "f0 0f ba 28 01", "bts", SIZES(5, 4, 8), MEM(DS, RAX, NOREG, 1, 0), IMM(1), .lock = true },
    /* MOVNTI, CLFLUSH, CLFLUSHOPT */
    { M64, "0f c3 08", "movnti", SIZES(3, 4, 8), MEM(DS, RAX, NOREG, 1, 0), REG(RCX) },
    { M64, "48 0f c3 08", "movnti", SIZES(4, 8, 8), MEM(DS, RAX, NOREG, 1, 0) },
    { M64, "0f ae 38", "clflush", SIZES(3, 1, 8), MEM(DS, RAX, NOREG, 1, 0) },
    { M64, "66 0f ae 38", "clflushopt", SIZES(4, 1, 8), MEM(DS, RAX, NOREG, 1, 0) },
    { M64, "0f ae 7c 24 08", "clflush", SIZES(5, 1, 8), MEM(SS, RSP, NOREG, 1, 8) },
    { M32, "0f ae 3d 00 00 0f 00", "clflush", SIZES(7, 1, 4), MEM(DS, NOREG, NOREG, 1, 0xf0000) },
    /* SSE moves */
    { M64, "66 0f 6e 00", "movd", SIZES(4, 4, 8), MEM(DS, RAX, NOREG, 1, 0), REG(0) },
    { M64, "66 48 0f 6e 00", "movq", SIZES(5, 8, 8), MEM(DS, RAX, NOREG, 1, 0) },
    { M64, "66 0f 7e 08", "movd", SIZES(4, 4, 8), MEM(DS, RAX, NOREG, 1, 0), REG(1) },
    { M64, "66 48 0f 7e 08", "movq", SIZES(5, 8, 8), MEM(DS, RAX, NOREG, 1, 0), REG(1) },
    { M64, "f3 0f 7e 10", "movq", SIZES(4, 8, 8), MEM(DS, RAX, NOREG, 1, 0), REG(2) },
    { M64, "66 0f d6 18", "movq", SIZES(4, 8, 8), MEM(DS, RAX, NOREG, 1, 0), REG(3) },
    { M64, "66 0f 6f 00", "movdqa", SIZES(4, 16, 8), MEM(DS, RAX, NOREG, 1, 0) },
    { M64, "66 0f 7f 00", "movdqa", SIZES(4, 16, 8), MEM(DS, RAX, NOREG, 1, 0) },
    { M64, "f3 0f 6f 00", "movdqu", SIZES(4, 16, 8), MEM(DS, RAX, NOREG, 1, 0) },
    { M64, "f3 0f 7f 00", "movdqu", SIZES(4, 16, 8), MEM(DS, RAX, NOREG, 1, 0) },
    { M64, "0f 28 00", "movaps", SIZES(3, 16, 8), MEM(DS, RAX, NOREG, 1, 0) },
    { M64, "0f 29 00", "movaps", SIZES(3, 16, 8), MEM(DS, RAX, NOREG, 1, 0) },
    { M64, "0f 10 00", "movups", SIZES(3, 16, 8), MEM(DS, RAX, NOREG, 1, 0) },
    { M64, "0f 11 00", "movups", SIZES(3, 16, 8), MEM(DS, RAX, NOREG, 1, 0) },
    { M64, "66 44 0f 6f 3c 24", "movdqa", SIZES(6, 16, 8), MEM(SS, RSP, NOREG, 1, 0), REG(15) },
    { M64, "44 0f 11 3d 00 01 00 00", "movups", SIZES(8, 16, 8), RIP(0x100), REG(15) },
    { M64, "66 0f 6e c0", "movd", SIZES(4, 4, 8), NOMEM },
    { M64, "66 0f 7e c8", "movd", SIZES(4, 4, 8), NOMEM },
    { M32, "66 0f 6f 05 00 10 00 00", "movdqa", SIZES(8, 16, 4), MEM(DS, NOREG, NOREG, 1, 0x1000) },
    /* prefix rules: REX only right before the opcode, the last of several REX */
    { M64, "48 66 89 08", "mov", SIZES(4, 2, 8), MEM(DS, RAX, NOREG, 1, 0) },
    { M64, "66 48 89 08", "mov", SIZES(4, 8, 8), MEM(DS, RAX, NOREG, 1, 0) },
    { M64, "41 48 89 08", "mov", SIZES(4, 8, 8), MEM(DS, RAX, NOREG, 1, 0) },
    { M64, "44 f0 01 08", "add", SIZES(4, 4, 8), MEM(DS, RAX, NOREG, 1, 0), REG(RCX), .lock = true },
    { M64, "66 66 66 89 08", "mov", SIZES(5, 2, 8), MEM(DS, RAX, NOREG, 1, 0) },
    { M64, "66 66 66 66 66 66 66 66 66 66 66 66 66 89 08", "mov", SIZES(15, 2, 8), MEM(DS, RAX, NOREG, 1, 0) },
    { M64, "26 2e 36 3e 26 2e 36 3e 26 2e 36 3e 65 8b 03", "mov", SIZES(15, 4, 8), MEM(GS, RBX, NOREG, 1, 0) },
};

static void check_dcase(const struct dcase *c)
{
    uint8_t b[32];
    char hex[128];
    size_t n = parse_hex(c->hex, b, sizeof(b));
    struct x86_insn insn;
    const char *why = NULL;
    int r = decode_exact(b, n, c->mode, &insn, &why);

    if (!c->name) {
        if (r == 0)
            fail_msg("%s [%s]: decoded as %s, expected refusal", c->hex, mode_name(c->mode), insn.name);
        return;
    }
    if (r != 0)
        fail_msg("%s [%s]: refused: %s", c->hex, mode_name(c->mode), why);
    hex_string(b, n, hex, sizeof(hex));
#define EXPECT(cond, ...) do { if (!(cond)) fail_msg("%s [%s] " #cond ": " __VA_ARGS__); } while (0)
    EXPECT(strcmp(insn.name, c->name) == 0, "%s", hex, mode_name(c->mode), insn.name);
    EXPECT(insn.len == c->len, "%u", hex, mode_name(c->mode), insn.len);
    EXPECT(insn.opsize == c->opsize, "%u", hex, mode_name(c->mode), insn.opsize);
    EXPECT(insn.addrsize == c->addrsize, "%u", hex, mode_name(c->mode), insn.addrsize);
    EXPECT(insn.has_mem == c->mem, "%d", hex, mode_name(c->mode), insn.has_mem);
    EXPECT(insn.lock == c->lock, "%d", hex, mode_name(c->mode), insn.lock);
    EXPECT(insn.rep == c->rep, "%#x", hex, mode_name(c->mode), insn.rep);
    EXPECT(insn.memsize == (c->memsize ? c->memsize : c->opsize), "%u", hex, mode_name(c->mode),
           insn.memsize);
    if (c->mem) {
        EXPECT(insn.seg == c->seg, "%s", hex, mode_name(c->mode), seg_name(insn.seg));
        EXPECT(insn.base_reg == c->base, "%u", hex, mode_name(c->mode), insn.base_reg);
        EXPECT(insn.index_reg == c->index, "%u", hex, mode_name(c->mode), insn.index_reg);
        EXPECT(insn.scale == c->scale, "%u", hex, mode_name(c->mode), insn.scale);
        EXPECT(insn.disp == c->disp, "%#llx", hex, mode_name(c->mode), (unsigned long long)insn.disp);
        EXPECT(insn.rip_relative == c->riprel, "%d", hex, mode_name(c->mode), insn.rip_relative);
    } else {
        EXPECT(insn.seg == X86_SEG_NONE, "%s", hex, mode_name(c->mode), seg_name(insn.seg));
    }
    if (c->has_imm)
        EXPECT(insn.imm == c->imm, "%#llx", hex, mode_name(c->mode), (unsigned long long)insn.imm);
    else
        EXPECT(insn.imm_size == 0, "%u", hex, mode_name(c->mode), insn.imm_size);
    if (c->reg1)
        EXPECT(insn.reg == c->reg1 - 1, "%u", hex, mode_name(c->mode), insn.reg);
#undef EXPECT
}

static void test_encoding_table(void **state)
{
    (void)state;
    for (size_t i = 0; i < ARRAY_SIZE(dcases); i++)
        check_dcase(&dcases[i]);
}

/* Every prefix of a valid encoding is truncated input: refused, never read past. */
static void test_truncation(void **state)
{
    (void)state;
    for (size_t i = 0; i < ARRAY_SIZE(dcases); i++) {
        const struct dcase *c = &dcases[i];
        if (!c->name)
            continue;
        uint8_t b[32];
        size_t n = parse_hex(c->hex, b, sizeof(b));
        for (size_t k = 0; k < n; k++) {
            struct x86_insn insn;
            const char *why = NULL;
            if (decode_exact(b, k, c->mode, &insn, &why) == 0)
                fail_msg("%s [%s]: accepted when cut to %zu bytes", c->hex, mode_name(c->mode), k);
            assert_non_null(why);
            if (k < n && !strstr(why, "truncated"))
                fail_msg("%s cut to %zu: reason '%s'", c->hex, k, why);
        }
        /* Trailing bytes are not part of the instruction. */
        b[n] = 0x90;
        struct x86_insn insn;
        assert_int_equal(decode_exact(b, n + 1, c->mode, &insn, NULL), 0);
        assert_int_equal(insn.len, c->len);
    }
}

/* ---- 2. refusals ------------------------------------------------------------ */

struct rcase {
    enum x86_cpu_mode mode;
    const char *hex;
    const char *why;        /* substring of the reason */
};

static const struct rcase rcases[] = {
    { M64, "66 66 66 66 66 66 66 66 66 66 66 66 66 66 89 08", "longer than 15" },
    { M64, "66 66 66 66 66 66 66 66 66 66 66 66 66 66 66 66 66", "longer than 15" },
    { M64, "66 66 66 66 66 66 66 66 66 66 66 48 c7 00 01 00 00 00", "longer than 15" },
    { M64, "", "truncated" },
    { M64, "89", "truncated" },
    { M64, "89 04", "truncated" },
    { M64, "89 05 00 00", "truncated" },
    { M64, "c7 00 01 02", "truncated" },
    { M64, "a1 00 00 00 00", "truncated" },
    { M64, "48", "truncated" },
    { M64, "0f", "truncated" },
    { M64, "f0 89 08", "LOCK" },
    { M64, "f0 01 c8", "LOCK" },
    { M64, "f0 39 08", "LOCK" },
    { M64, "f0 83 38 01", "LOCK" },
    { M64, "f0 85 08", "LOCK" },
    { M64, "f0 f6 00 01", "LOCK" },
    { M64, "f0 0f a3 08", "LOCK" },
    { M64, "f0 0f ba 20 01", "LOCK" },
    { M64, "f0 a4", "LOCK" },
    { M64, "f0 f3 ab", "LOCK" },
    { M64, "f0 04 01", "LOCK" },
    { M64, "f0 03 08", "LOCK" },
    { M64, "f0 0f b6 00", "LOCK" },
    { M64, "f0 66 0f 7f 00", "LOCK" },
    { M64, "f0 87 c8", "LOCK" },
    { M64, "f0 0f b1 c8", "LOCK" },
    { M64, "f0 0f c3 08", "LOCK" },
    { M64, "f0 a3 00 00 00 00 00 00 00 00", "LOCK" },
    { M64, "0f c3 c8", "register operand" },
    { M64, "0f ae f8", "register operand" },
    { M64, "66 0f ae f8", "register operand" },
    { M64, "63 00", "REX.W" },
    { M64, "66 63 00", "REX.W" },
    { M32, "63 00", "64-bit mode only" },
    { M16, "63 00", "64-bit mode only" },
    { M64, "f3 89 08", "REP" },
    { M64, "f2 89 08", "REP" },
    { M64, "f2 a4", "REP" },
    { M64, "f2 f3 a4", "REP" },
    { M64, "f2 f0 01 08", "REP" },
    { M64, "f3 0f b1 08", "REP" },
    { M64, "66 f3 0f 6f 00", "conflicting" },
    { M64, "f2 f3 0f 7e 00", "conflicting" },
    { M64, "66 0f 28 00", "unsupported opcode" },
    { M64, "f3 0f 10 00", "unsupported opcode" },
    { M64, "f2 0f 10 00", "unsupported opcode" },
    { M64, "66 0f c3 08", "unsupported opcode" },
    { M64, "f3 0f c3 08", "unsupported opcode" },
    { M64, "0f 6e 00", "unsupported opcode" },
    { M64, "0f 7e 00", "unsupported opcode" },
    { M64, "f3 0f ae 38", "unsupported opcode" },
    { M64, "0f ae 30", "unsupported opcode" },
    { M64, "8f 00", "unsupported opcode" },
    { M64, "0f 38 00 00", "three-byte" },
    { M64, "0f 3a 0f c1 08", "three-byte" },
    { M64, "c4 e2 79 18 00", "unsupported opcode" },
    { M64, "c5 f9 6f 00", "unsupported opcode" },
    { M64, "62 f1 7c 48 28 00", "unsupported opcode" },
    { M64, "f6 08 01", "unsupported opcode" },
    { M64, "f6 20", "unsupported opcode" },
    { M64, "f7 38", "unsupported opcode" },
    { M64, "c6 f8 00", "unsupported opcode" },
    { M64, "c7 48 00 00 00 00 00", "unsupported opcode" },
    { M64, "0f ba 00 01", "unsupported opcode" },
    { M64, "82 00 01", "unsupported opcode" },
    { M64, "ff 10", "unsupported opcode" },
    { M64, "fe 10", "unsupported opcode" },
    { M64, "90", "unsupported opcode" },
    { M64, "0f 0b", "unsupported opcode" },
    { M64, "a6", "unsupported opcode" },
    { M64, "6c", "unsupported opcode" },
    { M64, "0f b8 00", "unsupported opcode" },
    { M32, "40 8b 00", "unsupported opcode" },      /* INC EAX outside 64-bit mode */
    { M16, "c4 00", "unsupported opcode" },
};

static void test_refusals(void **state)
{
    (void)state;
    for (size_t i = 0; i < ARRAY_SIZE(rcases); i++) {
        const struct rcase *c = &rcases[i];
        uint8_t b[32];
        size_t n = parse_hex(c->hex, b, sizeof(b));
        struct x86_insn insn;
        const char *why = NULL;
        memset(&insn, 0xAA, sizeof(insn));
        if (decode_exact(b, n, c->mode, &insn, &why) == 0)
            fail_msg("'%s' [%s]: decoded as %s (len %u), expected refusal (%s)", c->hex,
                     mode_name(c->mode), insn.name, insn.len, c->why);
        assert_non_null(why);
        if (!strstr(why, c->why))
            fail_msg("'%s' [%s]: reason '%s', expected '%s'", c->hex, mode_name(c->mode), why,
                     c->why);
        /* A refused instruction leaves nothing half-decoded behind. */
        assert_int_equal(insn.len, 0);
        assert_int_equal(insn.mnemonic, X86_MN_INVALID);
        assert_false(insn.has_mem);
    }
    struct x86_insn insn;
    const char *why = NULL;
    assert_int_equal(x86_decode((const uint8_t *)"\x89\x08", 2, (enum x86_cpu_mode)7, &insn, &why), -1);
    assert_non_null(why);
    assert_int_equal(x86_decode(NULL, 0, M64, &insn, NULL), -1);
}

/* ---- 3. Capstone differential ------------------------------------------------- */

struct cs_state {
    csh h[4];               /* by enum x86_cpu_mode */
    unsigned long compared, accepted, cs_only, refused_both, skipped;
};

static void cs_setup(struct cs_state *s)
{
    static const cs_mode modes[4] = { CS_MODE_16, CS_MODE_16, CS_MODE_32, CS_MODE_64 };
    for (int m = 0; m < 4; m++) {
        assert_int_equal(cs_open(CS_ARCH_X86, modes[m], &s->h[m]), CS_ERR_OK);
        cs_option(s->h[m], CS_OPT_DETAIL, CS_OPT_ON);
    }
}

static void cs_teardown(struct cs_state *s)
{
    for (int m = 0; m < 4; m++)
        cs_close(&s->h[m]);
}

static uint64_t mask_bytes(uint64_t v, unsigned size)
{
    return size >= 8 ? v : v & ((1ULL << (8 * size)) - 1);
}

/* The segment the prefix bytes select, worked out here independently of the
 * decoder: the last override; in 64-bit mode only FS/GS count. */
static enum x86_seg expected_override(const uint8_t *b, size_t n, enum x86_cpu_mode mode)
{
    enum x86_seg s = X86_SEG_NONE;
    for (size_t i = 0; i < n; i++) {
        enum x86_seg t;
        switch (b[i]) {
        case 0x26: t = X86_SEG_ES; break;
        case 0x2E: t = X86_SEG_CS; break;
        case 0x36: t = X86_SEG_SS; break;
        case 0x3E: t = X86_SEG_DS; break;
        case 0x64: t = X86_SEG_FS; break;
        case 0x65: t = X86_SEG_GS; break;
        case 0x66: case 0x67: case 0xF0: case 0xF2: case 0xF3: continue;
        default:
            if (mode == M64 && b[i] >= 0x40 && b[i] <= 0x4F)
                continue;
            return s;
        }
        if (mode != M64 || t == X86_SEG_FS || t == X86_SEG_GS)
            s = t;
    }
    return s;
}

static enum x86_seg cs_seg(x86_reg r)
{
    switch (r) {
    case X86_REG_ES: return X86_SEG_ES;
    case X86_REG_CS: return X86_SEG_CS;
    case X86_REG_SS: return X86_SEG_SS;
    case X86_REG_DS: return X86_SEG_DS;
    case X86_REG_FS: return X86_SEG_FS;
    case X86_REG_GS: return X86_SEG_GS;
    default: return X86_SEG_NONE;
    }
}

/* Expected operand, destination first. */
struct xop {
    enum { XOP_REG, XOP_MEM, XOP_IMM } kind;
    const char *reg;
};

static unsigned expected_operands(const struct x86_insn *in, struct xop *ops)
{
    bool rex = in->rex != 0;
    struct xop g = { XOP_REG, gpr_name(in->reg, in->opsize, rex) };
    struct xop e = in->has_mem ? (struct xop){ XOP_MEM, NULL }
                               : (struct xop){ XOP_REG, gpr_name(in->rm, in->memsize, rex) };
    struct xop xm = in->has_mem ? (struct xop){ XOP_MEM, NULL } : (struct xop){ XOP_REG, xmm_name(in->rm) };
    struct xop x = { XOP_REG, xmm_name(in->reg) };
    struct xop imm = { XOP_IMM, NULL };
    struct xop m = { XOP_MEM, NULL };
    unsigned n = 0;
    switch (in->form) {
    case X86_FORM_E_G:      ops[n++] = e; ops[n++] = g; break;
    case X86_FORM_G_E:      ops[n++] = g; ops[n++] = e; break;
    case X86_FORM_E_I:      ops[n++] = e; ops[n++] = imm; break;
    case X86_FORM_ACC_I:    ops[n++] = g; ops[n++] = imm; break;
    case X86_FORM_E:        ops[n++] = e; break;
    case X86_FORM_ACC_MOFFS: ops[n++] = g; ops[n++] = m; break;
    case X86_FORM_MOFFS_ACC: ops[n++] = m; ops[n++] = g; break;
    case X86_FORM_X_XM:     ops[n++] = x; ops[n++] = xm; break;
    case X86_FORM_XM_X:     ops[n++] = xm; ops[n++] = x; break;
    case X86_FORM_X_GM:     ops[n++] = x; ops[n++] = e; break;
    case X86_FORM_GM_X:     ops[n++] = e; ops[n++] = x; break;
    default: break;
    }
    return n;
}

/* Capstone's mnemonic without LOCK/REP words, mapped to the decoder's names. */
static bool mnemonic_matches(const struct x86_insn *in, const char *csm)
{
    static const char *const words[] = { "lock ", "rep ", "repne ", "repe ", "xacquire ", "xrelease ", "notrack " };
    for (bool again = true; again;) {
        again = false;
        for (size_t i = 0; i < ARRAY_SIZE(words); i++)
            if (strncmp(csm, words[i], strlen(words[i])) == 0) {
                csm += strlen(words[i]);
                again = true;
            }
    }
    if (in->form == X86_FORM_STRING) {
        static const char sfx[9] = { 0, 'b', 'w', 0, 'd', 0, 0, 0, 'q' };
        size_t l = strlen(in->name);
        return strncmp(csm, in->name, l) == 0 && csm[l] == sfx[in->opsize] && csm[l + 1] == 0;
    }
    if (strcmp(csm, "movabs") == 0)
        return in->mnemonic == X86_MN_MOV;
    return strcmp(csm, in->name) == 0;
}

static enum x86_seg default_segment(const struct x86_insn *in)
{
    if (in->mnemonic == X86_MN_STOS)
        return X86_SEG_ES;
    return (in->base_reg == RSP || in->base_reg == RBP) ? X86_SEG_SS : X86_SEG_DS;
}

/* The base register name for the address size ("rip"/"eip" when RIP-relative). */
static const char *base_name(const struct x86_insn *in)
{
    if (in->rip_relative)
        return in->addrsize == 8 ? "rip" : "eip";
    return in->base_reg == NOREG ? NULL : gpr_name(in->base_reg, in->addrsize, true);
}

static bool same_name(csh h, x86_reg r, const char *want)
{
    const char *got = r == X86_REG_INVALID ? NULL : cs_reg_name(h, r);
    if (!got || !want)
        return got == want;
    return strcmp(got, want) == 0;
}

static void cs_compare_mem(csh h, const struct x86_insn *in, const cs_x86_op *o, const uint8_t *b,
                           size_t n, enum x86_cpu_mode mode, char *err, size_t cap)
{
    if (!same_name(h, o->mem.base, base_name(in)))
        snprintf(err, cap, "base %s", o->mem.base ? cs_reg_name(h, o->mem.base) : "-");
    else if (!same_name(h, o->mem.index, in->index_reg == NOREG ? NULL : gpr_name(in->index_reg, in->addrsize, true)))
        snprintf(err, cap, "index %s", o->mem.index ? cs_reg_name(h, o->mem.index) : "-");
    else if (in->index_reg != NOREG && o->mem.scale != in->scale)
        snprintf(err, cap, "scale %d", o->mem.scale);
    else if (mask_bytes((uint64_t)o->mem.disp, in->addrsize) != mask_bytes(in->disp, in->addrsize))
        snprintf(err, cap, "disp %#llx", (unsigned long long)o->mem.disp);
    else if (in->form != X86_FORM_STRING && o->size != in->memsize)
        snprintf(err, cap, "memory operand size %u", o->size);
    if (err[0])
        return;
    /* Segment: what the prefixes select (or the default) must be the decoder's;
     * Capstone 4 names ignored 64-bit-mode ES/CS/SS/DS overrides, so its
     * segment is compared only outside 64-bit mode or for FS/GS. */
    enum x86_seg want = expected_override(b, n, mode);
    if (in->mnemonic == X86_MN_STOS || want == X86_SEG_NONE)
        want = default_segment(in);
    if (in->seg != want)
        snprintf(err, cap, "segment %s, expected %s", seg_name(in->seg), seg_name(want));
    enum x86_seg cseg = cs_seg(o->mem.segment);
    bool cs_reliable = mode != M64 || cseg == X86_SEG_FS || cseg == X86_SEG_GS;
    if (!err[0] && cseg != X86_SEG_NONE && cs_reliable && cseg != in->seg)
        snprintf(err, cap, "capstone segment %s", seg_name(cseg));
    if (!err[0] && cseg == X86_SEG_NONE && in->seg != default_segment(in))
        snprintf(err, cap, "capstone has no override, decoder %s", seg_name(in->seg));
}

static void cs_compare_operands(csh h, const struct x86_insn *in, const cs_x86 *x,
                                const uint8_t *b, size_t n, enum x86_cpu_mode mode, char *err,
                                size_t cap)
{
    if (in->form == X86_FORM_STRING) {
        /* Only the source (or STOS destination) operand: rSI or rDI. */
        for (unsigned k = 0; k < x->op_count; k++) {
            const cs_x86_op *o = &x->operands[k];
            if (o->type == X86_OP_MEM && ((in->mnemonic == X86_MN_STOS) ==
                                          same_name(h, o->mem.base, gpr_name(RDI, in->addrsize, true))))
                cs_compare_mem(h, in, o, b, n, mode, err, cap);
        }
        return;
    }
    struct xop want[4];
    unsigned nw = expected_operands(in, want);
    if (nw != x->op_count) {
        snprintf(err, cap, "%u operands, expected %u", x->op_count, nw);
        return;
    }
    for (unsigned k = 0; k < nw && !err[0]; k++) {
        const cs_x86_op *o = &x->operands[k];
        switch (want[k].kind) {
        case XOP_REG:
            if (o->type != X86_OP_REG || !same_name(h, o->reg, want[k].reg))
                snprintf(err, cap, "operand %u: expected %s", k, want[k].reg);
            break;
        case XOP_IMM: {
            unsigned isz = in->imm_size == 1 && in->mnemonic >= X86_MN_BT && in->mnemonic <= X86_MN_BTC
                               ? 1 : in->opsize;
            if (o->type != X86_OP_IMM)
                snprintf(err, cap, "operand %u: not an immediate", k);
            else if (mask_bytes((uint64_t)o->imm, isz) != mask_bytes(in->imm, isz))
                snprintf(err, cap, "immediate %#llx, decoder %#llx", (unsigned long long)o->imm,
                         (unsigned long long)in->imm);
            break;
        }
        case XOP_MEM:
            if (o->type != X86_OP_MEM)
                snprintf(err, cap, "operand %u: not memory", k);
            else
                cs_compare_mem(h, in, o, b, n, mode, err, cap);
            break;
        }
    }
}

/* XCHG's operands commute; Capstone may print them either way round. */
static void cs_compare_xchg(csh h, const struct x86_insn *in, const cs_x86 *x, const uint8_t *b,
                            size_t n, enum x86_cpu_mode mode, char *err, size_t cap)
{
    cs_compare_operands(h, in, x, b, n, mode, err, cap);
    if (err[0] && in->mnemonic == X86_MN_XCHG && x->op_count == 2) {
        cs_x86 swapped = *x;
        swapped.operands[0] = x->operands[1];
        swapped.operands[1] = x->operands[0];
        err[0] = 0;
        cs_compare_operands(h, in, &swapped, b, n, mode, err, cap);
    }
}

static bool is_prefix(uint8_t b, enum x86_cpu_mode mode)
{
    for (size_t i = 0; i < ARRAY_SIZE(x86_prefix_bytes); i++)
        if (b == x86_prefix_bytes[i])
            return true;
    return mode == M64 && b >= 0x40 && b <= 0x4F;
}

/*
 * Capstone 4.0.2 (Debian 12) bugs the comparison works around:
 * - Capstone takes 66/F2/F3 into account for the opcode only in some
 *   positions: "66 F3 A5" in 32/64-bit mode comes out as REP MOVSD, and
 *   "66 64 0F 7E ..." as the MMX MOVD.  The CPU does not care about the order
 *   of legacy prefixes (SDM Vol. 2A, 2.1.1), so Capstone is given the same
 *   prefixes in a canonical order: the others first, then F2/F3, then 66,
 *   then the effective REX.
 * - REX.W, which the CPU ignores on MOVAPS/MOVUPS/MOVDQA/MOVDQU, the
 *   F3 0F 7E / 66 0F D6 forms of MOVQ and CLFLUSH(OPT), turns "67 48 0F 29"
 *   into MOVAPD, "67 48 0F AE /7" into CLFLUSHOPT and "F3 48 0F 7E" into an
 *   MMX MOVD; Capstone gets the REX without W there.
 * - In 16-bit modes instructions with a mandatory 66/F3 prefix are decoded
 *   as their MMX forms (F3 0F 7F as MOVQ mm), and 66 0F AE /7 as CLFLUSH;
 *   those are not compared (the encoding table covers them).
 * Returns false when the input cannot be compared.
 */
static bool capstone_input(const struct x86_insn *in, const uint8_t *b, size_t n,
                           enum x86_cpu_mode mode, uint8_t *out)
{
    if ((mode == M16 || mode == P16) && ((in->mnemonic >= X86_MN_MOVD && in->mnemonic <= X86_MN_MOVDQU) ||
                                         in->mnemonic == X86_MN_CLFLUSHOPT))
        return false;
    size_t npfx = 0;
    while (npfx < n && is_prefix(b[npfx], mode))
        npfx++;
    bool rex_last = npfx && mode == M64 && b[npfx - 1] >= 0x40 && b[npfx - 1] <= 0x4F;
    size_t legacy = rex_last ? npfx - 1 : npfx, o = 0;
    for (size_t i = 0; i < legacy; i++)
        if (b[i] != 0x66 && b[i] != 0xF2 && b[i] != 0xF3)
            out[o++] = b[i];
    for (size_t i = 0; i < legacy; i++)
        if (b[i] == 0xF2 || b[i] == 0xF3)
            out[o++] = b[i];
    for (size_t i = 0; i < legacy; i++)
        if (b[i] == 0x66)
            out[o++] = b[i];
    memcpy(out + o, b + legacy, n - legacy);
    bool w_ignored = in->mnemonic >= X86_MN_MOVDQA || in->mnemonic == X86_MN_CLFLUSH ||
                     in->mnemonic == X86_MN_CLFLUSHOPT ||
                     (in->mnemonic == X86_MN_MOVQ && (in->opcode == 0x0F7E || in->opcode == 0x0FD6) &&
                      in->form != X86_FORM_GM_X);
    if (rex_last && w_ignored)
        out[legacy] &= (uint8_t)~0x08;
    return true;
}

/* One input through both decoders. */
static void differential(struct cs_state *s, const uint8_t *b, size_t n, enum x86_cpu_mode mode)
{
    struct x86_insn in;
    int r = decode_exact(b, n, mode, &in, NULL);
    cs_insn *ci = NULL;
    uint8_t cb[32];
    if (r == 0 && !capstone_input(&in, b, n, mode, cb)) {
        s->compared++;
        s->accepted++;
        s->skipped++;
        return;
    }
    size_t cnt = cs_disasm(s->h[mode], r == 0 ? cb : b, n, 0x1000, 1, &ci);
    char hex[64], err[160] = "";
    s->compared++;
    if (r != 0) {
        if (cnt)
            s->cs_only++;
        else
            s->refused_both++;
        if (cnt)
            cs_free(ci, cnt);
        return;
    }
    s->accepted++;
    if (!cnt) {
        snprintf(err, sizeof(err), "Capstone refuses");
    } else {
        const cs_x86 *x = &ci->detail->x86;
        if (ci->size != in.len)
            snprintf(err, sizeof(err), "length %u, decoder %u", ci->size, in.len);
        else if (!mnemonic_matches(&in, ci->mnemonic))
            snprintf(err, sizeof(err), "mnemonic '%s', decoder '%s'", ci->mnemonic, in.name);
        else if (in.lock != (x->prefix[0] == 0xF0))
            snprintf(err, sizeof(err), "LOCK");
        else if (in.form == X86_FORM_STRING && (in.rep == 0xF3) != (x->prefix[0] == 0xF3))
            snprintf(err, sizeof(err), "REP");
        else
            cs_compare_xchg(s->h[mode], &in, x, b, n, mode, err, sizeof(err));
    }
    if (err[0])
        fail_msg("%s [%s]: decoder says %s len %u; capstone '%s %s': %s",
                 hex_string(b, n, hex, sizeof(hex)), mode_name(mode), in.name, in.len,
                 cnt ? ci->mnemonic : "-", cnt ? ci->op_str : "", err);
    if (cnt)
        cs_free(ci, cnt);
}

static void report(const char *what, struct cs_state *s)
{
    print_message("capstone, %s: %lu inputs; the decoder accepted %lu: %lu agree with Capstone, "
                  "%lu not comparable (Capstone 4 bugs); %lu accepted only by Capstone, "
                  "%lu refused by both\n",
                  what, s->compared, s->accepted, s->accepted - s->skipped, s->skipped, s->cs_only,
                  s->refused_both);
    s->compared = s->accepted = s->skipped = s->cs_only = s->refused_both = 0;
}

static void test_capstone_table(void **state)
{
    (void)state;
    struct cs_state s = { 0 };
    cs_setup(&s);
    for (size_t i = 0; i < ARRAY_SIZE(dcases); i++) {
        uint8_t b[32];
        size_t n = parse_hex(dcases[i].hex, b, sizeof(b));
        differential(&s, b, n, dcases[i].mode);
    }
    assert_int_equal(s.accepted, ARRAY_SIZE(dcases));
    report("encoding table", &s);
    cs_teardown(&s);
}

#define RANDOM_INPUTS       120000
#define STRUCTURED_INPUTS   200000
#define MUTATED_INPUTS      120000

static enum x86_cpu_mode random_mode(uint64_t *rng)
{
    return (enum x86_cpu_mode)rng_below(rng, 4);
}

/* Prefixes (REX too in 64-bit mode), a supported opcode, random tail. */
static size_t structured(uint64_t *rng, enum x86_cpu_mode mode, uint8_t *b)
{
    size_t n = 0;
    unsigned npfx = (unsigned)rng_below(rng, 4) + (rng_below(rng, 8) == 0 ? 6 : 0);
    for (unsigned i = 0; i < npfx; i++)
        b[n++] = x86_prefix_bytes[rng_below(rng, ARRAY_SIZE(x86_prefix_bytes))];
    if (mode == M64 && rng_below(rng, 2))
        b[n++] = (uint8_t)(0x40 + rng_below(rng, 16));
    if (rng_below(rng, 3) == 0) {
        b[n++] = 0x0F;
        b[n++] = x86_supported_0f[rng_below(rng, ARRAY_SIZE(x86_supported_0f))];
    } else {
        b[n++] = x86_supported_1byte[rng_below(rng, ARRAY_SIZE(x86_supported_1byte))];
    }
    size_t total = n + rng_below(rng, 12);
    while (n < total && n < 20)
        b[n++] = (uint8_t)rng_next(rng);
    return n;
}

static size_t mutated(uint64_t *rng, enum x86_cpu_mode *mode, uint8_t *b)
{
    const struct dcase *c = &dcases[rng_below(rng, ARRAY_SIZE(dcases))];
    size_t n = parse_hex(c->hex, b, 32);
    *mode = rng_below(rng, 4) == 0 ? random_mode(rng) : c->mode;
    unsigned muts = 1 + (unsigned)rng_below(rng, 3);
    for (unsigned i = 0; i < muts; i++) {
        size_t at = n ? rng_below(rng, n) : 0;
        switch (rng_below(rng, 5)) {
        case 0:     /* flip a bit */
            if (n)
                b[at] ^= (uint8_t)(1u << rng_below(rng, 8));
            break;
        case 1:     /* replace a byte */
            if (n)
                b[at] = (uint8_t)rng_next(rng);
            break;
        case 2:     /* insert a prefix (or REX) in front */
            if (n < 24) {
                memmove(b + 1, b, n++);
                b[0] = rng_below(rng, 4) ? x86_prefix_bytes[rng_below(rng, ARRAY_SIZE(x86_prefix_bytes))]
                                         : (uint8_t)(0x40 + rng_below(rng, 16));
            }
            break;
        case 3:     /* drop a byte */
            if (n) {
                memmove(b + at, b + at + 1, n - at - 1);
                n--;
            }
            break;
        default:    /* append random bytes */
            while (n < 24 && rng_below(rng, 2))
                b[n++] = (uint8_t)rng_next(rng);
            break;
        }
    }
    return n;
}

static void test_capstone_random(void **state)
{
    (void)state;
    struct cs_state s = { 0 };
    uint64_t rng = 0x9E3779B97F4A7C15ULL;
    uint8_t b[32];
    cs_setup(&s);

    for (unsigned i = 0; i < RANDOM_INPUTS; i++) {
        size_t n = 1 + rng_below(&rng, 15);
        for (size_t k = 0; k < n; k++)
            b[k] = (uint8_t)rng_next(&rng);
        differential(&s, b, n, random_mode(&rng));
    }
    unsigned long base_acc = s.accepted;
    report("uniform random bytes", &s);

    for (unsigned i = 0; i < STRUCTURED_INPUTS; i++) {
        enum x86_cpu_mode mode = random_mode(&rng);
        size_t n = structured(&rng, mode, b);
        differential(&s, b, n, mode);
    }
    unsigned long struct_acc = s.accepted;
    report("prefixes + supported opcode + random bytes", &s);

    for (unsigned i = 0; i < MUTATED_INPUTS; i++) {
        enum x86_cpu_mode mode;
        size_t n = mutated(&rng, &mode, b);
        differential(&s, b, n, mode);
    }
    unsigned long mut_acc = s.accepted;
    report("mutated table encodings", &s);
    /* The generators must keep exercising the accept path. */
    assert_true(base_acc > 0);
    assert_true(struct_acc > STRUCTURED_INPUTS / 10);
    assert_true(mut_acc > MUTATED_INPUTS / 10);
    cs_teardown(&s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_encoding_table),
        cmocka_unit_test(test_truncation),
        cmocka_unit_test(test_refusals),
        cmocka_unit_test(test_capstone_table),
        cmocka_unit_test(test_capstone_random),
    };
    return cmocka_run_group_tests_name("x86_decode", tests, NULL, NULL);
}
