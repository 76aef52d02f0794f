/*
 * Multiboot2 boot information parser (Multiboot2 specification, section 3.6).
 * Pure: it reads the information structure through a pointer and never touches
 * hardware, so the host unit tests feed it byte buffers.
 */
#ifndef HV_MB2_H
#define HV_MB2_H

#include <hv/types.h>

#define MB2_BOOTLOADER_MAGIC    0x36D76289u

/* Tag types (spec 3.6.x). */
#define MB2_TAG_END             0
#define MB2_TAG_CMDLINE         1
#define MB2_TAG_BOOTLOADER      2
#define MB2_TAG_MODULE          3
#define MB2_TAG_BASIC_MEMINFO   4
#define MB2_TAG_BOOTDEV         5
#define MB2_TAG_MMAP            6
#define MB2_TAG_VBE             7
#define MB2_TAG_FRAMEBUFFER     8
#define MB2_TAG_ELF_SECTIONS    9
#define MB2_TAG_APM             10
#define MB2_TAG_ACPI_OLD        14
#define MB2_TAG_ACPI_NEW        15
#define MB2_TAG_LOAD_BASE_ADDR  21

/* Memory map entry types (spec 3.6.8). */
#define MB2_MEM_AVAILABLE       1
#define MB2_MEM_RESERVED        2
#define MB2_MEM_ACPI_RECLAIMABLE 3
#define MB2_MEM_NVS             4
#define MB2_MEM_BADRAM          5

/* Framebuffer types (spec 3.6.12). */
#define MB2_FB_INDEXED          0
#define MB2_FB_RGB              1
#define MB2_FB_EGA_TEXT         2

#define MB2_MAX_MMAP            128
#define MB2_MAX_MODULES         32

struct mb2_mmap_entry {
    uint64_t base;
    uint64_t length;
    uint32_t type;
};

struct mb2_module {
    phys_addr_t start;
    phys_addr_t end;            /* exclusive */
    const char *cmdline;        /* points into the info structure */
};

struct mb2_framebuffer {
    bool present;
    uint8_t type;
    uint8_t bpp;
    phys_addr_t addr;
    uint32_t pitch, width, height;
    uint8_t red_pos, red_size, green_pos, green_size, blue_pos, blue_size;
};

struct mb2_info {
    uint32_t total_size;
    const char *cmdline;        /* "" when the loader gave none */
    const char *bootloader;     /* NULL when absent */

    bool have_meminfo;
    uint32_t mem_lower_kb, mem_upper_kb;

    struct mb2_mmap_entry mmap[MB2_MAX_MMAP];
    size_t mmap_count;
    size_t mmap_dropped;        /* entries beyond MB2_MAX_MMAP */

    struct mb2_module modules[MB2_MAX_MODULES];
    size_t module_count;
    size_t modules_dropped;

    struct mb2_framebuffer fb;

    const void *rsdp;           /* copy of the RSDP inside the info structure */
    size_t rsdp_len;
    int rsdp_revision;          /* 0: none, 1: ACPI 1.0 (tag 14), 2: ACPI 2.0+ (tag 15) */

    unsigned unknown_tags;
};

/*
 * Parses the information structure at `mbi`, which the caller guarantees is
 * readable for at least `avail` bytes (the structure's own total_size is checked
 * against it).  Returns 0, or -1 with *err naming what is malformed.
 */
int mb2_parse(const void *mbi, size_t avail, struct mb2_info *out, const char **err);

const char *mb2_mem_type_name(uint32_t type);

#endif
