/*
 * Multiboot (version 1) structures and constants, written from the Multiboot
 * Specification 0.6.96.  The boot loader (GRUB, QEMU's -kernel, or the
 * hypervisor's multiboot entry mode) hands a kernel EAX = MULTIBOOT_BOOTLOADER_MAGIC
 * and EBX = the physical address of a struct multiboot_info.  All addresses in
 * these structures are physical and 32-bit.
 */
#ifndef GUEST_MULTIBOOT_H
#define GUEST_MULTIBOOT_H

#include <stdint.h>

/* The header a kernel puts, 4-byte aligned, in its first 8 KiB. */
#define MULTIBOOT_HEADER_MAGIC      0x1BADB002u
#define MULTIBOOT_SEARCH_BYTES      8192
#define MULTIBOOT_HEADER_ALIGN      4
/* What the loader passes in EAX. */
#define MULTIBOOT_BOOTLOADER_MAGIC  0x2BADB002u

/* Header flags: bits 0-15 are requirements the loader must meet or refuse
 * the kernel, bits 16-31 are optional features. */
#define MULTIBOOT_HEADER_PAGE_ALIGN     (1u << 0)   /* modules on 4 KiB boundaries */
#define MULTIBOOT_HEADER_MEMORY_INFO    (1u << 1)   /* mem_* and mmap_* wanted */
#define MULTIBOOT_HEADER_VIDEO_MODE     (1u << 2)   /* mode_type..depth valid */
#define MULTIBOOT_HEADER_AOUT_KLUDGE    (1u << 16)  /* address fields valid (non-ELF) */

struct multiboot_header {
    uint32_t magic;
    uint32_t flags;
    uint32_t checksum;          /* magic + flags + checksum == 0 (mod 2^32) */
    /* Valid with MULTIBOOT_HEADER_AOUT_KLUDGE: */
    uint32_t header_addr;
    uint32_t load_addr;
    uint32_t load_end_addr;
    uint32_t bss_end_addr;
    uint32_t entry_addr;
    /* Valid with MULTIBOOT_HEADER_VIDEO_MODE: */
    uint32_t mode_type;
    uint32_t width;
    uint32_t height;
    uint32_t depth;
};

/* multiboot_info.flags: which fields the loader filled in. */
#define MULTIBOOT_INFO_MEMORY           (1u << 0)   /* mem_lower, mem_upper */
#define MULTIBOOT_INFO_BOOTDEV          (1u << 1)   /* boot_device */
#define MULTIBOOT_INFO_CMDLINE          (1u << 2)   /* cmdline */
#define MULTIBOOT_INFO_MODS             (1u << 3)   /* mods_count, mods_addr */
#define MULTIBOOT_INFO_AOUT_SYMS        (1u << 4)   /* syms.aout */
#define MULTIBOOT_INFO_ELF_SHDR         (1u << 5)   /* syms.elf */
#define MULTIBOOT_INFO_MEM_MAP          (1u << 6)   /* mmap_length, mmap_addr */
#define MULTIBOOT_INFO_DRIVE_INFO       (1u << 7)   /* drives_length, drives_addr */
#define MULTIBOOT_INFO_CONFIG_TABLE     (1u << 8)   /* config_table */
#define MULTIBOOT_INFO_BOOT_LOADER_NAME (1u << 9)   /* boot_loader_name */
#define MULTIBOOT_INFO_APM_TABLE        (1u << 10)  /* apm_table */
#define MULTIBOOT_INFO_VBE_INFO         (1u << 11)  /* vbe_* */
#define MULTIBOOT_INFO_FRAMEBUFFER_INFO (1u << 12)  /* framebuffer_* */

struct multiboot_aout_symbols {
    uint32_t tabsize;
    uint32_t strsize;
    uint32_t addr;
    uint32_t reserved;
};

struct multiboot_elf_sections {
    uint32_t num;
    uint32_t size;
    uint32_t addr;
    uint32_t shndx;
};

struct multiboot_info {
    uint32_t flags;
    uint32_t mem_lower;         /* KiB of memory from 0 (at most 640) */
    uint32_t mem_upper;         /* KiB of memory from 1 MiB to the first hole */
    uint32_t boot_device;
    uint32_t cmdline;           /* physical address of a NUL-terminated string */
    uint32_t mods_count;
    uint32_t mods_addr;         /* physical address of struct multiboot_module[] */
    union {
        struct multiboot_aout_symbols aout;
        struct multiboot_elf_sections elf;
    } syms;
    uint32_t mmap_length;       /* bytes of the memory map buffer */
    uint32_t mmap_addr;         /* physical address of the first struct multiboot_mmap_entry */
    uint32_t drives_length;
    uint32_t drives_addr;
    uint32_t config_table;
    uint32_t boot_loader_name;
    uint32_t apm_table;
    uint32_t vbe_control_info;
    uint32_t vbe_mode_info;
    uint16_t vbe_mode;
    uint16_t vbe_interface_seg;
    uint16_t vbe_interface_off;
    uint16_t vbe_interface_len;
    uint64_t framebuffer_addr;
    uint32_t framebuffer_pitch;
    uint32_t framebuffer_width;
    uint32_t framebuffer_height;
    uint8_t framebuffer_bpp;
    uint8_t framebuffer_type;
    uint8_t framebuffer_color_info[6];
} __attribute__((packed));

/* One boot module: bytes [mod_start, mod_end) and its command line. */
struct multiboot_module {
    uint32_t mod_start;
    uint32_t mod_end;
    uint32_t string;            /* physical address of its NUL-terminated command line */
    uint32_t reserved;
};

/*
 * One memory map entry.  "size" is the size of the entry without the size
 * field itself (at least 20); the next entry starts size + 4 bytes further.
 * Packed because base_addr sits at offset 4, not 8.
 */
struct multiboot_mmap_entry {
    uint32_t size;
    uint64_t base_addr;
    uint64_t length;
    uint32_t type;
} __attribute__((packed));

#define MULTIBOOT_MMAP_ENTRY_MIN_SIZE   20

#define MULTIBOOT_MEMORY_AVAILABLE          1
#define MULTIBOOT_MEMORY_RESERVED           2
#define MULTIBOOT_MEMORY_ACPI_RECLAIMABLE   3
#define MULTIBOOT_MEMORY_NVS                4
#define MULTIBOOT_MEMORY_BADRAM             5

/* The layout is fixed by the specification: catch a wrong field early. */
_Static_assert(__builtin_offsetof(struct multiboot_info, mmap_length) == 44, "mbi layout");
_Static_assert(__builtin_offsetof(struct multiboot_info, vbe_mode) == 80, "mbi layout");
_Static_assert(__builtin_offsetof(struct multiboot_info, framebuffer_addr) == 88, "mbi layout");
_Static_assert(sizeof(struct multiboot_info) == 116, "mbi layout");
_Static_assert(sizeof(struct multiboot_module) == 16, "module layout");
_Static_assert(sizeof(struct multiboot_mmap_entry) == 24, "mmap entry layout");

#endif
