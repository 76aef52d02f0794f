/*
 * A small printf.  Conversions: %d %i %u %x %X %c %s %p %%, with the length
 * modifiers l, ll, z; flags '-' (left-justify), '0' (zero-pad), '#' (0x
 * prefix for %x); a width (digits or *); and a precision (digits or *) that
 * limits %s and sets the minimum digit count of integers.  No floating point.
 */
#ifndef GUEST_PRINTF_H
#define GUEST_PRINTF_H

#include <stdarg.h>
#include <stddef.h>

#define GUEST_PRINTF(fmt_index, args_index) \
    __attribute__((format(printf, fmt_index, args_index)))

/* To the console (hv_console_write), flushed at least once per call. */
int printf(const char *fmt, ...) GUEST_PRINTF(1, 2);
int vprintf(const char *fmt, va_list ap);

/* Like C's: always NUL-terminates when size > 0, returns the untruncated length. */
int snprintf(char *buf, size_t size, const char *fmt, ...) GUEST_PRINTF(3, 4);
int vsnprintf(char *buf, size_t size, const char *fmt, va_list ap);

#endif
