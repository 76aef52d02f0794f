/* printf-style formatting into any byte sink.  Pure: shared by the kernel's
 * log and the host unit tests (which compare it against the C library).
 * Supports %c %s %d %i %u %x %X %o %p %%, flags '-' '0' ' ' '+' '#', width and
 * precision (also '*'), and the length modifiers hh h l ll z t j. */
#ifndef HV_FORMAT_H
#define HV_FORMAT_H

#include <hv/types.h>

typedef void (*format_sink_fn)(void *ctx, char c);

/* Returns the number of characters produced. */
int format_v(format_sink_fn sink, void *ctx, const char *fmt, va_list ap);

/* Like snprintf: always NUL-terminates when size > 0, returns the full length. */
int ksnprintf(char *buf, size_t size, const char *fmt, ...) __printf(3, 4);
int kvsnprintf(char *buf, size_t size, const char *fmt, va_list ap);

#endif
