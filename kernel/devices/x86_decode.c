/*
 * x86 instruction decoder for MMIO emulation (interface: include/hv/x86_emulate.h).
 *
 * Table-driven: the one-byte and 0F opcode maps hold one descriptor per
 * opcode; descriptors of opcode groups (SDM Vol. 2D, A.4) and of instructions
 * selected by a mandatory 66/F3/F2 prefix point to sub-tables.  Only the
 * instructions a guest plausibly uses on device memory are present; every
 * other byte sequence is refused with a reason, never guessed at.
 *
 * The input is hostile (guest memory, possibly rewritten by another vCPU
 * since the exit), so the decoder only reads bytes[0..len), stops at the
 * architectural 15-byte limit and refuses encodings the CPU would reject
 * with #UD (a misplaced LOCK, a register operand where memory is required)
 * rather than executing something the guest could not have executed.
 */
#include <hv/x86_emulate.h>
#include <hv/kstring.h>

/* Legacy prefixes, SDM Vol. 2A, 2.1.1. */
#define PFX_LOCK            0xF0
#define PFX_REPNE           0xF2
#define PFX_REP             0xF3
#define PFX_OPSIZE          0x66
#define PFX_ADDRSIZE        0x67
#define PFX_ES              0x26
#define PFX_CS              0x2E
#define PFX_SS              0x36
#define PFX_DS              0x3E
#define PFX_FS              0x64
#define PFX_GS              0x65

/* REX prefix, SDM Vol. 2A, 2.2.1. */
#define REX_FIRST           0x40
#define REX_LAST            0x4F
#define REX_W               0x08
#define REX_R               0x04
#define REX_X               0x02
#define REX_B               0x01

#define OPC_ESCAPE          0x0F
#define OPC_3BYTE_38        0x38
#define OPC_3BYTE_3A        0x3A

/* ModRM / SIB fields, SDM Vol. 2A, 2.1.5. */
#define MODRM_MOD(m)        ((uint8_t)((m) >> 6))
#define MODRM_REG(m)        ((uint8_t)(((m) >> 3) & 7))
#define MODRM_RM(m)         ((uint8_t)((m) & 7))
#define MOD_NODISP          0
#define MOD_DISP8           1
#define MOD_DISPFULL        2
#define MOD_REGISTER        3
#define RM_SIB              4       /* 32/64-bit addressing: a SIB byte follows */
#define RM_DISP32           5       /* with mod 0: disp32 (64-bit mode: RIP + disp32) */
#define SIB_NO_INDEX        4       /* index field 100b without REX.X */
#define SIB_BASE_DISP32     5       /* base field 101b with mod 0: no base, disp32 */
#define RM16_DISP16         6       /* 16-bit addressing, mod 0: disp16 alone */

#define GPR_RAX             0
#define GPR_RBX             3
#define GPR_RSP             4
#define GPR_RBP             5
#define GPR_RSI             6
#define GPR_RDI             7

/* Descriptor flags. */
#define F_MODRM             BIT(0)  /* a ModRM byte follows the opcode */
#define F_MEM_ONLY          BIT(1)  /* mod = 3 is #UD (or another instruction) */
#define F_LOCK              BIT(2)  /* LOCK allowed with a memory destination */
#define F_REP               BIT(3)  /* F3 (REP) allowed: string instructions */
#define F_GROUP             BIT(4)  /* ModRM.reg selects sub[reg] */
#define F_MANDATORY         BIT(5)  /* none/66/F3/F2 select sub[0..3] */
#define F_LONG_ONLY         BIT(6)  /* valid in 64-bit mode only */
#define F_REXW_ONLY         BIT(7)  /* supported only with REX.W */

/* Operand size of a descriptor. */
enum opsz {
    SZ_V,           /* 16/32/64 from the mode, 66 and REX.W */
    SZ_B,           /* byte */
    SZ_Y,           /* 32, or 64 with REX.W (MOVD/MOVQ, MOVNTI) */
    SZ_Q,           /* 64 */
    SZ_X,           /* 128 (XMM) */
};

/* Immediate or offset following ModRM/SIB/displacement. */
enum immkind {
    IMM_NONE,
    IMM_Z,          /* Ib for byte operations, else Iw/Id; sign-extended (Iz) */
    IMM_S8,         /* Ib sign-extended to the operand size (83, 6B) */
    IMM_U8,         /* Ib zero-extended (BT bit offsets) */
    IMM_MOFFS,      /* address-size offset (A0-A3) */
};

/* Mandatory-prefix slots of an F_MANDATORY sub-table. */
enum { MP_NONE, MP_66, MP_F3, MP_F2, MP_COUNT };

#define GROUP_SIZE          8

struct opdesc {
    uint8_t mnemonic;       /* enum x86_mnemonic; INVALID: unsupported */
    uint8_t form;           /* enum x86_form */
    uint8_t size;           /* enum opsz */
    uint8_t imm;            /* enum immkind */
    uint8_t memsize;        /* r/m width when it differs from the operand size, else 0 */
    uint8_t flags;
    const struct opdesc *sub;
};

static const char *const mnemonic_names[X86_MN_COUNT] = {
    [X86_MN_INVALID] = "(bad)",
    [X86_MN_ADD] = "add", [X86_MN_OR] = "or", [X86_MN_ADC] = "adc", [X86_MN_SBB] = "sbb",
    [X86_MN_AND] = "and", [X86_MN_SUB] = "sub", [X86_MN_XOR] = "xor", [X86_MN_CMP] = "cmp",
    [X86_MN_MOV] = "mov", [X86_MN_MOVZX] = "movzx", [X86_MN_MOVSX] = "movsx",
    [X86_MN_MOVSXD] = "movsxd", [X86_MN_MOVS] = "movs", [X86_MN_STOS] = "stos",
    [X86_MN_LODS] = "lods", [X86_MN_TEST] = "test", [X86_MN_NOT] = "not", [X86_MN_NEG] = "neg",
    [X86_MN_INC] = "inc", [X86_MN_DEC] = "dec", [X86_MN_XCHG] = "xchg",
    [X86_MN_CMPXCHG] = "cmpxchg", [X86_MN_BT] = "bt", [X86_MN_BTS] = "bts", [X86_MN_BTR] = "btr",
    [X86_MN_BTC] = "btc", [X86_MN_MOVNTI] = "movnti", [X86_MN_CLFLUSH] = "clflush",
    [X86_MN_CLFLUSHOPT] = "clflushopt", [X86_MN_MOVD] = "movd", [X86_MN_MOVQ] = "movq",
    [X86_MN_MOVDQA] = "movdqa", [X86_MN_MOVDQU] = "movdqu", [X86_MN_MOVAPS] = "movaps",
    [X86_MN_MOVUPS] = "movups",
};

/* ---- opcode tables -------------------------------------------------------------- */

#define OP(mn, fm, sz, im, fl)      { .mnemonic = (mn), .form = (fm), .size = (sz), .imm = (im), .flags = (fl) }
#define OPM(mn, fm, sz, ms, fl)     { .mnemonic = (mn), .form = (fm), .size = (sz), .memsize = (ms), .flags = (fl) }
#define GROUP(tbl)                  { .flags = F_MODRM | F_GROUP, .sub = (tbl) }
#define MANDATORY(tbl)              { .flags = F_MANDATORY, .sub = (tbl) }

/*
 * The eight ALU instructions share one opcode pattern (SDM Vol. 2D, Table A-2):
 * base+0 Eb,Gb  base+1 Ev,Gv  base+2 Gb,Eb  base+3 Gv,Ev  base+4 AL,Ib  base+5 eAX,Iz.
 * LOCK is legal on all of them except CMP (SDM Vol. 2A, LOCK), and only when
 * the destination is memory, i.e. in the Eb,Gb / Ev,Gv forms.
 */
#define ALU_ROW(base, mn, lk)                                                   \
    [(base) + 0] = OP(mn, X86_FORM_E_G, SZ_B, IMM_NONE, F_MODRM | (lk)),        \
    [(base) + 1] = OP(mn, X86_FORM_E_G, SZ_V, IMM_NONE, F_MODRM | (lk)),        \
    [(base) + 2] = OP(mn, X86_FORM_G_E, SZ_B, IMM_NONE, F_MODRM),               \
    [(base) + 3] = OP(mn, X86_FORM_G_E, SZ_V, IMM_NONE, F_MODRM),               \
    [(base) + 4] = OP(mn, X86_FORM_ACC_I, SZ_B, IMM_Z, 0),                      \
    [(base) + 5] = OP(mn, X86_FORM_ACC_I, SZ_V, IMM_Z, 0)

/* Group 1 (80, 81, 83): ModRM.reg is the ALU operation. */
#define GROUP1(sz, im)                                                          \
    {                                                                           \
        OP(X86_MN_ADD, X86_FORM_E_I, sz, im, F_MODRM | F_LOCK),                 \
        OP(X86_MN_OR, X86_FORM_E_I, sz, im, F_MODRM | F_LOCK),                  \
        OP(X86_MN_ADC, X86_FORM_E_I, sz, im, F_MODRM | F_LOCK),                 \
        OP(X86_MN_SBB, X86_FORM_E_I, sz, im, F_MODRM | F_LOCK),                 \
        OP(X86_MN_AND, X86_FORM_E_I, sz, im, F_MODRM | F_LOCK),                 \
        OP(X86_MN_SUB, X86_FORM_E_I, sz, im, F_MODRM | F_LOCK),                 \
        OP(X86_MN_XOR, X86_FORM_E_I, sz, im, F_MODRM | F_LOCK),                 \
        OP(X86_MN_CMP, X86_FORM_E_I, sz, im, F_MODRM),                          \
    }

static const struct opdesc group1_80[GROUP_SIZE] = GROUP1(SZ_B, IMM_Z);
static const struct opdesc group1_81[GROUP_SIZE] = GROUP1(SZ_V, IMM_Z);
static const struct opdesc group1_83[GROUP_SIZE] = GROUP1(SZ_V, IMM_S8);

/* Group 11: only /0 is MOV (C6 F8 / C7 F8 are XABORT / XBEGIN). */
static const struct opdesc group11_c6[GROUP_SIZE] = {
    [0] = OP(X86_MN_MOV, X86_FORM_E_I, SZ_B, IMM_Z, F_MODRM),
};
static const struct opdesc group11_c7[GROUP_SIZE] = {
    [0] = OP(X86_MN_MOV, X86_FORM_E_I, SZ_V, IMM_Z, F_MODRM),
};

/* Group 3: TEST /0, NOT /2, NEG /3; MUL/IMUL/DIV/IDIV and the undocumented
 * TEST alias /1 are not supported. */
static const struct opdesc group3_f6[GROUP_SIZE] = {
    [0] = OP(X86_MN_TEST, X86_FORM_E_I, SZ_B, IMM_Z, F_MODRM),
    [2] = OP(X86_MN_NOT, X86_FORM_E, SZ_B, IMM_NONE, F_MODRM | F_LOCK),
    [3] = OP(X86_MN_NEG, X86_FORM_E, SZ_B, IMM_NONE, F_MODRM | F_LOCK),
};
static const struct opdesc group3_f7[GROUP_SIZE] = {
    [0] = OP(X86_MN_TEST, X86_FORM_E_I, SZ_V, IMM_Z, F_MODRM),
    [2] = OP(X86_MN_NOT, X86_FORM_E, SZ_V, IMM_NONE, F_MODRM | F_LOCK),
    [3] = OP(X86_MN_NEG, X86_FORM_E, SZ_V, IMM_NONE, F_MODRM | F_LOCK),
};

/* Groups 4 and 5: INC /0, DEC /1. */
static const struct opdesc group4_fe[GROUP_SIZE] = {
    [0] = OP(X86_MN_INC, X86_FORM_E, SZ_B, IMM_NONE, F_MODRM | F_LOCK),
    [1] = OP(X86_MN_DEC, X86_FORM_E, SZ_B, IMM_NONE, F_MODRM | F_LOCK),
};
static const struct opdesc group5_ff[GROUP_SIZE] = {
    [0] = OP(X86_MN_INC, X86_FORM_E, SZ_V, IMM_NONE, F_MODRM | F_LOCK),
    [1] = OP(X86_MN_DEC, X86_FORM_E, SZ_V, IMM_NONE, F_MODRM | F_LOCK),
};

static const struct opdesc onebyte[256] = {
    ALU_ROW(0x00, X86_MN_ADD, F_LOCK),
    ALU_ROW(0x08, X86_MN_OR, F_LOCK),
    ALU_ROW(0x10, X86_MN_ADC, F_LOCK),
    ALU_ROW(0x18, X86_MN_SBB, F_LOCK),
    ALU_ROW(0x20, X86_MN_AND, F_LOCK),
    ALU_ROW(0x28, X86_MN_SUB, F_LOCK),
    ALU_ROW(0x30, X86_MN_XOR, F_LOCK),
    ALU_ROW(0x38, X86_MN_CMP, 0),
    /* 63 is ARPL outside 64-bit mode; without REX.W it is a plain 16/32-bit move. */
    [0x63] = OPM(X86_MN_MOVSXD, X86_FORM_G_E, SZ_V, 4, F_MODRM | F_LONG_ONLY | F_REXW_ONLY),
    [0x80] = GROUP(group1_80),
    [0x81] = GROUP(group1_81),
    [0x83] = GROUP(group1_83),
    [0x84] = OP(X86_MN_TEST, X86_FORM_E_G, SZ_B, IMM_NONE, F_MODRM),
    [0x85] = OP(X86_MN_TEST, X86_FORM_E_G, SZ_V, IMM_NONE, F_MODRM),
    /* XCHG with memory is locked whether or not LOCK is present (SDM Vol. 2B, XCHG). */
    [0x86] = OP(X86_MN_XCHG, X86_FORM_E_G, SZ_B, IMM_NONE, F_MODRM | F_LOCK),
    [0x87] = OP(X86_MN_XCHG, X86_FORM_E_G, SZ_V, IMM_NONE, F_MODRM | F_LOCK),
    [0x88] = OP(X86_MN_MOV, X86_FORM_E_G, SZ_B, IMM_NONE, F_MODRM),
    [0x89] = OP(X86_MN_MOV, X86_FORM_E_G, SZ_V, IMM_NONE, F_MODRM),
    [0x8A] = OP(X86_MN_MOV, X86_FORM_G_E, SZ_B, IMM_NONE, F_MODRM),
    [0x8B] = OP(X86_MN_MOV, X86_FORM_G_E, SZ_V, IMM_NONE, F_MODRM),
    [0xA0] = OP(X86_MN_MOV, X86_FORM_ACC_MOFFS, SZ_B, IMM_MOFFS, 0),
    [0xA1] = OP(X86_MN_MOV, X86_FORM_ACC_MOFFS, SZ_V, IMM_MOFFS, 0),
    [0xA2] = OP(X86_MN_MOV, X86_FORM_MOFFS_ACC, SZ_B, IMM_MOFFS, 0),
    [0xA3] = OP(X86_MN_MOV, X86_FORM_MOFFS_ACC, SZ_V, IMM_MOFFS, 0),
    [0xA4] = OP(X86_MN_MOVS, X86_FORM_STRING, SZ_B, IMM_NONE, F_REP),
    [0xA5] = OP(X86_MN_MOVS, X86_FORM_STRING, SZ_V, IMM_NONE, F_REP),
    [0xAA] = OP(X86_MN_STOS, X86_FORM_STRING, SZ_B, IMM_NONE, F_REP),
    [0xAB] = OP(X86_MN_STOS, X86_FORM_STRING, SZ_V, IMM_NONE, F_REP),
    [0xAC] = OP(X86_MN_LODS, X86_FORM_STRING, SZ_B, IMM_NONE, F_REP),
    [0xAD] = OP(X86_MN_LODS, X86_FORM_STRING, SZ_V, IMM_NONE, F_REP),
    [0xC6] = GROUP(group11_c6),
    [0xC7] = GROUP(group11_c7),
    [0xF6] = GROUP(group3_f6),
    [0xF7] = GROUP(group3_f7),
    [0xFE] = GROUP(group4_fe),
    [0xFF] = GROUP(group5_ff),
};

/* Group 8 (0F BA): BT/BTS/BTR/BTC Ev, Ib at /4../7. */
static const struct opdesc group8_0fba[GROUP_SIZE] = {
    [4] = OP(X86_MN_BT, X86_FORM_E_I, SZ_V, IMM_U8, F_MODRM),
    [5] = OP(X86_MN_BTS, X86_FORM_E_I, SZ_V, IMM_U8, F_MODRM | F_LOCK),
    [6] = OP(X86_MN_BTR, X86_FORM_E_I, SZ_V, IMM_U8, F_MODRM | F_LOCK),
    [7] = OP(X86_MN_BTC, X86_FORM_E_I, SZ_V, IMM_U8, F_MODRM | F_LOCK),
};

/* Group 15 (0F AE) /7 with a memory operand: CLFLUSH (no prefix) and
 * CLFLUSHOPT (66).  With mod = 3 the same slot is SFENCE / PCOMMIT. */
static const struct opdesc group15_np[GROUP_SIZE] = {
    [7] = OPM(X86_MN_CLFLUSH, X86_FORM_E, SZ_B, 1, F_MODRM | F_MEM_ONLY),
};
static const struct opdesc group15_66[GROUP_SIZE] = {
    [7] = OPM(X86_MN_CLFLUSHOPT, X86_FORM_E, SZ_B, 1, F_MODRM | F_MEM_ONLY),
};
static const struct opdesc mp_0fae[MP_COUNT] = {
    [MP_NONE] = GROUP(group15_np),
    [MP_66] = GROUP(group15_66),
};

/* SSE moves selected by their mandatory prefix (SDM Vol. 2D, Table A-3). */
static const struct opdesc mp_0f10[MP_COUNT] = {
    [MP_NONE] = OP(X86_MN_MOVUPS, X86_FORM_X_XM, SZ_X, IMM_NONE, F_MODRM),
};
static const struct opdesc mp_0f11[MP_COUNT] = {
    [MP_NONE] = OP(X86_MN_MOVUPS, X86_FORM_XM_X, SZ_X, IMM_NONE, F_MODRM),
};
static const struct opdesc mp_0f28[MP_COUNT] = {
    [MP_NONE] = OP(X86_MN_MOVAPS, X86_FORM_X_XM, SZ_X, IMM_NONE, F_MODRM),
};
static const struct opdesc mp_0f29[MP_COUNT] = {
    [MP_NONE] = OP(X86_MN_MOVAPS, X86_FORM_XM_X, SZ_X, IMM_NONE, F_MODRM),
};
/* MOVD with REX.W is MOVQ; the decoder renames it. */
static const struct opdesc mp_0f6e[MP_COUNT] = {
    [MP_66] = OP(X86_MN_MOVD, X86_FORM_X_GM, SZ_Y, IMM_NONE, F_MODRM),
};
static const struct opdesc mp_0f7e[MP_COUNT] = {
    [MP_66] = OP(X86_MN_MOVD, X86_FORM_GM_X, SZ_Y, IMM_NONE, F_MODRM),
    [MP_F3] = OP(X86_MN_MOVQ, X86_FORM_X_XM, SZ_Q, IMM_NONE, F_MODRM),
};
static const struct opdesc mp_0f6f[MP_COUNT] = {
    [MP_66] = OP(X86_MN_MOVDQA, X86_FORM_X_XM, SZ_X, IMM_NONE, F_MODRM),
    [MP_F3] = OP(X86_MN_MOVDQU, X86_FORM_X_XM, SZ_X, IMM_NONE, F_MODRM),
};
static const struct opdesc mp_0f7f[MP_COUNT] = {
    [MP_66] = OP(X86_MN_MOVDQA, X86_FORM_XM_X, SZ_X, IMM_NONE, F_MODRM),
    [MP_F3] = OP(X86_MN_MOVDQU, X86_FORM_XM_X, SZ_X, IMM_NONE, F_MODRM),
};
static const struct opdesc mp_0fd6[MP_COUNT] = {
    [MP_66] = OP(X86_MN_MOVQ, X86_FORM_XM_X, SZ_Q, IMM_NONE, F_MODRM),
};
/* MOVNTI is NP: 66/F2/F3 0F C3 are #UD. */
static const struct opdesc mp_0fc3[MP_COUNT] = {
    [MP_NONE] = OP(X86_MN_MOVNTI, X86_FORM_E_G, SZ_Y, IMM_NONE, F_MODRM | F_MEM_ONLY),
};

static const struct opdesc twobyte[256] = {
    [0x10] = MANDATORY(mp_0f10),
    [0x11] = MANDATORY(mp_0f11),
    [0x28] = MANDATORY(mp_0f28),
    [0x29] = MANDATORY(mp_0f29),
    [0x6E] = MANDATORY(mp_0f6e),
    [0x6F] = MANDATORY(mp_0f6f),
    [0x7E] = MANDATORY(mp_0f7e),
    [0x7F] = MANDATORY(mp_0f7f),
    [0xA3] = OP(X86_MN_BT, X86_FORM_E_G, SZ_V, IMM_NONE, F_MODRM),
    [0xAB] = OP(X86_MN_BTS, X86_FORM_E_G, SZ_V, IMM_NONE, F_MODRM | F_LOCK),
    [0xAE] = MANDATORY(mp_0fae),
    [0xB0] = OP(X86_MN_CMPXCHG, X86_FORM_E_G, SZ_B, IMM_NONE, F_MODRM | F_LOCK),
    [0xB1] = OP(X86_MN_CMPXCHG, X86_FORM_E_G, SZ_V, IMM_NONE, F_MODRM | F_LOCK),
    [0xB3] = OP(X86_MN_BTR, X86_FORM_E_G, SZ_V, IMM_NONE, F_MODRM | F_LOCK),
    [0xB6] = OPM(X86_MN_MOVZX, X86_FORM_G_E, SZ_V, 1, F_MODRM),
    [0xB7] = OPM(X86_MN_MOVZX, X86_FORM_G_E, SZ_V, 2, F_MODRM),
    [0xBA] = GROUP(group8_0fba),
    [0xBB] = OP(X86_MN_BTC, X86_FORM_E_G, SZ_V, IMM_NONE, F_MODRM | F_LOCK),
    [0xBE] = OPM(X86_MN_MOVSX, X86_FORM_G_E, SZ_V, 1, F_MODRM),
    [0xBF] = OPM(X86_MN_MOVSX, X86_FORM_G_E, SZ_V, 2, F_MODRM),
    [0xC3] = MANDATORY(mp_0fc3),
    [0xD6] = MANDATORY(mp_0fd6),
};

/* ---- byte cursor ---------------------------------------------------------------- */

struct cursor {
    const uint8_t *bytes;
    size_t avail;           /* bytes the caller gave */
    size_t pos;
    const char *why;
};

/* Reads `n` little-endian bytes.  The 15-byte limit (SDM Vol. 2A, 2.3.11:
 * longer instructions raise #GP) is checked before the buffer end so that an
 * over-long prefix run is reported as such. */
static bool fetch(struct cursor *c, unsigned n, uint64_t *out)
{
    if (c->pos + n > X86_MAX_INSN_LEN) {
        c->why = "instruction longer than 15 bytes";
        return false;
    }
    if (c->pos + n > c->avail) {
        c->why = "truncated instruction";
        return false;
    }
    uint64_t v = 0;
    for (unsigned i = 0; i < n; i++)
        v |= (uint64_t)c->bytes[c->pos + i] << (8 * i);
    c->pos += n;
    *out = v;
    return true;
}

static bool fetch8(struct cursor *c, uint8_t *out)
{
    uint64_t v;
    if (!fetch(c, 1, &v))
        return false;
    *out = (uint8_t)v;
    return true;
}

static uint64_t sign_extend(uint64_t v, unsigned bytes)
{
    if (bytes >= 8)
        return v;
    uint64_t sign = BIT(8 * bytes - 1);
    v &= (sign << 1) - 1;
    return (v ^ sign) - sign;
}

/* ---- prefixes ------------------------------------------------------------------- */

struct prefixes {
    bool lock, opsize, addrsize, rep, repne;
    uint8_t rex;            /* effective REX (immediately before the opcode), or 0 */
    enum x86_seg seg;       /* segment override, X86_SEG_NONE when absent */
};

static enum x86_seg override_segment(uint8_t b)
{
    switch (b) {
    case PFX_ES: return X86_SEG_ES;
    case PFX_CS: return X86_SEG_CS;
    case PFX_SS: return X86_SEG_SS;
    case PFX_DS: return X86_SEG_DS;
    case PFX_FS: return X86_SEG_FS;
    case PFX_GS: return X86_SEG_GS;
    default: return X86_SEG_NONE;
    }
}

/*
 * Consumes the prefixes and returns the first opcode byte in *opc.
 *
 * - Prefixes of one group may repeat; the last segment override wins
 *   (SDM Vol. 2A, 2.1.1).
 * - In 64-bit mode ES/CS/SS/DS overrides are null prefixes (SDM Vol. 1,
 *   3.3.7.1; AMD APM Vol. 3, 1.2.4): they neither select a segment nor cancel
 *   an earlier FS/GS override.
 * - REX counts only immediately before the opcode; a REX followed by another
 *   prefix is ignored (SDM Vol. 2A, 2.2.1), and of several REX bytes in a row
 *   only the last one is used.
 */
static bool decode_prefixes(struct cursor *c, enum x86_cpu_mode mode, struct prefixes *p,
                            uint8_t *opc)
{
    memset(p, 0, sizeof(*p));
    p->seg = X86_SEG_NONE;
    for (;;) {
        uint8_t b;
        if (!fetch8(c, &b))
            return false;
        enum x86_seg s = override_segment(b);
        if (s != X86_SEG_NONE) {
            if (mode != X86_MODE_LONG64 || s == X86_SEG_FS || s == X86_SEG_GS)
                p->seg = s;
            p->rex = 0;
            continue;
        }
        switch (b) {
        case PFX_LOCK:      p->lock = true; p->rex = 0; continue;
        case PFX_REP:       p->rep = true; p->rex = 0; continue;
        case PFX_REPNE:     p->repne = true; p->rex = 0; continue;
        case PFX_OPSIZE:    p->opsize = true; p->rex = 0; continue;
        case PFX_ADDRSIZE:  p->addrsize = true; p->rex = 0; continue;
        default: break;
        }
        if (mode == X86_MODE_LONG64 && b >= REX_FIRST && b <= REX_LAST) {
            p->rex = b;
            continue;
        }
        *opc = b;
        return true;
    }
}

/* ---- sizes ---------------------------------------------------------------------- */

/* Operand size, SDM Vol. 1, 3.6 and Vol. 2A, 2.2.1.2 (REX.W beats 66). */
static uint8_t operand_size(enum opsz sz, enum x86_cpu_mode mode, const struct prefixes *p)
{
    bool rexw = p->rex & REX_W;
    switch (sz) {
    case SZ_B: return 1;
    case SZ_Y: return rexw ? 8 : 4;
    case SZ_Q: return 8;
    case SZ_X: return 16;
    case SZ_V: break;
    }
    if (rexw)
        return 8;
    if (mode == X86_MODE_REAL || mode == X86_MODE_PROT16)
        return p->opsize ? 4 : 2;
    return p->opsize ? 2 : 4;
}

/* Address size, SDM Vol. 1, 3.6 and Table 3-4 (67 toggles 16/32, or 64 -> 32). */
static uint8_t address_size(enum x86_cpu_mode mode, const struct prefixes *p)
{
    switch (mode) {
    case X86_MODE_LONG64: return p->addrsize ? 4 : 8;
    case X86_MODE_PROT32: return p->addrsize ? 2 : 4;
    default:              return p->addrsize ? 4 : 2;
    }
}

/* ---- opcode lookup -------------------------------------------------------------- */

/* Picks the sub-table slot of an instruction with a mandatory prefix.  A
 * combination of 66/F2/F3 is refused: which one the CPU treats as mandatory
 * is not something a guest relies on for device access. */
static const struct opdesc *select_mandatory(const struct opdesc *d, const struct prefixes *p,
                                             const char **why)
{
    unsigned n = (unsigned)p->opsize + (unsigned)p->rep + (unsigned)p->repne;
    if (n > 1) {
        *why = "conflicting 66/F2/F3 prefixes";
        return NULL;
    }
    unsigned slot = p->rep ? MP_F3 : p->repne ? MP_F2 : p->opsize ? MP_66 : MP_NONE;
    return &d->sub[slot];
}

/* Checks that the prefixes are legal for the (leaf) descriptor. */
static bool check_prefixes(const struct opdesc *d, bool mandatory, uint8_t mod,
                           enum x86_cpu_mode mode, const struct prefixes *p, const char **why)
{
    if ((d->flags & F_LONG_ONLY) && mode != X86_MODE_LONG64) {
        *why = "instruction valid in 64-bit mode only";
        return false;
    }
    if ((d->flags & F_REXW_ONLY) && !(p->rex & REX_W)) {
        *why = "unsupported operand size (REX.W required)";
        return false;
    }
    if ((d->flags & F_MEM_ONLY) && mod == MOD_REGISTER) {
        *why = "register operand where memory is required";
        return false;
    }
    /* LOCK: only the listed read-modify-write instructions with a memory
     * destination; anything else is #UD (SDM Vol. 2A, LOCK). */
    if (p->lock && (!(d->flags & F_LOCK) || mod == MOD_REGISTER)) {
        *why = "LOCK prefix not allowed here";
        return false;
    }
    if (!mandatory && (p->rep || p->repne)) {
        /* REPNE with MOVS/STOS/LODS is undefined (SDM Vol. 2B, REP); on other
         * instructions F2/F3 are either ignored or XACQUIRE/XRELEASE hints,
         * which device accesses have no use for. */
        if (!(d->flags & F_REP) || p->repne) {
            *why = "unsupported REP/REPNE prefix";
            return false;
        }
    }
    return true;
}

/* ---- ModRM / SIB ---------------------------------------------------------------- */

/* 16-bit addressing forms, SDM Vol. 2A, Table 2-1 (a lone register is the base). */
static const struct { uint8_t base, index; } modrm16[8] = {
    { GPR_RBX, GPR_RSI }, { GPR_RBX, GPR_RDI }, { GPR_RBP, GPR_RSI }, { GPR_RBP, GPR_RDI },
    { GPR_RSI, X86_REG_NONE }, { GPR_RDI, X86_REG_NONE }, { GPR_RBP, X86_REG_NONE },
    { GPR_RBX, X86_REG_NONE },
};

static bool decode_disp(struct cursor *c, struct x86_insn *insn, unsigned bytes)
{
    uint64_t v;
    if (!fetch(c, bytes, &v))
        return false;
    insn->disp = sign_extend(v, bytes);
    insn->disp_size = (uint8_t)bytes;
    return true;
}

static bool decode_mem16(struct cursor *c, struct x86_insn *insn)
{
    uint8_t rm = MODRM_RM(insn->modrm);
    if (insn->mod == MOD_NODISP && rm == RM16_DISP16)
        return decode_disp(c, insn, 2);
    insn->base_reg = modrm16[rm].base;
    insn->index_reg = modrm16[rm].index;
    if (insn->mod == MOD_DISP8)
        return decode_disp(c, insn, 1);
    if (insn->mod == MOD_DISPFULL)
        return decode_disp(c, insn, 2);
    return true;
}

/* 32/64-bit addressing, SDM Vol. 2A, Tables 2-2 and 2-3, and 2.2.1.3 - 2.2.1.6
 * for REX.X/REX.B and RIP-relative addressing. */
static bool decode_mem32(struct cursor *c, struct x86_insn *insn, enum x86_cpu_mode mode)
{
    uint8_t rm = MODRM_RM(insn->modrm);
    uint8_t rex = insn->rex;
    if (rm == RM_SIB) {
        uint8_t sib;
        if (!fetch8(c, &sib))
            return false;
        uint8_t index = (uint8_t)(((sib >> 3) & 7) | ((rex & REX_X) ? 8 : 0));
        uint8_t base = (uint8_t)((sib & 7) | ((rex & REX_B) ? 8 : 0));
        if (index != SIB_NO_INDEX) {
            insn->index_reg = index;
            insn->scale = (uint8_t)(1u << (sib >> 6));
        }
        /* Base 101b with mod 0 means "no base, disp32" also with REX.B (r13). */
        if ((sib & 7) == SIB_BASE_DISP32 && insn->mod == MOD_NODISP)
            return decode_disp(c, insn, 4);
        insn->base_reg = base;
    } else if (rm == RM_DISP32 && insn->mod == MOD_NODISP) {
        insn->rip_relative = mode == X86_MODE_LONG64;
        return decode_disp(c, insn, 4);
    } else {
        insn->base_reg = (uint8_t)(rm | ((rex & REX_B) ? 8 : 0));
    }
    if (insn->mod == MOD_DISP8)
        return decode_disp(c, insn, 1);
    if (insn->mod == MOD_DISPFULL)
        return decode_disp(c, insn, 4);
    return true;
}

/* The default segment is SS when rBP or rSP is the base (SDM Vol. 1, 3.7.4,
 * Table 3-5), DS otherwise; an override replaces it. */
static enum x86_seg memory_segment(const struct x86_insn *insn, const struct prefixes *p)
{
    if (p->seg != X86_SEG_NONE)
        return p->seg;
    if (insn->base_reg == GPR_RBP || insn->base_reg == GPR_RSP)
        return X86_SEG_SS;
    return X86_SEG_DS;
}

/* ---- immediates and implicit operands ------------------------------------------- */

static bool decode_imm(struct cursor *c, struct x86_insn *insn, enum immkind kind)
{
    uint64_t v;
    unsigned n;
    switch (kind) {
    case IMM_NONE:
        return true;
    case IMM_S8:
    case IMM_U8:
        n = 1;
        break;
    case IMM_Z:
        /* Iz: 16 bits with a 16-bit operand, else 32 (sign-extended to 64). */
        n = insn->opsize == 8 ? 4 : insn->opsize;
        break;
    case IMM_MOFFS:
        /* The offset is address-size wide (SDM Vol. 2A, MOV, note on moffs). */
        if (!fetch(c, insn->addrsize, &v))
            return false;
        insn->has_mem = true;
        insn->disp = v;
        insn->disp_size = insn->addrsize;
        return true;
    default:
        return false;
    }
    if (!fetch(c, n, &v))
        return false;
    insn->imm = kind == IMM_U8 ? v : sign_extend(v, n);
    insn->imm_size = (uint8_t)n;
    return true;
}

/* MOVS/LODS read DS:rSI (DS overridable), STOS writes ES:rDI (never
 * overridable), SDM Vol. 2B, MOVS/STOS/LODS.  MOVS also writes ES:rDI. */
static void string_operand(struct x86_insn *insn, const struct prefixes *p)
{
    insn->has_mem = true;
    if (insn->mnemonic == X86_MN_STOS) {
        insn->base_reg = GPR_RDI;
        insn->seg = X86_SEG_ES;
    } else {
        insn->base_reg = GPR_RSI;
        insn->seg = p->seg != X86_SEG_NONE ? p->seg : X86_SEG_DS;
    }
}

/* ---- the decoder ---------------------------------------------------------------- */

static bool lookup(struct cursor *c, const struct prefixes *p, enum x86_cpu_mode mode,
                   uint8_t opc, struct x86_insn *insn, const struct opdesc **out)
{
    const struct opdesc *d;
    if (opc == OPC_ESCAPE) {
        uint8_t opc2;
        if (!fetch8(c, &opc2))
            return false;
        if (opc2 == OPC_3BYTE_38 || opc2 == OPC_3BYTE_3A) {
            c->why = "unsupported opcode (three-byte map)";
            return false;
        }
        insn->opcode = (uint16_t)(OPC_ESCAPE << 8 | opc2);
        d = &twobyte[opc2];
    } else {
        insn->opcode = opc;
        d = &onebyte[opc];
    }
    bool mandatory = false;
    if (d->flags & F_MANDATORY) {
        d = select_mandatory(d, p, &c->why);
        if (!d)
            return false;
        mandatory = true;
    }
    if (d->flags & (F_MODRM | F_GROUP)) {
        if (!fetch8(c, &insn->modrm))
            return false;
        insn->has_modrm = true;
        insn->mod = MODRM_MOD(insn->modrm);
        insn->reg = (uint8_t)(MODRM_REG(insn->modrm) | ((p->rex & REX_R) ? 8 : 0));
        insn->rm = (uint8_t)(MODRM_RM(insn->modrm) | ((p->rex & REX_B) ? 8 : 0));
        if (d->flags & F_GROUP)
            d = &d->sub[MODRM_REG(insn->modrm)];
    }
    if (d->mnemonic == X86_MN_INVALID) {
        c->why = "unsupported opcode";
        return false;
    }
    if (!check_prefixes(d, mandatory, insn->has_modrm ? insn->mod : 0, mode, p, &c->why))
        return false;
    if (mandatory)
        insn->rep = 0;      /* F3 was the mandatory prefix, not REP */
    *out = d;
    return true;
}

static void reset_insn(struct x86_insn *insn)
{
    memset(insn, 0, sizeof(*insn));
    insn->seg = X86_SEG_NONE;
    insn->base_reg = X86_REG_NONE;
    insn->index_reg = X86_REG_NONE;
    insn->name = mnemonic_names[X86_MN_INVALID];
}

/* ModRM memory operand, implicit accumulator, immediate or moffs, string operands. */
static bool decode_operands(struct cursor *c, enum x86_cpu_mode mode, const struct prefixes *p,
                            enum immkind imm, struct x86_insn *insn)
{
    if (insn->has_modrm && insn->mod != MOD_REGISTER) {
        insn->has_mem = true;
        bool ok = insn->addrsize == 2 ? decode_mem16(c, insn) : decode_mem32(c, insn, mode);
        if (!ok)
            return false;
        insn->seg = memory_segment(insn, p);
    }
    bool moffs = insn->form == X86_FORM_ACC_MOFFS || insn->form == X86_FORM_MOFFS_ACC;
    if (moffs || insn->form == X86_FORM_ACC_I)
        insn->reg = GPR_RAX;
    if (!decode_imm(c, insn, imm))
        return false;
    if (moffs)
        insn->seg = p->seg != X86_SEG_NONE ? p->seg : X86_SEG_DS;
    if (insn->form == X86_FORM_STRING)
        string_operand(insn, p);
    if (insn->has_mem && insn->scale == 0)
        insn->scale = 1;        /* no index (16-bit forms, moffs, strings, SIB without index) */
    return true;
}

static bool decode(struct cursor *c, enum x86_cpu_mode mode, struct x86_insn *insn)
{
    struct prefixes p;
    uint8_t opc;
    const struct opdesc *d;

    if (!decode_prefixes(c, mode, &p, &opc))
        return false;
    insn->lock = p.lock;
    insn->rex = p.rex;
    insn->rep = p.rep ? PFX_REP : p.repne ? PFX_REPNE : 0;
    if (!lookup(c, &p, mode, opc, insn, &d))
        return false;

    insn->mnemonic = d->mnemonic;
    insn->form = d->form;
    insn->opsize = operand_size(d->size, mode, &p);
    insn->addrsize = address_size(mode, &p);
    insn->memsize = d->memsize ? d->memsize : insn->opsize;
    if (insn->mnemonic == X86_MN_MOVD && insn->opsize == 8)
        insn->mnemonic = X86_MN_MOVQ;
    insn->name = mnemonic_names[insn->mnemonic];
    if (!decode_operands(c, mode, &p, (enum immkind)d->imm, insn))
        return false;
    insn->len = (uint8_t)c->pos;
    return true;
}

int x86_decode(const uint8_t *bytes, size_t len, enum x86_cpu_mode mode, struct x86_insn *insn,
               const char **why)
{
    struct cursor c = { .bytes = bytes, .avail = bytes ? len : 0, .pos = 0, .why = NULL };

    reset_insn(insn);
    if ((unsigned)mode > X86_MODE_LONG64) {
        c.why = "invalid CPU mode";
    } else if (decode(&c, mode, insn)) {
        if (why)
            *why = NULL;
        return 0;
    }
    if (why)
        *why = c.why ? c.why : "undecodable instruction";
    reset_insn(insn);
    return -1;
}
