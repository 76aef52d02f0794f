/* A minimal freestanding executable: the ELF32 and ELF64 images test_image
 * checks are built from it (see ../Makefile).  Never run. */
volatile unsigned long tiny_counter;
unsigned char tiny_bss[8192];

void _start(void);
void _start(void)
{
    for (;;) {
        tiny_counter++;
        tiny_bss[tiny_counter % sizeof(tiny_bss)] = 1;
        __asm__ volatile("hlt");
    }
}
