/*
 * Guest FPU/SSE/AVX state.  The host is built with -mgeneral-regs-only and
 * never touches these registers, so while a vCPU runs its state simply stays
 * in the hardware registers across exits: nothing is saved per exit.  A vCPU
 * owns its core until it stops, so what matters is that each VM starts from
 * the architectural initial state and never sees what the previous VM on the
 * core left there: fpu_init_for_guest() restores the init state of every
 * component (XRSTOR of an empty XSAVE header, SDM Vol. 1, 13.8.1), or uses
 * FNINIT and zeroes the XMM registers without XSAVE.  MMIO emulation of SSE
 * moves reads and writes the live XMM registers through fpu_read_xmm/write_xmm.
 */
#include <hv/fpu.h>
#include <hv/paging.h>
#include <hv/kernel.h>
#include <hv/kstring.h>
#include <hv/x86.h>

#define CPUID_1_ECX_XSAVE   BIT(26)
#define XSAVE_AREA_ALIGN    64
#define XSAVE_HEADER_OFFSET 512
#define XSAVE_MIN_SIZE      576
#define XCR0_X87_SSE        0x3
#define MXCSR_OFFSET        24
#define MXCSR_INIT          0x1F80      /* all SIMD exceptions masked (SDM Vol. 1, 10.2.3) */

static uint8_t init_area[PAGE_SIZE] __aligned(XSAVE_AREA_ALIGN);   /* all zeroes: init state */

void fpu_enable_host(void)
{
    uint64_t cr4 = read_cr4() | CR4_OSFXSR | CR4_OSXMMEXCPT;
    if (cpuid(1, 0).ecx & CPUID_1_ECX_XSAVE)
        cr4 |= CR4_OSXSAVE;
    write_cr4(cr4);
    write_cr0((read_cr0() | CR0_MP | CR0_NE) & ~(CR0_EM | CR0_TS));
}

void fpu_init_for_guest(void)
{
    if (read_cr4() & CR4_OSXSAVE) {
        struct cpuid_regs xs = cpuid(0xD, 0);
        uint64_t supported = ((uint64_t)xs.edx << 32) | xs.eax;
        if (xs.ecx > sizeof(init_area) || xs.ecx < XSAVE_MIN_SIZE)
            supported = XCR0_X87_SSE;       /* a larger area than ours: stay with x87/SSE */
        /* XRSTOR loads MXCSR from the legacy area even for components it
         * initializes (SDM Vol. 1, 13.8.1): give it the reset value. */
        uint32_t mxcsr = MXCSR_INIT;
        memcpy(init_area + MXCSR_OFFSET, &mxcsr, sizeof(mxcsr));
        __asm__ volatile("xsetbv" :: "c"(0), "a"((uint32_t)supported), "d"((uint32_t)(supported >> 32)));
        __asm__ volatile("xrstor %0" :: "m"(init_area), "a"((uint32_t)supported),
                         "d"((uint32_t)(supported >> 32)) : "memory");
        /* The guest starts with XCR0 = x87|SSE, as after reset; XSETBV exits. */
        __asm__ volatile("xsetbv" :: "c"(0), "a"(XCR0_X87_SSE), "d"(0));
        return;
    }
    __asm__ volatile("fninit");
    uint8_t zero[16] = { 0 };
    for (unsigned i = 0; i < 16; i++)
        fpu_write_xmm(i, zero);
}


void fpu_read_xmm(unsigned reg, void *out16)
{
    uint8_t *p = out16;
    switch (reg & 15) {
#define R(n) case n: __asm__ volatile("movdqu %%xmm" #n ", (%0)" :: "r"(p) : "memory"); break;
    R(0) R(1) R(2) R(3) R(4) R(5) R(6) R(7) R(8) R(9) R(10) R(11) R(12) R(13) R(14) R(15)
#undef R
    }
}

void fpu_write_xmm(unsigned reg, const void *in16)
{
    const uint8_t *p = in16;
    switch (reg & 15) {
#define W(n) case n: __asm__ volatile("movdqu (%0), %%xmm" #n :: "r"(p) : "memory"); break;
    W(0) W(1) W(2) W(3) W(4) W(5) W(6) W(7) W(8) W(9) W(10) W(11) W(12) W(13) W(14) W(15)
#undef W
    }
}
