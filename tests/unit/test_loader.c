/*
 * kernel/vm/loader.c: putting a guest image into a VM's RAM (vm_load_image).
 *
 * The loader reaches guest memory only through vm_write_phys() and
 * vm_ram_page() (include/hv/guestmem.h).  This file implements both over a
 * zeroed buffer of vm->ram_size bytes (calloc'ed; mmap'ed for the VMs of
 * more than 64 MiB), the way kernel/vm/guestmem.c does
 * over EPT: page by page, RAM regions only, a page "backed" (counted in
 * vm->stats.ram_pages) on first touch; a countdown can make backing fail,
 * as phys_alloc_pages() does when host memory runs out.
 *
 * Inputs are the real guests the project builds (build/guests/: hello32.elf,
 * a multiboot v1 ELF32; hello64.elf, an ELF64; real16.bin, a flat real-mode
 * binary) and images crafted here (an a.out-kludge multiboot image, broken
 * headers, segments and entry points outside RAM, truncated files).  Every
 * image is an exact-size heap copy, so ASan catches reads past its end.
 *
 * The results are decoded independently of the loader: ELF headers with the
 * host's <elf.h>, the multiboot information by the offsets of the Multiboot
 * 0.6.96 specification (3.3), the 64-bit page tables by walking them as the
 * CPU would.  After each successful load, every nonzero byte of guest RAM
 * must belong to something the guest was told about (a segment, a module,
 * the multiboot information, the page tables or the argument string).
 */
#include "helpers.h"
#include <elf.h>
#include <sys/mman.h>
#include <hv/vm_internal.h>
#include <hv/guestmem.h>
#include <hv/image.h>

#ifndef GUEST_DIR
#error "GUEST_DIR (build/guests) must be defined by the Makefile"
#endif

#define MB1_HEADER_MAGIC    0x1BADB002u
#define MB1_BOOT_MAGIC      0x2BADB002u
#define MB1_AOUT_KLUDGE     BIT(16)
#define LOW_RAM_END         0x9FC00u
#define ONE_MIB             0x100000u
#define RFLAGS_DEFAULT      0x2

/* multiboot_info (Multiboot 0.6.96, 3.3): field offsets and flag bits. */
#define MBI_FLAGS           0
#define MBI_MEM_LOWER       4
#define MBI_MEM_UPPER       8
#define MBI_CMDLINE         16
#define MBI_MODS_COUNT      20
#define MBI_MODS_ADDR       24
#define MBI_MMAP_LENGTH     44
#define MBI_MMAP_ADDR       48
#define MBI_LOADER_NAME     64
#define MBI_SIZE            72      /* through apm_table: no VBE fields (flag 11) */
#define MBI_F_MEMORY        BIT(0)
#define MBI_F_CMDLINE       BIT(2)
#define MBI_F_MODS          BIT(3)
#define MBI_F_AOUT_SYMS     BIT(4)
#define MBI_F_ELF_SHDR      BIT(5)
#define MBI_F_MMAP          BIT(6)
#define MBI_F_LOADER_NAME   BIT(9)
#define MBI_F_VBE           BIT(11)
#define MBI_F_FRAMEBUFFER   BIT(12)

/* x86-64 paging entries. */
#define PTE_P               BIT(0)
#define PTE_RW              BIT(1)
#define PTE_PS              BIT(7)
#define PTE_ADDR            0x000FFFFFFFFFF000ULL

/* ---- guest memory over a host buffer ------------------------------------------- */

static struct vm vm;
static struct vm_config cfg;
static struct vcpu_boot_state boot;
static char err[256];

static uint8_t *ram;                /* vm.ram_size bytes, guest-physical 0.. */
static bool ram_mapped;             /* from mmap (large RAM) rather than calloc */
static uint8_t *backed;             /* one flag per guest page */
static long pages_left = -1;        /* backings that still succeed; -1 = unlimited */

static bool is_ram(const struct vm *v, uint64_t gpa)
{
    for (unsigned i = 0; i < v->nregions; i++) {
        const struct mem_region *r = &v->regions[i];
        if (gpa >= r->gpa && gpa - r->gpa < r->size)
            return r->kind == MEM_RAM;
    }
    return false;
}

void *vm_ram_page(struct vm *v, uint64_t gpa)
{
    assert_ptr_equal(v, &vm);
    if (!is_ram(v, gpa))
        return NULL;
    uint64_t page = ALIGN_DOWN(gpa, PAGE_SIZE);
    assert_true(page + PAGE_SIZE <= v->ram_size);       /* RAM sizes are page multiples */
    if (!backed[page / PAGE_SIZE]) {
        if (pages_left == 0)
            return NULL;                                /* "out of host memory" */
        if (pages_left > 0)
            pages_left--;
        backed[page / PAGE_SIZE] = 1;
        v->stats.ram_pages++;
    }
    return ram + page;
}

/* As kernel/vm/guestmem.c: page by page, failing where a page is not RAM. */
int vm_write_phys(struct vm *v, uint64_t gpa, const void *buf, size_t len)
{
    const uint8_t *b = buf;
    while (len) {
        size_t off = gpa & (PAGE_SIZE - 1), n = MIN(len, (size_t)(PAGE_SIZE - off));
        uint8_t *page = vm_ram_page(v, gpa);
        if (!page)
            return -1;
        memcpy(page + off, b, n);
        gpa += n;
        b += n;
        len -= n;
    }
    return 0;
}

/* Guest RAM is calloc'ed; above 64 MiB it is an anonymous mapping instead
 * (zeroed and lazily populated all the same): ASan's calloc would touch the
 * shadow of all of it, about 400 MB resident for a 3 GiB VM. */
#define RAM_CALLOC_MAX  (64 * MiB + 64 * KiB)

static void vm_teardown(void)
{
    if (ram_mapped)
        munmap(ram, vm.ram_size);
    else
        free(ram);
    free(backed);
    ram = backed = NULL;
    ram_mapped = false;
}

/* A VM as kernel/vm/vm.c's vm_create() makes it, with the configuration
 * defaults of kernel/vm/vmconfig.c. */
static void vm_setup(uint64_t ram_size, const char *args)
{
    vm_teardown();
    memset(&vm, 0, sizeof(vm));
    vm.id = 1;
    snprintf(vm.name, sizeof(vm.name), "%s", "loadtest");
    snprintf(vm.args, sizeof(vm.args), "%s", args);
    vm.ram_size = ram_size;
    vm.regions[0] = (struct mem_region){ 0, ram_size, MEM_RAM, "RAM" };
    vm.nregions = 1;

    memset(&cfg, 0, sizeof(cfg));
    memcpy(cfg.name, vm.name, sizeof(cfg.name));
    memcpy(cfg.args, vm.args, sizeof(cfg.args));
    cfg.mem = ram_size;
    cfg.cpu = ~0ULL;
    cfg.entry = ENTRY_AUTO;
    cfg.load = 0x7C00;
    cfg.rflags = RFLAGS_DEFAULT;

    ram_mapped = ram_size > RAM_CALLOC_MAX;
    if (ram_mapped) {
        void *p = mmap(NULL, ram_size, PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
        assert_true(p != MAP_FAILED);
        ram = p;
    } else {
        ram = calloc(ram_size, 1);
    }
    backed = calloc(ram_size / PAGE_SIZE, 1);
    assert_non_null(ram);
    assert_non_null(backed);
    pages_left = -1;
}

static int group_teardown(void **state)
{
    (void)state;
    vm_teardown();
    return 0;
}

/* Loads `size` bytes (an exact-size copy) with the guest's modules. */
static int load_with(const void *data, size_t size, const struct guest_module *mods, unsigned n)
{
    struct vm_image img = { 0 };
    void *copy = exact_copy(data, size);
    assert_true(n <= VM_MAX_GUEST_MODULES);
    img.data = copy;
    img.size = size;
    for (unsigned i = 0; i < n; i++)
        img.modules[i] = mods[i];
    img.module_count = n;
    memset(&boot, 0xa5, sizeof(boot));
    memset(err, 0, sizeof(err));
    int rc = vm_load_image(&vm, &cfg, &img, &boot, err, sizeof(err));
    free(copy);
    return rc;
}

static int load(const void *data, size_t size)
{
    return load_with(data, size, NULL, 0);
}

static void expect_loaded(int rc, const char *what)
{
    if (rc)
        fail_msg("%s: refused: %s", what, err);
}

/* A refusal must say why; `needle` is part of the reason. */
static void expect_refused(int rc, const char *needle, const char *what)
{
    if (rc != -1)
        fail_msg("%s: expected a refusal mentioning \"%s\", got rc %d", what, needle, rc);
    if (!err[0])
        fail_msg("%s: refused without a message", what);
    if (needle && !strstr(err, needle))
        fail_msg("%s: expected a message mentioning \"%s\", got \"%s\"", what, needle, err);
}

/* ---- reading guest RAM ------------------------------------------------------------ */

static void need_ram(uint64_t gpa, uint64_t len)
{
    if (gpa > vm.ram_size || len > vm.ram_size - gpa)
        fail_msg("guest range %#llx+%#llx is outside the %llu-byte RAM", (unsigned long long)gpa,
                 (unsigned long long)len, (unsigned long long)vm.ram_size);
}

static uint32_t g32(uint64_t gpa)
{
    uint32_t v;
    need_ram(gpa, 4);
    memcpy(&v, ram + gpa, 4);
    return v;
}

static uint64_t g64(uint64_t gpa)
{
    uint64_t v;
    need_ram(gpa, 8);
    memcpy(&v, ram + gpa, 8);
    return v;
}

/* A NUL-terminated string in guest RAM. */
static const char *gstr(uint64_t gpa)
{
    need_ram(gpa, 1);
    if (!memchr(ram + gpa, 0, vm.ram_size - gpa))
        fail_msg("string at %#llx is not terminated inside RAM", (unsigned long long)gpa);
    return (const char *)ram + gpa;
}

static bool all_zero(uint64_t gpa, uint64_t len)
{
    need_ram(gpa, len);
    for (uint64_t i = 0; i < len; i++)
        if (ram[gpa + i])
            return false;
    return true;
}

static bool all_backed(uint64_t gpa, uint64_t len)
{
    if (!len)
        return true;
    for (uint64_t p = ALIGN_DOWN(gpa, PAGE_SIZE); p < gpa + len; p += PAGE_SIZE)
        if (!backed[p / PAGE_SIZE])
            return false;
    return true;
}

/* What the guest was told about: nothing else in RAM may be nonzero. */
struct range { uint64_t start, len; const char *what; };

#define MAX_RANGES 64
static struct range known[MAX_RANGES];
static unsigned nknown;

static void known_reset(void) { nknown = 0; }

static void known_add(uint64_t start, uint64_t len, const char *what)
{
    assert_true(nknown < MAX_RANGES);
    need_ram(start, len);
    known[nknown++] = (struct range){ start, len, what };
}

static bool overlaps(uint64_t a, uint64_t alen, uint64_t b, uint64_t blen)
{
    return alen && blen && a < b + blen && b < a + alen;
}

/* Ranges of different kinds (image, modules, information) must not overlap:
 * one would have overwritten the other. */
static void check_no_overlaps(void)
{
    for (unsigned i = 0; i < nknown; i++)
        for (unsigned j = i + 1; j < nknown; j++)
            if (overlaps(known[i].start, known[i].len, known[j].start, known[j].len))
                fail_msg("%s (%#llx+%#llx) overlaps %s (%#llx+%#llx)", known[i].what,
                         (unsigned long long)known[i].start, (unsigned long long)known[i].len,
                         known[j].what, (unsigned long long)known[j].start,
                         (unsigned long long)known[j].len);
}

static void check_no_stray_bytes(void)
{
    /* Unbacked pages were never written (all writes go through vm_ram_page). */
    for (uint64_t p = 0; p < vm.ram_size / PAGE_SIZE; p++) {
        if (!backed[p])
            continue;
        for (uint64_t a = p * PAGE_SIZE; a < (p + 1) * PAGE_SIZE; a++) {
            if (!ram[a])
                continue;
            bool ok = false;
            for (unsigned i = 0; i < nknown && !ok; i++)
                ok = a >= known[i].start && a - known[i].start < known[i].len;
            if (!ok)
                fail_msg("guest byte %#llx is %#x but belongs to nothing the guest was told about",
                         (unsigned long long)a, ram[a]);
        }
    }
}

/* ---- ELF files, read with <elf.h> ---------------------------------------------------- */

struct file {
    uint8_t *data;
    size_t len;
};

static struct file load_guest(const char *name)
{
    char path[512];
    struct file f;
    snprintf(path, sizeof(path), "%s/%s", GUEST_DIR, name);
    f.data = load_file(path, &f.len);
    if (!f.data)
        fail_msg("%s is missing: tests/unit/Makefile builds it with make -C guests", path);
    return f;
}

struct seg { uint64_t offset, paddr, filesz, memsz; };

struct elf {
    bool is64;
    uint64_t entry, phoff;
    unsigned phentsize, phnum;
    struct seg load[16];
    unsigned nload;
    uint64_t lo, hi;                /* lowest and highest guest address loaded */
};

static struct elf parse_elf(const struct file *f)
{
    struct elf e = { 0 };
    assert_true(f->len >= EI_NIDENT && !memcmp(f->data, ELFMAG, SELFMAG));
    e.is64 = f->data[EI_CLASS] == ELFCLASS64;
    if (e.is64) {
        Elf64_Ehdr eh;
        assert_true(f->len >= sizeof(eh));
        memcpy(&eh, f->data, sizeof(eh));
        e.entry = eh.e_entry, e.phoff = eh.e_phoff;
        e.phentsize = eh.e_phentsize, e.phnum = eh.e_phnum;
    } else {
        Elf32_Ehdr eh;
        assert_true(f->len >= sizeof(eh));
        memcpy(&eh, f->data, sizeof(eh));
        e.entry = eh.e_entry, e.phoff = eh.e_phoff;
        e.phentsize = eh.e_phentsize, e.phnum = eh.e_phnum;
    }
    e.lo = UINT64_MAX;
    for (unsigned i = 0; i < e.phnum; i++) {
        uint64_t at = e.phoff + (uint64_t)i * e.phentsize;
        struct seg s;
        uint32_t type;
        if (e.is64) {
            Elf64_Phdr ph;
            assert_true(at + sizeof(ph) <= f->len);
            memcpy(&ph, f->data + at, sizeof(ph));
            type = ph.p_type;
            s = (struct seg){ ph.p_offset, ph.p_paddr, ph.p_filesz, ph.p_memsz };
        } else {
            Elf32_Phdr ph;
            assert_true(at + sizeof(ph) <= f->len);
            memcpy(&ph, f->data + at, sizeof(ph));
            type = ph.p_type;
            s = (struct seg){ ph.p_offset, ph.p_paddr, ph.p_filesz, ph.p_memsz };
        }
        if (type != PT_LOAD)
            continue;
        assert_true(e.nload < ARRAY_SIZE(e.load));
        e.load[e.nload++] = s;
        e.lo = MIN(e.lo, s.paddr);
        e.hi = MAX(e.hi, s.paddr + s.memsz);
    }
    assert_true(e.nload > 0);
    return e;
}

/* Every PT_LOAD segment: its file bytes at p_paddr, zeros up to p_memsz,
 * all of it backed. */
static void check_segments(const struct file *f, const struct elf *e)
{
    for (unsigned i = 0; i < e->nload; i++) {
        const struct seg *s = &e->load[i];
        need_ram(s->paddr, s->memsz);
        if (memcmp(ram + s->paddr, f->data + s->offset, s->filesz))
            fail_msg("segment %u: guest bytes at %#llx differ from the file", i,
                     (unsigned long long)s->paddr);
        if (!all_zero(s->paddr + s->filesz, s->memsz - s->filesz))
            fail_msg("segment %u: its .bss part is not zero", i);
        if (!all_backed(s->paddr, s->memsz))
            fail_msg("segment %u: not every page of %#llx+%#llx is backed", i,
                     (unsigned long long)s->paddr, (unsigned long long)s->memsz);
        known_add(s->paddr, s->memsz, "the image");
    }
}

/* ---- the multiboot information, decoded by the specification --------------------- */

struct mb_module_in {
    const uint8_t *data;
    size_t size;
    const char *cmdline;
};

struct mbi_expect {
    uint64_t image_top;                     /* modules start above it */
    bool page_align;                        /* header flag 0 */
    const struct mb_module_in *mods;
    unsigned nmods;
};

static uint32_t mbi_gpa;

static void check_multiboot_info(const struct mbi_expect *x)
{
    assert_int_equal(boot.mode, GUEST_PROTECTED32);
    assert_int_equal(boot.gpr[GPR_RAX], MB1_BOOT_MAGIC);
    assert_true(boot.gpr[GPR_RBX] <= UINT32_MAX);
    mbi_gpa = (uint32_t)boot.gpr[GPR_RBX];
    need_ram(mbi_gpa, MBI_SIZE);
    known_add(mbi_gpa, MBI_SIZE, "multiboot_info");

    uint32_t flags = g32(mbi_gpa + MBI_FLAGS);
    uint32_t want = MBI_F_MEMORY | MBI_F_CMDLINE | MBI_F_MODS | MBI_F_MMAP | MBI_F_LOADER_NAME;
    if ((flags & want) != want)
        fail_msg("multiboot_info.flags %#x lacks %#x", flags, want & ~flags);
    /* Nothing claimed that was not provided. */
    assert_false(flags & (MBI_F_AOUT_SYMS | MBI_F_ELF_SHDR | MBI_F_VBE | MBI_F_FRAMEBUFFER));

    /* Memory: 639 KiB below 640 KiB, everything from 1 MiB up. */
    assert_int_equal(g32(mbi_gpa + MBI_MEM_LOWER), 639);
    assert_int_equal(g32(mbi_gpa + MBI_MEM_UPPER), (vm.ram_size - ONE_MIB) / 1024);

    /* Command line: the VM's argument string. */
    uint32_t cmdline = g32(mbi_gpa + MBI_CMDLINE);
    assert_string_equal(gstr(cmdline), vm.args);
    known_add(cmdline, strlen(vm.args) + 1, "the command line");

    /* Boot loader name: some nonempty string. */
    uint32_t name = g32(mbi_gpa + MBI_LOADER_NAME);
    assert_true(strlen(gstr(name)) > 0);
    known_add(name, strlen(gstr(name)) + 1, "the boot loader name");

    /* Memory map: entries of (size, base_addr, length, type), `size` not
     * counting itself; three of them covering all RAM. */
    uint32_t mmap = g32(mbi_gpa + MBI_MMAP_ADDR), mmap_len = g32(mbi_gpa + MBI_MMAP_LENGTH);
    need_ram(mmap, mmap_len);
    known_add(mmap, mmap_len, "the memory map");
    struct { uint64_t base, len; uint32_t type; } ent[8];
    unsigned n = 0;
    for (uint64_t at = mmap; at < (uint64_t)mmap + mmap_len; at += g32(at) + 4) {
        assert_true(n < ARRAY_SIZE(ent));
        assert_true(g32(at) >= 20);
        ent[n].base = g64(at + 4);
        ent[n].len = g64(at + 12);
        ent[n].type = g32(at + 20);
        n++;
    }
    assert_int_equal(n, 3);
    assert_int_equal(ent[0].base, 0);
    assert_int_equal(ent[0].len, LOW_RAM_END);
    assert_int_equal(ent[0].type, 1);                       /* available */
    assert_int_equal(ent[1].base, LOW_RAM_END);
    assert_int_equal(ent[1].len, ONE_MIB - LOW_RAM_END);
    assert_int_equal(ent[1].type, 2);                       /* reserved: EBDA, VGA, BIOS */
    assert_int_equal(ent[2].base, ONE_MIB);
    assert_int_equal(ent[2].len, vm.ram_size - ONE_MIB);
    assert_int_equal(ent[2].type, 1);
    /* They agree with mem_lower/mem_upper. */
    assert_int_equal(ent[0].len, (uint64_t)g32(mbi_gpa + MBI_MEM_LOWER) * 1024);
    assert_int_equal(ent[2].len, (uint64_t)g32(mbi_gpa + MBI_MEM_UPPER) * 1024);

    /* Modules: (mod_start, mod_end, string, reserved) each. */
    uint32_t count = g32(mbi_gpa + MBI_MODS_COUNT), mods = g32(mbi_gpa + MBI_MODS_ADDR);
    assert_int_equal(count, x->nmods);
    if (count)
        known_add(mods, count * 16, "the module list");
    uint64_t prev_end = x->image_top;
    for (unsigned i = 0; i < count; i++) {
        uint32_t start = g32(mods + 16 * i), end = g32(mods + 16 * i + 4);
        uint32_t str = g32(mods + 16 * i + 8), reserved = g32(mods + 16 * i + 12);
        assert_int_equal(reserved, 0);
        if (x->page_align)
            assert_int_equal(start % PAGE_SIZE, 0);
        /* After the kernel image and after the previous module. */
        assert_true(start >= prev_end);
        assert_int_equal(end - start, x->mods[i].size);
        need_ram(start, x->mods[i].size);
        if (memcmp(ram + start, x->mods[i].data, x->mods[i].size))
            fail_msg("module %u: guest bytes at %#x differ from the file", i, start);
        assert_string_equal(gstr(str), x->mods[i].cmdline);
        known_add(start, x->mods[i].size, "a module");
        known_add(str, strlen(x->mods[i].cmdline) + 1, "a module string");
        prev_end = end;
    }
    /* The information lies in RAM the memory map says is available. */
    for (unsigned i = 0; i < nknown; i++) {
        const struct range *r = &known[i];
        bool low = r->start + r->len <= LOW_RAM_END;
        bool high = r->start >= ONE_MIB && r->start + r->len <= vm.ram_size;
        if (!low && !high)
            fail_msg("%s at %#llx is not in available memory", r->what,
                     (unsigned long long)r->start);
    }
}

/* ---- multiboot: hello32.elf ---------------------------------------------------------- */

static uint8_t *pattern(size_t len, uint64_t seed)
{
    uint8_t *p = malloc(len ? len : 1);
    assert_non_null(p);
    for (size_t i = 0; i < len; i++)
        p[i] = (uint8_t)(rng_next(&seed) | 1);          /* never 0: every byte is visible */
    return p;
}

/* Loads hello32.elf, checks everything; returns the end of its image. */
static uint64_t load_hello32_checked(uint64_t ram_size, const char *args,
                                     const struct mb_module_in *mods, unsigned nmods)
{
    struct file f = load_guest("hello32.elf");
    struct elf e = parse_elf(&f);
    assert_false(e.is64);

    vm_setup(ram_size, args);
    struct guest_module gm[VM_MAX_GUEST_MODULES];
    for (unsigned i = 0; i < nmods; i++)
        gm[i] = (struct guest_module){ mods[i].data, mods[i].size, mods[i].cmdline };
    expect_loaded(load_with(f.data, f.len, gm, nmods), "hello32.elf");

    known_reset();
    check_segments(&f, &e);
    assert_int_equal(boot.mode, GUEST_PROTECTED32);
    assert_int_equal(boot.rip, e.entry);
    assert_int_equal(boot.rflags, RFLAGS_DEFAULT);
    struct mbi_expect x = { e.hi, true, mods, nmods };
    check_multiboot_info(&x);
    check_no_overlaps();
    check_no_stray_bytes();
    /* What the VM reports as loaded is what was backed. */
    uint64_t n = 0;
    for (uint64_t p = 0; p < vm.ram_size / PAGE_SIZE; p++)
        n += backed[p];
    assert_int_equal(vm.stats.ram_pages, n);
    free(f.data);
    return e.hi;
}

static void test_multiboot_hello32(void **state)
{
    (void)state;
    load_hello32_checked(16 * MiB, "status=3 greeting=\"hello world\"", NULL, 0);
    load_hello32_checked(2 * MiB, "", NULL, 0);                 /* VM_MIN_MEM */
    load_hello32_checked(64 * MiB + 4 * KiB, "x", NULL, 0);
}

static void test_multiboot_hello32_modules(void **state)
{
    (void)state;
    uint8_t *a = pattern(10000, 1), *b = pattern(4096, 2);
    struct mb_module_in mods[] = {
        { a, 10000, "first.bin mode=fast" },
        { b, 4096, "second" },
    };
    uint64_t top = load_hello32_checked(16 * MiB, "status=0", mods, 2);
    /* Page aligned, right after the kernel image. */
    uint32_t list = g32(mbi_gpa + MBI_MODS_ADDR);
    assert_int_equal(g32(list), ALIGN_UP(top, PAGE_SIZE));
    assert_int_equal(g32(list + 16), ALIGN_UP(g32(list) + 10000, PAGE_SIZE));

    /* The most a VM gets, one of them empty. */
    struct mb_module_in many[VM_MAX_GUEST_MODULES];
    uint8_t *data[VM_MAX_GUEST_MODULES];
    char names[VM_MAX_GUEST_MODULES][32];
    for (unsigned i = 0; i < VM_MAX_GUEST_MODULES; i++) {
        size_t size = i == 3 ? 0 : 1000 * i + 1;
        data[i] = pattern(size, 100 + i);
        snprintf(names[i], sizeof(names[i]), "module-%u arg=%u", i, i * i);
        many[i] = (struct mb_module_in){ data[i], size, names[i] };
    }
    load_hello32_checked(16 * MiB, "many", many, VM_MAX_GUEST_MODULES);
    for (unsigned i = 0; i < VM_MAX_GUEST_MODULES; i++)
        free(data[i]);
    free(a);
    free(b);
}

static void test_multiboot_module_too_big(void **state)
{
    (void)state;
    struct file f = load_guest("hello32.elf");
    vm_setup(2 * MiB, "");
    uint8_t *big = pattern(MiB, 3);
    struct guest_module gm[] = {
        { big, 100, "small" },
        { big, MiB, "the-big-one" },        /* 1 MiB after the image at 1 MiB: past 2 MiB */
    };
    expect_refused(load_with(f.data, f.len, gm, 2), "the-big-one", "module past the RAM");
    free(big);
    free(f.data);
}

/* ---- multiboot header flags ------------------------------------------------------------ */

static size_t find_mb1_header(const struct file *f)
{
    for (size_t off = 0; off + 12 <= MIN(f->len, (size_t)8192); off += 4) {
        uint32_t m, fl, ck;
        memcpy(&m, f->data + off, 4);
        memcpy(&fl, f->data + off + 4, 4);
        memcpy(&ck, f->data + off + 8, 4);
        if (m == MB1_HEADER_MAGIC && (uint32_t)(m + fl + ck) == 0)
            return off;
    }
    fail_msg("no multiboot header");
    return 0;
}

static void set_mb1_flags(struct file *f, size_t off, uint32_t flags)
{
    poke_u32(f->data, off + 4, flags);
    poke_u32(f->data, off + 8, (uint32_t)-(MB1_HEADER_MAGIC + flags));
}

static void test_multiboot_flags(void **state)
{
    (void)state;
    struct file f = load_guest("hello32.elf");
    size_t off = find_mb1_header(&f);
    uint32_t orig;
    memcpy(&orig, f.data + off + 4, 4);
    assert_int_equal(orig, 0x3);                /* page-align modules, memory info */

    vm_setup(16 * MiB, "");
    /* Bit 2: a video mode -- VMs have no framebuffer: refused, and said so. */
    set_mb1_flags(&f, off, orig | BIT(2));
    expect_refused(load(f.data, f.len), "video mode", "flag 2");

    /* Unknown bits in the required half (0-15): refused. */
    for (unsigned bit = 3; bit < 16; bit++) {
        set_mb1_flags(&f, off, orig | BIT(bit));
        expect_refused(load(f.data, f.len), "requires", "unknown required flag");
        char hex[16];
        snprintf(hex, sizeof(hex), "%#x", 1u << bit);
        if (!strstr(err, hex))
            fail_msg("flag bit %u: the message does not name %s: \"%s\"", bit, hex, err);
    }
    set_mb1_flags(&f, off, orig | BIT(2) | BIT(7));
    expect_refused(load(f.data, f.len), NULL, "video mode and bit 7");

    /* Unknown bits in the optional half (17-31): ignored. */
    for (unsigned bit = 17; bit < 32; bit++) {
        vm_setup(16 * MiB, "");
        set_mb1_flags(&f, off, orig | BIT(bit));
        expect_loaded(load(f.data, f.len), "optional flag bit");
        assert_int_equal(boot.gpr[GPR_RAX], MB1_BOOT_MAGIC);
    }
    /* No flags at all: still the full information. */
    vm_setup(16 * MiB, "plain");
    set_mb1_flags(&f, off, 0);
    expect_loaded(load(f.data, f.len), "flags 0");
    known_reset();
    struct mbi_expect x = { 0, false, NULL, 0 };
    check_multiboot_info(&x);
    free(f.data);
}

/* ---- multiboot: the a.out kludge (flag 16) ---------------------------------------------- */

struct kludge {
    uint32_t preamble;          /* file bytes before the loaded part */
    uint32_t hdr_at;            /* header offset inside the loaded part */
    uint32_t body;              /* loaded bytes */
    uint32_t tail;              /* file bytes after the loaded part */
    uint32_t load_addr, load_end_addr, bss_end_addr, entry_addr;
    int32_t header_addr_delta;  /* added to the consistent header_addr */
};

/* A flat image: [preamble][body with the header at hdr_at][tail]; nonzero
 * bytes everywhere, so that whatever is loaded shows. */
static struct file build_kludge(const struct kludge *k)
{
    struct file f;
    f.len = (size_t)k->preamble + k->body + k->tail;
    f.data = pattern(f.len, 42);
    size_t h = k->preamble + k->hdr_at;
    assert_true(h % 4 == 0 && h + 32 <= f.len && h + 12 <= 8192);
    uint32_t flags = MB1_AOUT_KLUDGE | 0x3;
    poke_u32(f.data, h, MB1_HEADER_MAGIC);
    poke_u32(f.data, h + 4, flags);
    poke_u32(f.data, h + 8, (uint32_t)-(MB1_HEADER_MAGIC + flags));
    poke_u32(f.data, h + 12, k->load_addr + k->hdr_at + (uint32_t)k->header_addr_delta);
    poke_u32(f.data, h + 16, k->load_addr);
    poke_u32(f.data, h + 20, k->load_end_addr);
    poke_u32(f.data, h + 24, k->bss_end_addr);
    poke_u32(f.data, h + 28, k->entry_addr);
    return f;
}

static const struct kludge kludge_base = {
    .preamble = 0x100, .hdr_at = 0x40, .body = 0x2345, .tail = 0x321,
    .load_addr = 0x200000, .load_end_addr = 0x202345, .bss_end_addr = 0x205000,
    .entry_addr = 0x200080,
};

static void check_kludge_loaded(const struct kludge *k, const struct file *f,
                                const struct mb_module_in *mods, unsigned nmods)
{
    uint64_t load_len = k->load_end_addr ? k->load_end_addr - k->load_addr
                                         : f->len - k->preamble;
    uint64_t end = k->bss_end_addr ? k->bss_end_addr : k->load_addr + load_len;
    known_reset();
    if (memcmp(ram + k->load_addr, f->data + k->preamble, load_len))
        fail_msg("the a.out-kludge image is not intact at load_addr %#x", k->load_addr);
    assert_true(all_zero(k->load_addr + load_len, end - (k->load_addr + load_len)));
    assert_true(all_backed(k->load_addr, end - k->load_addr));
    known_add(k->load_addr, end - k->load_addr, "the image");
    assert_int_equal(boot.mode, GUEST_PROTECTED32);
    assert_int_equal(boot.rip, k->entry_addr);
    struct mbi_expect x = { end, true, mods, nmods };
    check_multiboot_info(&x);
    check_no_overlaps();
    check_no_stray_bytes();                 /* neither preamble nor tail was loaded */
}

static void test_aout_kludge(void **state)
{
    (void)state;
    struct kludge k = kludge_base;
    struct file f = build_kludge(&k);
    uint8_t *m = pattern(777, 9);
    struct mb_module_in mods[] = { { m, 777, "initrd" } };
    struct guest_module gm[] = { { m, 777, "initrd" } };

    vm_setup(16 * MiB, "kludge args");
    expect_loaded(load_with(f.data, f.len, gm, 1), "a.out kludge");
    check_kludge_loaded(&k, &f, mods, 1);
    assert_int_equal(g32(g32(mbi_gpa + MBI_MODS_ADDR)), 0x205000);
    free(f.data);

    /* load_end_addr 0: the rest of the file; bss_end_addr 0: no .bss. */
    k = kludge_base;
    k.load_end_addr = 0;
    k.bss_end_addr = 0;
    k.preamble = 0;
    k.tail = 0;
    f = build_kludge(&k);
    vm_setup(16 * MiB, "");
    expect_loaded(load(f.data, f.len), "a.out kludge, load_end 0");
    check_kludge_loaded(&k, &f, NULL, 0);
    free(f.data);

    /* The header at the start of a file loaded whole, odd sizes, at 1 MiB. */
    k = (struct kludge){ .preamble = 0, .hdr_at = 0, .body = 0x1001, .tail = 0,
                         .load_addr = 0x100000, .load_end_addr = 0x101001,
                         .bss_end_addr = 0x101003, .entry_addr = 0x100020 };
    f = build_kludge(&k);
    vm_setup(2 * MiB, "");
    expect_loaded(load(f.data, f.len), "a.out kludge at 1 MiB");
    check_kludge_loaded(&k, &f, NULL, 0);
    free(f.data);

    free(m);
}

static void test_aout_kludge_refused(void **state)
{
    (void)state;
    struct {
        const char *what, *needle;
        struct kludge k;
    } cases[] = {
        { "header_addr below load_addr", "inconsistent",
          { .preamble = 0, .hdr_at = 0x40, .body = 0x1000, .load_addr = 0x200000,
            .load_end_addr = 0x201000, .entry_addr = 0x200000, .header_addr_delta = -0x80 } },
        { "header_addr too far into the file", "inconsistent",
          { .preamble = 0, .hdr_at = 0x40, .body = 0x1000, .load_addr = 0x200000,
            .load_end_addr = 0x201000, .entry_addr = 0x200000, .header_addr_delta = 0x40 } },
        { "load_end_addr below load_addr", "load_end_addr",
          { .hdr_at = 0x40, .body = 0x1000, .load_addr = 0x200000, .load_end_addr = 0x1ff000,
            .entry_addr = 0x200000 } },
        { "load_end_addr past the file", "past the file",
          { .hdr_at = 0x40, .body = 0x1000, .tail = 0x10, .load_addr = 0x200000,
            .load_end_addr = 0x201011, .entry_addr = 0x200000 } },
        { "bss_end_addr below load_end_addr", "bss_end_addr",
          { .hdr_at = 0x40, .body = 0x1000, .load_addr = 0x200000, .load_end_addr = 0x201000,
            .bss_end_addr = 0x200800, .entry_addr = 0x200000 } },
        { "load_addr outside RAM", "outside",
          { .hdr_at = 0x40, .body = 0x1000, .load_addr = 0x1000000, .load_end_addr = 0x1001000,
            .entry_addr = 0x1000000 } },
        { "load_addr far outside RAM", "outside",
          { .hdr_at = 0x40, .body = 0x1000, .load_addr = 0xFFFFF000, .load_end_addr = 0,
            .entry_addr = 0x200000 } },
        { "the image crosses the end of RAM", "outside",
          { .hdr_at = 0x40, .body = 0x2000, .load_addr = 0xFFF000, .load_end_addr = 0x1001000,
            .entry_addr = 0xFFF000 } },
        { "bss_end_addr past the end of RAM", "outside",
          { .hdr_at = 0x40, .body = 0x1000, .load_addr = 0x200000, .load_end_addr = 0x201000,
            .bss_end_addr = 0x1000001, .entry_addr = 0x200000 } },
        { "entry point outside RAM", "entry point",
          { .hdr_at = 0x40, .body = 0x1000, .load_addr = 0x200000, .load_end_addr = 0x201000,
            .entry_addr = 0x1000000 } },
        { "entry point at 4 GiB - 1", "entry point",
          { .hdr_at = 0x40, .body = 0x1000, .load_addr = 0x200000, .load_end_addr = 0x201000,
            .entry_addr = 0xFFFFFFFF } },
    };
    for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
        struct file f = build_kludge(&cases[i].k);
        vm_setup(16 * MiB, "");
        expect_refused(load(f.data, f.len), cases[i].needle, cases[i].what);
        free(f.data);
    }

    /* A header with flag 16 whose address fields the file cuts off. */
    for (size_t cut = 12; cut < 32; cut += 4) {
        struct file f;
        f.len = 0x100 + cut;
        f.data = pattern(f.len, 5);
        uint32_t flags = MB1_AOUT_KLUDGE;
        poke_u32(f.data, 0x100, MB1_HEADER_MAGIC);
        poke_u32(f.data, 0x104, flags);
        poke_u32(f.data, 0x108, (uint32_t)-(MB1_HEADER_MAGIC + flags));
        vm_setup(16 * MiB, "");
        expect_refused(load(f.data, f.len), "truncated", "truncated kludge header");
        free(f.data);
    }

    /* A flat image with a multiboot header but neither ELF nor flag 16. */
    struct file f;
    f.len = 0x400;
    f.data = pattern(f.len, 6);
    poke_u32(f.data, 0x80, MB1_HEADER_MAGIC);
    poke_u32(f.data, 0x84, 0x3);
    poke_u32(f.data, 0x88, (uint32_t)-(MB1_HEADER_MAGIC + 0x3));
    vm_setup(16 * MiB, "");
    expect_refused(load(f.data, f.len), "a.out kludge", "flat multiboot without flag 16");
    free(f.data);
}

/* A multiboot image in low memory, where the information goes (0x8000 up)
 * and where the memory map reserves 0x9FC00-0x100000: it must be refused, or
 * loaded intact with its modules in available memory -- never overwritten by
 * the information. */
static void test_multiboot_low_image(void **state)
{
    (void)state;
    static const uint32_t addrs[] = { 0x1000, 0x7000, 0x7C00, 0x8000, 0x8400, 0x20000, 0x9E000 };
    for (size_t i = 0; i < ARRAY_SIZE(addrs); i++) {
        struct kludge k = { .hdr_at = 0x40, .body = 0x1800, .load_addr = addrs[i],
                            .load_end_addr = addrs[i] + 0x1800, .bss_end_addr = 0,
                            .entry_addr = addrs[i] };
        struct file f = build_kludge(&k);
        uint8_t *m = pattern(3000, 7);
        struct mb_module_in mods[] = { { m, 3000, "low-module" } };
        struct guest_module gm[] = { { m, 3000, "low-module" } };
        vm_setup(16 * MiB, "a command line");
        int rc = load_with(f.data, f.len, gm, 1);
        if (rc) {
            expect_refused(rc, NULL, "low image");
        } else {
            check_kludge_loaded(&k, &f, mods, 1);
        }
        free(m);
        free(f.data);
    }
}

/* ---- crafted ELF images --------------------------------------------------------------- */

struct seg_spec { uint32_t type; uint64_t paddr, filesz, memsz; };

/* An ELF executable with the given program headers; segment file data are
 * nonzero patterns, placed one after the other. */
static struct file build_elf(bool is64, uint64_t entry, const struct seg_spec *s, unsigned n)
{
    struct bytebuf b = { 0 };
    size_t ehsize = is64 ? sizeof(Elf64_Ehdr) : sizeof(Elf32_Ehdr);
    size_t phsize = is64 ? sizeof(Elf64_Phdr) : sizeof(Elf32_Phdr);
    bb_zeros(&b, ehsize + n * phsize);
    uint64_t off[16];
    assert_true(n <= 16);
    for (unsigned i = 0; i < n; i++) {
        bb_align(&b, 16);
        off[i] = b.len;
        uint8_t *p = pattern(s[i].filesz, 50 + i);
        bb_put(&b, p, s[i].filesz);
        free(p);
    }
    if (is64) {
        Elf64_Ehdr eh = { 0 };
        memcpy(eh.e_ident, ELFMAG, SELFMAG);
        eh.e_ident[EI_CLASS] = ELFCLASS64;
        eh.e_ident[EI_DATA] = ELFDATA2LSB;
        eh.e_ident[EI_VERSION] = EV_CURRENT;
        eh.e_type = ET_EXEC;
        eh.e_machine = EM_X86_64;
        eh.e_version = EV_CURRENT;
        eh.e_entry = entry;
        eh.e_phoff = ehsize;
        eh.e_ehsize = (uint16_t)ehsize;
        eh.e_phentsize = (uint16_t)phsize;
        eh.e_phnum = (uint16_t)n;
        memcpy(b.data, &eh, sizeof(eh));
        for (unsigned i = 0; i < n; i++) {
            Elf64_Phdr ph = { .p_type = s[i].type, .p_flags = PF_R | PF_W | PF_X,
                              .p_offset = off[i], .p_vaddr = s[i].paddr, .p_paddr = s[i].paddr,
                              .p_filesz = s[i].filesz, .p_memsz = s[i].memsz, .p_align = 16 };
            memcpy(b.data + ehsize + i * phsize, &ph, sizeof(ph));
        }
    } else {
        Elf32_Ehdr eh = { 0 };
        memcpy(eh.e_ident, ELFMAG, SELFMAG);
        eh.e_ident[EI_CLASS] = ELFCLASS32;
        eh.e_ident[EI_DATA] = ELFDATA2LSB;
        eh.e_ident[EI_VERSION] = EV_CURRENT;
        eh.e_type = ET_EXEC;
        eh.e_machine = EM_386;
        eh.e_version = EV_CURRENT;
        eh.e_entry = (uint32_t)entry;
        eh.e_phoff = (uint32_t)ehsize;
        eh.e_ehsize = (uint16_t)ehsize;
        eh.e_phentsize = (uint16_t)phsize;
        eh.e_phnum = (uint16_t)n;
        memcpy(b.data, &eh, sizeof(eh));
        for (unsigned i = 0; i < n; i++) {
            Elf32_Phdr ph = { .p_type = s[i].type, .p_flags = PF_R | PF_W | PF_X,
                              .p_offset = (uint32_t)off[i], .p_vaddr = (uint32_t)s[i].paddr,
                              .p_paddr = (uint32_t)s[i].paddr, .p_filesz = (uint32_t)s[i].filesz,
                              .p_memsz = (uint32_t)s[i].memsz, .p_align = 16 };
            memcpy(b.data + ehsize + i * phsize, &ph, sizeof(ph));
        }
    }
    struct file f = { (uint8_t *)exact_copy(b.data, b.len), b.len };
    bb_free(&b);
    return f;
}

static void test_elf32_entry(void **state)
{
    (void)state;
    /* A plain ELF32 (no multiboot header): protected mode, no information. */
    const struct seg_spec segs[] = {
        { PT_LOAD, 0x100000, 0x1234, 0x1234 },
        { PT_NOTE, 0x900000, 0x10, 0x10 },          /* not loaded */
        { PT_LOAD, 0x102000, 0x100, 0x3000 },
    };
    struct file f = build_elf(false, 0x100010, segs, ARRAY_SIZE(segs));
    struct elf e = parse_elf(&f);
    vm_setup(16 * MiB, "ignored");
    cfg.rflags = 0x202;
    expect_loaded(load(f.data, f.len), "ELF32");
    known_reset();
    check_segments(&f, &e);
    check_no_stray_bytes();
    assert_int_equal(boot.mode, GUEST_PROTECTED32);
    assert_int_equal(boot.rip, 0x100010);
    assert_int_equal(boot.rflags, 0x202);
    for (unsigned i = 0; i < GPR_COUNT; i++)
        assert_int_equal(boot.gpr[i], 0);
    free(f.data);

    /* hello32.elf forced to entry=elf32: the same, without multiboot. */
    f = load_guest("hello32.elf");
    e = parse_elf(&f);
    vm_setup(16 * MiB, "");
    cfg.entry = ENTRY_ELF32;
    expect_loaded(load(f.data, f.len), "hello32 as elf32");
    known_reset();
    check_segments(&f, &e);
    check_no_stray_bytes();                 /* no multiboot information either */
    assert_int_equal(boot.mode, GUEST_PROTECTED32);
    assert_int_equal(boot.rip, e.entry);
    assert_int_equal(boot.gpr[GPR_RAX], 0);
    free(f.data);
}

static void test_segments_outside_ram(void **state)
{
    (void)state;
    const uint64_t ram_size = 16 * MiB;
    struct {
        const char *what;
        bool is64;
        struct seg_spec s;
    } cases[] = {
        { "ELF32 at the end of RAM", false, { PT_LOAD, 16 * MiB, 0x10, 0x10 } },
        { "ELF32 crossing the end of RAM", false, { PT_LOAD, 16 * MiB - 0x800, 0x10, 0x1000 } },
        { "ELF32 .bss crossing the end", false, { PT_LOAD, 16 * MiB - 0x1000, 0x1000, 0x1001 } },
        { "ELF32 at 4 GiB - 4 KiB", false, { PT_LOAD, 0xFFFFF000, 0x10, 0x2000 } },
        { "ELF32 huge memsz", false, { PT_LOAD, 0x100000, 0x10, 0xFFFFFFF0 } },
        { "ELF64 above 4 GiB", true, { PT_LOAD, 0x100000000ULL, 0x10, 0x10 } },
        { "ELF64 wrapping around", true, { PT_LOAD, 0xFFFFFFFFFFFFF000ULL, 0x10, 0x2000 } },
        { "ELF64 huge memsz", true, { PT_LOAD, 0x100000, 0x10, 0xFFFFFFFFFFFFF000ULL } },
        { "ELF64 crossing the end", true, { PT_LOAD, 16 * MiB - 0x1000, 0x10, 0x2000 } },
    };
    for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
        /* One good segment first, then the bad one. */
        struct seg_spec segs[] = { { PT_LOAD, 0x100000, 0x100, 0x100 }, cases[i].s };
        struct file f = build_elf(cases[i].is64, 0x100000, segs, 2);
        vm_setup(ram_size, "");
        expect_refused(load(f.data, f.len), "outside", cases[i].what);
        free(f.data);
    }

    /* hello32.elf with a segment moved past the end of a 2 MiB VM. */
    struct file f = load_guest("hello32.elf");
    struct elf e = parse_elf(&f);
    for (unsigned i = 0; i < e.phnum; i++) {
        uint8_t *copy = exact_copy(f.data, f.len);
        size_t ph = e.phoff + (size_t)i * e.phentsize;
        poke_u32(copy, ph + 12, 2 * MiB - 0x10);               /* p_paddr */
        vm_setup(2 * MiB, "");
        expect_refused(load(copy, f.len), "outside", "hello32 segment past the RAM");
        free(copy);
    }
    free(f.data);

    /* An ELF64 reaching into the 64-bit boot area at the top of RAM. */
    const struct seg_spec top[] = { { PT_LOAD, 2 * MiB - 0x8000, 0x100, 0x100 } };
    f = build_elf(true, 2 * MiB - 0x8000, top, 1);
    vm_setup(2 * MiB, "");
    expect_refused(load(f.data, f.len), "boot area", "ELF64 in the boot area");
    free(f.data);

    /* No loadable segment at all. */
    const struct seg_spec none[] = { { PT_NOTE, 0x100000, 0x10, 0x10 } };
    for (int is64 = 0; is64 < 2; is64++) {
        f = build_elf(is64, 0x100000, none, 1);
        vm_setup(16 * MiB, "");
        expect_refused(load(f.data, f.len), "loadable", "no PT_LOAD");
        free(f.data);
    }
}

static void test_entry_outside_ram(void **state)
{
    (void)state;
    const struct seg_spec segs[] = { { PT_LOAD, 0x100000, 0x1000, 0x2000 } };
    static const uint64_t entries[] = { 16 * MiB, 16 * MiB + 0x100, 0xFFFFFFF0 };

    for (size_t i = 0; i < ARRAY_SIZE(entries); i++) {
        /* Plain ELF32 and ELF64. */
        for (int is64 = 0; is64 < 2; is64++) {
            struct file f = build_elf(is64, entries[i], segs, 1);
            vm_setup(16 * MiB, "");
            expect_refused(load(f.data, f.len), "entry point", is64 ? "ELF64 entry" : "ELF32 entry");
            free(f.data);
        }
        /* The real guests with their entry point moved. */
        static const char *const guests[] = { "hello32.elf", "hello64.elf" };
        for (size_t g = 0; g < ARRAY_SIZE(guests); g++) {
            struct file f = load_guest(guests[g]);
            if (f.data[EI_CLASS] == ELFCLASS64)
                memcpy(f.data + 24, &entries[i], 8);
            else
                poke_u32(f.data, 24, (uint32_t)entries[i]);
            vm_setup(16 * MiB, "");
            expect_refused(load(f.data, f.len), "entry point", guests[g]);
            if (g == 0) {
                /* hello32 also as a plain ELF32. */
                vm_setup(16 * MiB, "");
                cfg.entry = ENTRY_ELF32;
                expect_refused(load(f.data, f.len), "entry point", "hello32 as elf32");
            }
            free(f.data);
        }
    }
    /* ELF64: an entry point inside RAM but outside the image is refused too. */
    struct file f = build_elf(true, 0x8000, segs, 1);
    vm_setup(16 * MiB, "");
    expect_refused(load(f.data, f.len), "entry point", "ELF64 entry below its image");
    free(f.data);
}

/* ---- truncated and broken files ----------------------------------------------------------- */

static void test_truncated(void **state)
{
    (void)state;
    static const char *const guests[] = { "hello32.elf", "hello64.elf" };
    for (size_t g = 0; g < ARRAY_SIZE(guests); g++) {
        struct file f = load_guest(guests[g]);
        struct elf e = parse_elf(&f);
        uint64_t need = 0;                          /* the end of the last segment's bytes */
        for (unsigned i = 0; i < e.nload; i++)
            need = MAX(need, e.load[i].offset + e.load[i].filesz);
        vm_setup(16 * MiB, "");
        /* Every length that cuts into a header or a segment, sampled, plus
         * the edges. */
        /* (Fewer than 4 bytes hold no ELF magic: a flat binary.) */
        for (uint64_t len = 4; len < need; len += (len < 256 ? 1 : 97)) {
            expect_refused(load(f.data, (size_t)len), NULL, guests[g]);
            assert_int_equal(vm.stats.ram_pages, 0);        /* refused before writing */
        }
        expect_refused(load(f.data, (size_t)need - 1), "truncated", guests[g]);
        /* Cut after the loadable bytes (section headers gone): still loads. */
        vm_setup(16 * MiB, "");
        expect_loaded(load(f.data, (size_t)need), guests[g]);
        free(f.data);
    }
    /* An empty module. */
    vm_setup(16 * MiB, "");
    expect_refused(load("", 0), "empty", "empty image");
}

static void test_wrong_entry_kind(void **state)
{
    (void)state;
    struct file h32 = load_guest("hello32.elf"), h64 = load_guest("hello64.elf");
    struct file r16 = load_guest("real16.bin");

    vm_setup(16 * MiB, "");
    cfg.entry = ENTRY_ELF64;
    expect_refused(load(h32.data, h32.len), "ELF64", "hello32 as elf64");
    expect_refused(load(r16.data, r16.len), "ELF64", "real16 as elf64");
    cfg.entry = ENTRY_ELF32;
    expect_refused(load(h64.data, h64.len), "ELF32", "hello64 as elf32");
    cfg.entry = ENTRY_MULTIBOOT;
    expect_refused(load(h64.data, h64.len), "multiboot", "hello64 as multiboot");
    expect_refused(load(r16.data, r16.len), "multiboot", "real16 as multiboot");

    /* Anything can be started in real mode as a flat binary. */
    vm_setup(16 * MiB, "");
    cfg.entry = ENTRY_REAL;
    expect_loaded(load(h32.data, h32.len), "hello32 as real");
    assert_int_equal(boot.mode, GUEST_REAL);
    assert_int_equal(boot.rip, 0x7C00);
    assert_memory_equal(ram + 0x7C00, h32.data, h32.len);
    free(h32.data);
    free(h64.data);
    free(r16.data);
}

/* ---- elf64: hello64.elf ---------------------------------------------------------------- */

/* Translates `va` through 4-level paging the way the CPU would; -1 when not
 * mapped.  Only 2 MiB pages are expected. */
static int64_t walk64(uint64_t cr3, uint64_t va)
{
    uint64_t table = cr3 & PTE_ADDR;
    static const unsigned shifts[] = { 39, 30, 21 };
    for (unsigned level = 0; level < 3; level++) {
        need_ram(table, PAGE_SIZE);
        uint64_t e = g64(table + ((va >> shifts[level]) & 511) * 8);
        if (!(e & PTE_P))
            return -1;
        assert_true(e & PTE_RW);
        if (level < 2) {
            if (e & PTE_PS)
                fail_msg("level %u entry %#llx for %#llx is a large page", level,
                         (unsigned long long)e, (unsigned long long)va);
            table = e & PTE_ADDR;
            continue;
        }
        if (!(e & PTE_PS))
            fail_msg("PDE %#llx for %#llx is not a 2 MiB page", (unsigned long long)e,
                     (unsigned long long)va);
        uint64_t base = e & PTE_ADDR;
        if (base % (2 * MiB))
            fail_msg("PDE %#llx: 2 MiB page not aligned", (unsigned long long)e);
        return (int64_t)(base + (va & (2 * MiB - 1)));
    }
    return -1;
}

static void check_identity_map(uint64_t cr3)
{
    /* Every 2 MiB of RAM, its first and last byte, maps to itself. */
    for (uint64_t va = 0; va < vm.ram_size; va += 2 * MiB) {
        assert_int_equal(walk64(cr3, va), va);
        uint64_t last = MIN(va + 2 * MiB, vm.ram_size) - 1;
        assert_int_equal(walk64(cr3, last), last);
    }
    assert_int_equal(walk64(cr3, vm.ram_size - 1), vm.ram_size - 1);
    /* Random addresses inside RAM. */
    uint64_t seed = vm.ram_size;
    for (int i = 0; i < 2000; i++) {
        uint64_t va = rng_below(&seed, vm.ram_size);
        assert_int_equal(walk64(cr3, va), va);
    }
    /* The whole low 4 GiB is identity-mapped, the device windows of the
     * 32-bit MMIO hole included (the test device at 0xFEB00000); nothing above. */
    assert_int_equal(walk64(cr3, 0xFEB00000ULL), 0xFEB00000ULL);
    assert_int_equal(walk64(cr3, 4 * GiB - 1), 4 * GiB - 1);
    assert_int_equal(walk64(cr3, 4 * GiB), -1);
    assert_int_equal(walk64(cr3, 512 * GiB), -1);
    assert_int_equal(walk64(cr3, 0xFFFF800000000000ULL), -1);
    assert_int_equal(walk64(cr3, 0xFFFFFFFF80000000ULL), -1);
}

/* The pages the tables occupy (PML4, PDPT, one PD per GiB), found by walking. */
static void add_page_tables(uint64_t cr3)
{
    known_add(cr3 & PTE_ADDR, PAGE_SIZE, "the PML4");
    uint64_t pdpt = g64(cr3 & PTE_ADDR) & PTE_ADDR;
    known_add(pdpt, PAGE_SIZE, "the PDPT");
    for (unsigned g = 0; g < 512; g++) {
        uint64_t e = g64(pdpt + g * 8);
        if (e & PTE_P)
            known_add(e & PTE_ADDR, PAGE_SIZE, "a PD");
    }
    /* Only PML4 entry 0 is used. */
    for (unsigned i = 1; i < 512; i++)
        assert_int_equal(g64((cr3 & PTE_ADDR) + i * 8), 0);
}

static void load_hello64_checked(uint64_t ram_size, const char *args)
{
    struct file f = load_guest("hello64.elf");
    struct elf e = parse_elf(&f);
    assert_true(e.is64);

    vm_setup(ram_size, args);
    expect_loaded(load(f.data, f.len), "hello64.elf");
    known_reset();
    check_segments(&f, &e);
    assert_int_equal(boot.mode, GUEST_LONG64);
    assert_int_equal(boot.rip, e.entry);
    assert_int_equal(boot.rflags, RFLAGS_DEFAULT);
    assert_int_equal(boot.gpr[GPR_RSI], ram_size);

    /* CR3: page aligned, in RAM, above the image, identity-mapping RAM. */
    assert_int_equal(boot.cr3 % PAGE_SIZE, 0);
    need_ram(boot.cr3, PAGE_SIZE);
    check_identity_map(boot.cr3);
    add_page_tables(boot.cr3);

    /* RDI: the argument string. */
    assert_string_equal(gstr(boot.gpr[GPR_RDI]), vm.args);
    known_add(boot.gpr[GPR_RDI], strlen(vm.args) + 1, "the argument string");

    /* RSP: inside RAM, 16-byte aligned, with room below it that holds
     * nothing else (the stack grows down over free memory). */
    assert_int_equal(boot.rsp % 16, 0);
    assert_true(boot.rsp <= ram_size && boot.rsp >= 4 * KiB);
    for (unsigned i = 0; i < nknown; i++)
        if (overlaps(boot.rsp - 4 * KiB, 4 * KiB, known[i].start, known[i].len))
            fail_msg("the first 4 KiB of stack below %#llx overlap %s",
                     (unsigned long long)boot.rsp, known[i].what);

    check_no_overlaps();
    check_no_stray_bytes();
    free(f.data);
}

static void test_elf64_hello64(void **state)
{
    (void)state;
    load_hello64_checked(16 * MiB, "status=7 name=\"x y\"");
    load_hello64_checked(2 * MiB, "");                          /* VM_MIN_MEM */
    load_hello64_checked(2 * MiB + 4 * KiB, "odd size");
    load_hello64_checked(64 * MiB + 12 * KiB, "a");
    char longest[VM_ARGS_MAX];
    memset(longest, 'a', sizeof(longest) - 1);
    longest[sizeof(longest) - 1] = '\0';
    load_hello64_checked(16 * MiB, longest);
}

/* More than one GiB: one PD per GiB, up to VM_MAX_MEM.  Guest RAM is a
 * calloc'ed buffer: only the pages the loader touches become resident. */
static void test_elf64_large_ram(void **state)
{
    (void)state;
    load_hello64_checked(GiB, "one GiB");
    load_hello64_checked(GiB + 2 * MiB + 4 * KiB, "just over");
    load_hello64_checked(VM_MAX_MEM, "the most");
    unsigned pds = 0;
    uint64_t pdpt = g64(boot.cr3) & PTE_ADDR;
    for (unsigned g = 0; g < 512; g++)
        pds += !!(g64(pdpt + g * 8) & PTE_P);
    assert_int_equal(pds, 4);       /* the low 4 GiB: RAM and the MMIO hole */
    vm_teardown();
}

/* ---- real mode: real16.bin ---------------------------------------------------------------- */

static void test_real16(void **state)
{
    (void)state;
    struct file f = load_guest("real16.bin");
    assert_true(f.len > 0 && f.len <= 512);

    vm_setup(16 * MiB, "");
    expect_loaded(load(f.data, f.len), "real16.bin");
    assert_memory_equal(ram + 0x7C00, f.data, f.len);
    assert_int_equal(boot.mode, GUEST_REAL);
    assert_int_equal(boot.rip, 0x7C00);
    assert_int_equal(boot.rflags, RFLAGS_DEFAULT);
    known_reset();
    known_add(0x7C00, f.len, "the image");
    check_no_stray_bytes();

    /* load= elsewhere; rflags= passed on. */
    vm_setup(2 * MiB, "");
    cfg.load = 0x1000;
    cfg.rflags = 0x3002;
    expect_loaded(load(f.data, f.len), "real16.bin at 0x1000");
    assert_memory_equal(ram + 0x1000, f.data, f.len);
    assert_int_equal(boot.rip, 0x1000);
    assert_int_equal(boot.rflags, 0x3002);
    assert_true(all_zero(0x7C00, f.len));

    /* Up to the BIOS area at 0xF0000, not into it. */
    vm_setup(2 * MiB, "");
    cfg.load = 0xF0000 - f.len;
    expect_loaded(load(f.data, f.len), "real16.bin just below 0xF0000");
    cfg.load = 0xF0000 - f.len + 1;
    expect_refused(load(f.data, f.len), "does not fit", "real16.bin into the BIOS area");
    cfg.load = 0xFFFFF;
    expect_refused(load(f.data, f.len), "does not fit", "real16.bin at 0xFFFFF");
    free(f.data);
}

/* ---- running out of host memory --------------------------------------------------------- */

/* With fewer pages than a load needs, every load fails with a message;
 * with exactly enough, it succeeds. */
static void test_out_of_memory(void **state)
{
    (void)state;
    struct file h32 = load_guest("hello32.elf"), h64 = load_guest("hello64.elf");
    struct file kl = build_kludge(&kludge_base);
    uint8_t *m = pattern(9000, 11);
    struct guest_module gm[] = { { m, 9000, "mod-a" }, { m, 100, "mod-b" } };
    struct { const char *what; struct file *f; const struct guest_module *gm; unsigned n; } cases[] = {
        { "hello32 with modules", &h32, gm, 2 },
        { "hello64", &h64, NULL, 0 },
        { "a.out kludge", &kl, gm, 1 },
    };
    for (size_t c = 0; c < ARRAY_SIZE(cases); c++) {
        vm_setup(4 * MiB, "args");
        expect_loaded(load_with(cases[c].f->data, cases[c].f->len, cases[c].gm, cases[c].n),
                      cases[c].what);
        long needed = (long)vm.stats.ram_pages;
        assert_true(needed > 3);
        for (long k = 0; k <= needed; k++) {
            vm_setup(4 * MiB, "args");
            pages_left = k;
            int rc = load_with(cases[c].f->data, cases[c].f->len, cases[c].gm, cases[c].n);
            if (k < needed)
                expect_refused(rc, NULL, cases[c].what);
            else
                expect_loaded(rc, cases[c].what);
        }
    }
    free(m);
    free(kl.data);
    free(h32.data);
    free(h64.data);
}

/* A short error buffer: the message is cut, NUL-terminated, never overrun. */
static void test_short_error_buffer(void **state)
{
    (void)state;
    struct file f = load_guest("hello64.elf");
    vm_setup(16 * MiB, "");
    cfg.entry = ENTRY_ELF32;
    struct vm_image img = { .data = f.data, .size = f.len };
    for (size_t len = 1; len < 24; len++) {
        char *small = malloc(len);
        assert_non_null(small);
        memset(small, 'x', len);
        assert_int_equal(vm_load_image(&vm, &cfg, &img, &boot, small, len), -1);
        assert_non_null(memchr(small, 0, len));
        free(small);
    }
    free(f.data);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_multiboot_hello32),
        cmocka_unit_test(test_multiboot_hello32_modules),
        cmocka_unit_test(test_multiboot_module_too_big),
        cmocka_unit_test(test_multiboot_flags),
        cmocka_unit_test(test_aout_kludge),
        cmocka_unit_test(test_aout_kludge_refused),
        cmocka_unit_test(test_multiboot_low_image),
        cmocka_unit_test(test_elf32_entry),
        cmocka_unit_test(test_segments_outside_ram),
        cmocka_unit_test(test_entry_outside_ram),
        cmocka_unit_test(test_truncated),
        cmocka_unit_test(test_wrong_entry_kind),
        cmocka_unit_test(test_elf64_hello64),
        cmocka_unit_test(test_elf64_large_ram),
        cmocka_unit_test(test_real16),
        cmocka_unit_test(test_out_of_memory),
        cmocka_unit_test(test_short_error_buffer),
    };
    return cmocka_run_group_tests_name("loader", tests, NULL, group_teardown);
}
