/*
 * kernel/lib/cmdline.c: the table-driven "key=value" parser.  Each test parses
 * a line against one option table and checks both the stored values and every
 * problem reported (the offending word and how many).
 */
#include "helpers.h"
#include <hv/cmdline.h>

#define MAX_REPORTS 16

struct report {
    char word[64];
    const char *problem;
};

static struct report reports[MAX_REPORTS];
static int nreports;

static void record(void *ctx, const char *word, size_t len, const char *problem)
{
    assert_ptr_equal(ctx, &nreports);
    assert_non_null(problem);
    assert_true(len < sizeof(reports[0].word));
    if (nreports < MAX_REPORTS) {
        memcpy(reports[nreports].word, word, len);
        reports[nreports].word[len] = '\0';
        reports[nreports].problem = problem;
    }
    nreports++;
}

/* The destinations and the option table. */
static bool opt_verbose, opt_poweroff;
static uint64_t opt_mem, opt_cpus, opt_addr;
static char opt_name[16];
static int opt_mode, opt_level;

static const char *const modes[] = { "none", "boot", "exception-bsp", "timer", NULL };
static const char *const levels[] = { "error", "warn", "info", "debug", NULL };

static const struct cmdline_option opts[] = {
    { .name = "verbose", .type = CMDLINE_FLAG, .dest = &opt_verbose },
    { .name = "poweroff", .type = CMDLINE_FLAG, .dest = &opt_poweroff },
    { .name = "mem", .type = CMDLINE_UINT, .dest = &opt_mem },                 /* no limit */
    { .name = "cpus", .type = CMDLINE_UINT, .dest = &opt_cpus, .min = 1, .max = 64 },
    { .name = "addr", .type = CMDLINE_UINT, .dest = &opt_addr, .min = 0x1000 }, /* min only */
    { .name = "name", .type = CMDLINE_STRING, .dest = opt_name, .size = sizeof(opt_name) },
    { .name = "test", .type = CMDLINE_ENUM, .dest = &opt_mode, .choices = modes },
    { .name = "loglevel", .type = CMDLINE_ENUM, .dest = &opt_level, .choices = levels },
};

static int setup(void **state)
{
    (void)state;
    opt_verbose = opt_poweroff = false;
    opt_mem = opt_cpus = opt_addr = 12345;
    strcpy(opt_name, "unset");
    opt_mode = opt_level = -1;
    memset(reports, 0, sizeof(reports));
    nreports = 0;
    return 0;
}

static int parse(const char *line)
{
    nreports = 0;
    int n = cmdline_parse(line, opts, ARRAY_SIZE(opts), record, &nreports);
    assert_int_equal(n, nreports);
    return n;
}

static void expect_report(int i, const char *word)
{
    assert_true(i < nreports);
    assert_string_equal(reports[i].word, word);
    assert_true(strlen(reports[i].problem) > 5);
}

/* ---- flags -------------------------------------------------------------- */

static void test_flags(void **state)
{
    (void)state;
    assert_int_equal(parse("verbose"), 0);
    assert_true(opt_verbose);
    assert_false(opt_poweroff);

    static const char *const yes[] = { "verbose=1", "verbose=yes", "verbose=on", "verbose=true" };
    static const char *const no[] = { "verbose=0", "verbose=no", "verbose=off", "verbose=false" };
    for (size_t i = 0; i < ARRAY_SIZE(yes); i++) {
        opt_verbose = false;
        assert_int_equal(parse(yes[i]), 0);
        assert_true(opt_verbose);
        assert_int_equal(parse(no[i]), 0);
        assert_false(opt_verbose);
    }
}

static void test_flag_bad_values(void **state)
{
    (void)state;
    static const char *const bad[] = { "verbose=2", "verbose=maybe", "verbose=", "verbose=YES",
                                       "verbose=onn", "verbose=\"\"" };
    for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
        opt_verbose = true;
        assert_int_equal(parse(bad[i]), 1);
        expect_report(0, bad[i]);
        assert_true(opt_verbose);              /* unchanged */
    }
}

/* ---- numbers ---------------------------------------------------------------- */

static void test_parse_uint(void **state)
{
    (void)state;
    static const struct { const char *s; uint64_t v; } good[] = {
        { "0", 0 }, { "7", 7 }, { "4096", 4096 }, { "007", 7 },
        { "0x0", 0 }, { "0x1f", 0x1f }, { "0X1F", 0x1f }, { "0xAbCdEf", 0xabcdef },
        { "1k", 1024 }, { "1K", 1024 }, { "64M", 64ULL << 20 }, { "64m", 64ULL << 20 },
        { "4G", 4ULL << 30 }, { "4g", 4ULL << 30 }, { "0x10K", 0x4000 }, { "0k", 0 },
        { "18446744073709551615", UINT64_MAX }, { "0xffffffffffffffff", UINT64_MAX },
        { "0x0000000000000000000001", 1 },
        { "17179869183G", 17179869183ULL << 30 },        /* 2^34 - 1 GiB: fits */
        { "17592186044415M", 17592186044415ULL << 20 },  /* 2^44 - 1 MiB: fits */
        { "18014398509481983K", 18014398509481983ULL << 10 },
    };
    for (size_t i = 0; i < ARRAY_SIZE(good); i++) {
        uint64_t v = 99;
        if (!cmdline_parse_uint(good[i].s, strlen(good[i].s), &v))
            fail_msg("\"%s\" was rejected", good[i].s);
        assert_int_equal(v, good[i].v);
    }
    static const char *const bad[] = {
        "", "x", "0x", "0X", "k", "K", "-1", "+1", " 1", "1 ", "1KK", "1T", "1kb", "12abc",
        "0x1g0", "1.5", "0xg", "0b101",
        "18446744073709551616",          /* 2^64 */
        "99999999999999999999",
        "0x10000000000000000",
        "17179869184G",                  /* 2^34 GiB = 2^64 */
        "17592186044416M",
        "18014398509481984K",
    };
    for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
        uint64_t v = 99;
        if (cmdline_parse_uint(bad[i], strlen(bad[i]), &v))
            fail_msg("\"%s\" was accepted as %llu", bad[i], (unsigned long long)v);
        assert_int_equal(v, 99);                /* untouched on failure */
    }
    /* Only `len` bytes count: the rest of the line is not part of the number. */
    uint64_t v = 0;
    assert_true(cmdline_parse_uint("123 456", 3, &v));
    assert_int_equal(v, 123);
    assert_true(cmdline_parse_uint("2Mxyz", 2, &v));
    assert_int_equal(v, 2ULL << 20);
}

static void test_uint_options(void **state)
{
    (void)state;
    assert_int_equal(parse("mem=512M cpus=4 addr=0x200000"), 0);
    assert_int_equal(opt_mem, 512ULL << 20);
    assert_int_equal(opt_cpus, 4);
    assert_int_equal(opt_addr, 0x200000);
    assert_int_equal(parse("mem=0"), 0);
    assert_int_equal(opt_mem, 0);
    assert_int_equal(parse("mem=18446744073709551615"), 0);    /* max 0: no upper limit */
    assert_int_equal(opt_mem, UINT64_MAX);
}

static void test_uint_range(void **state)
{
    (void)state;
    assert_int_equal(parse("cpus=1"), 0);
    assert_int_equal(opt_cpus, 1);
    assert_int_equal(parse("cpus=64"), 0);
    assert_int_equal(opt_cpus, 64);
    assert_int_equal(parse("cpus=0x40"), 0);
    assert_int_equal(opt_cpus, 64);

    assert_int_equal(parse("cpus=0 cpus=65 cpus=1K addr=0xfff"), 4);
    expect_report(0, "cpus=0");
    expect_report(1, "cpus=65");
    expect_report(2, "cpus=1K");
    expect_report(3, "addr=0xfff");
    assert_int_equal(opt_cpus, 64);                            /* last good value kept */
    assert_int_equal(opt_addr, 12345);
    assert_int_equal(parse("addr=0x1000"), 0);
    assert_int_equal(opt_addr, 0x1000);
}

static void test_uint_bad_values(void **state)
{
    (void)state;
    assert_int_equal(parse("mem"), 1);
    expect_report(0, "mem");
    assert_int_equal(parse("mem="), 1);
    expect_report(0, "mem=");
    assert_int_equal(parse("mem=18446744073709551616"), 1);    /* overflow */
    expect_report(0, "mem=18446744073709551616");
    assert_int_equal(parse("mem=32T"), 1);
    assert_int_equal(parse("mem=-5"), 1);
    assert_int_equal(parse("mem=\"\""), 1);
    assert_int_equal(opt_mem, 12345);
    /* A quoted number is a number. */
    assert_int_equal(parse("mem=\"2G\""), 0);
    assert_int_equal(opt_mem, 2ULL << 30);
}

/* ---- strings ---------------------------------------------------------------- */

static void test_strings(void **state)
{
    (void)state;
    assert_int_equal(parse("name=guest1"), 0);
    assert_string_equal(opt_name, "guest1");
    assert_int_equal(parse("name=\"hello  world\" verbose"), 0);
    assert_string_equal(opt_name, "hello  world");
    assert_true(opt_verbose);
    assert_int_equal(parse("name="), 0);
    assert_string_equal(opt_name, "");
    assert_int_equal(parse("name=\"\""), 0);
    assert_string_equal(opt_name, "");
    assert_int_equal(parse("name=a=b,c"), 0);                  /* '=' inside a value */
    assert_string_equal(opt_name, "a=b,c");
    assert_int_equal(parse("name=\"tab\there\""), 0);
    assert_string_equal(opt_name, "tab\there");
    /* Exactly size - 1 characters fit. */
    assert_int_equal(parse("name=123456789012345"), 0);
    assert_string_equal(opt_name, "123456789012345");
}

static void test_string_problems(void **state)
{
    (void)state;
    strcpy(opt_name, "keep");
    assert_int_equal(parse("name=1234567890123456"), 1);      /* 16 chars + NUL > 16 */
    expect_report(0, "name=1234567890123456");
    assert_string_equal(opt_name, "keep");
    assert_int_equal(parse("name=\"a quoted value much too long\""), 1);
    expect_report(0, "name=\"a quoted value much too long\"");
    assert_string_equal(opt_name, "keep");
    assert_int_equal(parse("name"), 1);
    expect_report(0, "name");
    /* An unterminated quote swallows the rest of the line. */
    assert_int_equal(parse("verbose name=\"never closed poweroff"), 1);
    expect_report(0, "name=\"never closed poweroff");
    assert_true(opt_verbose);
    assert_false(opt_poweroff);
    assert_string_equal(opt_name, "keep");
}

/* ---- enums -------------------------------------------------------------- */

static void test_enums(void **state)
{
    (void)state;
    assert_int_equal(parse("test=none"), 0);
    assert_int_equal(opt_mode, 0);
    assert_int_equal(parse("test=timer loglevel=debug"), 0);
    assert_int_equal(opt_mode, 3);
    assert_int_equal(opt_level, 3);
    assert_int_equal(parse("test=exception-bsp loglevel=error"), 0);
    assert_int_equal(opt_mode, 2);
    assert_int_equal(opt_level, 0);
    assert_int_equal(parse("test=\"boot\""), 0);
    assert_int_equal(opt_mode, 1);

    assert_int_equal(parse("test=tim test=timers test=BOOT test= test"), 5);
    expect_report(0, "test=tim");
    expect_report(1, "test=timers");
    expect_report(2, "test=BOOT");
    expect_report(3, "test=");
    expect_report(4, "test");
    assert_int_equal(opt_mode, 1);
}

/* ---- reporting ----------------------------------------------------------- */

static void test_unknown_options(void **state)
{
    (void)state;
    assert_int_equal(parse("bogus"), 1);
    expect_report(0, "bogus");
    assert_int_equal(parse("  frobnicate=7\t"), 1);
    expect_report(0, "frobnicate=7");
    assert_int_equal(parse("verbos"), 1);                      /* prefixes do not match */
    assert_int_equal(parse("verbosee"), 1);
    assert_int_equal(parse("VERBOSE"), 1);
    assert_int_equal(parse("x=\"quoted words\""), 1);
    expect_report(0, "x=\"quoted words\"");
    assert_int_equal(parse("=5"), 1);
    expect_report(0, "=5");
    assert_false(opt_verbose);
}

/* Every problem is reported and the valid options around them still apply. */
static void test_all_problems_reported(void **state)
{
    (void)state;
    int n = parse("bogus verbose mem=abc\tname=vm7 cpus=100 =x test=boot loglevel=loud poweroff");
    assert_int_equal(n, 5);
    expect_report(0, "bogus");
    expect_report(1, "mem=abc");
    expect_report(2, "cpus=100");
    expect_report(3, "=x");
    expect_report(4, "loglevel=loud");
    assert_true(opt_verbose);
    assert_true(opt_poweroff);
    assert_string_equal(opt_name, "vm7");
    assert_int_equal(opt_mode, 1);
    assert_int_equal(opt_mem, 12345);
    assert_int_equal(opt_cpus, 12345);
    assert_int_equal(opt_level, -1);
}

static void test_empty_lines(void **state)
{
    (void)state;
    assert_int_equal(parse(NULL), 0);
    assert_int_equal(parse(""), 0);
    assert_int_equal(parse("   \t \n\r  "), 0);
    assert_int_equal(nreports, 0);
    assert_false(opt_verbose);
    /* Separators: spaces, tabs, newlines. */
    assert_int_equal(parse("\tverbose\n\npoweroff\r\n"), 0);
    assert_true(opt_verbose);
    assert_true(opt_poweroff);
}

/* The callback is optional: the count alone tells the caller. */
static void test_no_callback(void **state)
{
    (void)state;
    assert_int_equal(cmdline_parse("a b c verbose", opts, ARRAY_SIZE(opts), NULL, NULL), 3);
    assert_true(opt_verbose);
    assert_int_equal(cmdline_parse("cpus=2", opts, ARRAY_SIZE(opts), NULL, NULL), 0);
    assert_int_equal(opt_cpus, 2);
    assert_int_equal(cmdline_parse("verbose", opts, 0, NULL, NULL), 1);   /* empty table */
}

/* The word handed to the callback points into the line itself (it is not
 * NUL-terminated there: the length delimits it). */
struct span { const char *word; size_t len; };

static void record_span(void *ctx, const char *word, size_t len, const char *problem)
{
    (void)problem;
    struct span *s = ctx;
    s->word = word;
    s->len = len;
}

static void test_report_points_into_line(void **state)
{
    (void)state;
    const char *line = "verbose cpus=99 poweroff";
    struct span s = { NULL, 0 };
    assert_int_equal(cmdline_parse(line, opts, ARRAY_SIZE(opts), record_span, &s), 1);
    assert_ptr_equal(s.word, line + 8);
    assert_int_equal(s.len, 7);
    assert_int_equal(s.word[s.len], ' ');
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_flags, setup),
        cmocka_unit_test_setup(test_flag_bad_values, setup),
        cmocka_unit_test_setup(test_parse_uint, setup),
        cmocka_unit_test_setup(test_uint_options, setup),
        cmocka_unit_test_setup(test_uint_range, setup),
        cmocka_unit_test_setup(test_uint_bad_values, setup),
        cmocka_unit_test_setup(test_strings, setup),
        cmocka_unit_test_setup(test_string_problems, setup),
        cmocka_unit_test_setup(test_enums, setup),
        cmocka_unit_test_setup(test_unknown_options, setup),
        cmocka_unit_test_setup(test_all_problems_reported, setup),
        cmocka_unit_test_setup(test_empty_lines, setup),
        cmocka_unit_test_setup(test_no_callback, setup),
        cmocka_unit_test_setup(test_report_points_into_line, setup),
    };
    return cmocka_run_group_tests_name("cmdline", tests, NULL, NULL);
}
