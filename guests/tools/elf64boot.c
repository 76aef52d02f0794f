/*
 * elf64boot: a multiboot (v1) kernel that starts an elf64 guest the way the
 * hypervisor's elf64 entry mode does, so that 64-bit guests can be tried
 * under plain QEMU, without VMX:
 *
 *     qemu-system-x86_64 -kernel elf64boot.elf -initrd "hello64.elf status=3" ...
 *
 * It loads the first module's PT_LOAD segments at their physical addresses,
 * identity-maps the first 4 GiB with 2 MiB pages, enters long mode and jumps
 * to e_entry with RDI = the module's arguments (its command line without the
 * file name), RSI = RAM size (the end of the RAM above 1 MiB), RSP near the
 * top of RAM.  It is linked at 4 MiB (GUEST_BASE in the Makefile) to stay
 * out of the guest's way at 1 MiB.  Only a test tool: the real thing is in
 * the kernel.
 */
#include <guest/guest.h>

#define EXIT_BOOT_FAILED    0x7E

#define ELF_CLASS_64        2
#define ELF_DATA_LSB        1
#define ELF_TYPE_EXEC       2
#define ELF_MACHINE_X86_64  62
#define ELF_PT_LOAD         1

#define PAGE_SIZE           4096u
#define LARGE_PAGE_SIZE     0x200000ull     /* 2 MiB */
#define PT_ENTRIES          512
#define MAPPED_GIB          4               /* identity-mapped: 0 .. 4 GiB */
#define PTE_PRESENT         (1ull << 0)
#define PTE_WRITABLE        (1ull << 1)
#define PTE_LARGE           (1ull << 7)     /* PS: a 2 MiB page in a PD */

#define LOW_MEMORY_END      0x100000u       /* mem_upper counts from 1 MiB */
#define KIB                 1024u
#define STACK_GAP           PAGE_SIZE       /* initial RSP this far below the RAM end */

struct elf64_ehdr {
    uint8_t e_ident[16];
    uint16_t e_type;
    uint16_t e_machine;
    uint32_t e_version;
    uint64_t e_entry;
    uint64_t e_phoff;
    uint64_t e_shoff;
    uint32_t e_flags;
    uint16_t e_ehsize;
    uint16_t e_phentsize;
    uint16_t e_phnum;
    uint16_t e_shentsize;
    uint16_t e_shnum;
    uint16_t e_shstrndx;
};

struct elf64_phdr {
    uint32_t p_type;
    uint32_t p_flags;
    uint64_t p_offset;
    uint64_t p_vaddr;
    uint64_t p_paddr;
    uint64_t p_filesz;
    uint64_t p_memsz;
    uint64_t p_align;
};

_Static_assert(sizeof(struct elf64_ehdr) == 64, "ELF64 header layout");
_Static_assert(sizeof(struct elf64_phdr) == 56, "ELF64 program header layout");

/* From elf64boot_enter.asm: paging on, long mode, jump.  Does not return. */
noreturn void elf64boot_enter(uint32_t pml4, uint32_t entry, uint32_t args, uint32_t ram_size,
                              uint32_t stack);

/* From the linker script: where this tool itself lives. */
extern char sdk_image_start[], sdk_image_end[];

typedef uint64_t page_table[PT_ENTRIES];

static page_table pml4 __attribute__((aligned(PAGE_SIZE)));
static page_table pdpt __attribute__((aligned(PAGE_SIZE)));
static page_table page_dirs[MAPPED_GIB] __attribute__((aligned(PAGE_SIZE)));

static void build_identity_map(void)
{
    pml4[0] = (uint32_t)(uintptr_t)pdpt | PTE_PRESENT | PTE_WRITABLE;
    for (unsigned g = 0; g < MAPPED_GIB; g++) {
        pdpt[g] = (uint32_t)(uintptr_t)page_dirs[g] | PTE_PRESENT | PTE_WRITABLE;
        for (unsigned i = 0; i < PT_ENTRIES; i++)
            page_dirs[g][i] = ((uint64_t)g * PT_ENTRIES + i) * LARGE_PAGE_SIZE | PTE_PRESENT |
                              PTE_WRITABLE | PTE_LARGE;
    }
}

static bool overlaps(uint64_t a_start, uint64_t a_end, uint64_t b_start, uint64_t b_end)
{
    return a_start < b_end && b_start < a_end;
}

static bool check_elf_header(const struct elf64_ehdr *eh, size_t size)
{
    if (size < sizeof(*eh) || memcmp(eh->e_ident, "\177ELF", 4) != 0) {
        printf("elf64boot: module is not an ELF file\n");
        return false;
    }
    if (eh->e_ident[4] != ELF_CLASS_64 || eh->e_ident[5] != ELF_DATA_LSB ||
        eh->e_type != ELF_TYPE_EXEC || eh->e_machine != ELF_MACHINE_X86_64) {
        printf("elf64boot: module is not an x86-64 ELF64 executable\n");
        return false;
    }
    if (eh->e_phentsize != sizeof(struct elf64_phdr) ||
        eh->e_phoff + (uint64_t)eh->e_phnum * sizeof(struct elf64_phdr) > size) {
        printf("elf64boot: bad program header table\n");
        return false;
    }
    return true;
}

/* Copies one PT_LOAD segment to its physical address, zero-filling the rest. */
static bool load_segment(const struct multiboot_module *mod, const struct elf64_phdr *ph,
                         uint64_t ram_end)
{
    uint64_t start = ph->p_paddr, end = ph->p_paddr + ph->p_memsz;
    uint64_t file_size = mod->mod_end - mod->mod_start;

    if (ph->p_filesz > ph->p_memsz || ph->p_offset + ph->p_filesz > file_size ||
        start < LOW_MEMORY_END || end > ram_end) {
        printf("elf64boot: segment 0x%llx..0x%llx does not fit in RAM or in the file\n",
               (unsigned long long)start, (unsigned long long)end);
        return false;
    }
    if (overlaps(start, end, (uintptr_t)sdk_image_start, (uintptr_t)sdk_image_end) ||
        overlaps(start, end, mod->mod_start, mod->mod_end)) {
        printf("elf64boot: segment 0x%llx..0x%llx overlaps elf64boot or the module\n",
               (unsigned long long)start, (unsigned long long)end);
        return false;
    }
    memcpy((void *)(uintptr_t)start, (const char *)(uintptr_t)mod->mod_start + ph->p_offset,
           (size_t)ph->p_filesz);
    memset((char *)(uintptr_t)start + ph->p_filesz, 0, (size_t)(ph->p_memsz - ph->p_filesz));
    return true;
}

static bool load_elf64(const struct multiboot_module *mod, uint64_t ram_end, uint64_t *entry)
{
    const struct elf64_ehdr *eh = (const void *)(uintptr_t)mod->mod_start;

    if (!check_elf_header(eh, mod->mod_end - mod->mod_start))
        return false;
    const struct elf64_phdr *ph = (const void *)((uintptr_t)eh + (uintptr_t)eh->e_phoff);

    for (unsigned i = 0; i < eh->e_phnum; i++) {
        if (ph[i].p_type == ELF_PT_LOAD && !load_segment(mod, &ph[i], ram_end))
            return false;
    }
    *entry = eh->e_entry;
    return true;
}

/* The module's command line minus its first word (QEMU and GRUB put the
 * file name there). */
static const char *module_arguments(const struct multiboot_module *mod)
{
    const char *s = mod->string ? (const char *)(uintptr_t)mod->string : "";

    while (*s && *s != ' ')
        s++;
    while (*s == ' ')
        s++;
    return s;
}

int guest_main(uint32_t magic, const struct multiboot_info *mbi)
{
    uint64_t entry;

    if (magic != MULTIBOOT_BOOTLOADER_MAGIC || !(mbi->flags & MULTIBOOT_INFO_MEMORY) ||
        !(mbi->flags & MULTIBOOT_INFO_MODS) || mbi->mods_count == 0) {
        printf("elf64boot: need a multiboot loader with memory info and one module "
               "(the elf64 guest)\n");
        return EXIT_BOOT_FAILED;
    }
    const struct multiboot_module *mod = (const void *)(uintptr_t)mbi->mods_addr;
    uint64_t ram_end = LOW_MEMORY_END + (uint64_t)mbi->mem_upper * KIB;
    const char *args = module_arguments(mod);

    if (!load_elf64(mod, ram_end, &entry))
        return EXIT_BOOT_FAILED;
    if (entry >= ram_end) {
        printf("elf64boot: entry point 0x%llx is outside RAM\n", (unsigned long long)entry);
        return EXIT_BOOT_FAILED;
    }
    build_identity_map();
    printf("elf64boot: entering 0x%llx, args \"%s\", RAM %llu bytes\n",
           (unsigned long long)entry, args, (unsigned long long)ram_end);
    elf64boot_enter((uint32_t)(uintptr_t)pml4, (uint32_t)entry, (uint32_t)(uintptr_t)args,
                    (uint32_t)ram_end, (uint32_t)(ram_end - STACK_GAP));
}
