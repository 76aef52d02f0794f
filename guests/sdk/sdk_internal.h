/* Declarations shared by the SDK's own files; guests do not include this. */
#ifndef GUEST_SDK_INTERNAL_H
#define GUEST_SDK_INTERNAL_H

#include <guest/guest.h>

/* Called by the start code (crt0_*.asm) on the SDK's stack. */
noreturn void sdk_start_mb32(uint32_t magic, const struct multiboot_info *mbi);
noreturn void sdk_start_elf64(const char *args, uint64_t ram_size);

#endif
