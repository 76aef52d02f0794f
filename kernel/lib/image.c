/* Kernel image recognition; see include/hv/image.h. */
#include <hv/image.h>
#include <hv/kstring.h>

#define ELF_MAGIC               "\x7f" "ELF"
#define EI_CLASS                4
#define EI_DATA                 5
#define ELFCLASS32              1
#define ELFCLASS64              2
#define ELFDATA2LSB             1
#define ET_EXEC                 2
#define ET_DYN                  3
#define EM_386                  3
#define EM_X86_64               62
#define PT_LOAD                 1

#define MB1_MAGIC               0x1BADB002u
#define MB1_SEARCH_LEN          8192
#define MB2_MAGIC               0xE85250D6u
#define MB2_SEARCH_LEN          32768

static uint16_t rd16(const uint8_t *p) { uint16_t v; memcpy(&v, p, 2); return v; }
static uint32_t rd32(const uint8_t *p) { uint32_t v; memcpy(&v, p, 4); return v; }
static uint64_t rd64(const uint8_t *p) { uint64_t v; memcpy(&v, p, 8); return v; }

/* Checks the program headers: the table and every PT_LOAD's file bytes must
 * lie inside the image, and p_filesz may not exceed p_memsz. */
static int check_elf(const uint8_t *d, size_t len, bool is64, struct image_info *out,
                     const char **err)
{
    size_t ehsize = is64 ? 64 : 52;
    if (len < ehsize) {
        *err = "truncated ELF: shorter than its ELF header";
        return -1;
    }
    if (d[EI_DATA] != ELFDATA2LSB) {
        *err = "ELF is not little-endian";
        return -1;
    }
    uint16_t type = rd16(d + 16);
    out->machine = rd16(d + 18);
    if (type != ET_EXEC && type != ET_DYN) {
        *err = "ELF is not an executable (e_type is neither ET_EXEC nor ET_DYN)";
        return -1;
    }
    if (out->machine != (is64 ? EM_X86_64 : EM_386)) {
        *err = is64 ? "ELF64 is not for x86-64 (e_machine != EM_X86_64)"
                    : "ELF32 is not for i386 (e_machine != EM_386)";
        return -1;
    }
    uint64_t phoff = is64 ? rd64(d + 32) : rd32(d + 28);
    uint16_t phentsize = rd16(d + (is64 ? 54 : 42));
    out->phnum = rd16(d + (is64 ? 56 : 44));
    out->entry = is64 ? rd64(d + 24) : rd32(d + 24);
    if (out->phnum == 0) {
        *err = "ELF has no program headers: nothing to load";
        return -1;
    }
    if (phentsize < (is64 ? 56 : 32)) {
        *err = "ELF e_phentsize is smaller than a program header";
        return -1;
    }
    if (phoff > len || (uint64_t)out->phnum * phentsize > len - phoff) {
        *err = "truncated ELF: the program header table runs past the end of the file";
        return -1;
    }
    for (unsigned i = 0; i < out->phnum; i++) {
        const uint8_t *ph = d + phoff + (uint64_t)i * phentsize;
        if (rd32(ph) != PT_LOAD)
            continue;
        uint64_t off = is64 ? rd64(ph + 8) : rd32(ph + 4);
        uint64_t filesz = is64 ? rd64(ph + 32) : rd32(ph + 16);
        uint64_t memsz = is64 ? rd64(ph + 40) : rd32(ph + 20);
        if (filesz > memsz) {
            *err = "ELF segment has p_filesz larger than p_memsz";
            return -1;
        }
        if (off > len || filesz > len - off) {
            *err = "truncated ELF: a loadable segment runs past the end of the file";
            return -1;
        }
    }
    return 0;
}

static void find_multiboot_headers(const uint8_t *d, size_t len, struct image_info *out)
{
    /* Multiboot 0.6.96, 3.1.1: 4-byte aligned, within the first 8192 bytes,
     * magic + flags + checksum == 0 (mod 2^32). */
    for (size_t off = 0; off + 12 <= MIN(len, (size_t)MB1_SEARCH_LEN); off += 4) {
        if (rd32(d + off) == MB1_MAGIC &&
            (uint32_t)(rd32(d + off) + rd32(d + off + 4) + rd32(d + off + 8)) == 0) {
            out->multiboot1 = true;
            out->multiboot1_flags = rd32(d + off + 4);
            out->multiboot1_offset = (uint32_t)off;
            break;
        }
    }
    /* Multiboot2, 3.1.1: 8-byte aligned, within the first 32768 bytes. */
    for (size_t off = 0; off + 16 <= MIN(len, (size_t)MB2_SEARCH_LEN); off += 8) {
        if (rd32(d + off) == MB2_MAGIC &&
            (uint32_t)(rd32(d + off) + rd32(d + off + 4) + rd32(d + off + 8) +
                       rd32(d + off + 12)) == 0) {
            out->multiboot2 = true;
            break;
        }
    }
}

int image_identify(const void *data, size_t len, struct image_info *out, const char **err)
{
    const uint8_t *d = data;
    memset(out, 0, sizeof(*out));
    if (len == 0) {
        out->kind = IMAGE_EMPTY;
        *err = "empty (0 bytes)";
        return -1;
    }
    find_multiboot_headers(d, len, out);
    if (len >= 4 && !memcmp(d, ELF_MAGIC, 4)) {
        if (len <= EI_CLASS || (d[EI_CLASS] != ELFCLASS32 && d[EI_CLASS] != ELFCLASS64)) {
            *err = "ELF with an invalid class (neither ELFCLASS32 nor ELFCLASS64)";
            return -1;
        }
        bool is64 = d[EI_CLASS] == ELFCLASS64;
        out->kind = is64 ? IMAGE_ELF64 : IMAGE_ELF32;
        return check_elf(d, len, is64, out, err);
    }
    out->kind = IMAGE_RAW;
    return 0;
}

const char *image_kind_name(enum image_kind k)
{
    switch (k) {
    case IMAGE_EMPTY: return "empty";
    case IMAGE_RAW:   return "flat binary";
    case IMAGE_ELF32: return "ELF32 i386 executable";
    case IMAGE_ELF64: return "ELF64 x86-64 executable";
    }
    return "?";
}
