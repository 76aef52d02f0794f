/*
 * hello32: the multiboot (v1) example guest.  Prints what the loader handed
 * over (magic and multiboot info), then exits with the status given as
 * status=N on its command line (default 0).  Boots under the hypervisor,
 * GRUB, and plain QEMU (-kernel): see docs/guest-sdk.md.
 */
#include <guest/guest.h>

#define MODULE_PEEK_BYTES   16      /* bytes of each module shown as text */
#define MMAP_ENTRIES_MAX    128     /* stop walking a corrupt map somewhere */
#define EXIT_BAD_MAGIC      1

static const char *mmap_type_name(uint32_t type)
{
    switch (type) {
    case MULTIBOOT_MEMORY_AVAILABLE:        return "available";
    case MULTIBOOT_MEMORY_RESERVED:         return "reserved";
    case MULTIBOOT_MEMORY_ACPI_RECLAIMABLE: return "ACPI reclaimable";
    case MULTIBOOT_MEMORY_NVS:              return "ACPI NVS";
    case MULTIBOOT_MEMORY_BADRAM:           return "bad RAM";
    default:                                return "unknown";
    }
}

static void print_environment(void)
{
    if (hv_present())
        printf("hello32: running under the hypervisor (CPUID 0x%x: \"%s\")\n",
               HV_CPUID_LEAF_BASE, HV_CPUID_SIGNATURE);
    else
        printf("hello32: no hypervisor signature: console on port 0x%X, exit through port 0x%X\n",
               HV_DEBUG_CONSOLE_PORT, QEMU_DEBUG_EXIT_PORT);
}

static void print_memory(const struct multiboot_info *mbi)
{
    if (mbi->flags & MULTIBOOT_INFO_MEMORY)
        printf("memory: mem_lower %u KiB, mem_upper %u KiB\n", mbi->mem_lower, mbi->mem_upper);
    else
        printf("memory: not provided\n");
}

static void print_loader_name(const struct multiboot_info *mbi)
{
    if (mbi->flags & MULTIBOOT_INFO_BOOT_LOADER_NAME)
        printf("boot loader: \"%s\"\n", (const char *)(uintptr_t)mbi->boot_loader_name);
}

static void print_cmdline(const struct multiboot_info *mbi)
{
    if (mbi->flags & MULTIBOOT_INFO_CMDLINE)
        printf("cmdline: \"%s\"\n", (const char *)(uintptr_t)mbi->cmdline);
    else
        printf("cmdline: not provided\n");
}

/* Entries are variable-sized: each says how far away the next one is. */
static const struct multiboot_mmap_entry *mmap_next(const struct multiboot_mmap_entry *e)
{
    return (const struct multiboot_mmap_entry *)((uintptr_t)e + e->size + sizeof(e->size));
}

static unsigned count_mmap_entries(const struct multiboot_info *mbi)
{
    uintptr_t end = (uintptr_t)mbi->mmap_addr + mbi->mmap_length;
    unsigned n = 0;

    for (const struct multiboot_mmap_entry *e = (const void *)(uintptr_t)mbi->mmap_addr;
         (uintptr_t)e < end && e->size >= MULTIBOOT_MMAP_ENTRY_MIN_SIZE && n < MMAP_ENTRIES_MAX;
         e = mmap_next(e))
        n++;
    return n;
}

static void print_mmap(const struct multiboot_info *mbi)
{
    if (!(mbi->flags & MULTIBOOT_INFO_MEM_MAP)) {
        printf("mmap: not provided\n");
        return;
    }
    unsigned n = count_mmap_entries(mbi);
    const struct multiboot_mmap_entry *e = (const void *)(uintptr_t)mbi->mmap_addr;

    printf("mmap: %u entries\n", n);
    for (unsigned i = 0; i < n; i++, e = mmap_next(e))
        printf("mmap %u: base 0x%016llx length 0x%016llx type %u (%s)\n", i,
               (unsigned long long)e->base_addr, (unsigned long long)e->length, e->type,
               mmap_type_name(e->type));
}

/* The first bytes of a module as text, unprintable ones shown as '.'. */
static void peek_module(const struct multiboot_module *m, char *out, size_t out_size)
{
    size_t size = m->mod_end - m->mod_start;
    const char *data = (const char *)(uintptr_t)m->mod_start;
    size_t n = size < out_size - 1 ? size : out_size - 1;

    for (size_t i = 0; i < n; i++)
        out[i] = data[i] >= ' ' && data[i] <= '~' ? data[i] : '.';
    out[n] = '\0';
}

static void print_modules(const struct multiboot_info *mbi)
{
    if (!(mbi->flags & MULTIBOOT_INFO_MODS)) {
        printf("modules: not provided\n");
        return;
    }
    const struct multiboot_module *mods = (const void *)(uintptr_t)mbi->mods_addr;

    printf("modules: %u\n", mbi->mods_count);
    for (uint32_t i = 0; i < mbi->mods_count; i++) {
        char peek[MODULE_PEEK_BYTES + 1];
        const char *cmdline = mods[i].string ? (const char *)(uintptr_t)mods[i].string : "";

        peek_module(&mods[i], peek, sizeof(peek));
        printf("module %u: cmdline \"%s\" size %u first %u bytes \"%s\"\n", i, cmdline,
               mods[i].mod_end - mods[i].mod_start, (unsigned)strlen(peek), peek);
    }
}

int guest_main(uint32_t magic, const struct multiboot_info *mbi)
{
    printf("hello from hello32 (multiboot, 32-bit protected mode)\n");
    print_environment();
    if (magic != MULTIBOOT_BOOTLOADER_MAGIC) {
        printf("multiboot magic BAD 0x%08x (expected 0x%08x)\n", magic, MULTIBOOT_BOOTLOADER_MAGIC);
        return EXIT_BAD_MAGIC;      /* EBX means nothing then: read no further */
    }
    printf("multiboot magic ok\n");
    printf("multiboot info at 0x%08x, flags 0x%08x\n", (unsigned)(uintptr_t)mbi, mbi->flags);
    print_loader_name(mbi);
    print_memory(mbi);
    print_cmdline(mbi);
    print_mmap(mbi);
    print_modules(mbi);

    int status = (int)cmdline_get_or(guest_cmdline(), "status", 0);

    printf("hello32: exiting with status %d\n", status);
    return status;
}
