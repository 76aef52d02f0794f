/* The C string functions.  The kernel has its own (kernel/lib/string.c); host
 * unit tests build the same pure modules against the C library's. */
#ifndef HV_KSTRING_H
#define HV_KSTRING_H

#include <hv/types.h>

#ifdef HV_HOST_TEST
#include <string.h>
#else
void *memcpy(void *dst, const void *src, size_t n);
void *memmove(void *dst, const void *src, size_t n);
void *memset(void *dst, int c, size_t n);
int memcmp(const void *a, const void *b, size_t n);
size_t strlen(const char *s);
size_t strnlen(const char *s, size_t max);
int strcmp(const char *a, const char *b);
int strncmp(const char *a, const char *b, size_t n);
char *strchr(const char *s, int c);
#endif

#endif
