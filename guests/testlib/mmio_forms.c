/*
 * The MMIO instruction-form table and its runner (see mmio_forms.h), built
 * twice: 64-bit for mmio64 and 32-bit for mmio32.
 *
 * A form is a snippet of assembly ending in RET, called by a trampoline
 * (mmio_form_call) that loads the general registers and RFLAGS from
 * mmio_form_state first and stores them back afterwards.  Registers that
 * hold addresses are given as "region + offset" or "aux + offset": the
 * region is the RAM buffer mmio_ref_region in the reference run and the
 * device's scratch area in the device run; aux is a RAM buffer in both runs
 * (one per run), for the RAM side of MOVS and for moving XMM contents where
 * the comparison can see them.  After each run those registers are made
 * relative to their buffer again, so the two runs compare equal.
 *
 * Where the assembler could choose between encodings (string instructions,
 * REX.W MOVQ), the snippet spells out the bytes.  The rest relies on the
 * assembler's one encoding for the operands given: an immediate that fits
 * in a signed byte gets the 83 form, a larger one the 81 form, and so on
 * (the names say which encoding each form is about).
 *
 * RIP-relative forms are absent on purpose: the device is at
 * 0xFEB00000, the code at 1 MiB, more than 2 GiB apart, so no RIP-relative
 * displacement can reach it.
 */
#include <guest/guest.h>

#include "mmio_forms.h"
#include "testdev.h"
#include "message.h"

#define REGION_SIZE     TESTDEV_SCRATCH_SIZE
#define AUX_SIZE        256

#define FLAG_CF     0x001u
#define FLAG_PF     0x004u
#define FLAG_AF     0x010u
#define FLAG_ZF     0x040u
#define FLAG_SF     0x080u
#define FLAG_DF     0x400u
#define FLAG_OF     0x800u
#define FLAGS_ARITH (FLAG_CF | FLAG_PF | FLAG_AF | FLAG_ZF | FLAG_SF | FLAG_OF)
#define FLAGS_FIXED 0x002u          /* RFLAGS bit 1 always reads as 1 */
#define FLAGS_LOGIC_UNDEF FLAG_AF   /* AND/OR/XOR/TEST leave AF undefined */
#define FLAGS_BT_UNDEF (FLAG_OF | FLAG_SF | FLAG_AF | FLAG_PF)  /* BT*: only CF (ZF unchanged) */

#define STR(x)  #x
#define XSTR(x) STR(x)

/* The registers a form can use, in trampoline order. */
#ifdef __x86_64__
enum { XAX, XCX, XDX, XBX, XSI, XDI, XR8, XR9, NREGS };
#define RP          "r"
#define ADDR_DATA   ".quad"         /* a moffs operand: as wide as the address size */
#define IF64(...)   __VA_ARGS__
#define IF32(...)
static const char *const reg_names[NREGS] = { "rax", "rcx", "rdx", "rbx", "rsi", "rdi", "r8", "r9" };
#else
enum { XAX, XCX, XDX, XBX, XSI, XDI, NREGS };
#define RP          "e"
#define ADDR_DATA   ".long"
#define IF64(...)
#define IF32(...)   __VA_ARGS__
static const char *const reg_names[NREGS] = { "eax", "ecx", "edx", "ebx", "esi", "edi" };
#endif
#define RG(name)    "%" RP #name    /* RG(bx): %rbx or %ebx */
#define HIGH_GARBAGE 0xA5A5A5A500000000ull  /* bits a 32-bit address must ignore */

enum reg_kind {
    REG_DEFAULT,            /* a fixed value of our choosing (reg_default) */
    REG_VALUE,              /* value */
    REG_REGION,             /* region base + value */
    REG_AUX,                /* aux buffer base + value */
    REG_PATTERN,            /* the region's initial bytes at offset value (size bytes) */
};

struct reg_init {
    uint8_t kind;
    uint8_t size;           /* REG_PATTERN: bytes taken from the region */
    bool high;              /* REG_REGION/REG_AUX: HIGH_GARBAGE in bits 32-63 (64-bit) */
    bool invert;            /* REG_PATTERN: the complement of those bytes (a mismatch) */
    uint64_t value;
};

enum { SEG_NONE, SEG_REGION };
enum { NEED_CLFLUSH = 1, NEED_CLFLUSHOPT = 2 };

struct mmio_form {
    const char *name;
    const void *code;               /* NULL: the form has address variants */
    const void *const *variants;    /* code per variant_bases[] entry */
    struct reg_init regs[NREGS];
    uint32_t flags_in;              /* arithmetic flags and DF at entry */
    uint32_t flags_undefined;       /* left undefined by the SDM: not compared */
    uint8_t seg;                    /* SEG_REGION: segment-override base = region */
    uint8_t needs;                  /* NEED_*: CPU features the instruction needs */
};

/* Initialisers used in the table. */
#define V(r, v)         .regs[r] = { .kind = REG_VALUE, .value = (uint64_t)(v) }
#define AT(r, off)      .regs[r] = { .kind = REG_REGION, .value = (off) }
#define ATH(r, off)     .regs[r] = { .kind = REG_REGION, .value = (off), .high = true }
#define AUX(r, off)     .regs[r] = { .kind = REG_AUX, .value = (off) }
#define AUXH(r, off)    .regs[r] = { .kind = REG_AUX, .value = (off), .high = true }
#define PAT(r, off, n)  .regs[r] = { .kind = REG_PATTERN, .value = (off), .size = (n) }
#define PATN(r, off, n) .regs[r] = { .kind = REG_PATTERN, .value = (off), .size = (n), .invert = true }
#define FIN(f)          .flags_in = (f)
#define UNDEF(f)        .flags_undefined = (f)
#define SEG             .seg = SEG_REGION
#define NEEDS(f)        .needs = (f)
#define B0              AT(XBX, 0)  /* most forms: RBX/EBX = region */

/*
 * Address variants of the forms with an absolute address in the
 * instruction (moffs, disp32 without base): one copy per place the region
 * can be, the first one for the RAM run.
 */
#define VARIANTS 5
static const uintptr_t variant_bases[VARIANTS] = {
    0, TESTDEV_MMIO_BASE, TESTDEV_MMIO_ALIAS, PC_TESTDEV_MMIO_BASE, PC_TESTDEV_MMIO_ALIAS,
};

/* The code of the variant forms, given the address as assembler text. */
#define CODE_A0(a)          ".byte 0xa0\n\t" ADDR_DATA " " a            /* mov al, [moffs] */
#define CODE_A1_16(a)       ".byte 0x66, 0xa1\n\t" ADDR_DATA " " a
#define CODE_A1_32(a)       ".byte 0xa1\n\t" ADDR_DATA " " a
#define CODE_A1_64(a)       ".byte 0x48, 0xa1\n\t" ADDR_DATA " " a
#define CODE_67_A1_32(a)    ".byte 0x67, 0xa1\n\t.long " a              /* moffs32 in 64-bit mode */
#define CODE_A2(a)          ".byte 0xa2\n\t" ADDR_DATA " " a            /* mov [moffs], al */
#define CODE_A3_16(a)       ".byte 0x66, 0xa3\n\t" ADDR_DATA " " a
#define CODE_A3_32(a)       ".byte 0xa3\n\t" ADDR_DATA " " a
#define CODE_A3_64(a)       ".byte 0x48, 0xa3\n\t" ADDR_DATA " " a
#define CODE_67_89_SIB(a)   ".byte 0x67, 0x89, 0x0c, 0x25\n\t.long " a  /* mov [disp32], ecx (SIB, no base) */
#define CODE_89_DISP32(a)   ".byte 0x89, 0x0d\n\t.long " a              /* mov [disp32], ecx (32-bit mode) */
#define CODE_89_SIB(a)      ".byte 0x89, 0x0c, 0x25\n\t.long " a
#define CODE_03_DISP32(a)   ".byte 0x03, 0x0d\n\t.long " a              /* add ecx, [disp32] */

/* An instruction that starts `before` bytes ahead of a 4 KiB boundary. */
#define ACROSS_PAGE(before) "jmp 1f\n\t.balign 4096, 0xcc\n\t.skip 4096 - " #before ", 0xcc\n1:\n\t"

/* SSE forms keep their XMM value in aux, where the comparison sees it. */
#define XMM_IN      "movdqu 0x20(" RG(dx) "), %xmm0\n\t"
#define XMM_OUT     "\n\tmovdqu %xmm0, 0x40(" RG(dx) ")"
#define XMM_REGS    B0, AUX(XDX, 0)

/* The eight ALU operations with a memory operand, every encoding. */
#define ALU_FORMS(F, op, ids, ns, ...)                                                          \
    F(op##_m8_r8##ids, #op "-m8-r8" ns, #op "b %cl, 0x61(" RG(bx) ")", B0, __VA_ARGS__)         \
    F(op##_m16_r16##ids, #op "-m16-r16" ns, #op "w %cx, 0x62(" RG(bx) ")", B0, __VA_ARGS__)     \
    F(op##_m32_r32##ids, #op "-m32-r32" ns, #op "l %ecx, 0x65(" RG(bx) ")", B0, __VA_ARGS__)    \
    IF64(F(op##_m64_r64##ids, #op "-m64-r64" ns, #op "q %rcx, 0x68(%rbx)", B0, __VA_ARGS__))    \
    F(op##_r8_m8##ids, #op "-r8-m8" ns, #op "b 0x71(" RG(bx) "), %cl", B0, __VA_ARGS__)         \
    F(op##_r8h_m8##ids, #op "-r8-m8-ch" ns, #op "b 0x72(" RG(bx) "), %ch", B0, __VA_ARGS__)     \
    F(op##_r16_m16##ids, #op "-r16-m16" ns, #op "w 0x72(" RG(bx) "), %cx", B0, __VA_ARGS__)     \
    F(op##_r32_m32##ids, #op "-r32-m32" ns, #op "l 0x74(" RG(bx) "), %ecx", B0, __VA_ARGS__)    \
    IF64(F(op##_r64_m64##ids, #op "-r64-m64" ns, #op "q 0x78(%rbx), %rcx", B0, __VA_ARGS__))    \
    F(op##_m8_imm8##ids, #op "-m8-imm8" ns, #op "b $0x9c, 0x79(" RG(bx) ")", B0, __VA_ARGS__)   \
    F(op##_m16_imm16##ids, #op "-m16-imm16" ns, #op "w $0x7a5c, 0x7a(" RG(bx) ")", B0,          \
      __VA_ARGS__)                                                                              \
    F(op##_m32_imm32##ids, #op "-m32-imm32" ns, #op "l $0x6b5a4c3d, 0x7c(" RG(bx) ")", B0,      \
      __VA_ARGS__)                                                                              \
    IF64(F(op##_m64_imm32##ids, #op "-m64-simm32" ns, #op "q $-0x6b5a4c3d, 0x80(%rbx)", B0,     \
           __VA_ARGS__))                                                                        \
    F(op##_m16_simm8##ids, #op "-m16-simm8" ns, #op "w $-0x3d, 0x84(" RG(bx) ")", B0,           \
      __VA_ARGS__)                                                                              \
    F(op##_m32_simm8##ids, #op "-m32-simm8" ns, #op "l $0x3d, 0x86(" RG(bx) ")", B0,            \
      __VA_ARGS__)                                                                              \
    IF64(F(op##_m64_simm8##ids, #op "-m64-simm8" ns, #op "q $-0x3d, 0x88(%rbx)", B0,            \
           __VA_ARGS__))

/* NOT/NEG/INC/DEC (F6/F7 /2 /3, FE/FF /0 /1) at every operand size. */
#define UNARY_FORMS(F, op, opc8, opc, ...)                                                      \
    F(op##_m8, #op "-" opc8 "-m8", #op "b 0x91(" RG(bx) ")", B0, __VA_ARGS__)                   \
    F(op##_m16, #op "-" opc "-m16", #op "w 0x92(" RG(bx) ")", B0, __VA_ARGS__)                  \
    F(op##_m32, #op "-" opc "-m32", #op "l 0x95(" RG(bx) ")", B0, __VA_ARGS__)                  \
    IF64(F(op##_m64, #op "-" opc "-m64", #op "q 0x98(%rbx)", B0, __VA_ARGS__))

/*
 * BT/BTS/BTR/BTC.  With a register bit offset the operand is the one
 * containing the bit: base + (offset SAR log2(width)) * width / 8, so 77
 * selects a later dword/qword and a negative offset an earlier one; the
 * base is in the middle of the region to leave room both ways.  With imm8
 * the offset is taken modulo the operand width (19 -> bit 3 of a word).
 */
#define BT_FORMS(F, op)                                                                         \
    F(op##_m32_r32_5, #op "-m32-r32-bit5", #op "l %ecx, (" RG(bx) ")", AT(XBX, 0x80),           \
      V(XCX, HIGH_GARBAGE | 5), FIN(FLAGS_ARITH), UNDEF(FLAGS_BT_UNDEF))                        \
    F(op##_m32_r32_77, #op "-m32-r32-bit77", #op "l %ecx, (" RG(bx) ")", AT(XBX, 0x80),         \
      V(XCX, HIGH_GARBAGE | 77), UNDEF(FLAGS_BT_UNDEF))                                         \
    F(op##_m32_r32_neg35, #op "-m32-r32-bit-35", #op "l %ecx, (" RG(bx) ")", AT(XBX, 0x80),     \
      V(XCX, HIGH_GARBAGE | 0xFFFFFFDDu), FIN(FLAGS_ARITH), UNDEF(FLAGS_BT_UNDEF))              \
    F(op##_m32_r32_300, #op "-m32-r32-bit300", #op "l %ecx, (" RG(bx) ")", AT(XBX, 0x40),       \
      V(XCX, 300), UNDEF(FLAGS_BT_UNDEF))                                                       \
    F(op##_m16_r16_neg13, #op "-m16-r16-bit-13", #op "w %cx, (" RG(bx) ")", AT(XBX, 0x80),      \
      V(XCX, 0xA5A5A5A5A5A5FFF3ull), UNDEF(FLAGS_BT_UNDEF))                                     \
    IF64(F(op##_m64_r64_77, #op "-m64-r64-bit77", #op "q %rcx, (%rbx)", AT(XBX, 0x80),          \
           V(XCX, 77), FIN(FLAGS_ARITH), UNDEF(FLAGS_BT_UNDEF)))                                \
    IF64(F(op##_m64_r64_neg35, #op "-m64-r64-bit-35", #op "q %rcx, (%rbx)", AT(XBX, 0x80),      \
           V(XCX, -35), UNDEF(FLAGS_BT_UNDEF)))                                                 \
    IF64(F(op##_m64_r64_neg200, #op "-m64-r64-bit-200", #op "q %rcx, (%rbx)", AT(XBX, 0xC0),    \
           V(XCX, -200), UNDEF(FLAGS_BT_UNDEF)))                                                \
    F(op##_m16_imm8_19, #op "-m16-imm8-bit19", #op "w $19, 0x3(" RG(bx) ")", B0,                \
      UNDEF(FLAGS_BT_UNDEF))                                                                    \
    F(op##_m32_imm8_13, #op "-m32-imm8-bit13", #op "l $13, 0x5(" RG(bx) ")", B0,                \
      FIN(FLAGS_ARITH), UNDEF(FLAGS_BT_UNDEF))                                                  \
    IF64(F(op##_m64_imm8_45, #op "-m64-imm8-bit45", #op "q $45, 0x9(%rbx)", B0,                 \
           UNDEF(FLAGS_BT_UNDEF)))

/*
 * MOVS between RAM (aux) and the region, and within the region.  DF clear
 * starts low and walks up, DF set starts high and walks down; the flags
 * going in are arbitrary otherwise and must come out unchanged.
 */
#define MOVS_REGS_ram2dev_df0   AUX(XSI, 0x10), AT(XDI, 0x80), FIN(FLAG_CF | FLAG_ZF)
#define MOVS_REGS_ram2dev_df1   AUX(XSI, 0x58), AT(XDI, 0xD8), FIN(FLAG_DF | FLAG_SF | FLAG_OF)
#define MOVS_REGS_dev2ram_df0   AT(XSI, 0x10), AUX(XDI, 0x80), FIN(FLAG_PF)
#define MOVS_REGS_dev2ram_df1   AT(XSI, 0x58), AUX(XDI, 0xD8), FIN(FLAG_DF | FLAG_CF)
#define MOVS_REGS_dev2dev_df0   AT(XSI, 0x10), AT(XDI, 0x80), FIN(FLAG_AF)
#define MOVS_REGS_dev2dev_df1   AT(XSI, 0x58), AT(XDI, 0xD8), FIN(FLAG_DF | FLAGS_ARITH)

#define MOVS_FORMS(F, dir, df)                                                                  \
    F(movsb_##dir##_##df, "movsb-" #dir "-" #df, ".byte 0xa4", MOVS_REGS_##dir##_##df)          \
    F(movsw_##dir##_##df, "movsw-" #dir "-" #df, ".byte 0x66, 0xa5", MOVS_REGS_##dir##_##df)    \
    F(movsd_##dir##_##df, "movsd-" #dir "-" #df, ".byte 0xa5", MOVS_REGS_##dir##_##df)          \
    IF64(F(movsq_##dir##_##df, "movsq-" #dir "-" #df, ".byte 0x48, 0xa5",                       \
           MOVS_REGS_##dir##_##df))                                                             \
    F(rep_movsb_##dir##_##df, "rep-movsb-" #dir "-" #df, ".byte 0xf3, 0xa4",                    \
      MOVS_REGS_##dir##_##df, V(XCX, 7))                                                        \
    F(rep_movsw_##dir##_##df, "rep-movsw-" #dir "-" #df, ".byte 0x66, 0xf3, 0xa5",              \
      MOVS_REGS_##dir##_##df, V(XCX, 5))                                                        \
    F(rep_movsd_##dir##_##df, "rep-movsd-" #dir "-" #df, ".byte 0xf3, 0xa5",                    \
      MOVS_REGS_##dir##_##df, V(XCX, 3))                                                        \
    IF64(F(rep_movsq_##dir##_##df, "rep-movsq-" #dir "-" #df, ".byte 0xf3, 0x48, 0xa5",         \
           MOVS_REGS_##dir##_##df, V(XCX, 3)))

#define STOS_REGS_df0   AT(XDI, 0x20), FIN(FLAG_SF)
#define STOS_REGS_df1   AT(XDI, 0xE0), FIN(FLAG_DF | FLAG_ZF)
#define STOS_FORMS(F, df)                                                                       \
    F(stosb_##df, "stosb-" #df, ".byte 0xaa", STOS_REGS_##df)                                   \
    F(stosw_##df, "stosw-" #df, ".byte 0x66, 0xab", STOS_REGS_##df)                             \
    F(stosd_##df, "stosd-" #df, ".byte 0xab", STOS_REGS_##df)                                   \
    IF64(F(stosq_##df, "stosq-" #df, ".byte 0x48, 0xab", STOS_REGS_##df))                       \
    F(rep_stosb_##df, "rep-stosb-" #df, ".byte 0xf3, 0xaa", STOS_REGS_##df, V(XCX, 9))          \
    F(rep_stosw_##df, "rep-stosw-" #df, ".byte 0x66, 0xf3, 0xab", STOS_REGS_##df, V(XCX, 5))    \
    F(rep_stosd_##df, "rep-stosd-" #df, ".byte 0xf3, 0xab", STOS_REGS_##df, V(XCX, 3))          \
    IF64(F(rep_stosq_##df, "rep-stosq-" #df, ".byte 0xf3, 0x48, 0xab", STOS_REGS_##df,          \
           V(XCX, 2)))

#define LODS_REGS_df0   AT(XSI, 0x30), FIN(FLAG_OF)
#define LODS_REGS_df1   AT(XSI, 0xD0), FIN(FLAG_DF | FLAG_PF)
#define LODS_FORMS(F, df)                                                                       \
    F(lodsb_##df, "lodsb-" #df, ".byte 0xac", LODS_REGS_##df)                                   \
    F(lodsw_##df, "lodsw-" #df, ".byte 0x66, 0xad", LODS_REGS_##df)                             \
    F(lodsd_##df, "lodsd-" #df, ".byte 0xad", LODS_REGS_##df)                                   \
    IF64(F(lodsq_##df, "lodsq-" #df, ".byte 0x48, 0xad", LODS_REGS_##df))                       \
    F(rep_lodsb_##df, "rep-lodsb-" #df, ".byte 0xf3, 0xac", LODS_REGS_##df, V(XCX, 3))          \
    F(rep_lodsd_##df, "rep-lodsd-" #df, ".byte 0xf3, 0xad", LODS_REGS_##df, V(XCX, 2))

/*
 * The table.  F(id, name, code, initialisers...) is a form with one code
 * snippet; VF(id, name, CODE_MACRO, offset, initialisers...) one whose
 * instruction holds the absolute address region + offset.
 */
#define MMIO_FORMS(F, VF)                                                                       \
    /* MOV 88/89/8A/8B/C6/C7, with the ModRM shapes that matter */                               \
    F(mov_88_m8_r8, "mov-88-m8-r8", "movb %cl, 0x11(" RG(bx) ")", B0)                           \
    F(mov_88_m8_ah, "mov-88-m8-ah", "movb %ah, 0x13(" RG(bx) ")", B0, FIN(FLAGS_ARITH))         \
    IF64(F(mov_88_m8_sil, "mov-88-m8-sil", "movb %sil, 0x15(%rbx)", B0))                        \
    F(mov_89_m16_r16, "mov-89-m16-r16", "movw %cx, 0x16(" RG(bx) ")", B0)                       \
    F(mov_89_m32_r32, "mov-89-m32-r32", "movl %ecx, 0x19(" RG(bx) ")", B0)                      \
    F(mov_89_m32_r32_nodisp, "mov-89-m32-r32-nodisp", "movl %ecx, (" RG(bx) ")", AT(XBX, 0x50)) \
    F(mov_89_m32_r32_negdisp8, "mov-89-m32-r32-negdisp8", "movl %ecx, -0x13(" RG(bx) ")",       \
      AT(XBX, 0x80))                                                                            \
    F(mov_89_m32_r32_disp32, "mov-89-m32-r32-disp32", "movl %ecx, 0xa4(" RG(bx) ")", B0)        \
    IF64(F(mov_89_m64_r64, "mov-89-m64-r64", "movq %rcx, 0x21(%rbx)", B0))                      \
    IF64(F(mov_89_m64_r9_base_r8, "mov-89-m64-r9-base-r8", "movq %r9, 0x28(%r8)", AT(XR8, 0)))  \
    F(mov_8a_r8_m8, "mov-8a-r8-m8", "movb 0x31(" RG(bx) "), %dl", B0)                           \
    F(mov_8a_dh_m8, "mov-8a-dh-m8", "movb 0x32(" RG(bx) "), %dh", B0)                           \
    IF64(F(mov_8a_dil_m8, "mov-8a-dil-m8", "movb 0x33(%rbx), %dil", B0))                        \
    F(mov_8b_r16_m16, "mov-8b-r16-m16", "movw 0x33(" RG(bx) "), %dx", B0)                       \
    F(mov_8b_r32_m32, "mov-8b-r32-m32", "movl 0x35(" RG(bx) "), %edx", B0, FIN(FLAGS_ARITH))    \
    IF64(F(mov_8b_r64_m64, "mov-8b-r64-m64", "movq 0x3b(%rbx), %rdx", B0))                      \
    IF64(F(mov_8b_r9_m64, "mov-8b-r9-m64", "movq 0x40(%rbx), %r9", B0))                         \
    F(mov_c6_m8_imm8, "mov-c6-m8-imm8", "movb $0xa7, 0x41(" RG(bx) ")", B0)                     \
    F(mov_c7_m16_imm16, "mov-c7-m16-imm16", "movw $0xbeef, 0x42(" RG(bx) ")", B0)               \
    F(mov_c7_m32_imm32, "mov-c7-m32-imm32", "movl $0x89abcdef, 0x44(" RG(bx) ")", B0)           \
    IF64(F(mov_c7_m64_simm32, "mov-c7-m64-simm32", "movq $-0x12345678, 0x48(%rbx)", B0))        \
    /* MOV A0-A3 (moffs: 64-bit addresses in 64-bit mode) and disp32-only addresses */           \
    VF(mov_a0, "mov-a0-al-moffs", CODE_A0, 0x51, FIN(FLAGS_ARITH))                              \
    VF(mov_a1_16, "mov-a1-ax-moffs", CODE_A1_16, 0x52)                                          \
    VF(mov_a1_32, "mov-a1-eax-moffs", CODE_A1_32, 0x55)                                         \
    IF64(VF(mov_a1_64, "mov-a1-rax-moffs", CODE_A1_64, 0x58))                                   \
    IF64(VF(mov_67_a1_32, "mov-67-a1-eax-moffs32", CODE_67_A1_32, 0x5c))                        \
    VF(mov_a2, "mov-a2-moffs-al", CODE_A2, 0x61)                                                \
    VF(mov_a3_16, "mov-a3-moffs-ax", CODE_A3_16, 0x62)                                          \
    VF(mov_a3_32, "mov-a3-moffs-eax", CODE_A3_32, 0x65)                                         \
    IF64(VF(mov_a3_64, "mov-a3-moffs-rax", CODE_A3_64, 0x68))                                   \
    IF64(VF(mov_67_89_sib_disp32, "mov-67-89-m32-r32-sib-disp32", CODE_67_89_SIB, 0x71))        \
    IF32(VF(mov_89_disp32, "mov-89-m32-r32-disp32-nobase", CODE_89_DISP32, 0x71))               \
    IF32(VF(mov_89_sib_disp32, "mov-89-m32-r32-sib-disp32", CODE_89_SIB, 0x75))                 \
    IF32(VF(add_03_disp32, "add-03-r32-m32-disp32-nobase", CODE_03_DISP32, 0x79,                \
            FIN(FLAGS_ARITH)))                                                                  \
    /* MOVZX/MOVSX/MOVSXD: the byte at 0x88 and the word at 0x87 are negative, the byte at      \
     * 0x8a and the word at 0x8c positive, the dwords at 0x85 and 0x8a likewise (region_byte) */ \
    F(movzx_b6_r32_m8, "movzx-0fb6-r32-m8", "movzbl 0x88(" RG(bx) "), %ecx", B0)                \
    F(movzx_b6_r16_m8, "movzx-0fb6-r16-m8", "movzbw 0x89(" RG(bx) "), %cx", B0)                 \
    F(movzx_b7_r32_m16, "movzx-0fb7-r32-m16", "movzwl 0x87(" RG(bx) "), %ecx", B0)              \
    IF64(F(movzx_b6_r64_m8, "movzx-0fb6-r64-m8", "movzbq 0x88(%rbx), %rcx", B0))                \
    IF64(F(movzx_b7_r64_m16, "movzx-0fb7-r64-m16", "movzwq 0x87(%rbx), %rcx", B0))              \
    F(movsx_be_r32_m8_neg, "movsx-0fbe-r32-m8-negative", "movsbl 0x88(" RG(bx) "), %ecx", B0)   \
    F(movsx_be_r32_m8_pos, "movsx-0fbe-r32-m8-positive", "movsbl 0x8a(" RG(bx) "), %ecx", B0)   \
    F(movsx_be_r16_m8, "movsx-0fbe-r16-m8", "movsbw 0x89(" RG(bx) "), %cx", B0)                 \
    F(movsx_bf_r32_m16_neg, "movsx-0fbf-r32-m16-negative", "movswl 0x87(" RG(bx) "), %ecx", B0) \
    F(movsx_bf_r32_m16_pos, "movsx-0fbf-r32-m16-positive", "movswl 0x8c(" RG(bx) "), %ecx", B0) \
    IF64(F(movsx_be_r64_m8, "movsx-0fbe-r64-m8", "movsbq 0x89(%rbx), %rcx", B0))                \
    IF64(F(movsx_bf_r64_m16, "movsx-0fbf-r64-m16", "movswq 0x87(%rbx), %rcx", B0))              \
    IF64(F(movsxd_63_neg, "movsxd-63-r64-m32-negative", "movslq 0x85(%rbx), %rcx", B0))         \
    IF64(F(movsxd_63_pos, "movsxd-63-r64-m32-positive", "movslq 0x8a(%rbx), %rcx", B0))         \
    /* MOVS/STOS/LODS, with and without REP, DF clear and set */                                 \
    MOVS_FORMS(F, ram2dev, df0)                                                                 \
    MOVS_FORMS(F, ram2dev, df1)                                                                 \
    MOVS_FORMS(F, dev2ram, df0)                                                                 \
    MOVS_FORMS(F, dev2ram, df1)                                                                 \
    MOVS_FORMS(F, dev2dev, df0)                                                                 \
    MOVS_FORMS(F, dev2dev, df1)                                                                 \
    STOS_FORMS(F, df0)                                                                          \
    STOS_FORMS(F, df1)                                                                          \
    LODS_FORMS(F, df0)                                                                          \
    LODS_FORMS(F, df1)                                                                          \
    /* ALU: r/m,r (00/08/10/18/20/28/30/38 +1), r,r/m (+2/+3), 80/81/83 groups */                \
    ALU_FORMS(F, add, , "", FIN(FLAGS_ARITH))                                                   \
    ALU_FORMS(F, or, , "", FIN(FLAGS_ARITH), UNDEF(FLAGS_LOGIC_UNDEF))                          \
    ALU_FORMS(F, adc, _cf0, "-cf0", FIN(FLAGS_ARITH & ~FLAG_CF))                                \
    ALU_FORMS(F, adc, _cf1, "-cf1", FIN(FLAG_CF))                                               \
    ALU_FORMS(F, sbb, _cf0, "-cf0", FIN(FLAGS_ARITH & ~FLAG_CF))                                \
    ALU_FORMS(F, sbb, _cf1, "-cf1", FIN(FLAG_CF))                                               \
    ALU_FORMS(F, and, , "", FIN(FLAGS_ARITH), UNDEF(FLAGS_LOGIC_UNDEF))                         \
    ALU_FORMS(F, sub, , "", FIN(FLAGS_ARITH))                                                   \
    ALU_FORMS(F, xor, , "", FIN(0), UNDEF(FLAGS_LOGIC_UNDEF))                                   \
    ALU_FORMS(F, cmp, , "", FIN(FLAGS_ARITH))                                                   \
    F(cmp_r32_m32_equal, "cmp-r32-m32-equal", "cmpl 0x74(" RG(bx) "), %ecx", B0,                \
      PAT(XCX, 0x74, 4))                                                                        \
    /* TEST 84/85, F6/F7 /0 */                                                                   \
    F(test_84_m8_r8, "test-84-m8-r8", "testb %cl, 0x91(" RG(bx) ")", B0, FIN(FLAGS_ARITH),      \
      UNDEF(FLAGS_LOGIC_UNDEF))                                                                 \
    F(test_85_m16_r16, "test-85-m16-r16", "testw %cx, 0x92(" RG(bx) ")", B0,                    \
      UNDEF(FLAGS_LOGIC_UNDEF))                                                                 \
    F(test_85_m32_r32, "test-85-m32-r32", "testl %ecx, 0x94(" RG(bx) ")", B0, FIN(FLAGS_ARITH), \
      UNDEF(FLAGS_LOGIC_UNDEF))                                                                 \
    IF64(F(test_85_m64_r64, "test-85-m64-r64", "testq %rcx, 0x98(%rbx)", B0,                    \
           UNDEF(FLAGS_LOGIC_UNDEF)))                                                           \
    F(test_f6_m8_imm8, "test-f6-m8-imm8", "testb $0x5a, 0x99(" RG(bx) ")", B0,                  \
      UNDEF(FLAGS_LOGIC_UNDEF))                                                                 \
    F(test_f7_m16_imm16, "test-f7-m16-imm16", "testw $0x5a5a, 0x9a(" RG(bx) ")", B0,            \
      FIN(FLAGS_ARITH), UNDEF(FLAGS_LOGIC_UNDEF))                                               \
    F(test_f7_m32_imm32, "test-f7-m32-imm32", "testl $0x80a5005a, 0x9c(" RG(bx) ")", B0,        \
      UNDEF(FLAGS_LOGIC_UNDEF))                                                                 \
    IF64(F(test_f7_m64_simm32, "test-f7-m64-simm32", "testq $-0x7f5affa6, 0xa0(%rbx)", B0,      \
           FIN(FLAGS_ARITH), UNDEF(FLAGS_LOGIC_UNDEF)))                                         \
    /* NOT/NEG (no flags / all flags), INC/DEC (CF kept) */                                      \
    UNARY_FORMS(F, not, "f6", "f7", FIN(FLAGS_ARITH))                                           \
    UNARY_FORMS(F, neg, "f6", "f7", FIN(0))                                                     \
    UNARY_FORMS(F, inc, "fe", "ff", FIN(FLAGS_ARITH))                                           \
    UNARY_FORMS(F, dec, "fe", "ff", FIN(0))                                                     \
    /* XCHG 86/87 */                                                                             \
    F(xchg_86_m8_r8, "xchg-86-m8-r8", "xchgb %cl, 0xa1(" RG(bx) ")", B0)                        \
    F(xchg_87_m16_r16, "xchg-87-m16-r16", "xchgw %cx, 0xa2(" RG(bx) ")", B0)                    \
    F(xchg_87_m32_r32, "xchg-87-m32-r32", "xchgl %ecx, 0xa5(" RG(bx) ")", B0, FIN(FLAGS_ARITH)) \
    IF64(F(xchg_87_m64_r64, "xchg-87-m64-r64", "xchgq %rcx, 0xa8(%rbx)", B0))                   \
    /* CMPXCHG 0F B0/B1: accumulator equal to memory (store) or not (load) */                    \
    F(cmpxchg_m8_match, "cmpxchg-0fb0-m8-r8-match", "cmpxchgb %cl, 0xb1(" RG(bx) ")", B0,       \
      PAT(XAX, 0xb1, 1))                                                                        \
    F(cmpxchg_m8_mismatch, "cmpxchg-0fb0-m8-r8-mismatch", "cmpxchgb %cl, 0xb1(" RG(bx) ")", B0, \
      PATN(XAX, 0xb1, 1))                                                                       \
    F(cmpxchg_m16_match, "cmpxchg-0fb1-m16-r16-match", "cmpxchgw %cx, 0xb2(" RG(bx) ")", B0,    \
      PAT(XAX, 0xb2, 2))                                                                        \
    F(cmpxchg_m16_mismatch, "cmpxchg-0fb1-m16-r16-mismatch", "cmpxchgw %cx, 0xb2(" RG(bx) ")",  \
      B0, PATN(XAX, 0xb2, 2))                                                                   \
    F(cmpxchg_m32_match, "cmpxchg-0fb1-m32-r32-match", "cmpxchgl %ecx, 0xb4(" RG(bx) ")", B0,   \
      PAT(XAX, 0xb4, 4), FIN(FLAGS_ARITH))                                                      \
    F(cmpxchg_m32_mismatch, "cmpxchg-0fb1-m32-r32-mismatch", "cmpxchgl %ecx, 0xb4(" RG(bx) ")", \
      B0, PATN(XAX, 0xb4, 4))                                                                   \
    IF64(F(cmpxchg_m64_match, "cmpxchg-0fb1-m64-r64-match", "cmpxchgq %rcx, 0xb8(%rbx)", B0,    \
           PAT(XAX, 0xb8, 8)))                                                                  \
    IF64(F(cmpxchg_m64_mismatch, "cmpxchg-0fb1-m64-r64-mismatch", "cmpxchgq %rcx, 0xb8(%rbx)",  \
           B0, PATN(XAX, 0xb8, 8), FIN(FLAGS_ARITH)))                                           \
    /* BT/BTS/BTR/BTC 0F A3/AB/B3/BB and 0F BA /4-/7 */                                          \
    BT_FORMS(F, bt)                                                                             \
    BT_FORMS(F, bts)                                                                            \
    BT_FORMS(F, btr)                                                                            \
    BT_FORMS(F, btc)                                                                            \
    /* MOVNTI 0F C3; CLFLUSH 0F AE /7 and CLFLUSHOPT 66 0F AE /7 (must not fault or change       \
     * anything) */                                                                              \
    F(movnti_m32, "movnti-0fc3-m32-r32", "movnti %ecx, 0xc4(" RG(bx) ")", B0)                   \
    IF64(F(movnti_m64, "movnti-0fc3-m64-r64", "movnti %rcx, 0xc8(%rbx)", B0))                   \
    F(clflush, "clflush-0fae7", "clflush 0xc0(" RG(bx) ")", B0, FIN(FLAGS_ARITH),               \
      NEEDS(NEED_CLFLUSH))                                                                      \
    F(clflushopt, "clflushopt-660fae7", "clflushopt 0xc0(" RG(bx) ")", B0,                      \
      NEEDS(NEED_CLFLUSHOPT))                                                                   \
    /* MOVD/MOVQ, MOVDQA/MOVDQU, MOVAPS/MOVUPS to and from XMM */                                \
    F(movd_load, "movd-660f6e-xmm-m32", XMM_IN "movd 0xd1(" RG(bx) "), %xmm0" XMM_OUT,          \
      XMM_REGS)                                                                                 \
    F(movd_store, "movd-660f7e-m32-xmm", XMM_IN "movd %xmm0, 0xd1(" RG(bx) ")", XMM_REGS)       \
    F(movq_load, "movq-f30f7e-xmm-m64", XMM_IN ".byte 0xf3, 0x0f, 0x7e, 0x83\n\t.long 0xd2" XMM_OUT,    \
      XMM_REGS)                                                                                 \
    F(movq_store, "movq-660fd6-m64-xmm", XMM_IN ".byte 0x66, 0x0f, 0xd6, 0x83\n\t.long 0xd2",           \
      XMM_REGS)                                                                                 \
    IF64(F(movq_rexw_load, "movq-66rexw0f6e-xmm-m64",                                           \
           XMM_IN ".byte 0x66, 0x48, 0x0f, 0x6e, 0x83\n\t.long 0xd3" XMM_OUT, XMM_REGS))                \
    IF64(F(movq_rexw_store, "movq-66rexw0f7e-m64-xmm",                                          \
           XMM_IN ".byte 0x66, 0x48, 0x0f, 0x7e, 0x83\n\t.long 0xd3", XMM_REGS))                        \
    F(movdqa_load, "movdqa-660f6f-xmm-m128", XMM_IN "movdqa 0xe0(" RG(bx) "), %xmm0" XMM_OUT,   \
      XMM_REGS)                                                                                 \
    F(movdqa_store, "movdqa-660f7f-m128-xmm", XMM_IN "movdqa %xmm0, 0xe0(" RG(bx) ")",          \
      XMM_REGS)                                                                                 \
    F(movdqu_load, "movdqu-f30f6f-xmm-m128", XMM_IN "movdqu 0xe3(" RG(bx) "), %xmm0" XMM_OUT,   \
      XMM_REGS)                                                                                 \
    F(movdqu_store, "movdqu-f30f7f-m128-xmm", XMM_IN "movdqu %xmm0, 0xe3(" RG(bx) ")",          \
      XMM_REGS)                                                                                 \
    F(movaps_load, "movaps-0f28-xmm-m128", XMM_IN "movaps 0xd0(" RG(bx) "), %xmm0" XMM_OUT,     \
      XMM_REGS)                                                                                 \
    F(movaps_store, "movaps-0f29-m128-xmm", XMM_IN "movaps %xmm0, 0xd0(" RG(bx) ")", XMM_REGS)  \
    F(movups_load, "movups-0f10-xmm-m128", XMM_IN "movups 0xd5(" RG(bx) "), %xmm0" XMM_OUT,     \
      XMM_REGS)                                                                                 \
    F(movups_store, "movups-0f11-m128-xmm", XMM_IN "movups %xmm0, 0xd5(" RG(bx) ")", XMM_REGS)  \
    IF64(F(movdqu_xmm9_load, "movdqu-f3rex0f6f-xmm9-m128",                                      \
           "movdqu 0x20(%rdx), %xmm9\n\tmovdqu 0xe7(%rbx), %xmm9\n\tmovdqu %xmm9, 0x40(%rdx)",   \
           XMM_REGS))                                                                           \
    /* 67 prefix: 32-bit addresses in 64-bit mode (the upper register halves must be ignored)   \
     * and 16-bit addresses in 32-bit mode (through FS, since flat offsets below 64 KiB hold     \
     * no region) */                                                                             \
    IF64(F(mov_67_89_addr32, "mov-67-89-m32-r32-addr32", "movl %ecx, 0x10(%ebx)", ATH(XBX, 0))) \
    IF64(F(add_67_03_addr32_sib, "add-67-03-r32-m32-addr32-sib", "addl 0x8(%ebx,%esi,4), %ecx", \
           ATH(XBX, 0), V(XSI, HIGH_GARBAGE | 3), FIN(FLAGS_ARITH)))                            \
    IF64(F(rep_movsb_67_ram2dev, "rep-movsb-67-addr32-ram2dev", ".byte 0x67, 0xf3, 0xa4",       \
           AUXH(XSI, 0x10), ATH(XDI, 0x40), V(XCX, HIGH_GARBAGE | 5)))                          \
    IF64(F(stosd_67, "stosd-67-addr32", ".byte 0x67, 0xab", ATH(XDI, 0x50)))                     \
    IF32(F(mov_67_89_addr16, "mov-67-89-m32-r32-addr16-bx", "movl %ecx, %fs:0x10(%bx)",         \
           V(XBX, 0xA5A50020u), SEG))                                                           \
    IF32(F(add_67_03_addr16, "add-67-03-r32-m32-addr16-bx-si", "addl %fs:0x8(%bx,%si), %ecx",   \
           V(XBX, 0xA5A50030u), V(XSI, 0x5A5A0004u), SEG, FIN(FLAGS_ARITH)))                    \
    IF32(F(mov_67_8b_addr16, "mov-67-8b-r16-m16-addr16-di", "movw %fs:0x3(%di), %dx",           \
           V(XDI, 0xA5A50040u), SEG))                                                           \
    /* SIB: index * scale, negative index, index as the region pointer, no base */               \
    F(mov_89_sib_index4, "mov-89-m32-r32-sib-index4", "movl %ecx, 0x8(" RG(bx) "," RG(si) ",4)", \
      B0, V(XSI, 5))                                                                            \
    F(mov_8b_sib_negindex8, "mov-8b-r32-m32-sib-negindex8",                                     \
      "movl 0x3(" RG(bx) "," RG(si) ",8), %edx", AT(XBX, 0x40), V(XSI, -2))                     \
    F(add_01_sib_index_region, "add-01-m32-r32-sib-region-index",                               \
      "addl %ecx, 0x10(" RG(si) "," RG(bx) ",1)", B0, V(XSI, 0x20), FIN(FLAGS_ARITH))           \
    F(mov_89_sib_nobase, "mov-89-m32-r32-sib-nobase", "movl %ecx, 0x44(," RG(si) ",1)",         \
      AT(XSI, 0))                                                                               \
    IF64(F(mov_89_sib_index_r8, "mov-89-m64-r64-sib-index-r8", "movq %rcx, 0x10(%rbx,%r8,8)",   \
           B0, V(XR8, 2)))                                                                      \
    IF64(F(mov_89_sib_r8_r9, "mov-89-m32-r32-sib-base-r8-index-r9", "movl %ecx, 0x10(%r8,%r9,2)", \
           AT(XR8, 0), V(XR9, 4)))                                                              \
    /* Segment overrides with a non-zero base (FS = region; GS too in 32-bit mode) */            \
    F(mov_fs_disp32, "mov-89-m32-r32-fs-disp32", "movl %ecx, %fs:0x10", SEG)                    \
    F(mov_fs_base, "mov-8b-r32-m32-fs-base", "movl %fs:0x8(" RG(si) "), %edx", V(XSI, 0x20),    \
      SEG)                                                                                      \
    F(add_fs_sib, "add-01-m32-r32-fs-sib", "addl %ecx, %fs:0x4(" RG(si) "," RG(di) ",4)",       \
      V(XSI, 0x10), V(XDI, 2), SEG, FIN(FLAGS_ARITH))                                           \
    F(rep_movsb_fs, "rep-movsb-fs-source-dev2ram", ".byte 0x64, 0xf3, 0xa4", V(XSI, 0x30),      \
      AUX(XDI, 0x10), V(XCX, 6), SEG)                                                           \
    F(lodsd_fs, "lodsd-fs", ".byte 0x64, 0xad", V(XSI, 0x44), SEG)                              \
    IF32(F(mov_gs_disp32, "mov-89-m32-r32-gs-disp32", "movl %ecx, %gs:0x18", SEG))              \
    IF32(F(add_gs_base, "add-02-r8-m8-gs-base", "addb %gs:0x9(%esi), %cl", V(XSI, 0x30), SEG))  \
    /* Instructions that straddle a 4 KiB page boundary of the code (after 4 and 1 bytes) */     \
    F(across_page_store, "mov-c7-m32-imm32-across-page",                                        \
      ACROSS_PAGE(4) ".byte 0xc7, 0x83\n\t.long 0x40\n\t.long 0x12345678", B0)                  \
    F(across_page_load, "mov-8b-r32-m32-across-page", ACROSS_PAGE(1) ".byte 0x8b, 0x8b\n\t.long 0x44", \
      B0)

/* Emit the code: one snippet per form, or one per address variant. */
#define FORM_ASM(label, code) label ":\n\t" code "\n\tret\n"
#define EMIT_CODE(id, name, code, ...)                                                          \
    __asm__(".pushsection .text\n" FORM_ASM("mmio_form_" #id, code) ".popsection");             \
    extern const char mmio_form_##id[];
#define EMIT_VARIANTS(id, name, codefn, off, ...)                                               \
    __asm__(".pushsection .text\n"                                                              \
            FORM_ASM("mmio_form_" #id "_0", codefn("mmio_ref_region + " #off))                  \
            FORM_ASM("mmio_form_" #id "_1", codefn(XSTR(TESTDEV_MMIO_BASE) " + " #off))         \
            FORM_ASM("mmio_form_" #id "_2", codefn(XSTR(TESTDEV_MMIO_ALIAS) " + " #off))        \
            FORM_ASM("mmio_form_" #id "_3", codefn(XSTR(PC_TESTDEV_MMIO_BASE) " + " #off))      \
            FORM_ASM("mmio_form_" #id "_4", codefn(XSTR(PC_TESTDEV_MMIO_ALIAS) " + " #off))     \
            ".popsection");                                                                     \
    extern const char mmio_form_##id##_0[], mmio_form_##id##_1[], mmio_form_##id##_2[],         \
        mmio_form_##id##_3[], mmio_form_##id##_4[];                                             \
    static const void *const mmio_variants_##id[VARIANTS] = {                                   \
        mmio_form_##id##_0, mmio_form_##id##_1, mmio_form_##id##_2, mmio_form_##id##_3,         \
        mmio_form_##id##_4,                                                                     \
    };

/* The region of the RAM run (the asm above names it, hence not static). */
uint8_t mmio_ref_region[REGION_SIZE] __attribute__((aligned(4096), used));

MMIO_FORMS(EMIT_CODE, EMIT_VARIANTS)

#define ENTRY_CODE(id, name_, code_, ...) { .name = name_, .code = mmio_form_##id, __VA_ARGS__ },
#define ENTRY_VARIANTS(id, name_, codefn, off, ...) \
    { .name = name_, .variants = mmio_variants_##id, __VA_ARGS__ },

static const struct mmio_form forms[] = { MMIO_FORMS(ENTRY_CODE, ENTRY_VARIANTS) };

/*
 * The trampoline: void mmio_form_call(const void *code).  Loads the
 * registers and RFLAGS from mmio_form_state, calls the form, stores them
 * back (DF cleared afterwards, as C expects).  The callee-saved registers
 * of the C ABI are saved around it.  mmio_form_fault_resume is where an
 * exception handler sends a form that faulted: the return address of the
 * CALL is still on the stack.
 */
struct form_state {
    unsigned long r[NREGS];
    unsigned long flags;
};

_Static_assert(__builtin_offsetof(struct form_state, flags) == NREGS * sizeof(long),
               "the trampoline's offsets");

struct form_state mmio_form_state __attribute__((used));
const void *mmio_form_target __attribute__((used));

void mmio_form_call(const void *code);
extern const char mmio_form_fault_resume[];

#ifdef __x86_64__
__asm__(".pushsection .text\n"
        ".type mmio_form_call, @function\n"
        "mmio_form_call:\n\t"
        "push %rbx\n\t"
        "push %rbp\n\t"
        "push %r12\n\t"
        "push %r13\n\t"
        "push %r14\n\t"
        "push %r15\n\t"
        "mov %rdi, mmio_form_target(%rip)\n\t"
        "mov mmio_form_state+0(%rip), %rax\n\t"
        "mov mmio_form_state+8(%rip), %rcx\n\t"
        "mov mmio_form_state+16(%rip), %rdx\n\t"
        "mov mmio_form_state+24(%rip), %rbx\n\t"
        "mov mmio_form_state+32(%rip), %rsi\n\t"
        "mov mmio_form_state+40(%rip), %rdi\n\t"
        "mov mmio_form_state+48(%rip), %r8\n\t"
        "mov mmio_form_state+56(%rip), %r9\n\t"
        "pushq mmio_form_state+64(%rip)\n\t"
        "popfq\n\t"
        "call *mmio_form_target(%rip)\n"
        "mmio_form_returned:\n\t"
        "pushfq\n\t"
        "popq mmio_form_state+64(%rip)\n\t"
        "cld\n\t"
        "mov %rax, mmio_form_state+0(%rip)\n\t"
        "mov %rcx, mmio_form_state+8(%rip)\n\t"
        "mov %rdx, mmio_form_state+16(%rip)\n\t"
        "mov %rbx, mmio_form_state+24(%rip)\n\t"
        "mov %rsi, mmio_form_state+32(%rip)\n\t"
        "mov %rdi, mmio_form_state+40(%rip)\n\t"
        "mov %r8, mmio_form_state+48(%rip)\n\t"
        "mov %r9, mmio_form_state+56(%rip)\n\t"
        "pop %r15\n\t"
        "pop %r14\n\t"
        "pop %r13\n\t"
        "pop %r12\n\t"
        "pop %rbp\n\t"
        "pop %rbx\n\t"
        "ret\n"
        "mmio_form_fault_resume:\n\t"
        "add $8, %rsp\n\t"
        "jmp mmio_form_returned\n"
        ".popsection");
#else
__asm__(".pushsection .text\n"
        ".type mmio_form_call, @function\n"
        "mmio_form_call:\n\t"
        "push %ebx\n\t"
        "push %esi\n\t"
        "push %edi\n\t"
        "push %ebp\n\t"
        "mov 20(%esp), %eax\n\t"
        "mov %eax, mmio_form_target\n\t"
        "mov mmio_form_state+4, %ecx\n\t"
        "mov mmio_form_state+8, %edx\n\t"
        "mov mmio_form_state+12, %ebx\n\t"
        "mov mmio_form_state+16, %esi\n\t"
        "mov mmio_form_state+20, %edi\n\t"
        "mov mmio_form_state+0, %eax\n\t"
        "pushl mmio_form_state+24\n\t"
        "popfl\n\t"
        "call *mmio_form_target\n"
        "mmio_form_returned:\n\t"
        "pushfl\n\t"
        "popl mmio_form_state+24\n\t"
        "cld\n\t"
        "mov %eax, mmio_form_state+0\n\t"
        "mov %ecx, mmio_form_state+4\n\t"
        "mov %edx, mmio_form_state+8\n\t"
        "mov %ebx, mmio_form_state+12\n\t"
        "mov %esi, mmio_form_state+16\n\t"
        "mov %edi, mmio_form_state+20\n\t"
        "pop %ebp\n\t"
        "pop %edi\n\t"
        "pop %esi\n\t"
        "pop %ebx\n\t"
        "ret\n"
        "mmio_form_fault_resume:\n\t"
        "add $4, %esp\n\t"
        "jmp mmio_form_returned\n"
        ".popsection");
#endif

/* The initial bytes: the same for the region in both runs, another
 * pattern for aux.  The MOVSX forms rely on the sign bits of the bytes at
 * 0x88 and 0x89 (set) and 0x8a and 0x8d (clear); mmio_forms_init checks. */
static uint8_t region_byte(unsigned i)
{
    return (uint8_t)((i * 167 + 59) ^ (i >> 3));
}

static uint8_t aux_byte(unsigned i)
{
    return (uint8_t)(i * 71 + 0xC1);
}

static unsigned long reg_default(unsigned i)
{
    return (unsigned long)((0x0123456789ABCDEFull * (2 * i + 3)) ^ 0xA5A5A5A5A5A5A5A5ull);
}

static uint8_t aux_ram[2][AUX_SIZE] __attribute__((aligned(256)));
static bool have_clflush, have_clflushopt;

void mmio_forms_init(void)
{
    struct cpuid_regs r = cpuid(0, 0);

    have_clflush = cpuid(1, 0).edx & (1u << 19);
    have_clflushopt = r.eax >= 7 && (cpuid(7, 0).ebx & (1u << 23));
    if (region_byte(0x88) < 0x80 || region_byte(0x89) < 0x80 || region_byte(0x8a) >= 0x80 ||
        region_byte(0x8d) >= 0x80)
        printf("mmio: internal: the MOVSX forms' sign bits do not match region_byte\n");
}

/* ------------------------------------------------------------------------
 * The device side: fill and read back with the plainest accesses (MOV of a
 * native word), and remember what the device holds so that a form only
 * costs the writes of the words it changed.
 */
#define DEV_WORD sizeof(unsigned long)

static uint8_t dev_shadow[REGION_SIZE];
static bool dev_shadow_valid;

static unsigned long dev_read_word(uintptr_t addr)
{
    unsigned long v;

    __asm__ volatile("mov (%1), %0" : "=r"(v) : "r"(addr) : "memory");
    return v;
}

static void dev_write_word(uintptr_t addr, unsigned long v)
{
    __asm__ volatile("mov %0, (%1)" : : "r"(v), "r"(addr) : "memory");
}

static void dev_prepare(uintptr_t base)
{
    for (unsigned off = 0; off < REGION_SIZE; off += DEV_WORD) {
        unsigned long want = 0;

        for (unsigned i = 0; i < DEV_WORD; i++)
            want |= (unsigned long)region_byte(off + i) << (8 * i);
        if (dev_shadow_valid && memcmp(&dev_shadow[off], &want, DEV_WORD) == 0)
            continue;
        dev_write_word(base + off, want);
        memcpy(&dev_shadow[off], &want, DEV_WORD);
    }
    dev_shadow_valid = true;
}

static void dev_read_all(uintptr_t base, uint8_t *out)
{
    for (unsigned off = 0; off < REGION_SIZE; off += DEV_WORD) {
        unsigned long v = dev_read_word(base + off);

        memcpy(&out[off], &v, DEV_WORD);
    }
    memcpy(dev_shadow, out, REGION_SIZE);
}

/* ------------------------------------------------------------------------
 * One run of a form.
 */
struct run_result {
    unsigned long r[NREGS];
    unsigned long flags;
    uint8_t region[REGION_SIZE];
    bool faulted;
    unsigned vector;
    uintptr_t fault_ip;
};

static volatile bool form_running;
static volatile bool form_faulted;
static volatile unsigned form_fault_vector;
static volatile uintptr_t form_fault_ip;

uintptr_t mmio_forms_on_exception(unsigned vector, uintptr_t ip)
{
    if (!form_running)
        return 0;
    form_running = false;
    form_faulted = true;
    form_fault_vector = vector;
    form_fault_ip = ip;
    return (uintptr_t)mmio_form_fault_resume;
}

static unsigned long pattern_value(const struct reg_init *ri, unsigned reg)
{
    unsigned long v = 0, mask = 0;

    for (unsigned i = 0; i < ri->size && i < sizeof(long); i++) {
        v |= (unsigned long)region_byte((unsigned)ri->value + i) << (8 * i);
        mask |= 0xFFul << (8 * i);
    }
    if (ri->invert)
        v ^= mask;
    /* The bits above the operand keep the register's default value. */
    return (reg_default(reg) & ~mask) | v;
}

/* The base an address register was relative to (0: not an address). */
static uintptr_t reg_base(const struct reg_init *ri, uintptr_t region, const uint8_t *aux)
{
    if (ri->kind == REG_REGION)
        return region;
    if (ri->kind == REG_AUX)
        return (uintptr_t)aux;
    return 0;
}

static void load_registers(const struct mmio_form *f, uintptr_t region, const uint8_t *aux)
{
    for (unsigned i = 0; i < NREGS; i++) {
        const struct reg_init *ri = &f->regs[i];
        unsigned long v;

        switch (ri->kind) {
        case REG_VALUE:
            v = (unsigned long)ri->value;
            break;
        case REG_REGION:
        case REG_AUX:
            v = reg_base(ri, region, aux) + (unsigned long)ri->value;
            if (ri->high)
                v |= (unsigned long)HIGH_GARBAGE;
            break;
        case REG_PATTERN:
            v = pattern_value(ri, i);
            break;
        default:
            v = reg_default(i);
            break;
        }
        mmio_form_state.r[i] = v;
    }
    mmio_form_state.flags = FLAGS_FIXED | f->flags_in;
}

static void run_once(const struct mmio_target *t, const struct mmio_form *f, const void *code,
                     uintptr_t region, uint8_t *aux, struct run_result *out)
{
    for (unsigned i = 0; i < AUX_SIZE; i++)
        aux[i] = aux_byte(i);
    load_registers(f, region, aux);
    if (f->seg == SEG_REGION)
        t->set_seg_base(region);
    form_faulted = false;
    form_running = true;
    mmio_form_call(code);
    form_running = false;
    if (f->seg == SEG_REGION)
        t->set_seg_base(0);

    out->faulted = form_faulted;
    out->vector = form_fault_vector;
    out->fault_ip = form_fault_ip;
    out->flags = mmio_form_state.flags;
    /* Addresses relative to their buffer again, so that the runs compare. */
    for (unsigned i = 0; i < NREGS; i++)
        out->r[i] = mmio_form_state.r[i] - reg_base(&f->regs[i], region, aux);
}

/* ------------------------------------------------------------------------
 * Comparison and report.
 */
static void compare_bytes(struct message *m, const char *what, const uint8_t *got,
                          const uint8_t *want, unsigned size)
{
    unsigned first = size, last = 0, count = 0;

    for (unsigned i = 0; i < size; i++) {
        if (got[i] != want[i]) {
            if (first == size)
                first = i;
            last = i;
            count++;
        }
    }
    if (count)
        say(m, " %s bytes 0x%02x-0x%02x differ (%u; first 0x%02x, RAM run 0x%02x)", what, first,
            last, count, got[first], want[first]);
}

/* True when the device run matched the RAM run; explains the differences in m. */
static bool compare_runs(const struct mmio_form *f, const struct run_result *ram,
                         const struct run_result *dev, struct message *m)
{
    uint32_t mask = ((FLAGS_ARITH & ~f->flags_undefined) | FLAG_DF);

    if (ram->faulted) {
        say(m, " the RAM run raised vector %u at %p", ram->vector, (void *)ram->fault_ip);
        return false;
    }
    if (dev->faulted)
        say(m, " vector %u%s at %p", dev->vector, dev->vector == 6 ? " (#UD)" : "",
            (void *)dev->fault_ip);
    for (unsigned i = 0; i < NREGS; i++) {
        if (dev->r[i] != ram->r[i])
            say(m, " %s%s=0x%lx (RAM run 0x%lx)", reg_names[i],
                f->regs[i].kind == REG_REGION || f->regs[i].kind == REG_AUX ? "-base" : "",
                dev->r[i], ram->r[i]);
    }
    if ((dev->flags ^ ram->flags) & mask)
        say(m, " flags=0x%lx (RAM run 0x%lx, compared 0x%x)", dev->flags & mask,
            ram->flags & mask, (unsigned)mask);
    compare_bytes(m, "device", dev->region, ram->region, REGION_SIZE);
    compare_bytes(m, "RAM-side", aux_ram[1], aux_ram[0], AUX_SIZE);
    return m->len == 0;
}

/* Which code to run for the region at `base`; NULL when no variant of this
 * form can address it. */
static const void *form_code(const struct mmio_form *f, uintptr_t base, bool ram_run)
{
    if (f->code)
        return f->code;
    if (ram_run)
        return f->variants[0];
    for (unsigned v = 1; v < VARIANTS; v++) {
        if (variant_bases[v] == base)
            return f->variants[v];
    }
    return NULL;
}

static const char *missing_feature(const struct mmio_form *f)
{
    if ((f->needs & NEED_CLFLUSH) && !have_clflush)
        return "the CPU has no CLFLUSH";
    if ((f->needs & NEED_CLFLUSHOPT) && !have_clflushopt)
        return "the CPU has no CLFLUSHOPT";
    return NULL;
}

static struct run_result ram_result, dev_result;

/* Runs one form both ways; returns 1 passed, 0 failed, -1 skipped. */
static int run_form(const struct mmio_target *t, const struct mmio_form *f)
{
    const void *dev_code = form_code(f, t->dev_base, false);
    const char *missing = missing_feature(f);
    struct message m = { .len = 0 };

    if (missing || !dev_code) {
        printf("%s: %s skipped (%s)\n", t->prefix, f->name,
               missing ? missing : "no variant of its absolute address reaches this device address");
        return -1;
    }
    for (unsigned i = 0; i < REGION_SIZE; i++)
        mmio_ref_region[i] = region_byte(i);
    run_once(t, f, form_code(f, 0, true), (uintptr_t)mmio_ref_region, aux_ram[0], &ram_result);
    memcpy(ram_result.region, mmio_ref_region, REGION_SIZE);

    dev_prepare(t->dev_base);
    run_once(t, f, dev_code, t->dev_base, aux_ram[1], &dev_result);
    dev_read_all(t->dev_base, dev_result.region);

    if (compare_runs(f, &ram_result, &dev_result, &m)) {
        printf("%s: %s ok\n", t->prefix, f->name);
        return 1;
    }
    printf("%s: %s FAIL%s\n", t->prefix, f->name, m.text);
    return 0;
}

/* ------------------------------------------------------------------------
 * The device's own registers: LAST_ACCESS describes the access before the
 * read, ACCESS_COUNT counts every access to the window.
 */
#define LAST_ACCESS_PROBE_OFFSET    0x20

static bool check_last_access(const struct mmio_target *t)
{
    uint64_t want = TESTDEV_ACCESS(LAST_ACCESS_PROBE_OFFSET, 4, 1);

    mmio_write32(t->dev_base + LAST_ACCESS_PROBE_OFFSET, 0x5EED1234u);
    uint64_t last = mmio_read64(t->dev_base + TESTDEV_LAST_ACCESS);

    if (last == want) {
        printf("%s: last-access ok\n", t->prefix);
        return true;
    }
    printf("%s: last-access FAIL LAST_ACCESS 0x%llx after a 4-byte write at 0x%x, expected 0x%llx\n",
           t->prefix, (unsigned long long)last, LAST_ACCESS_PROBE_OFFSET, (unsigned long long)want);
    return false;
}

static bool check_access_count(const struct mmio_target *t)
{
    uint64_t before = mmio_read64(t->dev_base + TESTDEV_ACCESS_COUNT);

    (void)mmio_read32(t->dev_base + 0x24);
    mmio_write32(t->dev_base + 0x28, 0x600DF00Du);
    uint64_t after = mmio_read64(t->dev_base + TESTDEV_ACCESS_COUNT);

    /* The first read counts as well: it saw the accesses before it. */
    if (after == before + 3) {
        printf("%s: access-count ok\n", t->prefix);
        return true;
    }
    printf("%s: access-count FAIL ACCESS_COUNT went from %llu to %llu over a read and a write, "
           "expected +3\n", t->prefix, (unsigned long long)before, (unsigned long long)after);
    return false;
}

struct mmio_tally mmio_run_forms(const struct mmio_target *t)
{
    struct mmio_tally tally = { 0, 0 };

    if (t->has_registers) {
        tally.total += 2;
        tally.passed += check_last_access(t) ? 1 : 0;
        tally.passed += check_access_count(t) ? 1 : 0;
    }
    dev_shadow_valid = false;       /* a new target, or the checks wrote to it */
    for (size_t i = 0; i < ARRAY_SIZE(forms); i++) {
        int r = run_form(t, &forms[i]);

        if (r < 0)
            continue;
        tally.total++;
        tally.passed += (unsigned)r;
    }
    return tally;
}
