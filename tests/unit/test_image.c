/*
 * kernel/lib/image.c: recognising kernel images.
 *
 * The inputs are real files: small ELF64/ELF32 executables (one with a
 * multiboot v1 header) and a flat binary that the Makefile builds from
 * tests/unit/fixtures-src/ into build/unit/fixtures/, plus the hypervisor
 * kernel itself (build/hypervisor.elf, an ELF64 with a multiboot2 header;
 * that case is skipped when the kernel has not been built).  Truncated and
 * corrupted copies are made from them; every input is an exact-size heap
 * buffer, so ASan flags any read past its end.  The host's <elf.h> is the
 * independent reference for the header layouts.
 */
#include "helpers.h"
#include <elf.h>
#include <hv/image.h>

#define MB1_MAGIC 0x1BADB002u
#define MB2_MAGIC 0xE85250D6u

struct file {
    uint8_t *data;
    size_t len;
};

static struct file load_built(const char *name)
{
    char path[512];
    struct file f;
    snprintf(path, sizeof(path), "%s/fixtures/%s", UNIT_BUILD_DIR, name);
    f.data = load_file(path, &f.len);
    if (!f.data)
        fail_msg("%s is missing: the Makefile builds it", path);
    return f;
}

static struct image_info info;

static int identify(const void *data, size_t len, const char **err)
{
    void *copy = exact_copy(data, len);
    *err = NULL;
    int rc = image_identify(copy, len, &info, err);
    free(copy);
    return rc;
}

static void expect_ok(const void *data, size_t len)
{
    const char *err;
    if (identify(data, len, &err))
        fail_msg("image_identify: %s", err ? err : "(no error text)");
}

static void expect_bad(const void *data, size_t len)
{
    const char *err;
    assert_int_equal(identify(data, len, &err), -1);
    assert_non_null(err);
}

/* Program header layout, read with <elf.h> (independent of image.c). */
struct phdr_view {
    uint64_t phoff;
    uint16_t phnum, phentsize;
    uint64_t load_off[8], load_filesz[8];
    size_t nload;
};

static struct phdr_view view_elf(const struct file *f)
{
    struct phdr_view v = { 0 };
    if (f->data[EI_CLASS] == ELFCLASS64) {
        Elf64_Ehdr eh;
        memcpy(&eh, f->data, sizeof(eh));
        v.phoff = eh.e_phoff;
        v.phnum = eh.e_phnum;
        v.phentsize = eh.e_phentsize;
        for (unsigned i = 0; i < eh.e_phnum; i++) {
            Elf64_Phdr ph;
            memcpy(&ph, f->data + eh.e_phoff + i * eh.e_phentsize, sizeof(ph));
            if (ph.p_type == PT_LOAD && v.nload < 8) {
                v.load_off[v.nload] = ph.p_offset;
                v.load_filesz[v.nload++] = ph.p_filesz;
            }
        }
    } else {
        Elf32_Ehdr eh;
        memcpy(&eh, f->data, sizeof(eh));
        v.phoff = eh.e_phoff;
        v.phnum = eh.e_phnum;
        v.phentsize = eh.e_phentsize;
        for (unsigned i = 0; i < eh.e_phnum; i++) {
            Elf32_Phdr ph;
            memcpy(&ph, f->data + eh.e_phoff + i * eh.e_phentsize, sizeof(ph));
            if (ph.p_type == PT_LOAD && v.nload < 8) {
                v.load_off[v.nload] = ph.p_offset;
                v.load_filesz[v.nload++] = ph.p_filesz;
            }
        }
    }
    return v;
}

/* ---- the real images ---------------------------------------------------------- */

static void test_elf64(void **state)
{
    (void)state;
    struct file f = load_built("tiny64.elf");
    Elf64_Ehdr eh;
    memcpy(&eh, f.data, sizeof(eh));
    expect_ok(f.data, f.len);
    assert_int_equal(info.kind, IMAGE_ELF64);
    assert_int_equal(info.machine, EM_X86_64);
    assert_int_equal(info.entry, eh.e_entry);
    assert_int_equal(info.phnum, eh.e_phnum);
    assert_false(info.multiboot1);
    assert_false(info.multiboot2);
    assert_string_equal(image_kind_name(info.kind), "ELF64 x86-64 executable");
    free(f.data);
}

static void test_elf32(void **state)
{
    (void)state;
    struct file f = load_built("tiny32.elf");
    Elf32_Ehdr eh;
    memcpy(&eh, f.data, sizeof(eh));
    expect_ok(f.data, f.len);
    assert_int_equal(info.kind, IMAGE_ELF32);
    assert_int_equal(info.machine, EM_386);
    assert_int_equal(info.entry, eh.e_entry);
    assert_int_equal(info.phnum, eh.e_phnum);
    assert_false(info.multiboot1);
    assert_false(info.multiboot2);
    assert_string_equal(image_kind_name(info.kind), "ELF32 i386 executable");
    free(f.data);
}

static void test_elf32_multiboot1(void **state)
{
    (void)state;
    struct file f = load_built("mb1-32.elf");
    expect_ok(f.data, f.len);
    assert_int_equal(info.kind, IMAGE_ELF32);
    assert_true(info.multiboot1);
    assert_false(info.multiboot2);
    assert_int_equal(info.multiboot1_flags, 0x00000003);
    assert_true(info.multiboot1_offset < 8192);
    assert_int_equal(info.multiboot1_offset % 4, 0);
    uint32_t w[3];
    memcpy(w, f.data + info.multiboot1_offset, sizeof(w));
    assert_int_equal(w[0], MB1_MAGIC);
    assert_int_equal(w[1], 3);
    assert_int_equal((uint32_t)(w[0] + w[1] + w[2]), 0);
    free(f.data);
}

/* The hypervisor kernel: ELF64 with a multiboot2 header. */
static void test_hypervisor_kernel(void **state)
{
    (void)state;
    size_t len;
    uint8_t *k = load_file(HV_KERNEL_ELF, &len);
    if (!k) {
        print_message("%s not built: skipped\n", HV_KERNEL_ELF);
        skip();
    }
    expect_ok(k, len);
    assert_int_equal(info.kind, IMAGE_ELF64);
    assert_int_equal(info.machine, EM_X86_64);
    assert_true(info.multiboot2);
    Elf64_Ehdr eh;
    memcpy(&eh, k, sizeof(eh));
    assert_int_equal(info.entry, eh.e_entry);
    assert_int_equal(info.phnum, eh.e_phnum);
    free(k);
}

static void test_raw_binary(void **state)
{
    (void)state;
    struct file f = load_built("tiny64.bin");
    expect_ok(f.data, f.len);
    assert_int_equal(info.kind, IMAGE_RAW);
    assert_false(info.multiboot1);
    assert_false(info.multiboot2);
    assert_string_equal(image_kind_name(IMAGE_RAW), "flat binary");
    /* Text, and a few bytes, are flat binaries too. */
    expect_ok("hello, world\n", 13);
    assert_int_equal(info.kind, IMAGE_RAW);
    expect_ok("\x7f", 1);
    assert_int_equal(info.kind, IMAGE_RAW);
    expect_ok("\x7f" "EL", 3);                          /* not even the whole magic */
    assert_int_equal(info.kind, IMAGE_RAW);
    free(f.data);
}

static void test_empty(void **state)
{
    (void)state;
    const char *err = NULL;
    uint8_t one = 0;
    assert_int_equal(image_identify(&one, 0, &info, &err), -1);
    assert_int_equal(info.kind, IMAGE_EMPTY);
    assert_non_null(err);
    assert_string_equal(image_kind_name(IMAGE_EMPTY), "empty");
    assert_string_equal(image_kind_name((enum image_kind)99), "?");
}

/* ---- truncated copies ----------------------------------------------------------- */

static void check_truncations(const char *name)
{
    struct file f = load_built(name);
    struct phdr_view v = view_elf(&f);
    size_t ph_end = v.phoff + (size_t)v.phnum * v.phentsize;
    assert_true(v.nload >= 1);

    /* Every cut inside the ELF header and inside the program header table. */
    for (size_t cut = 4; cut < ph_end; cut++)
        expect_bad(f.data, cut);
    /* Cuts inside each PT_LOAD segment with file bytes. */
    for (size_t i = 0; i < v.nload; i++) {
        if (!v.load_filesz[i])
            continue;
        size_t seg_end = v.load_off[i] + v.load_filesz[i];
        size_t cuts[] = { v.load_off[i], v.load_off[i] + 1, v.load_off[i] + v.load_filesz[i] / 2,
                          seg_end - 1 };
        for (size_t c = 0; c < ARRAY_SIZE(cuts); c++)
            if (cuts[c] >= ph_end && cuts[c] < seg_end)
                expect_bad(f.data, cuts[c]);
    }
    /* Cut exactly at the end of the last loaded byte: still whole. */
    size_t need = ph_end;
    for (size_t i = 0; i < v.nload; i++)
        need = MAX(need, (size_t)(v.load_off[i] + v.load_filesz[i]));
    expect_ok(f.data, need);
    free(f.data);
}

static void test_truncated_elf64(void **state)
{
    (void)state;
    check_truncations("tiny64.elf");
}

static void test_truncated_elf32(void **state)
{
    (void)state;
    check_truncations("tiny32.elf");
    check_truncations("mb1-32.elf");
}

/* ---- corrupted headers --------------------------------------------------------- */

static void test_wrong_machine_and_type(void **state)
{
    (void)state;
    struct file f64 = load_built("tiny64.elf");
    struct file f32 = load_built("tiny32.elf");
    uint16_t v;

    v = EM_386;                                         /* an ELF64 for i386 */
    memcpy(f64.data + offsetof(Elf64_Ehdr, e_machine), &v, 2);
    expect_bad(f64.data, f64.len);
    v = EM_AARCH64;
    memcpy(f64.data + offsetof(Elf64_Ehdr, e_machine), &v, 2);
    expect_bad(f64.data, f64.len);
    v = EM_X86_64;                                      /* an ELF32 for x86-64 */
    memcpy(f32.data + offsetof(Elf32_Ehdr, e_machine), &v, 2);
    expect_bad(f32.data, f32.len);
    v = EM_386;
    memcpy(f32.data + offsetof(Elf32_Ehdr, e_machine), &v, 2);
    expect_ok(f32.data, f32.len);

    static const uint16_t types[] = { ET_NONE, ET_REL, ET_CORE };
    for (size_t i = 0; i < ARRAY_SIZE(types); i++) {
        memcpy(f32.data + offsetof(Elf32_Ehdr, e_type), &types[i], 2);
        expect_bad(f32.data, f32.len);
    }
    v = ET_DYN;                                         /* position-independent: fine */
    memcpy(f32.data + offsetof(Elf32_Ehdr, e_type), &v, 2);
    expect_ok(f32.data, f32.len);

    /* Big-endian, bad class. */
    f64.data[EI_DATA] = ELFDATA2MSB;
    expect_bad(f64.data, f64.len);
    f64.data[EI_DATA] = ELFDATA2LSB;
    v = EM_X86_64;
    memcpy(f64.data + offsetof(Elf64_Ehdr, e_machine), &v, 2);
    expect_ok(f64.data, f64.len);
    f64.data[EI_CLASS] = ELFCLASSNONE;
    expect_bad(f64.data, f64.len);
    f64.data[EI_CLASS] = 3;
    expect_bad(f64.data, f64.len);
    free(f64.data);
    free(f32.data);
}

static void test_bad_program_headers(void **state)
{
    (void)state;
    struct file f = load_built("tiny64.elf");
    Elf64_Ehdr eh;
    memcpy(&eh, f.data, sizeof(eh));
    uint8_t *d = exact_copy(f.data, f.len);

    /* p_filesz > p_memsz in the first PT_LOAD with file bytes. */
    size_t at = 0;
    for (unsigned i = 0; i < eh.e_phnum; i++) {
        Elf64_Phdr ph;
        size_t o = eh.e_phoff + i * eh.e_phentsize;
        memcpy(&ph, d + o, sizeof(ph));
        if (ph.p_type == PT_LOAD && ph.p_filesz) {
            at = o;
            ph.p_memsz = ph.p_filesz - 1;
            memcpy(d + o, &ph, sizeof(ph));
            break;
        }
    }
    assert_int_not_equal(at, 0);
    expect_bad(d, f.len);
    memcpy(d, f.data, f.len);

    /* A PT_LOAD whose offset lies past the end of the file. */
    Elf64_Phdr ph;
    memcpy(&ph, d + at, sizeof(ph));
    ph.p_offset = f.len + 4096;
    memcpy(d + at, &ph, sizeof(ph));
    expect_bad(d, f.len);
    /* ...or whose size wraps around. */
    ph.p_offset = 0x40;
    ph.p_filesz = UINT64_MAX - 0x20;
    ph.p_memsz = UINT64_MAX;
    memcpy(d + at, &ph, sizeof(ph));
    expect_bad(d, f.len);
    memcpy(d, f.data, f.len);

    /* Segments other than PT_LOAD are not checked against the file size. */
    memcpy(&ph, d + at, sizeof(ph));
    ph.p_type = PT_NOTE;
    ph.p_offset = f.len * 10;
    memcpy(d + at, &ph, sizeof(ph));
    expect_ok(d, f.len);
    memcpy(d, f.data, f.len);

    /* No program headers; too small entries; a table beyond the file. */
    uint16_t zero = 0, small = 40;
    memcpy(d + offsetof(Elf64_Ehdr, e_phnum), &zero, 2);
    expect_bad(d, f.len);
    memcpy(d, f.data, f.len);
    memcpy(d + offsetof(Elf64_Ehdr, e_phentsize), &small, 2);
    expect_bad(d, f.len);
    memcpy(d, f.data, f.len);
    uint64_t far = UINT64_MAX - 8;
    memcpy(d + offsetof(Elf64_Ehdr, e_phoff), &far, 8);
    expect_bad(d, f.len);
    uint16_t many = 0xffff;
    memcpy(d, f.data, f.len);
    memcpy(d + offsetof(Elf64_Ehdr, e_phnum), &many, 2);
    expect_bad(d, f.len);
    free(d);
    free(f.data);
}

/* ---- multiboot header search ---------------------------------------------------- */

static void test_multiboot1_search_rules(void **state)
{
    (void)state;
    enum { N = 12288 };
    uint8_t *b = calloc(1, N);
    assert_non_null(b);
    memset(b, 0x90, N);

    /* Within 8 KiB, 4-byte aligned: found (the last possible slot too). */
    static const size_t good[] = { 0, 4, 4096, 8192 - 12 };
    for (size_t i = 0; i < ARRAY_SIZE(good); i++) {
        memset(b, 0x90, N);
        poke_u32(b, good[i], MB1_MAGIC);
        poke_u32(b, good[i] + 4, 0x00010002);
        poke_u32(b, good[i] + 8, (uint32_t)-(MB1_MAGIC + 0x00010002));
        expect_ok(b, N);
        assert_int_equal(info.kind, IMAGE_RAW);
        assert_true(info.multiboot1);
        assert_int_equal(info.multiboot1_offset, good[i]);
        assert_int_equal(info.multiboot1_flags, 0x00010002);
        /* The image may end right after the header. */
        expect_ok(b, good[i] + 12);
        assert_true(info.multiboot1);
    }
    /* Misaligned, beyond 8 KiB, straddling 8 KiB, bad checksum, cut short. */
    static const size_t bad[] = { 2, 4097, 8192 - 8, 8192, 10000 };
    for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
        memset(b, 0x90, N);
        poke_u32(b, bad[i], MB1_MAGIC);
        poke_u32(b, bad[i] + 4, 0);
        poke_u32(b, bad[i] + 8, (uint32_t)-MB1_MAGIC);
        expect_ok(b, N);
        assert_false(info.multiboot1);
    }
    memset(b, 0x90, N);
    poke_u32(b, 64, MB1_MAGIC);
    poke_u32(b, 68, 0);
    poke_u32(b, 72, (uint32_t)-MB1_MAGIC + 1);
    expect_ok(b, N);
    assert_false(info.multiboot1);
    poke_u32(b, 72, (uint32_t)-MB1_MAGIC);
    expect_ok(b, 75);                                   /* checksum word cut */
    assert_false(info.multiboot1);
    free(b);
}

static void test_multiboot2_search_rules(void **state)
{
    (void)state;
    enum { N = 40000 };
    uint8_t *b = malloc(N);
    assert_non_null(b);
    static const size_t good[] = { 0, 8, 32768 - 16 };
    static const size_t bad[] = { 4, 12, 32768 - 8, 32768 };
    for (int pass = 0; pass < 2; pass++) {
        const size_t *offs = pass ? bad : good;
        size_t n = pass ? ARRAY_SIZE(bad) : ARRAY_SIZE(good);
        for (size_t i = 0; i < n; i++) {
            memset(b, 0x90, N);
            size_t o = offs[i];
            poke_u32(b, o, MB2_MAGIC);
            poke_u32(b, o + 4, 0);                          /* architecture: i386 */
            poke_u32(b, o + 8, 24);                         /* header_length */
            poke_u32(b, o + 12, (uint32_t)-(MB2_MAGIC + 24));
            expect_ok(b, N);
            assert_int_equal(info.multiboot2, !pass);
            assert_false(info.multiboot1);
        }
    }
    /* Wrong checksum. */
    memset(b, 0x90, N);
    poke_u32(b, 16, MB2_MAGIC);
    poke_u32(b, 20, 0);
    poke_u32(b, 24, 24);
    poke_u32(b, 28, (uint32_t)-(MB2_MAGIC + 16));
    expect_ok(b, N);
    assert_false(info.multiboot2);
    free(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_elf64),
        cmocka_unit_test(test_elf32),
        cmocka_unit_test(test_elf32_multiboot1),
        cmocka_unit_test(test_hypervisor_kernel),
        cmocka_unit_test(test_raw_binary),
        cmocka_unit_test(test_empty),
        cmocka_unit_test(test_truncated_elf64),
        cmocka_unit_test(test_truncated_elf32),
        cmocka_unit_test(test_wrong_machine_and_type),
        cmocka_unit_test(test_bad_program_headers),
        cmocka_unit_test(test_multiboot1_search_rules),
        cmocka_unit_test(test_multiboot2_search_rules),
    };
    return cmocka_run_group_tests_name("image", tests, NULL, NULL);
}
