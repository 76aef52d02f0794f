/* A 32-bit multiboot (v1) kernel in miniature: the Multiboot 0.6.96 header
 * (section 3.1.1) must lie 4-byte aligned within the first 8192 bytes of the
 * file, with magic + flags + checksum == 0 (mod 2^32).  It is placed at the
 * start of .text, which the linker puts at file offset 0x1000.  Never run. */
#define MB1_MAGIC   0x1BADB002u
#define MB1_FLAGS   0x00000003u     /* page-align modules, want a memory map */

__attribute__((section(".text.multiboot"), used, aligned(4)))
const unsigned int multiboot_header[3] = {
    MB1_MAGIC, MB1_FLAGS, (unsigned int)-(MB1_MAGIC + MB1_FLAGS),
};

void _start(void);
void _start(void)
{
    for (;;)
        __asm__ volatile("cli; hlt");
}
