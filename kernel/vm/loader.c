/*
 * Guest loaders: put an image into a VM's RAM and say how its vCPU starts.
 *   multiboot  the Multiboot 0.6.96 boot protocol, as GRUB's `multiboot`
 *              command does it: 32-bit protected mode, EAX = 0x2BADB002,
 *              EBX = a multiboot information structure (memory, command line,
 *              memory map, the guest's own modules, boot loader name)
 *   elf32      an ELF32 entered in 32-bit protected mode, no information
 *   elf64      an ELF64 entered in 64-bit mode on identity-mapped page tables,
 *              RDI = its argument string, RSI = its RAM size
 *   real       a flat binary at `load` (default 0x7C00), real mode CS:IP = 0:load
 * Every number taken from the image is checked against the VM's RAM first.
 */
#include <hv/vm_internal.h>
#include <hv/guestmem.h>
#include <hv/image.h>
#include <hv/format.h>
#include <hv/kstring.h>
#include <hv/log.h>
#include <hv/x86.h>

#define MB1_HEADER_MAGIC        0x1BADB002u
#define MB1_BOOT_MAGIC          0x2BADB002u
#define MB1_FLAG_PAGE_ALIGN     BIT(0)      /* modules on 4 KiB boundaries */
#define MB1_FLAG_MEMORY_INFO    BIT(1)
#define MB1_FLAG_VIDEO_MODE     BIT(2)
#define MB1_FLAG_AOUT_KLUDGE    BIT(16)     /* load addresses in the header */
#define MB1_REQUIRED_MASK       0xFFFFu     /* bits a loader must understand */
#define MB1_SUPPORTED_REQUIRED  (MB1_FLAG_PAGE_ALIGN | MB1_FLAG_MEMORY_INFO)

/* multiboot_info.flags bits (spec 3.3). */
#define MBI_MEMORY              BIT(0)
#define MBI_CMDLINE             BIT(2)
#define MBI_MODS                BIT(3)
#define MBI_MMAP                BIT(6)
#define MBI_LOADER_NAME         BIT(9)

#define MBI_GPA                 0x8000      /* information area, below the EBDA */
#define MBI_AREA_END            0x9F000
#define LOW_RAM_END             0x9FC00     /* 639 KiB of conventional memory */
#define HIGH_RAM_START          0x100000
#define BIOS_AREA_START         0xF0000
#define MMAP_ENTRY_SIZE_FIELD   20          /* "size" excludes the size field itself */
#define MB_MEM_AVAILABLE        1
#define MB_MEM_RESERVED         2

#define PT_LOAD                 1
#define PTE_P                   BIT(0)
#define PTE_RW                  BIT(1)
#define PTE_PS                  BIT(7)
#define ELF64_BOOT_AREA         (64 * KiB)  /* page tables + args + stack at the RAM top */
#define RFLAGS_DEFAULT          0x2

struct mb1_info {
    uint32_t flags, mem_lower, mem_upper, boot_device, cmdline, mods_count, mods_addr;
    uint32_t syms[4];
    uint32_t mmap_length, mmap_addr, drives_length, drives_addr, config_table;
    uint32_t boot_loader_name, apm_table;
} __packed;

struct mb1_module { uint32_t mod_start, mod_end, string, reserved; } __packed;
struct mb1_mmap { uint32_t size; uint64_t addr, len; uint32_t type; } __packed;

struct mb1_header {
    uint32_t magic, flags, checksum;
    uint32_t header_addr, load_addr, load_end_addr, bss_end_addr, entry_addr;
} __packed;

#define LOAD_ERR(...) do { ksnprintf(err, errlen, __VA_ARGS__); return -1; } while (0)

static uint16_t rd16(const uint8_t *p) { uint16_t v; memcpy(&v, p, 2); return v; }
static uint32_t rd32(const uint8_t *p) { uint32_t v; memcpy(&v, p, 4); return v; }
static uint64_t rd64(const uint8_t *p) { uint64_t v; memcpy(&v, p, 8); return v; }

static bool fits_ram(const struct vm *vm, uint64_t gpa, uint64_t len)
{
    return gpa < vm->ram_size && len <= vm->ram_size - gpa;
}

/* Copies the file part of a segment and backs (zeroed) pages for the rest. */
static int place(struct vm *vm, uint64_t gpa, const uint8_t *src, uint64_t filesz, uint64_t memsz)
{
    if (vm_write_phys(vm, gpa, src, filesz))
        return -1;
    for (uint64_t off = ALIGN_UP(gpa + filesz, PAGE_SIZE); off < gpa + memsz; off += PAGE_SIZE)
        if (!vm_ram_page(vm, off))
            return -1;
    return 0;
}

/* Loads every PT_LOAD segment at its physical address (p_paddr): that is how
 * GRUB loads multiboot ELF kernels.  Returns the start of the lowest segment
 * and the end of the highest. */
static int load_elf(struct vm *vm, const uint8_t *d, size_t len, uint64_t *bottom,
                    uint64_t *top, char *err, size_t errlen)
{
    bool is64 = d[4] == 2;
    uint64_t phoff = is64 ? rd64(d + 32) : rd32(d + 28);
    uint16_t phentsize = rd16(d + (is64 ? 54 : 42)), phnum = rd16(d + (is64 ? 56 : 44));

    *top = 0;
    *bottom = UINT64_MAX;
    for (unsigned i = 0; i < phnum; i++) {
        const uint8_t *ph = d + phoff + (uint64_t)i * phentsize;   /* bounds checked by image_identify */
        if (rd32(ph) != PT_LOAD)
            continue;
        uint64_t off = is64 ? rd64(ph + 8) : rd32(ph + 4);
        uint64_t paddr = is64 ? rd64(ph + 24) : rd32(ph + 12);
        uint64_t filesz = is64 ? rd64(ph + 32) : rd32(ph + 16);
        uint64_t memsz = is64 ? rd64(ph + 40) : rd32(ph + 20);
        if (!fits_ram(vm, paddr, memsz))
            LOAD_ERR("ELF segment %u at %#llx-%#llx lies outside the VM's %llu MiB of RAM", i,
                     (unsigned long long)paddr, (unsigned long long)(paddr + memsz),
                     (unsigned long long)(vm->ram_size / MiB));
        if (off + filesz > len)
            LOAD_ERR("ELF segment %u runs past the end of the file", i);
        if (place(vm, paddr, d + off, filesz, memsz))
            LOAD_ERR("out of memory loading ELF segment %u", i);
        *top = MAX(*top, paddr + memsz);
        *bottom = MIN(*bottom, paddr);
    }
    if (*top == 0)
        LOAD_ERR("ELF has no loadable segment");
    return 0;
}

/* Multiboot header with the a.out kludge (spec 3.1.3): load the file from
 * header_addr's offset, as a flat image, at load_addr. */
static int load_aout_kludge(struct vm *vm, const uint8_t *d, size_t len, uint32_t hdr_off,
                            const struct mb1_header *h, uint64_t *top, char *err, size_t errlen)
{
    if (h->header_addr < h->load_addr || h->header_addr - h->load_addr > hdr_off)
        LOAD_ERR("multiboot header: header_addr/load_addr are inconsistent");
    uint64_t file_off = hdr_off - (h->header_addr - h->load_addr);
    uint64_t load_len = h->load_end_addr ? (uint64_t)h->load_end_addr - h->load_addr : len - file_off;
    uint64_t mem_end = h->bss_end_addr ? h->bss_end_addr : h->load_addr + load_len;
    if (h->load_end_addr && h->load_end_addr < h->load_addr)
        LOAD_ERR("multiboot header: load_end_addr is below load_addr");
    if (file_off + load_len > len || mem_end < h->load_addr + load_len)
        LOAD_ERR("multiboot header: the load range runs past the file or bss_end_addr");
    if (!fits_ram(vm, h->load_addr, mem_end - h->load_addr))
        LOAD_ERR("multiboot image %#x-%#llx lies outside the VM's RAM", h->load_addr,
                 (unsigned long long)mem_end);
    if (place(vm, h->load_addr, d + file_off, load_len, mem_end - h->load_addr))
        LOAD_ERR("out of memory loading the multiboot image");
    *top = mem_end;
    return 0;
}

/* A bump allocator over the information area at MBI_GPA. */
struct info_area { struct vm *vm; uint64_t next; bool failed; };

static uint32_t info_put(struct info_area *a, const void *data, size_t len)
{
    uint64_t at = ALIGN_UP(a->next, 8);
    if (at + len > MBI_AREA_END || vm_write_phys(a->vm, at, data, len)) {
        a->failed = true;
        return 0;
    }
    a->next = at + len;
    return (uint32_t)at;
}

static uint32_t info_string(struct info_area *a, const char *s)
{
    return info_put(a, s, strlen(s) + 1);
}

/* The guest's own modules go after its image, each on a page boundary. */
static int place_modules(struct vm *vm, const struct vm_image *img, uint64_t top,
                         struct info_area *a, uint32_t *mods_addr, char *err, size_t errlen)
{
    struct mb1_module mods[VM_MAX_GUEST_MODULES];
    uint64_t at = ALIGN_UP(top, PAGE_SIZE);
    for (unsigned i = 0; i < img->module_count; i++) {
        const struct guest_module *m = &img->modules[i];
        uint64_t size = m->size;
        if (!fits_ram(vm, at, size))
            LOAD_ERR("module '%s' (%llu bytes) does not fit in the VM's RAM", m->cmdline,
                     (unsigned long long)size);
        if (vm_write_phys(vm, at, m->data, size))
            LOAD_ERR("out of memory copying module '%s'", m->cmdline);
        mods[i] = (struct mb1_module){ (uint32_t)at, (uint32_t)(at + size),
                                       info_string(a, m->cmdline), 0 };
        at = ALIGN_UP(at + size, PAGE_SIZE);
    }
    *mods_addr = img->module_count ? info_put(a, mods, img->module_count * sizeof(mods[0])) : 0;
    return 0;
}

static int build_multiboot_info(struct vm *vm, const struct vm_image *img, uint64_t top,
                                uint32_t *mbi_gpa, char *err, size_t errlen)
{
    struct info_area a = { vm, MBI_GPA + sizeof(struct mb1_info), false };
    struct mb1_info info = { 0 };
    const struct mb1_mmap mmap[] = {
        { MMAP_ENTRY_SIZE_FIELD, 0, LOW_RAM_END, MB_MEM_AVAILABLE },
        { MMAP_ENTRY_SIZE_FIELD, LOW_RAM_END, HIGH_RAM_START - LOW_RAM_END, MB_MEM_RESERVED },
        { MMAP_ENTRY_SIZE_FIELD, HIGH_RAM_START, vm->ram_size - HIGH_RAM_START, MB_MEM_AVAILABLE },
    };

    info.flags = MBI_MEMORY | MBI_CMDLINE | MBI_MODS | MBI_MMAP | MBI_LOADER_NAME;
    info.mem_lower = LOW_RAM_END / KiB;
    info.mem_upper = (uint32_t)((vm->ram_size - HIGH_RAM_START) / KiB);
    info.cmdline = info_string(&a, vm->args);
    info.boot_loader_name = info_string(&a, "hypervisor " "multiboot loader");
    info.mmap_addr = info_put(&a, mmap, sizeof(mmap));
    info.mmap_length = sizeof(mmap);
    info.mods_count = img->module_count;
    uint32_t mods_addr;
    if (place_modules(vm, img, top, &a, &mods_addr, err, errlen))
        return -1;
    info.mods_addr = mods_addr;
    if (a.failed || vm_write_phys(vm, MBI_GPA, &info, sizeof(info)))
        LOAD_ERR("the multiboot information does not fit below %#x", MBI_AREA_END);
    *mbi_gpa = MBI_GPA;
    return 0;
}

static int find_mb1_header(const uint8_t *d, size_t len, const struct image_info *ii,
                           struct mb1_header *h, char *err, size_t errlen)
{
    size_t avail = len - ii->multiboot1_offset;
    memset(h, 0, sizeof(*h));
    memcpy(h, d + ii->multiboot1_offset, MIN(avail, sizeof(*h)));
    uint32_t unknown = h->flags & MB1_REQUIRED_MASK & ~MB1_SUPPORTED_REQUIRED;
    if (unknown & MB1_FLAG_VIDEO_MODE)
        LOAD_ERR("the multiboot header requires a video mode (flag bit 2): VMs have no "
                 "framebuffer yet");
    if (unknown)
        LOAD_ERR("the multiboot header requires features this loader does not know "
                 "(flags %#x): refusing, as the multiboot specification asks", unknown);
    if ((h->flags & MB1_FLAG_AOUT_KLUDGE) && avail < sizeof(*h))
        LOAD_ERR("the multiboot header is truncated (a.out kludge fields missing)");
    return 0;
}

static int load_multiboot(struct vm *vm, const struct vm_image *img, const struct image_info *ii,
                          struct vcpu_boot_state *boot, char *err, size_t errlen)
{
    const uint8_t *d = img->data;
    struct mb1_header h;
    uint64_t bottom, top, entry;
    uint32_t mbi;

    if (find_mb1_header(d, img->size, ii, &h, err, errlen))
        return -1;
    if (h.flags & MB1_FLAG_AOUT_KLUDGE) {
        if (load_aout_kludge(vm, d, img->size, ii->multiboot1_offset, &h, &top, err, errlen))
            return -1;
        bottom = h.load_addr;
        entry = h.entry_addr;
    } else {
        if (ii->kind != IMAGE_ELF32 && ii->kind != IMAGE_ELF64)
            LOAD_ERR("multiboot image is not ELF and has no a.out kludge addresses (flag 16)");
        if (load_elf(vm, d, img->size, &bottom, &top, err, errlen))
            return -1;
        entry = ii->entry;
    }
    /* Below 1 MiB lie the information area and the reserved hole: the image
     * would be overwritten by the information, its modules put in the hole. */
    if (bottom < HIGH_RAM_START)
        LOAD_ERR("the multiboot image loads at %#llx, below 1 MiB, where the multiboot "
                 "information goes", (unsigned long long)bottom);
    if (entry >= vm->ram_size)
        LOAD_ERR("multiboot entry point %#llx is outside the VM's RAM", (unsigned long long)entry);
    if (build_multiboot_info(vm, img, top, &mbi, err, errlen))
        return -1;
    boot->mode = GUEST_PROTECTED32;
    boot->rip = entry;
    boot->gpr[GPR_RAX] = MB1_BOOT_MAGIC;
    boot->gpr[GPR_RBX] = mbi;
    return 0;
}

/* Identity-maps the low 4 GiB (RAM and the device windows of the 32-bit MMIO
 * hole, where the guest's devices live) with 2 MiB pages: PML4, one PDPT, one
 * PD per GiB.  VM RAM never exceeds VM_MAX_MEM, below 4 GiB. */
#define BOOT_MAP_GIBS   4

static int build_identity_page_tables(struct vm *vm, uint64_t base, uint64_t *cr3)
{
    uint64_t pml4 = base, pdpt = base + PAGE_SIZE, pd = base + 2 * PAGE_SIZE;
    uint64_t e = pdpt | PTE_P | PTE_RW;

    if (vm_write_phys(vm, pml4, &e, sizeof(e)))
        return -1;
    for (uint64_t g = 0; g < BOOT_MAP_GIBS; g++) {
        /* Each PD is written in place: its guest page is one host page. */
        uint64_t *pde = vm_ram_page(vm, pd + g * PAGE_SIZE);
        e = (pd + g * PAGE_SIZE) | PTE_P | PTE_RW;
        if (!pde || vm_write_phys(vm, pdpt + g * 8, &e, sizeof(e)))
            return -1;
        for (uint64_t i = 0; i < 512; i++)
            pde[i] = ((g * 512 + i) * 2 * MiB) | PTE_P | PTE_RW | PTE_PS;
    }
    *cr3 = pml4;
    return 0;
}

static int load_elf64(struct vm *vm, const struct vm_image *img, uint64_t entry,
                      struct vcpu_boot_state *boot, char *err, size_t errlen)
{
    uint64_t bottom, top, cr3;
    uint64_t area = vm->ram_size - ELF64_BOOT_AREA;
    uint64_t args_gpa = area + (2 + BOOT_MAP_GIBS) * PAGE_SIZE;

    if (load_elf(vm, img->data, img->size, &bottom, &top, err, errlen))
        return -1;
    if (top > area)
        LOAD_ERR("the ELF64 image reaches %#llx, into the boot area at the top of RAM (%#llx): "
                 "give the VM more memory", (unsigned long long)top, (unsigned long long)area);
    if (build_identity_page_tables(vm, area, &cr3) ||
        vm_write_phys(vm, args_gpa, vm->args, strlen(vm->args) + 1))
        LOAD_ERR("out of memory building the 64-bit boot page tables");
    if (entry < bottom || entry >= top || entry >= vm->ram_size)
        LOAD_ERR("ELF64 entry point %#llx is outside its loaded image", (unsigned long long)entry);
    boot->mode = GUEST_LONG64;
    boot->rip = entry;
    boot->cr3 = cr3;
    boot->rsp = vm->ram_size - 16;             /* 16-byte aligned, inside the boot area */
    boot->gpr[GPR_RDI] = args_gpa;
    boot->gpr[GPR_RSI] = vm->ram_size;
    return 0;
}

static int load_real(struct vm *vm, const struct vm_config *cfg, const struct vm_image *img,
                     struct vcpu_boot_state *boot, char *err, size_t errlen)
{
    if (cfg->load + img->size > BIOS_AREA_START || !fits_ram(vm, cfg->load, img->size))
        LOAD_ERR("a %zu-byte real-mode image at %#llx does not fit below %#x", img->size,
                 (unsigned long long)cfg->load, BIOS_AREA_START);
    if (vm_write_phys(vm, cfg->load, img->data, img->size))
        LOAD_ERR("out of memory loading the real-mode image");
    boot->mode = GUEST_REAL;
    boot->rip = cfg->load;
    boot->rsp = cfg->load;
    return 0;
}

static enum vm_entry_kind pick_entry(const struct vm_config *cfg, const struct image_info *ii)
{
    if (cfg->entry != ENTRY_AUTO)
        return (enum vm_entry_kind)cfg->entry;
    if (ii->multiboot1)
        return ENTRY_MULTIBOOT;
    if (ii->kind == IMAGE_ELF64)
        return ENTRY_ELF64;
    if (ii->kind == IMAGE_ELF32)
        return ENTRY_ELF32;
    return ENTRY_REAL;
}

int vm_load_image(struct vm *vm, const struct vm_config *cfg, const struct vm_image *img,
                  struct vcpu_boot_state *boot, char *err, size_t errlen)
{
    struct image_info ii;
    const char *why;

    memset(boot, 0, sizeof(*boot));
    boot->rflags = cfg->rflags;
    if (image_identify(img->data, img->size, &ii, &why))
        LOAD_ERR("the image is broken: %s", why);
    switch (pick_entry(cfg, &ii)) {
    case ENTRY_MULTIBOOT:
        if (!ii.multiboot1)
            LOAD_ERR("entry=multiboot but the image has no multiboot header in its first 8 KiB");
        return load_multiboot(vm, img, &ii, boot, err, errlen);
    case ENTRY_ELF64:
        if (ii.kind != IMAGE_ELF64)
            LOAD_ERR("entry=elf64 needs an ELF64 image, this is a %s", image_kind_name(ii.kind));
        return load_elf64(vm, img, ii.entry, boot, err, errlen);
    case ENTRY_ELF32: {
        uint64_t bottom, top;
        if (ii.kind != IMAGE_ELF32)
            LOAD_ERR("entry=elf32 needs an ELF32 image, this is a %s", image_kind_name(ii.kind));
        if (load_elf(vm, img->data, img->size, &bottom, &top, err, errlen))
            return -1;
        if (ii.entry >= vm->ram_size)
            LOAD_ERR("ELF32 entry point %#llx is outside the VM's RAM",
                     (unsigned long long)ii.entry);
        boot->mode = GUEST_PROTECTED32;
        boot->rip = ii.entry;
        return 0;
    }
    case ENTRY_REAL:
    default:
        return load_real(vm, cfg, img, boot, err, errlen);
    }
}
