/*
 * Helpers shared by test_x86_decode.c and test_x86_emulate.c: hex byte
 * strings, register and segment names (Intel/Capstone spelling), and the
 * opcodes and prefixes the random generators draw from.
 */
#ifndef HV_X86_TEST_UTIL_H
#define HV_X86_TEST_UTIL_H

#include "helpers.h"
#include <hv/x86_emulate.h>

enum { RAX, RCX, RDX, RBX, RSP, RBP, RSI, RDI, R8, R9, R10, R11, R12, R13, R14, R15 };
#define NOREG   X86_REG_NONE

/* "48 89 08" -> bytes; returns the count. */
static inline size_t parse_hex(const char *s, uint8_t *out, size_t max)
{
    size_t n = 0;
    while (*s) {
        if (*s == ' ') {
            s++;
            continue;
        }
        unsigned v;
        assert_true(sscanf(s, "%2x", &v) == 1);
        assert_true(n < max);
        out[n++] = (uint8_t)v;
        s += 2;
    }
    return n;
}

static inline const char *hex_string(const uint8_t *b, size_t n, char *buf, size_t cap)
{
    size_t at = 0;
    buf[0] = 0;
    for (size_t i = 0; i < n && at + 4 < cap; i++)
        at += (size_t)snprintf(buf + at, cap - at, "%s%02x", i ? " " : "", b[i]);
    return buf;
}

static inline const char *mode_name(enum x86_cpu_mode m)
{
    static const char *const names[] = { "real", "prot16", "prot32", "long64" };
    return (unsigned)m < 4 ? names[m] : "?";
}

/* General register names as the Intel syntax (and Capstone) spells them. */
static inline const char *gpr_name(unsigned reg, unsigned size, bool rex)
{
    static const char *const q[16] = { "rax", "rcx", "rdx", "rbx", "rsp", "rbp", "rsi", "rdi",
                                       "r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15" };
    static const char *const d[16] = { "eax", "ecx", "edx", "ebx", "esp", "ebp", "esi", "edi",
                                       "r8d", "r9d", "r10d", "r11d", "r12d", "r13d", "r14d", "r15d" };
    static const char *const w[16] = { "ax", "cx", "dx", "bx", "sp", "bp", "si", "di",
                                       "r8w", "r9w", "r10w", "r11w", "r12w", "r13w", "r14w", "r15w" };
    static const char *const b[16] = { "al", "cl", "dl", "bl", "spl", "bpl", "sil", "dil",
                                       "r8b", "r9b", "r10b", "r11b", "r12b", "r13b", "r14b", "r15b" };
    static const char *const h[4] = { "ah", "ch", "dh", "bh" };
    if (reg >= 16)
        return "?";
    switch (size) {
    case 8: return q[reg];
    case 4: return d[reg];
    case 2: return w[reg];
    case 1: return (!rex && reg >= 4 && reg < 8) ? h[reg - 4] : b[reg];
    default: return "?";
    }
}

static inline const char *xmm_name(unsigned reg)
{
    static const char *const x[16] = { "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6",
                                       "xmm7", "xmm8", "xmm9", "xmm10", "xmm11", "xmm12",
                                       "xmm13", "xmm14", "xmm15" };
    return reg < 16 ? x[reg] : "?";
}

static inline const char *seg_name(enum x86_seg s)
{
    static const char *const names[] = { "es", "cs", "ss", "ds", "fs", "gs", "none" };
    return (unsigned)s <= X86_SEG_NONE ? names[s] : "?";
}

/* ---- opcodes the decoder supports (for the generators) --------------------- */

/* One-byte opcodes, and second bytes of 0F opcodes. */
static const uint8_t x86_supported_1byte[] = {
    0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x08, 0x09, 0x0A, 0x0B, 0x0C, 0x0D,
    0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x18, 0x19, 0x1A, 0x1B, 0x1C, 0x1D,
    0x20, 0x21, 0x22, 0x23, 0x24, 0x25, 0x28, 0x29, 0x2A, 0x2B, 0x2C, 0x2D,
    0x30, 0x31, 0x32, 0x33, 0x34, 0x35, 0x38, 0x39, 0x3A, 0x3B, 0x3C, 0x3D,
    0x63, 0x80, 0x81, 0x83, 0x84, 0x85, 0x86, 0x87, 0x88, 0x89, 0x8A, 0x8B,
    0xA0, 0xA1, 0xA2, 0xA3, 0xA4, 0xA5, 0xAA, 0xAB, 0xAC, 0xAD,
    0xC6, 0xC7, 0xF6, 0xF7, 0xFE, 0xFF,
};
static const uint8_t x86_supported_0f[] = {
    0x10, 0x11, 0x28, 0x29, 0x6E, 0x6F, 0x7E, 0x7F, 0xA3, 0xAB, 0xAE, 0xB0, 0xB1,
    0xB3, 0xB6, 0xB7, 0xBA, 0xBB, 0xBE, 0xBF, 0xC3, 0xD6,
};
static const uint8_t x86_prefix_bytes[] = {
    0x66, 0x67, 0xF0, 0xF2, 0xF3, 0x26, 0x2E, 0x36, 0x3E, 0x64, 0x65,
};

#endif
