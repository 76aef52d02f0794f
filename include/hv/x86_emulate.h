/*
 * The in-kernel x86 instruction decoder and emulator (kernel/devices/x86_emulate.c),
 * used to complete MMIO accesses that exited with an EPT violation.  Pure and
 * table-driven: it sees the instruction bytes, a register file and memory
 * callbacks, never a VMCS, so the same file builds in the kernel and in host
 * unit tests (tests/unit/test_x86_*.c) and the fuzzer.
 *
 * Every input is hostile: undecodable or unsupported instructions are refused
 * with X86_EMU_UNSUPPORTED (the caller injects #UD and logs the bytes); the
 * decoder never reads beyond the bytes it was given.
 */
#ifndef HV_X86_EMULATE_H
#define HV_X86_EMULATE_H

#include <hv/types.h>

#define X86_MAX_INSN_LEN    15

enum x86_cpu_mode {
    X86_MODE_REAL,          /* 16-bit default operand/address size */
    X86_MODE_PROT16,        /* protected mode, CS.D = 0 */
    X86_MODE_PROT32,        /* protected mode, CS.D = 1 (also compatibility mode, CS.D = 1) */
    X86_MODE_LONG64,        /* 64-bit mode (CS.L = 1) */
};

enum x86_seg { X86_SEG_ES, X86_SEG_CS, X86_SEG_SS, X86_SEG_DS, X86_SEG_FS, X86_SEG_GS, X86_SEG_NONE };

/* RFLAGS bits the emulator computes (arithmetic flags) and reads (DF). */
#define X86_FLAG_CF     BIT(0)
#define X86_FLAG_PF     BIT(2)
#define X86_FLAG_AF     BIT(4)
#define X86_FLAG_ZF     BIT(6)
#define X86_FLAG_SF     BIT(7)
#define X86_FLAG_DF     BIT(10)
#define X86_FLAG_OF     BIT(11)
#define X86_ARITH_FLAGS (X86_FLAG_CF | X86_FLAG_PF | X86_FLAG_AF | X86_FLAG_ZF | X86_FLAG_SF | X86_FLAG_OF)

/* The guest registers the emulator reads and writes. */
struct x86_regs {
    uint64_t gpr[16];       /* RAX, RCX, RDX, RBX, RSP, RBP, RSI, RDI, R8-R15 */
    uint64_t rip;           /* of the instruction being emulated; advanced on success */
    uint64_t rflags;
};

/*
 * Memory and vector-register access.  `seg` and `offset` name a logical
 * address: the caller adds the segment base, checks limits as it sees fit,
 * translates through the guest's paging and routes the access to RAM or to
 * a device.  Each callback returns 0, or -1 when the access faulted (the
 * caller has recorded what to inject; emulation stops with X86_EMU_FAULT and
 * changes no register but for completed REP iterations).  `size` is 1, 2,
 * 4, 8 or 16.  read_xmm/write_xmm returning -1 (e.g. #NM to inject) also
 * ends in X86_EMU_FAULT; an XMM register is written last, after every
 * memory access of the instruction succeeded.
 */
struct x86_emu_ops {
    int (*read)(void *ctx, enum x86_seg seg, uint64_t offset, void *buf, unsigned size);
    int (*write)(void *ctx, enum x86_seg seg, uint64_t offset, const void *buf, unsigned size);
    /* XMM registers (SSE moves): 16 bytes each; NULL when unavailable. */
    int (*read_xmm)(void *ctx, unsigned reg, void *buf16);
    int (*write_xmm)(void *ctx, unsigned reg, const void *buf16);
    /* CLFLUSH / CLFLUSHOPT of a device address: usually a no-op. */
    void (*flush)(void *ctx, enum x86_seg seg, uint64_t offset);
};

/* Register numbers in x86_insn (base_reg, index_reg, reg, rm) are gpr[] indices
 * with REX.R/X/B applied; X86_REG_NONE marks an absent base or index. */
#define X86_REG_NONE        0xFF

/* What the decoder recognises (x86_insn.mnemonic).  ADD..CMP are in the order
 * of opcode bits 5:3 of the ALU opcodes and of ModRM.reg in group 1 (SDM Vol. 2D,
 * Table ). */
enum x86_mnemonic {
    X86_MN_INVALID,
    X86_MN_ADD, X86_MN_OR, X86_MN_ADC, X86_MN_SBB, X86_MN_AND, X86_MN_SUB, X86_MN_XOR, X86_MN_CMP,
    X86_MN_MOV, X86_MN_MOVZX, X86_MN_MOVSX, X86_MN_MOVSXD,
    X86_MN_MOVS, X86_MN_STOS, X86_MN_LODS,
    X86_MN_TEST, X86_MN_NOT, X86_MN_NEG, X86_MN_INC, X86_MN_DEC,
    X86_MN_XCHG, X86_MN_CMPXCHG,
    X86_MN_BT, X86_MN_BTS, X86_MN_BTR, X86_MN_BTC,
    X86_MN_MOVNTI, X86_MN_CLFLUSH, X86_MN_CLFLUSHOPT,
    X86_MN_MOVD, X86_MN_MOVQ, X86_MN_MOVDQA, X86_MN_MOVDQU, X86_MN_MOVAPS, X86_MN_MOVUPS,
    X86_MN_COUNT
};

/*
 * Operand layout (x86_insn.form), destination first.  E is the ModRM r/m
 * operand (a register when mod = 3, else memory), G the ModRM.reg general
 * register, I the immediate, X the ModRM.reg XMM register, XM an XMM register
 * in r/m or memory, GM a general register in r/m or memory.  The accumulator
 * forms have insn->reg = 0 (AL/AX/EAX/RAX).
 */
enum x86_form {
    X86_FORM_NONE,
    X86_FORM_E_G,           /* r/m <- reg: also TEST, XCHG, CMPXCHG, BT r/m,reg, MOVNTI */
    X86_FORM_G_E,           /* reg <- r/m: also MOVZX, MOVSX, MOVSXD (r/m is memsize wide) */
    X86_FORM_E_I,           /* r/m, imm */
    X86_FORM_ACC_I,         /* AL/eAX, imm */
    X86_FORM_E,             /* r/m alone: NOT, NEG, INC, DEC, CLFLUSH */
    X86_FORM_ACC_MOFFS,     /* AL/eAX <- [moffs] (A0/A1) */
    X86_FORM_MOFFS_ACC,     /* [moffs] <- AL/eAX (A2/A3) */
    X86_FORM_STRING,        /* MOVS/STOS/LODS: DS:rSI and ES:rDI */
    X86_FORM_X_XM,          /* xmm(reg) <- xmm(rm)/mem */
    X86_FORM_XM_X,          /* xmm(rm)/mem <- xmm(reg) */
    X86_FORM_X_GM,          /* xmm(reg) <- gpr(rm)/mem: MOVD/MOVQ 66 0F 6E */
    X86_FORM_GM_X,          /* gpr(rm)/mem <- xmm(reg): MOVD/MOVQ 66 0F 7E */
};

/* A decoded instruction (exposed for the tests and diagnostics). */
struct x86_insn {
    uint8_t len;                /* total length in bytes */
    uint8_t opsize;             /* operand size in bytes: 1, 2, 4, 8 (16 for SSE) */
    uint8_t addrsize;           /* address size in bytes: 2, 4, 8 */
    uint8_t rep;                /* 0, 0xF3 (REP/REPE), 0xF2 (REPNE) */
    bool lock;
    enum x86_seg seg;           /* effective segment of the memory operand */
    uint8_t rex;
    uint16_t opcode;            /* one byte, or 0x0Fxx for two-byte opcodes */
    uint8_t modrm, reg, rm, mod;
    bool has_modrm, has_mem;
    bool rip_relative;
    uint64_t disp;              /* sign-extended displacement */
    uint64_t imm;               /* sign- or zero-extended immediate, per opcode */
    uint8_t base_reg, index_reg, scale;     /* 0xFF = none */
    uint16_t mnemonic;          /* enum x86_mnemonic */
    const char *name;           /* "mov", "add", ... */
    uint8_t form;               /* enum x86_form */
    uint8_t memsize;            /* width of the r/m, moffs or string operand: the size of
                                   each memory access (CLFLUSH: 1, no access) */
    uint8_t disp_size;          /* displacement (or moffs) bytes in the encoding */
    uint8_t imm_size;           /* immediate bytes in the encoding */
};

enum x86_emu_result {
    X86_EMU_OK = 0,             /* done: registers updated, rip advanced */
    X86_EMU_RESTART,            /* REP string op partly done (RCX/RSI/RDI updated,
                                   rip unchanged): re-enter the guest, it exits again */
    X86_EMU_FAULT,              /* a memory callback faulted: inject what it recorded;
                                   registers unchanged, except that a REP string op
                                   keeps the iterations done before the fault
                                   (rCX/rSI/rDI updated, rip unchanged), as on hardware */
    X86_EMU_UNSUPPORTED,        /* not decodable or not emulated: inject #UD */
};

/* Decodes one instruction from `bytes[0..len)`.  Returns 0, or -1 (with a
 * reason in *why when non-NULL) for invalid, truncated or unsupported input. */
int x86_decode(const uint8_t *bytes, size_t len, enum x86_cpu_mode mode, struct x86_insn *insn,
               const char **why);

/* The offset of the ModRM (or moffs) memory operand: base + index * scale +
 * disp (RIP-relative: from the end of the instruction), wrapped to the
 * address size.  For string instructions, rSI (MOVS, LODS) or rDI (STOS). */
uint64_t x86_effective_address(const struct x86_insn *insn, const struct x86_regs *regs);

/* Executes a decoded instruction.  `max_iterations` bounds REP string work per
 * call (0 = no bound). */
enum x86_emu_result x86_emulate(const struct x86_insn *insn, enum x86_cpu_mode mode,
                                struct x86_regs *regs, const struct x86_emu_ops *ops, void *ctx,
                                uint64_t max_iterations);

#endif
