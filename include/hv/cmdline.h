/*
 * Table-driven parser for "key=value" command lines (the kernel's own, from
 * GRUB, and later each guest module's).  Pure: no globals, no hardware.
 *
 * Syntax: words separated by spaces/tabs; a word is `name`, `name=value` or
 * `name="value with spaces"`.  Every problem (unknown option, missing or bad
 * value, a flag given a value) is reported through the callback with the
 * offending word; parsing goes on so that all problems are reported at once.
 */
#ifndef HV_CMDLINE_H
#define HV_CMDLINE_H

#include <hv/types.h>

enum cmdline_type {
    CMDLINE_FLAG,       /* `name` sets a bool to true; `name=0|1|yes|no|on|off` too */
    CMDLINE_UINT,       /* decimal, 0x hex, optional K/M/G suffix; uint64_t */
    CMDLINE_STRING,     /* copied into a char buffer of `size` bytes */
    CMDLINE_ENUM,       /* value must be one of `choices`; stores its index as int */
};

struct cmdline_option {
    const char *name;
    enum cmdline_type type;
    void *dest;
    size_t size;                    /* CMDLINE_STRING: buffer size */
    const char *const *choices;     /* CMDLINE_ENUM: NULL-terminated */
    uint64_t min, max;              /* CMDLINE_UINT: inclusive range (max 0 = none) */
    const char *help;
};

/* Called once per problem; `word` is the offending word (not NUL-terminated). */
typedef void (*cmdline_report_fn)(void *ctx, const char *word, size_t word_len,
                                  const char *problem);

/* Returns the number of problems found (0 when the line is fully valid). */
int cmdline_parse(const char *line, const struct cmdline_option *opts, size_t nopts,
                  cmdline_report_fn report, void *ctx);

/* Parses an unsigned number with an optional K/M/G suffix; false on junk or overflow. */
bool cmdline_parse_uint(const char *s, size_t len, uint64_t *out);

#endif
