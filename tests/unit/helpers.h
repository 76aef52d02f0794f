/*
 * Shared helpers of the host unit tests (cmocka).  Header-only: every test
 * binary is one test_*.c file plus the pure kernel modules it exercises.
 *
 * - a growable byte buffer with little-endian writers, for building boot
 *   information structures, ACPI tables and ELF images in memory;
 * - exact-size heap copies, so that AddressSanitizer catches any read past
 *   the end of an input the code under test is given;
 * - fixture file loading (paths come from the Makefile).
 */
#ifndef HV_UNIT_HELPERS_H
#define HV_UNIT_HELPERS_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#ifndef FIXTURE_DIR
#error "FIXTURE_DIR (tests/fixtures) must be defined by the Makefile"
#endif
#ifndef UNIT_BUILD_DIR
#error "UNIT_BUILD_DIR (build/unit) must be defined by the Makefile"
#endif

/* ---- growable byte buffer ------------------------------------------------ */

struct bytebuf {
    uint8_t *data;
    size_t len, cap;
};

static inline void bb_reserve(struct bytebuf *b, size_t more)
{
    if (b->len + more <= b->cap)
        return;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->len + more)
        cap *= 2;
    b->data = realloc(b->data, cap);
    assert_non_null(b->data);
    memset(b->data + b->cap, 0, cap - b->cap);
    b->cap = cap;
}

static inline size_t bb_put(struct bytebuf *b, const void *p, size_t n)
{
    size_t at = b->len;
    bb_reserve(b, n);
    if (n)
        memcpy(b->data + at, p, n);
    b->len += n;
    return at;
}

static inline size_t bb_u8(struct bytebuf *b, uint8_t v) { return bb_put(b, &v, 1); }
static inline size_t bb_u16(struct bytebuf *b, uint16_t v) { return bb_put(b, &v, 2); }
static inline size_t bb_u32(struct bytebuf *b, uint32_t v) { return bb_put(b, &v, 4); }
static inline size_t bb_u64(struct bytebuf *b, uint64_t v) { return bb_put(b, &v, 8); }
static inline size_t bb_str(struct bytebuf *b, const char *s) { return bb_put(b, s, strlen(s) + 1); }

static inline size_t bb_zeros(struct bytebuf *b, size_t n)
{
    size_t at = b->len;
    bb_reserve(b, n);
    memset(b->data + at, 0, n);
    b->len += n;
    return at;
}

static inline void bb_align(struct bytebuf *b, size_t a)
{
    while (b->len % a)
        bb_u8(b, 0);
}

/* Overwrites at an earlier offset (lengths and checksums known only later). */
static inline void bb_set_u8(struct bytebuf *b, size_t at, uint8_t v) { b->data[at] = v; }
static inline void bb_set_u32(struct bytebuf *b, size_t at, uint32_t v) { memcpy(b->data + at, &v, 4); }
static inline void bb_set_u64(struct bytebuf *b, size_t at, uint64_t v) { memcpy(b->data + at, &v, 8); }

/* Little-endian store into any byte array. */
static inline void poke_u32(uint8_t *p, size_t at, uint32_t v) { memcpy(p + at, &v, 4); }

static inline void bb_free(struct bytebuf *b)
{
    free(b->data);
    memset(b, 0, sizeof(*b));
}

/* ---- exact-size copies ---------------------------------------------------- */

/* A malloc'd copy of exactly `len` bytes (malloc aligns to 16, enough for
 * every structure here); ASan flags any access past its end. */
static inline void *exact_copy(const void *p, size_t len)
{
    void *q = malloc(len ? len : 1);
    assert_non_null(q);
    if (len)
        memcpy(q, p, len);
    return q;
}

/* ---- fixtures --------------------------------------------------------------- */

/* Reads a whole file into an exact-size buffer; NULL when it does not exist. */
static inline uint8_t *load_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    assert_int_equal(fseek(f, 0, SEEK_END), 0);
    long n = ftell(f);
    assert_true(n >= 0);
    rewind(f);
    uint8_t *buf = malloc(n ? (size_t)n : 1);
    assert_non_null(buf);
    assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    *len = (size_t)n;
    return buf;
}

/* Loads FIXTURE_DIR/<name>; a missing fixture is a test failure. */
static inline uint8_t *load_fixture(const char *name, size_t *len)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/%s", FIXTURE_DIR, name);
    uint8_t *p = load_file(path, len);
    if (!p)
        fail_msg("fixture %s is missing", path);
    return p;
}

/* ---- small deterministic PRNG (xorshift64*) ------------------------------ */

static inline uint64_t rng_next(uint64_t *s)
{
    uint64_t x = *s;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *s = x;
    return x * 0x2545F4914F6CDD1DULL;
}

static inline uint64_t rng_below(uint64_t *s, uint64_t n)
{
    return n ? rng_next(s) % n : 0;
}

#endif
