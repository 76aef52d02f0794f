/*
 * Recognises the kernel images a GRUB module may hold and checks that their
 * headers are consistent with the module's size: ELF32/ELF64 executables
 * (System V ABI), multiboot (v1) and multiboot2 kernels.  Pure: it only reads
 * the bytes it is given.  The guest loaders build on it.
 */
#ifndef HV_IMAGE_H
#define HV_IMAGE_H

#include <hv/types.h>

enum image_kind {
    IMAGE_EMPTY,
    IMAGE_RAW,              /* no recognised header: a flat binary */
    IMAGE_ELF32,
    IMAGE_ELF64,
};

struct image_info {
    enum image_kind kind;
    uint64_t entry;                 /* ELF entry point */
    uint16_t machine;               /* ELF e_machine */
    uint16_t phnum;
    bool multiboot1;                /* multiboot (v1) header in the first 8 KiB */
    uint32_t multiboot1_flags;
    uint32_t multiboot1_offset;
    bool multiboot2;                /* multiboot2 header in the first 32 KiB */
};

/* Returns 0, or -1 with *err saying what is broken (truncated, inconsistent). */
int image_identify(const void *data, size_t len, struct image_info *out, const char **err);
const char *image_kind_name(enum image_kind k);

#endif
