/*
 * The few C library functions a freestanding guest needs.  GCC may emit
 * calls to memset/memcpy/memmove/memcmp by itself (struct copies, large
 * initialisers), so they must exist even if the guest never calls them.
 */
#ifndef GUEST_LIB_H
#define GUEST_LIB_H

#include <stddef.h>
#include <stdint.h>

void *memset(void *dst, int c, size_t n);
void *memcpy(void *restrict dst, const void *restrict src, size_t n);
void *memmove(void *dst, const void *src, size_t n);
int memcmp(const void *a, const void *b, size_t n);
size_t strlen(const char *s);
int strcmp(const char *a, const char *b);
int strncmp(const char *a, const char *b, size_t n);

/*
 * 64-by-32-bit unsigned division: returns n / d and stores n % d in *rem
 * (when rem is not NULL).  32-bit guests have no libgcc, so a plain 64-bit
 * "/" would not link there.  d == 0 returns UINT64_MAX, remainder 0, rather
 * than raising #DE in a guest that may have no IDT.
 */
uint64_t udiv64_32(uint64_t n, uint32_t d, uint32_t *rem);

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

#endif
