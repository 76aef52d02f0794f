/* 64-by-32-bit division without libgcc (see guest/lib.h). */
#include <guest/guest.h>

#ifdef __x86_64__

uint64_t udiv64_32(uint64_t n, uint32_t d, uint32_t *rem)
{
    if (d == 0) {
        if (rem)
            *rem = 0;
        return UINT64_MAX;
    }
    if (rem)
        *rem = (uint32_t)(n % d);
    return n / d;
}

#else

/*
 * Schoolbook long division in base 2^32 with two DIV instructions.  DIV
 * divides EDX:EAX by a 32-bit divisor and faults (#DE) when the quotient
 * does not fit in 32 bits; that cannot happen here because the high part
 * of each dividend (EDX) is a remainder, hence smaller than the divisor.
 */
uint64_t udiv64_32(uint64_t n, uint32_t d, uint32_t *rem)
{
    uint32_t hi = (uint32_t)(n >> 32), lo = (uint32_t)n;
    uint32_t q_hi, q_lo, r;

    if (d == 0) {
        if (rem)
            *rem = 0;
        return UINT64_MAX;
    }
    q_hi = hi / d;                  /* 32-bit: a native DIV */
    r = hi % d;
    __asm__("divl %[d]" : "=a"(q_lo), "=d"(r) : "a"(lo), "d"(r), [d] "rm"(d) : "cc");
    if (rem)
        *rem = r;
    return ((uint64_t)q_hi << 32) | q_lo;
}

#endif
