/*
 * kernel/lib/format.c against the C library: every format in a generated
 * table (conversions x length modifiers x flags x widths x precisions) is
 * rendered by both ksnprintf and the host's snprintf over many values, and
 * the text and return values must be identical.  Combinations the C standard
 * leaves undefined are not generated: '#' with d/i/u/c/s, '0' with c/s,
 * '+'/' ' with c/s, %s with NULL, %p with NULL, a negative '*' width of INT_MIN.
 */
#include "helpers.h"
#include <limits.h>
#include <sys/types.h>
#include <hv/format.h>

#define OUT_SIZE 512

struct diff_stats {
    unsigned long compared;
    unsigned long mismatches;
};

static struct diff_stats stats;

/* Renders `fmt` with both implementations and compares text + return value. */
static void check_fmt(const char *fmt, ...)
{
    char want[OUT_SIZE], got[OUT_SIZE];
    va_list ap, ap2;

    memset(want, 0x5a, sizeof(want));
    memset(got, 0x5a, sizeof(got));
    va_start(ap, fmt);
    va_copy(ap2, ap);
    int nw = vsnprintf(want, sizeof(want), fmt, ap);
    int ng = kvsnprintf(got, sizeof(got), fmt, ap2);
    va_end(ap2);
    va_end(ap);

    stats.compared++;
    size_t cmp = nw >= 0 ? MIN((size_t)nw, sizeof(want) - 1) + 1 : 0;
    if (nw != ng || memcmp(want, got, cmp)) {
        if (stats.mismatches++ < 20)
            print_error("format \"%s\": libc %d \"%s\", ksnprintf %d \"%s\"\n",
                        fmt, nw, want, ng, got);
    }
}

static const int64_t signed_values[] = {
    0, 1, -1, 7, -7, 8, 9, 10, 15, 16, 42, -42, 99, 100, 127, 128, -128, -129, 255, 256,
    4095, 65535, 65536, -32768, -32769, 1000000, INT32_MAX, INT32_MIN, (int64_t)INT32_MAX + 1,
    (int64_t)INT32_MIN - 1, 0x123456789abcdefLL, -0x123456789abcdefLL, INT64_MAX, INT64_MIN,
    INT64_MIN + 1,
};

static const uint64_t unsigned_values[] = {
    0, 1, 7, 8, 9, 10, 15, 16, 42, 100, 127, 128, 255, 256, 511, 512, 4095, 4096, 65535, 65536,
    0x7fffffffULL, 0x80000000ULL, 0xffffffffULL, 0x100000000ULL, 0xdeadbeefcafef00dULL,
    01234567012345670ULL, INT64_MAX, (uint64_t)INT64_MAX + 1, UINT64_MAX - 1, UINT64_MAX,
};

static const char *const lengths[] = { "", "hh", "h", "l", "ll", "z" };
static const char *const widths[] = { "", "1", "2", "5", "12", "25" };
static const char *const precisions[] = { "", ".", ".0", ".1", ".3", ".12", ".30" };

/* Builds "%<flags><width><precision><length><conv>" with the flags of `mask`
 * (bit 0 '-', 1 '0', 2 '+', 3 ' ', 4 '#'). */
static void build_fmt(char *out, size_t n, unsigned mask, const char *w, const char *p,
                      const char *len, char conv)
{
    static const char flagc[] = "-0+ #";
    char flags[8];
    size_t nf = 0;
    for (unsigned i = 0; i < 5; i++)
        if (mask & (1u << i))
            flags[nf++] = flagc[i];
    flags[nf] = '\0';
    snprintf(out, n, "%%%s%s%s%s%c", flags, w, p, len, conv);
}

/* Passes `v` as the type the length modifier asks for (after promotion). */
static void check_signed(const char *fmt, const char *len, int64_t v)
{
    if (!strcmp(len, "l"))
        check_fmt(fmt, (long)v);
    else if (!strcmp(len, "ll"))
        check_fmt(fmt, (long long)v);
    else if (!strcmp(len, "z"))
        check_fmt(fmt, (ssize_t)v);
    else    /* int, and hh/h: the value is converted to char/short by printf */
        check_fmt(fmt, (int)v);
}

static void check_unsigned(const char *fmt, const char *len, uint64_t v)
{
    if (!strcmp(len, "l"))
        check_fmt(fmt, (unsigned long)v);
    else if (!strcmp(len, "ll"))
        check_fmt(fmt, (unsigned long long)v);
    else if (!strcmp(len, "z"))
        check_fmt(fmt, (size_t)v);
    else
        check_fmt(fmt, (unsigned int)v);
}

static void run_integer_table(const char *convs, bool is_signed)
{
    char fmt[64];
    memset(&stats, 0, sizeof(stats));
    for (const char *c = convs; *c; c++) {
        for (size_t l = 0; l < ARRAY_SIZE(lengths); l++) {
            for (unsigned mask = 0; mask < 32; mask++) {
                /* '#' is undefined for d, i and u. */
                if ((mask & 16) && (*c == 'd' || *c == 'i' || *c == 'u'))
                    continue;
                for (size_t w = 0; w < ARRAY_SIZE(widths); w++) {
                    for (size_t p = 0; p < ARRAY_SIZE(precisions); p++) {
                        build_fmt(fmt, sizeof(fmt), mask, widths[w], precisions[p], lengths[l], *c);
                        if (is_signed) {
                            for (size_t v = 0; v < ARRAY_SIZE(signed_values); v++)
                                check_signed(fmt, lengths[l], signed_values[v]);
                        } else {
                            for (size_t v = 0; v < ARRAY_SIZE(unsigned_values); v++)
                                check_unsigned(fmt, lengths[l], unsigned_values[v]);
                        }
                    }
                }
            }
        }
    }
    print_message("compared %lu formatted values with the C library\n", stats.compared);
    assert_true(stats.compared > 10000);
    assert_int_equal(stats.mismatches, 0);
}

static void test_signed_conversions(void **state)
{
    (void)state;
    run_integer_table("di", true);
}

static void test_unsigned_conversions(void **state)
{
    (void)state;
    run_integer_table("uxXo", false);
}

static void test_char_and_string(void **state)
{
    (void)state;
    static const char *const sfmts[] = {
        "%s", "%10s", "%-10s", "%.0s", "%.2s", "%.10s", "%5.2s", "%-5.2s", "%1s", "%-1s",
        "%.s", "[%s]", "%s%s",
    };
    static const char *const strs[] = { "", "a", "abc", "hello world", "tab\there", "0123456789abcdef" };
    static const char *const cfmts[] = { "%c", "%1c", "%3c", "%-3c", "[%c]", "%-1c" };
    static const int chars[] = { 'A', 'z', ' ', '%', 0x7f, 0x80, 0xff, 200, 'A' + 256, -1 };

    memset(&stats, 0, sizeof(stats));
    for (size_t f = 0; f < ARRAY_SIZE(sfmts); f++)
        for (size_t s = 0; s < ARRAY_SIZE(strs); s++)
            check_fmt(sfmts[f], strs[s], strs[ARRAY_SIZE(strs) - 1 - s]);
    for (size_t f = 0; f < ARRAY_SIZE(cfmts); f++)
        for (size_t c = 0; c < ARRAY_SIZE(chars); c++)
            check_fmt(cfmts[f], chars[c]);
    /* A NUL character is output like any other (and counted). */
    check_fmt("a%cb", 0);
    check_fmt("%3c|", 0);
    assert_int_equal(stats.mismatches, 0);
}

/* With a precision, %s may be given an array that is not NUL-terminated:
 * nothing past `precision` bytes may be read (ASan checks the heap copy). */
static void test_string_precision_reads_no_further(void **state)
{
    (void)state;
    char *abc = exact_copy("abc", 3);
    char buf[16];
    assert_int_equal(ksnprintf(buf, sizeof(buf), "%.3s|", abc), 4);
    assert_string_equal(buf, "abc|");
    assert_int_equal(ksnprintf(buf, sizeof(buf), "%.2s|", abc), 3);
    assert_string_equal(buf, "ab|");
    assert_int_equal(ksnprintf(buf, sizeof(buf), "%-6.3s|", abc), 7);
    assert_string_equal(buf, "abc   |");
    free(abc);
}

static void test_percent_and_literals(void **state)
{
    (void)state;
    memset(&stats, 0, sizeof(stats));
    check_fmt("%%");
    check_fmt("100%% sure");
    check_fmt("%d%%", 50);
    check_fmt("%%%d%%%s%%", -3, "x");
    check_fmt("plain text, no conversions");
    check_fmt("");
    check_fmt("%d %i %u %x %X %o %c %s %%", -5, 6, 7u, 0xabu, 0xcdu, 8u, 'q', "str");
    check_fmt("%lld|%llu|%llx", (long long)INT64_MIN, (unsigned long long)UINT64_MAX,
              (unsigned long long)UINT64_MAX);
    check_fmt("%zu %zx %zd", (size_t)SIZE_MAX, (size_t)0, (ssize_t)-1);
    check_fmt("%hhx %hx %hhd %hd", 0x1ff, 0x1ffff, 0x1ff, 0x18000);
    assert_int_equal(stats.mismatches, 0);
}

static void test_star_width_and_precision(void **state)
{
    (void)state;
    static const int ws[] = { 0, 1, 3, 8, 20, -1, -4, -20 };
    static const int ps[] = { 0, 1, 2, 5, 12, -1, -7 };
    static const int64_t vals[] = { 0, 5, -5, 12345, INT32_MIN, INT32_MAX };

    memset(&stats, 0, sizeof(stats));
    for (size_t w = 0; w < ARRAY_SIZE(ws); w++) {
        for (size_t v = 0; v < ARRAY_SIZE(vals); v++) {
            check_fmt("[%*d]", ws[w], (int)vals[v]);
            check_fmt("[%-*d]", ws[w], (int)vals[v]);
            check_fmt("[%0*d]", ws[w], (int)vals[v]);
            check_fmt("[%*s]", ws[w], "abc");
            check_fmt("[%*c]", ws[w], 'x');
            for (size_t p = 0; p < ARRAY_SIZE(ps); p++) {
                check_fmt("[%*.*d]", ws[w], ps[p], (int)vals[v]);
                check_fmt("[%-*.*x]", ws[w], ps[p], (unsigned)vals[v]);
                check_fmt("[%#*.*o]", ws[w], ps[p], (unsigned)vals[v]);
                check_fmt("[%*.*s]", ws[w], ps[p], "hello");
                check_fmt("[%.*lld]", ps[p], (long long)vals[v] * 1000003);
            }
        }
    }
    assert_int_equal(stats.mismatches, 0);
}

static void test_pointer(void **state)
{
    (void)state;
    static int object;
    void *ptrs[] = { &object, (void *)(uintptr_t)0x1000, (void *)(uintptr_t)0xffff800000000000ULL,
                     (void *)(uintptr_t)1, (void *)(uintptr_t)UINTPTR_MAX };
    memset(&stats, 0, sizeof(stats));
    for (size_t i = 0; i < ARRAY_SIZE(ptrs); i++) {
        check_fmt("%p", ptrs[i]);
        check_fmt("[%20p]", ptrs[i]);
        check_fmt("[%-20p]", ptrs[i]);
        check_fmt("%p %p", ptrs[i], ptrs[ARRAY_SIZE(ptrs) - 1 - i]);
    }
    assert_int_equal(stats.mismatches, 0);
}

/* snprintf semantics: the return value is the full length, the text is cut
 * to size - 1 characters and always NUL-terminated, nothing past `size` bytes
 * is written, and size 0 writes nothing at all (NULL buffer allowed). */
static void test_truncation(void **state)
{
    (void)state;
    static const char *const texts[] = { "", "x", "hello", "0123456789abcdefghij" };
    for (size_t t = 0; t < ARRAY_SIZE(texts); t++) {
        const char *s = texts[t];
        char expect[64];
        snprintf(expect, sizeof(expect), "<%s>%2d", s, 7);
        size_t full = strlen(expect);
        for (size_t size = 0; size <= full + 2; size++) {
            char buf[80];
            memset(buf, '#', sizeof(buf));
            int n = ksnprintf(buf, size, "<%s>%2d", s, 7);
            assert_int_equal(n, (int)full);
            if (size == 0) {
                assert_int_equal(buf[0], '#');
                continue;
            }
            size_t kept = MIN(full, size - 1);
            assert_memory_equal(buf, expect, kept);
            assert_int_equal(buf[kept], '\0');
            for (size_t i = size; i < sizeof(buf); i++)
                assert_int_equal(buf[i], '#');
        }
    }
    assert_int_equal(ksnprintf(NULL, 0, "%d-%s", 12345, "abc"), 9);
}

/* The heap copy must not be written past `size` even for long output. */
static void test_truncation_exact_heap_buffer(void **state)
{
    (void)state;
    for (size_t size = 1; size < 40; size++) {
        char *buf = malloc(size);
        assert_non_null(buf);
        int n = ksnprintf(buf, size, "%032llx|%s", 0x1234ULL, "tail");
        assert_int_equal(n, 37);
        assert_int_equal(strlen(buf), MIN(size - 1, (size_t)37));
        free(buf);
    }
}

static void count_sink(void *ctx, char c)
{
    (void)c;
    (*(size_t *)ctx)++;
}

static int via_format_v(size_t *count, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = format_v(count_sink, count, fmt, ap);
    va_end(ap);
    return n;
}

static void test_format_v_sink(void **state)
{
    (void)state;
    size_t count = 0;
    int n = via_format_v(&count, "%-10s|%08.3x", "abc", 0x1234u);
    assert_int_equal(n, 19);
    assert_int_equal(count, 19);
    count = 0;
    n = via_format_v(&count, "%s=%llu", "key", (unsigned long long)UINT64_MAX);
    assert_int_equal(n, 24);
    assert_int_equal(count, 24);
}

/* ksnprintf without the compiler's format checking, for the formats below. */
static int unchecked_ksnprintf(char *buf, size_t size, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = kvsnprintf(buf, size, fmt, ap);
    va_end(ap);
    return n;
}

/* Not defined by C, so not differential: the kernel's own fallbacks (a log
 * line with a broken format must still come out, and not crash). */
static void test_kernel_fallbacks(void **state)
{
    (void)state;
    char buf[32];
    assert_int_equal(unchecked_ksnprintf(buf, sizeof(buf), "abc%"), 3);   /* lone '%' at the end */
    assert_string_equal(buf, "abc");
    assert_int_equal(unchecked_ksnprintf(buf, sizeof(buf), "%q%d", 5), 3); /* unknown conversion */
    assert_string_equal(buf, "%q5");
    assert_int_equal(unchecked_ksnprintf(buf, sizeof(buf), "%s", (char *)NULL), 6);
    assert_string_equal(buf, "(null)");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_signed_conversions),
        cmocka_unit_test(test_unsigned_conversions),
        cmocka_unit_test(test_char_and_string),
        cmocka_unit_test(test_string_precision_reads_no_further),
        cmocka_unit_test(test_percent_and_literals),
        cmocka_unit_test(test_star_width_and_precision),
        cmocka_unit_test(test_pointer),
        cmocka_unit_test(test_truncation),
        cmocka_unit_test(test_truncation_exact_heap_buffer),
        cmocka_unit_test(test_format_v_sink),
        cmocka_unit_test(test_kernel_fallbacks),
    };
    return cmocka_run_group_tests_name("format", tests, NULL, NULL);
}
