/* Multiboot2 information parser; see include/hv/mb2.h. */
#include <hv/mb2.h>
#include <hv/kstring.h>

struct mb2_tag {
    uint32_t type;
    uint32_t size;
};

static uint32_t rd32(const uint8_t *p) { uint32_t v; memcpy(&v, p, 4); return v; }
static uint64_t rd64(const uint8_t *p) { uint64_t v; memcpy(&v, p, 8); return v; }

/* A string inside a tag must be NUL-terminated within the tag. */
static const char *tag_string(const uint8_t *s, size_t room)
{
    return strnlen((const char *)s, room) < room ? (const char *)s : NULL;
}

static int parse_mmap(const uint8_t *tag, uint32_t size, struct mb2_info *out, const char **err)
{
    if (size < 16) {
        *err = "memory map tag shorter than its 16-byte header";
        return -1;
    }
    uint32_t entry_size = rd32(tag + 8);
    if (entry_size < 24 || entry_size % 8) {
        *err = "memory map entry_size is not a multiple of 8 of at least 24 bytes";
        return -1;
    }
    /* `entry_size <= size - off`, not `off + entry_size <= size`: a huge
     * entry_size would wrap the 32-bit sum and read outside the tag. */
    for (uint32_t off = 16; entry_size <= size - off; off += entry_size) {
        if (out->mmap_count == MB2_MAX_MMAP) {
            out->mmap_dropped++;
            continue;
        }
        struct mb2_mmap_entry *e = &out->mmap[out->mmap_count++];
        e->base = rd64(tag + off);
        e->length = rd64(tag + off + 8);
        e->type = rd32(tag + off + 16);
    }
    return 0;
}

static int parse_module(const uint8_t *tag, uint32_t size, struct mb2_info *out, const char **err)
{
    if (size < 17) {
        *err = "module tag too short for start, end and a command line";
        return -1;
    }
    const char *cmd = tag_string(tag + 16, size - 16);
    if (!cmd) {
        *err = "module command line is not NUL-terminated inside its tag";
        return -1;
    }
    uint32_t start = rd32(tag + 8), end = rd32(tag + 12);
    if (end < start) {
        *err = "module ends before it starts (mod_end < mod_start)";
        return -1;
    }
    if (out->module_count == MB2_MAX_MODULES) {
        out->modules_dropped++;
        return 0;
    }
    struct mb2_module *m = &out->modules[out->module_count++];
    m->start = start;
    m->end = end;
    m->cmdline = cmd;
    return 0;
}

static int parse_framebuffer(const uint8_t *tag, uint32_t size, struct mb2_info *out, const char **err)
{
    if (size < 31) {
        *err = "framebuffer tag shorter than its 31-byte common part";
        return -1;
    }
    struct mb2_framebuffer *fb = &out->fb;
    fb->addr = rd64(tag + 8);
    fb->pitch = rd32(tag + 16);
    fb->width = rd32(tag + 20);
    fb->height = rd32(tag + 24);
    fb->bpp = tag[28];
    fb->type = tag[29];
    if (fb->type == MB2_FB_RGB) {
        if (size < 38) {
            *err = "RGB framebuffer tag lacks its colour field positions";
            return -1;
        }
        /* tag[30..31] is reserved; the colour info starts at offset 32. */
        fb->red_pos = tag[32];
        fb->red_size = tag[33];
        fb->green_pos = tag[34];
        fb->green_size = tag[35];
        fb->blue_pos = tag[36];
        fb->blue_size = tag[37];
    }
    fb->present = true;
    return 0;
}

int mb2_parse(const void *mbi, size_t avail, struct mb2_info *out, const char **err)
{
    const uint8_t *base = mbi;
    static const char *dummy;
    bool saw_end = false;

    if (!err)
        err = &dummy;
    memset(out, 0, sizeof(*out));
    out->cmdline = "";

    if (!mbi) {
        *err = "no multiboot2 information structure (EBX = 0)";
        return -1;
    }
    if ((uintptr_t)mbi % 8) {
        *err = "multiboot2 information structure is not 8-byte aligned";
        return -1;
    }
    if (avail < 8) {
        *err = "multiboot2 information structure is smaller than its header";
        return -1;
    }
    uint32_t total = rd32(base);
    if (total < 16 || total > avail) {
        *err = "multiboot2 total_size is implausible (below 16 bytes or beyond the readable area)";
        return -1;
    }
    out->total_size = total;

    for (uint32_t off = 8; off + 8 <= total; off = ALIGN_UP(off + rd32(base + off + 4), 8u)) {
        const uint8_t *tag = base + off;
        uint32_t type = rd32(tag), size = rd32(tag + 4);

        if (size < 8 || size > total - off) {
            *err = "a tag's size is below 8 bytes or runs past total_size";
            return -1;
        }
        int rc = 0;
        switch (type) {
        case MB2_TAG_END:
            saw_end = true;
            break;
        case MB2_TAG_CMDLINE:
        case MB2_TAG_BOOTLOADER: {
            const char *s = tag_string(tag + 8, size - 8);
            if (!s) {
                *err = "command line or boot loader name is not NUL-terminated inside its tag";
                return -1;
            }
            if (type == MB2_TAG_CMDLINE)
                out->cmdline = s;
            else
                out->bootloader = s;
            break;
        }
        case MB2_TAG_MODULE:
            rc = parse_module(tag, size, out, err);
            break;
        case MB2_TAG_BASIC_MEMINFO:
            if (size < 16) {
                *err = "basic memory information tag too short";
                return -1;
            }
            out->have_meminfo = true;
            out->mem_lower_kb = rd32(tag + 8);
            out->mem_upper_kb = rd32(tag + 12);
            break;
        case MB2_TAG_MMAP:
            rc = parse_mmap(tag, size, out, err);
            break;
        case MB2_TAG_FRAMEBUFFER:
            rc = parse_framebuffer(tag, size, out, err);
            break;
        case MB2_TAG_ACPI_OLD:
        case MB2_TAG_ACPI_NEW: {
            size_t need = type == MB2_TAG_ACPI_OLD ? 20 : 36;
            if (size - 8 < need) {
                *err = "ACPI RSDP tag is shorter than the RSDP it must hold";
                return -1;
            }
            /* Prefer the ACPI 2.0+ copy when both are given (it has the XSDT). */
            int rev = type == MB2_TAG_ACPI_OLD ? 1 : 2;
            if (rev > out->rsdp_revision) {
                out->rsdp = tag + 8;
                out->rsdp_len = size - 8;
                out->rsdp_revision = rev;
            }
            break;
        }
        case MB2_TAG_BOOTDEV:
        case MB2_TAG_VBE:
        case MB2_TAG_ELF_SECTIONS:
        case MB2_TAG_APM:
        case MB2_TAG_LOAD_BASE_ADDR:
            break;
        default:
            out->unknown_tags++;
            break;
        }
        if (rc)
            return rc;
        if (saw_end)
            break;
    }
    if (!saw_end) {
        *err = "multiboot2 information has no end tag";
        return -1;
    }
    return 0;
}

const char *mb2_mem_type_name(uint32_t type)
{
    switch (type) {
    case MB2_MEM_AVAILABLE:         return "available";
    case MB2_MEM_RESERVED:          return "reserved";
    case MB2_MEM_ACPI_RECLAIMABLE:  return "ACPI reclaimable";
    case MB2_MEM_NVS:               return "ACPI NVS";
    case MB2_MEM_BADRAM:            return "bad RAM";
    default:                        return "unknown";
    }
}
