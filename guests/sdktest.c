/*
 * sdktest: checks the SDK's pure functions (snprintf, 64-bit division,
 * command-line parsing, memmove) from inside a guest, once built 32-bit
 * (sdktest32.elf, multiboot) and once 64-bit (sdktest64.elf, elf64): the
 * same code, two ABIs.  Prints a line per failure and a summary
 *     sdktest: N of N checks passed
 * and exits 0 when all passed, 1 otherwise.  Runs anywhere: it makes no
 * hypercall.
 */
#include <guest/guest.h>

#define BUF_SIZE    64

static unsigned checks, failures;

static void check(bool ok, const char *what, int line)
{
    checks++;
    if (!ok) {
        failures++;
        printf("sdktest: FAIL line %d: %s\n", line, what);
    }
}

#define CHECK(cond) check((cond), #cond, __LINE__)

/*
 * snprintf without the format attribute, for the cases GCC's format checking
 * rightly rejects at compile time (NULL for %s, unknown conversions) but
 * the formatter must still survive at run time.
 */
static int unchecked_snprintf(char *buf, size_t size, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    int n = vsnprintf(buf, size, fmt, ap);
    va_end(ap);
    return n;
}

/* Formats into a buffer with FN and compares, showing both strings on failure. */
#define CHECK_FORMAT_WITH(fn, expected, ...)                                \
    do {                                                                    \
        char buf_[BUF_SIZE];                                                \
        int n_ = fn(buf_, sizeof(buf_), __VA_ARGS__);                       \
        bool ok_ = strcmp(buf_, expected) == 0 && n_ == (int)strlen(expected); \
        check(ok_, #__VA_ARGS__, __LINE__);                                 \
        if (!ok_)                                                           \
            printf("sdktest:   got \"%s\" (%d), want \"%s\"\n", buf_, n_, expected); \
    } while (0)

#define CHECK_FORMAT(expected, ...) CHECK_FORMAT_WITH(snprintf, expected, __VA_ARGS__)

static void test_integers(void)
{
    CHECK_FORMAT("-5", "%d", -5);
    CHECK_FORMAT("   42", "%5d", 42);
    CHECK_FORMAT("42   |", "%-5d|", 42);
    CHECK_FORMAT("-0042", "%05d", -42);
    CHECK_FORMAT("00042", "%.5d", 42);
    CHECK_FORMAT("4294967295", "%u", 4294967295u);
    CHECK_FORMAT("-2147483648", "%d", (int)-2147483647 - 1);
    CHECK_FORMAT("ff FF 0xff", "%x %X %#x", 255u, 255u, 255u);
    CHECK_FORMAT("0000beef", "%08x", 0xbeefu);
    CHECK_FORMAT("0", "%x", 0u);
    CHECK_FORMAT("123456789abcdef0", "%llx", 0x123456789abcdef0ull);
    CHECK_FORMAT("18446744073709551615", "%llu", 18446744073709551615ull);
    CHECK_FORMAT("-9223372036854775808", "%lld", (long long)(-9223372036854775807ll - 1));
    CHECK_FORMAT("1000000000000", "%llu", 1000000000000ull);
    CHECK_FORMAT("  7", "%*d", 3, 7);
    CHECK_FORMAT("12", "%zu", (size_t)12);
    CHECK_FORMAT("-1", "%ld", -1l);
}

static void test_strings_and_pointers(void)
{
    char expected_ptr[BUF_SIZE];

    CHECK_FORMAT("hi", "%s", "hi");
    CHECK_FORMAT("abc", "%.3s", "abcdef");
    CHECK_FORMAT("  abc", "%5s", "abc");
    CHECK_FORMAT("ab  |", "%-4s|", "ab");
    CHECK_FORMAT_WITH(unchecked_snprintf, "(null)", "%s", (const char *)NULL);
    CHECK_FORMAT("A", "%c", 'A');
    CHECK_FORMAT("100%", "%d%%", 100);
    CHECK_FORMAT_WITH(unchecked_snprintf, "%q", "%q");
    /* %p is zero-padded to the pointer width: 8 or 16 digits. */
    const char *p = sizeof(void *) == 8 ? "0x0000000000001234" : "0x00001234";

    memcpy(expected_ptr, p, strlen(p) + 1);
    CHECK_FORMAT(expected_ptr, "%p", (void *)0x1234);
}

static void test_truncation(void)
{
    char buf[4];
    char big[BUF_SIZE];

    CHECK(snprintf(buf, sizeof(buf), "hello") == 5 && strcmp(buf, "hel") == 0);
    CHECK(snprintf(NULL, 0, "%d", 12345) == 5);
    memset(big, 'x', sizeof(big));
    CHECK(snprintf(big, 1, "abc") == 3 && big[0] == '\0' && big[1] == 'x');
}

static void test_division(void)
{
    uint32_t rem;

    CHECK(udiv64_32(0x123456789ABCDEF0ull, 10, &rem) == 0x1D208A5A912E318ull && rem == 0);
    CHECK(udiv64_32(UINT64_MAX, 0xFFFFFFFFu, &rem) == 0x100000001ull && rem == 0);
    CHECK(udiv64_32(UINT64_MAX, 3, &rem) == 0x5555555555555555ull && rem == 0);
    CHECK(udiv64_32(1000000000000ull, 1000, &rem) == 1000000000ull && rem == 0);
    CHECK(udiv64_32(7, 8, &rem) == 0 && rem == 7);
    CHECK(udiv64_32(5, 0, &rem) == UINT64_MAX && rem == 0);
}

static void test_cmdline(void)
{
    const char *line = "/boot/x.elf status=0x10 verbose iterations=250 statusx=9 status=17 name=abc";
    uint64_t v = 0;
    char s[BUF_SIZE];

    CHECK(cmdline_get(line, "status", &v) == 1 && v == 17);    /* last one wins */
    CHECK(cmdline_get(line, "iterations", &v) == 1 && v == 250);
    CHECK(cmdline_get(line, "missing", &v) == 0);
    CHECK(cmdline_get(line, "name", &v) == -1);
    CHECK(cmdline_get("a=0x", "a", &v) == -1);
    CHECK(cmdline_get("a=", "a", &v) == -1);                   /* empty value: not a number */
    CHECK(cmdline_get_str("a=", "a", s, sizeof(s)) && s[0] == 0);
    CHECK(cmdline_get("\ta=0xFFFFFFFFFFFFFFFF\n", "a", &v) == 1 && v == UINT64_MAX);
    CHECK(cmdline_get("a=18446744073709551615", "a", &v) == 1 && v == UINT64_MAX);
    CHECK(cmdline_get("a=18446744073709551616", "a", &v) == -1);
    CHECK(cmdline_get(NULL, "a", &v) == 0);
    CHECK(cmdline_get_or(line, "missing", 5) == 5);
    CHECK(cmdline_get_str(line, "name", s, sizeof(s)) && strcmp(s, "abc") == 0);
    CHECK(cmdline_get_str(line, "name", s, 2) && strcmp(s, "a") == 0);
    CHECK(!cmdline_get_str(line, "nothing", s, sizeof(s)));
    CHECK(cmdline_has(line, "verbose"));
    CHECK(!cmdline_has(line, "verb"));
    CHECK(!cmdline_has(line, "status"));
}

static void test_memory(void)
{
    char buf[] = "abcdefgh";

    memmove(buf + 2, buf, 4);
    CHECK(memcmp(buf, "ababcdgh", 8) == 0);
    memmove(buf, buf + 2, 4);
    CHECK(memcmp(buf, "abcdcdgh", 8) == 0);
    CHECK(strncmp("abc", "abd", 2) == 0 && strcmp("abc", "abd") < 0 && strcmp("b", "a") > 0);
}

static int run_tests(const char *kind)
{
    test_integers();
    test_strings_and_pointers();
    test_truncation();
    test_division();
    test_cmdline();
    test_memory();
    printf("sdktest: %s: %u of %u checks passed\n", kind, checks - failures, checks);
    return failures ? 1 : 0;
}

#ifdef __x86_64__
int guest_main64(const char *args, uint64_t ram_size)
{
    (void)args;
    (void)ram_size;
    return run_tests("64-bit");
}
#else
int guest_main(uint32_t magic, const struct multiboot_info *mbi)
{
    (void)magic;
    (void)mbi;
    return run_tests("32-bit");
}
#endif
