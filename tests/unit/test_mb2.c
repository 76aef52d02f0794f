/*
 * kernel/boot/mb2.c: multiboot2 boot information structures (Multiboot2
 * specification, section 3.6) are built in memory tag by tag, the way GRUB
 * lays them out, and handed to mb2_parse in exact-size 8-byte aligned heap
 * buffers so that AddressSanitizer sees any read past total_size.
 */
#include "helpers.h"
#include <hv/mb2.h>

/* ---- building an information structure ------------------------------------ */

static void mbi_begin(struct bytebuf *b)
{
    memset(b, 0, sizeof(*b));
    bb_u32(b, 0);           /* total_size, patched by mbi_finish */
    bb_u32(b, 0);           /* reserved */
}

/* Starts a tag; returns its offset (the size is patched by tag_end). */
static size_t tag_begin(struct bytebuf *b, uint32_t type)
{
    bb_align(b, 8);
    size_t at = bb_u32(b, type);
    bb_u32(b, 0);
    return at;
}

static void tag_end(struct bytebuf *b, size_t at)
{
    bb_set_u32(b, at + 4, (uint32_t)(b->len - at));
}

static void tag_string(struct bytebuf *b, uint32_t type, const char *s)
{
    size_t t = tag_begin(b, type);
    bb_str(b, s);
    tag_end(b, t);
}

static void tag_module(struct bytebuf *b, uint32_t start, uint32_t end, const char *cmd)
{
    size_t t = tag_begin(b, MB2_TAG_MODULE);
    bb_u32(b, start);
    bb_u32(b, end);
    bb_str(b, cmd);
    tag_end(b, t);
}

static void tag_meminfo(struct bytebuf *b, uint32_t lower, uint32_t upper)
{
    size_t t = tag_begin(b, MB2_TAG_BASIC_MEMINFO);
    bb_u32(b, lower);
    bb_u32(b, upper);
    tag_end(b, t);
}

struct mm { uint64_t base, len; uint32_t type; };

static void tag_mmap(struct bytebuf *b, uint32_t entry_size, const struct mm *e, size_t n)
{
    size_t t = tag_begin(b, MB2_TAG_MMAP);
    bb_u32(b, entry_size);
    bb_u32(b, 0);                       /* entry_version */
    for (size_t i = 0; i < n; i++) {
        size_t at = bb_u64(b, e[i].base);
        bb_u64(b, e[i].len);
        bb_u32(b, e[i].type);
        bb_u32(b, 0);                   /* reserved */
        while (b->len - at < entry_size)
            bb_u8(b, 0xEE);             /* a newer, larger entry format */
    }
    tag_end(b, t);
}

static void tag_fb_rgb(struct bytebuf *b)
{
    size_t t = tag_begin(b, MB2_TAG_FRAMEBUFFER);
    bb_u64(b, 0xfd000000ULL);           /* framebuffer_addr */
    bb_u32(b, 4096);                    /* pitch */
    bb_u32(b, 1024);                    /* width */
    bb_u32(b, 768);                     /* height */
    bb_u8(b, 32);                       /* bpp */
    bb_u8(b, MB2_FB_RGB);
    bb_u16(b, 0);                       /* reserved (GRUB: u16) */
    bb_u8(b, 16); bb_u8(b, 8);          /* red position / mask size */
    bb_u8(b, 8);  bb_u8(b, 8);          /* green */
    bb_u8(b, 0);  bb_u8(b, 8);          /* blue */
    tag_end(b, t);
}

static void tag_fb_ega(struct bytebuf *b)
{
    size_t t = tag_begin(b, MB2_TAG_FRAMEBUFFER);
    bb_u64(b, 0xb8000);
    bb_u32(b, 160);
    bb_u32(b, 80);
    bb_u32(b, 25);
    bb_u8(b, 16);
    bb_u8(b, MB2_FB_EGA_TEXT);
    bb_u16(b, 0);
    tag_end(b, t);
}

/* An RSDP copy; `oem` tells the two apart. */
static void tag_acpi(struct bytebuf *b, uint32_t type, const char *oem)
{
    size_t t = tag_begin(b, type);
    bb_put(b, "RSD PTR ", 8);
    bb_u8(b, 0);                        /* checksum (not mb2's business) */
    bb_put(b, oem, 6);
    bb_u8(b, type == MB2_TAG_ACPI_NEW ? 2 : 0);
    bb_u32(b, 0x7fe0000);
    if (type == MB2_TAG_ACPI_NEW) {
        bb_u32(b, 36);
        bb_u64(b, 0x7fe1000);
        bb_zeros(b, 4);
    }
    tag_end(b, t);
}

static void tag_raw(struct bytebuf *b, uint32_t type, size_t payload)
{
    size_t t = tag_begin(b, type);
    for (size_t i = 0; i < payload; i++)
        bb_u8(b, (uint8_t)i);
    tag_end(b, t);
}

static void tag_end_tag(struct bytebuf *b)
{
    size_t t = tag_begin(b, MB2_TAG_END);
    tag_end(b, t);
}

/* Sets total_size and returns an exact-size heap copy (8-byte aligned). */
static uint8_t *mbi_finish(struct bytebuf *b, size_t *len)
{
    bb_set_u32(b, 0, (uint32_t)b->len);
    *len = b->len;
    uint8_t *p = exact_copy(b->data, b->len);
    assert_int_equal((uintptr_t)p % 8, 0);
    bb_free(b);
    return p;
}

static struct mb2_info info;


/* Parses and expects success. */
static void parse_ok(const uint8_t *p, size_t len)
{
    const char *err = NULL;
    int rc = mb2_parse(p, len, &info, &err);
    if (rc)
        fail_msg("mb2_parse failed: %s", err ? err : "(no error text)");
    assert_null(err);
}

/* Parses and expects a rejection with an error text. */
static void parse_bad(const uint8_t *p, size_t len)
{
    const char *err = NULL;
    assert_int_equal(mb2_parse(p, len, &info, &err), -1);
    assert_non_null(err);
    assert_true(strlen(err) > 10);
}

static const struct mm grub_like_map[] = {
    { 0x0, 0x9fc00, MB2_MEM_AVAILABLE },
    { 0x9fc00, 0x400, MB2_MEM_RESERVED },
    { 0xf0000, 0x10000, MB2_MEM_RESERVED },
    { 0x100000, 0x7ee0000, MB2_MEM_AVAILABLE },
    { 0x7fe0000, 0x20000, MB2_MEM_ACPI_RECLAIMABLE },
    { 0xfffc0000, 0x40000, MB2_MEM_RESERVED },
    { 0x100000000ULL, 0x40000000ULL, MB2_MEM_AVAILABLE },
    { 0x140000000ULL, 0x1000, MB2_MEM_NVS },
    { 0x140001000ULL, 0x1000, MB2_MEM_BADRAM },
};

/* ---- well-formed structures --------------------------------------------- */

static void test_full_grub_like(void **state)
{
    (void)state;
    struct bytebuf b;
    size_t len;
    mbi_begin(&b);
    tag_string(&b, MB2_TAG_CMDLINE, "loglevel=debug test=boot");
    tag_string(&b, MB2_TAG_BOOTLOADER, "GRUB 2.06-13+deb12u2");
    tag_module(&b, 0x200000, 0x2345678, "/boot/guest.elf console=ttyS0 root=/dev/vda");
    tag_module(&b, 0x2346000, 0x2346000, "");            /* an empty module */
    tag_meminfo(&b, 639, 130048);
    tag_raw(&b, MB2_TAG_BOOTDEV, 12);
    tag_mmap(&b, 24, grub_like_map, ARRAY_SIZE(grub_like_map));
    tag_fb_rgb(&b);
    tag_raw(&b, MB2_TAG_ELF_SECTIONS, 40);
    tag_raw(&b, MB2_TAG_APM, 20);
    tag_acpi(&b, MB2_TAG_ACPI_OLD, "OLDOEM");
    tag_acpi(&b, MB2_TAG_ACPI_NEW, "NEWOEM");
    tag_raw(&b, MB2_TAG_LOAD_BASE_ADDR, 4);
    tag_raw(&b, 17, 4);                 /* EFI boot services not terminated */
    tag_raw(&b, 0x1234, 9);             /* something from a future loader */
    tag_end_tag(&b);
    uint8_t *p = mbi_finish(&b, &len);

    parse_ok(p, len);
    assert_int_equal(info.total_size, len);
    assert_string_equal(info.cmdline, "loglevel=debug test=boot");
    assert_string_equal(info.bootloader, "GRUB 2.06-13+deb12u2");
    /* Strings point into the structure, not into copies. */
    assert_true((const uint8_t *)info.cmdline > p && (const uint8_t *)info.cmdline < p + len);

    assert_int_equal(info.module_count, 2);
    assert_int_equal(info.modules_dropped, 0);
    assert_int_equal(info.modules[0].start, 0x200000);
    assert_int_equal(info.modules[0].end, 0x2345678);
    assert_string_equal(info.modules[0].cmdline, "/boot/guest.elf console=ttyS0 root=/dev/vda");
    assert_int_equal(info.modules[1].start, 0x2346000);
    assert_int_equal(info.modules[1].end, 0x2346000);
    assert_string_equal(info.modules[1].cmdline, "");

    assert_true(info.have_meminfo);
    assert_int_equal(info.mem_lower_kb, 639);
    assert_int_equal(info.mem_upper_kb, 130048);

    assert_int_equal(info.mmap_count, ARRAY_SIZE(grub_like_map));
    assert_int_equal(info.mmap_dropped, 0);
    for (size_t i = 0; i < ARRAY_SIZE(grub_like_map); i++) {
        assert_int_equal(info.mmap[i].base, grub_like_map[i].base);
        assert_int_equal(info.mmap[i].length, grub_like_map[i].len);
        assert_int_equal(info.mmap[i].type, grub_like_map[i].type);
    }

    assert_true(info.fb.present);
    assert_int_equal(info.fb.type, MB2_FB_RGB);
    assert_int_equal(info.fb.addr, 0xfd000000ULL);
    assert_int_equal(info.fb.pitch, 4096);
    assert_int_equal(info.fb.width, 1024);
    assert_int_equal(info.fb.height, 768);
    assert_int_equal(info.fb.bpp, 32);
    assert_int_equal(info.fb.red_pos, 16);
    assert_int_equal(info.fb.red_size, 8);
    assert_int_equal(info.fb.green_pos, 8);
    assert_int_equal(info.fb.green_size, 8);
    assert_int_equal(info.fb.blue_pos, 0);
    assert_int_equal(info.fb.blue_size, 8);

    assert_int_equal(info.rsdp_revision, 2);
    assert_int_equal(info.rsdp_len, 36);
    assert_memory_equal((const char *)info.rsdp + 9, "NEWOEM", 6);

    assert_int_equal(info.unknown_tags, 2);
    free(p);
}

/* The ACPI 2.0+ RSDP is preferred whatever the tag order. */
static void test_acpi_new_preferred(void **state)
{
    (void)state;
    for (int order = 0; order < 2; order++) {
        struct bytebuf b;
        size_t len;
        mbi_begin(&b);
        if (order == 0) {
            tag_acpi(&b, MB2_TAG_ACPI_NEW, "NEWOEM");
            tag_acpi(&b, MB2_TAG_ACPI_OLD, "OLDOEM");
        } else {
            tag_acpi(&b, MB2_TAG_ACPI_OLD, "OLDOEM");
            tag_acpi(&b, MB2_TAG_ACPI_NEW, "NEWOEM");
        }
        tag_end_tag(&b);
        uint8_t *p = mbi_finish(&b, &len);
        parse_ok(p, len);
        assert_int_equal(info.rsdp_revision, 2);
        assert_int_equal(info.rsdp_len, 36);
        assert_memory_equal((const char *)info.rsdp + 9, "NEWOEM", 6);
        assert_memory_equal(info.rsdp, "RSD PTR ", 8);
        free(p);
    }
}

static void test_acpi_old_only(void **state)
{
    (void)state;
    struct bytebuf b;
    size_t len;
    mbi_begin(&b);
    tag_acpi(&b, MB2_TAG_ACPI_OLD, "BOCHS ");
    tag_end_tag(&b);
    uint8_t *p = mbi_finish(&b, &len);
    parse_ok(p, len);
    assert_int_equal(info.rsdp_revision, 1);
    assert_int_equal(info.rsdp_len, 20);
    assert_memory_equal((const char *)info.rsdp + 9, "BOCHS ", 6);
    free(p);
}

/* The smallest valid structure: header and end tag only. */
static void test_minimal(void **state)
{
    (void)state;
    struct bytebuf b;
    size_t len;
    mbi_begin(&b);
    tag_end_tag(&b);
    uint8_t *p = mbi_finish(&b, &len);
    assert_int_equal(len, 16);
    parse_ok(p, len);
    assert_string_equal(info.cmdline, "");
    assert_null(info.bootloader);
    assert_false(info.have_meminfo);
    assert_false(info.fb.present);
    assert_null(info.rsdp);
    assert_int_equal(info.rsdp_revision, 0);
    assert_int_equal(info.module_count + info.mmap_count + info.unknown_tags, 0);
    /* `avail` may be larger than total_size; NULL err is allowed. */
    assert_int_equal(mb2_parse(p, len, &info, NULL), 0);
    free(p);
}

static void test_framebuffer_ega_text(void **state)
{
    (void)state;
    struct bytebuf b;
    size_t len;
    mbi_begin(&b);
    tag_fb_ega(&b);
    tag_end_tag(&b);
    uint8_t *p = mbi_finish(&b, &len);
    parse_ok(p, len);
    assert_true(info.fb.present);
    assert_int_equal(info.fb.type, MB2_FB_EGA_TEXT);
    assert_int_equal(info.fb.addr, 0xb8000);
    assert_int_equal(info.fb.width, 80);
    assert_int_equal(info.fb.height, 25);
    assert_int_equal(info.fb.pitch, 160);
    assert_int_equal(info.fb.bpp, 16);
    free(p);
}

/* entry_size is the stride: a loader may use larger entries than 24 bytes. */
static void test_mmap_larger_entries(void **state)
{
    (void)state;
    struct bytebuf b;
    size_t len;
    mbi_begin(&b);
    tag_mmap(&b, 40, grub_like_map, 4);
    tag_end_tag(&b);
    uint8_t *p = mbi_finish(&b, &len);
    parse_ok(p, len);
    assert_int_equal(info.mmap_count, 4);
    for (size_t i = 0; i < 4; i++) {
        assert_int_equal(info.mmap[i].base, grub_like_map[i].base);
        assert_int_equal(info.mmap[i].length, grub_like_map[i].len);
        assert_int_equal(info.mmap[i].type, grub_like_map[i].type);
    }
    free(p);
}

static void test_module_overflow(void **state)
{
    (void)state;
    struct bytebuf b;
    size_t len;
    char cmd[32];
    mbi_begin(&b);
    for (unsigned i = 0; i < MB2_MAX_MODULES + 3; i++) {
        snprintf(cmd, sizeof(cmd), "mod%u", i);
        tag_module(&b, 0x1000000 + i * 0x10000, 0x1000000 + i * 0x10000 + 0x800, cmd);
    }
    tag_end_tag(&b);
    uint8_t *p = mbi_finish(&b, &len);
    parse_ok(p, len);
    assert_int_equal(info.module_count, MB2_MAX_MODULES);
    assert_int_equal(info.modules_dropped, 3);
    for (unsigned i = 0; i < MB2_MAX_MODULES; i++) {
        snprintf(cmd, sizeof(cmd), "mod%u", i);
        assert_string_equal(info.modules[i].cmdline, cmd);
        assert_int_equal(info.modules[i].start, 0x1000000 + i * 0x10000);
    }
    free(p);
}

static void test_mmap_overflow(void **state)
{
    (void)state;
    struct mm many[MB2_MAX_MMAP + 5];
    for (size_t i = 0; i < ARRAY_SIZE(many); i++)
        many[i] = (struct mm){ i * 0x10000, 0x8000, i % 2 ? MB2_MEM_RESERVED : MB2_MEM_AVAILABLE };
    struct bytebuf b;
    size_t len;
    mbi_begin(&b);
    tag_mmap(&b, 24, many, ARRAY_SIZE(many));
    tag_end_tag(&b);
    uint8_t *p = mbi_finish(&b, &len);
    parse_ok(p, len);
    assert_int_equal(info.mmap_count, MB2_MAX_MMAP);
    assert_int_equal(info.mmap_dropped, 5);
    assert_int_equal(info.mmap[MB2_MAX_MMAP - 1].base, (MB2_MAX_MMAP - 1) * 0x10000);
    free(p);
}

/* Tags after the end tag are not looked at (here: one that is broken). */
static void test_stops_at_end_tag(void **state)
{
    (void)state;
    struct bytebuf b;
    size_t len;
    mbi_begin(&b);
    tag_string(&b, MB2_TAG_CMDLINE, "first");
    tag_end_tag(&b);
    size_t t = tag_begin(&b, MB2_TAG_CMDLINE);
    bb_put(&b, "unterminated", 12);
    tag_end(&b, t);
    uint8_t *p = mbi_finish(&b, &len);
    parse_ok(p, len);
    assert_string_equal(info.cmdline, "first");
    free(p);
}

static void test_mem_type_names(void **state)
{
    (void)state;
    assert_string_equal(mb2_mem_type_name(MB2_MEM_AVAILABLE), "available");
    assert_string_equal(mb2_mem_type_name(MB2_MEM_RESERVED), "reserved");
    assert_string_equal(mb2_mem_type_name(MB2_MEM_ACPI_RECLAIMABLE), "ACPI reclaimable");
    assert_string_equal(mb2_mem_type_name(MB2_MEM_NVS), "ACPI NVS");
    assert_string_equal(mb2_mem_type_name(MB2_MEM_BADRAM), "bad RAM");
    assert_string_equal(mb2_mem_type_name(0), "unknown");
    assert_string_equal(mb2_mem_type_name(77), "unknown");
}

/* ---- malformed structures ------------------------------------------------ */

static void test_bad_total_size(void **state)
{
    (void)state;
    struct bytebuf b;
    size_t len;
    mbi_begin(&b);
    tag_string(&b, MB2_TAG_CMDLINE, "x");
    tag_end_tag(&b);
    uint8_t *p = mbi_finish(&b, &len);

    parse_bad(p, len - 1);                 /* total_size beyond the readable area */
    parse_bad(p, 7);                       /* not even a header */
    parse_bad(p, 0);
    poke_u32(p, 0, 8);
    parse_bad(p, len);                     /* total_size below 16 */
    poke_u32(p, 0, 0);
    parse_bad(p, len);
    poke_u32(p, 0, 0xfffffff8u);
    parse_bad(p, len);                     /* absurdly large */
    poke_u32(p, 0, (uint32_t)len + 8);
    parse_bad(p, len);
    free(p);
}

static void test_null_and_misaligned(void **state)
{
    (void)state;
    parse_bad(NULL, 64);
    uint64_t storage[8] = { 0 };
    uint8_t *base = (uint8_t *)storage;
    poke_u32(base, 0, 16);                   /* header + end tag: valid when aligned */
    poke_u32(base, 12, 8);
    assert_int_equal(mb2_parse(base, 16, &info, NULL), 0);
    /* The same bytes 4 (and 1, 2) bytes off an 8-byte boundary. */
    memmove(base + 4, base, 16);
    parse_bad(base + 4, 32);
    parse_bad(base + 1, 32);
    parse_bad(base + 2, 32);
}

static void test_tag_size_below_8(void **state)
{
    (void)state;
    for (uint32_t bad = 0; bad < 8; bad++) {
        struct bytebuf b;
        size_t len;
        mbi_begin(&b);
        size_t t = tag_begin(&b, MB2_TAG_CMDLINE);
        bb_str(&b, "abc");
        tag_end(&b, t);
        bb_set_u32(&b, t + 4, bad);
        tag_end_tag(&b);
        uint8_t *p = mbi_finish(&b, &len);
        parse_bad(p, len);
        free(p);
    }
}

static void test_tag_past_end(void **state)
{
    (void)state;
    struct bytebuf b;
    size_t len;
    mbi_begin(&b);
    size_t t = tag_begin(&b, MB2_TAG_BOOTLOADER);
    bb_str(&b, "GRUB");
    tag_end(&b, t);
    tag_end_tag(&b);
    /* The boot loader tag claims to run 4 bytes past total_size. */
    bb_set_u32(&b, t + 4, (uint32_t)(b.len - t + 4));
    uint8_t *p = mbi_finish(&b, &len);
    parse_bad(p, len);
    free(p);

    /* An end tag whose size runs past total_size. */
    mbi_begin(&b);
    t = tag_begin(&b, MB2_TAG_END);
    bb_set_u32(&b, t + 4, 16);
    p = mbi_finish(&b, &len);
    parse_bad(p, len);
    free(p);
}

static void test_missing_end_tag(void **state)
{
    (void)state;
    struct bytebuf b;
    size_t len;
    mbi_begin(&b);
    tag_string(&b, MB2_TAG_CMDLINE, "no end tag follows");
    tag_meminfo(&b, 1, 2);
    bb_align(&b, 8);
    uint8_t *p = mbi_finish(&b, &len);
    parse_bad(p, len);
    free(p);

    /* total_size 16 holding a (valid) tag that is not the end tag. */
    mbi_begin(&b);
    tag_raw(&b, 0x99, 0);
    p = mbi_finish(&b, &len);
    assert_int_equal(len, 16);
    parse_bad(p, len);
    free(p);
}

static void test_unterminated_strings(void **state)
{
    (void)state;
    static const uint32_t types[] = { MB2_TAG_CMDLINE, MB2_TAG_BOOTLOADER, MB2_TAG_MODULE };
    for (size_t i = 0; i < ARRAY_SIZE(types); i++) {
        struct bytebuf b;
        size_t len;
        mbi_begin(&b);
        size_t t = tag_begin(&b, types[i]);
        if (types[i] == MB2_TAG_MODULE) {
            bb_u32(&b, 0x100000);
            bb_u32(&b, 0x200000);
        }
        bb_put(&b, "no terminator", 13);   /* padding bytes after it are NULs */
        tag_end(&b, t);
        tag_end_tag(&b);
        uint8_t *p = mbi_finish(&b, &len);
        parse_bad(p, len);
        free(p);
    }
    /* A string tag with no room at all for a string. */
    struct bytebuf b;
    size_t len;
    mbi_begin(&b);
    size_t t = tag_begin(&b, MB2_TAG_CMDLINE);
    tag_end(&b, t);
    tag_end_tag(&b);
    uint8_t *p = mbi_finish(&b, &len);
    parse_bad(p, len);
    free(p);
}

static void test_module_end_before_start(void **state)
{
    (void)state;
    struct bytebuf b;
    size_t len;
    mbi_begin(&b);
    tag_module(&b, 0x300000, 0x2fffff, "backwards");
    tag_end_tag(&b);
    uint8_t *p = mbi_finish(&b, &len);
    parse_bad(p, len);
    free(p);
}

static void test_mmap_bad_entry_size(void **state)
{
    (void)state;
    static const uint32_t sizes[] = { 0, 8, 16, 20, 25, 28, 36, 0xfffffffcu };
    for (size_t i = 0; i < ARRAY_SIZE(sizes); i++) {
        struct bytebuf b;
        size_t len;
        mbi_begin(&b);
        tag_mmap(&b, 24, grub_like_map, 3);
        bb_set_u32(&b, 16, sizes[i]);      /* the first tag starts at offset 8 */
        tag_end_tag(&b);
        uint8_t *p = mbi_finish(&b, &len);
        parse_bad(p, len);
        free(p);
    }
}

/* A huge entry_size that passes the multiple-of-8 check must not make the
 * parser read entries outside the tag (32-bit offset arithmetic wraps). */
static void test_mmap_huge_entry_size(void **state)
{
    (void)state;
    static const uint32_t sizes[] = { 0xfffffff8u, 0xfffffff0u, 0x80000000u, 0xffffffe8u };
    for (size_t i = 0; i < ARRAY_SIZE(sizes); i++) {
        struct bytebuf b;
        size_t len;
        mbi_begin(&b);
        size_t t = tag_begin(&b, MB2_TAG_MMAP);
        bb_u32(&b, sizes[i]);
        bb_u32(&b, 0);
        tag_end(&b, t);                    /* no entries: the tag is 16 bytes */
        tag_end_tag(&b);
        uint8_t *p = mbi_finish(&b, &len);
        const char *err = NULL;
        int rc = mb2_parse(p, len, &info, &err);
        /* Either outcome is acceptable, as long as no entry was invented. */
        if (rc == 0)
            assert_int_equal(info.mmap_count, 0);
        else
            assert_non_null(err);
        free(p);
    }
}

static void test_short_fixed_tags(void **state)
{
    (void)state;
    struct { uint32_t type; size_t payload; } cases[] = {
        { MB2_TAG_BASIC_MEMINFO, 4 },     /* needs 8 */
        { MB2_TAG_MMAP, 4 },              /* needs the 8-byte entry header */
        { MB2_TAG_MODULE, 8 },            /* needs start, end and a string */
        { MB2_TAG_FRAMEBUFFER, 20 },      /* needs 23 */
        { MB2_TAG_ACPI_OLD, 19 },         /* needs the 20-byte RSDP */
        { MB2_TAG_ACPI_NEW, 35 },         /* needs 36 */
    };
    for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
        struct bytebuf b;
        size_t len;
        mbi_begin(&b);
        size_t t = tag_begin(&b, cases[i].type);
        for (size_t k = 0; k < cases[i].payload; k++)
            bb_u8(&b, 'a');
        if (cases[i].type == MB2_TAG_MMAP)
            bb_set_u32(&b, t + 8, 24);
        tag_end(&b, t);
        tag_end_tag(&b);
        uint8_t *p = mbi_finish(&b, &len);
        parse_bad(p, len);
        free(p);
    }
}

/* An RGB framebuffer tag cut before its colour field positions. */
static void test_framebuffer_rgb_truncated(void **state)
{
    (void)state;
    struct bytebuf b;
    size_t len;
    mbi_begin(&b);
    size_t t = tag_begin(&b, MB2_TAG_FRAMEBUFFER);
    bb_u64(&b, 0xfd000000ULL);
    bb_u32(&b, 4096);
    bb_u32(&b, 1024);
    bb_u32(&b, 768);
    bb_u8(&b, 32);
    bb_u8(&b, MB2_FB_RGB);
    bb_u16(&b, 0);
    tag_end(&b, t);
    tag_end_tag(&b);
    uint8_t *p = mbi_finish(&b, &len);
    parse_bad(p, len);
    free(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_full_grub_like),
        cmocka_unit_test(test_acpi_new_preferred),
        cmocka_unit_test(test_acpi_old_only),
        cmocka_unit_test(test_minimal),
        cmocka_unit_test(test_framebuffer_ega_text),
        cmocka_unit_test(test_mmap_larger_entries),
        cmocka_unit_test(test_module_overflow),
        cmocka_unit_test(test_mmap_overflow),
        cmocka_unit_test(test_stops_at_end_tag),
        cmocka_unit_test(test_mem_type_names),
        cmocka_unit_test(test_bad_total_size),
        cmocka_unit_test(test_null_and_misaligned),
        cmocka_unit_test(test_tag_size_below_8),
        cmocka_unit_test(test_tag_past_end),
        cmocka_unit_test(test_missing_end_tag),
        cmocka_unit_test(test_unterminated_strings),
        cmocka_unit_test(test_module_end_before_start),
        cmocka_unit_test(test_mmap_bad_entry_size),
        cmocka_unit_test(test_mmap_huge_entry_size),
        cmocka_unit_test(test_short_fixed_tags),
        cmocka_unit_test(test_framebuffer_rgb_truncated),
    };
    return cmocka_run_group_tests_name("mb2", tests, NULL, NULL);
}
