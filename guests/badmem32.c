/*
 * badmem32: writes to a guest-physical address outside its RAM
 * (addr=0x..., default 0xC0000000).  Under the hypervisor that address has
 * no EPT mapping, so the write must end the VM; reaching the next line is
 * the failure this guest exists to detect (exit status 1).  Under plain QEMU
 * the write lands in unassigned space and is ignored: "still alive".
 */
#include <guest/guest.h>

#define DEFAULT_ADDRESS     0xC0000000u     /* 3 GiB: PCI hole, never guest RAM */
#define POISON_BYTE         0xA5
#define EXIT_STILL_ALIVE    1
#define EXIT_BAD_ADDRESS    2
#define ADDRESS_LIMIT       0x100000000ull  /* paging is off: 32-bit addresses */

int guest_main(uint32_t magic, const struct multiboot_info *mbi)
{
    (void)magic;
    (void)mbi;

    uint64_t addr = cmdline_get_or(guest_cmdline(), "addr", DEFAULT_ADDRESS);

    if (addr >= ADDRESS_LIMIT) {
        printf("badmem: addr=0x%llx is beyond 4 GiB, which a 32-bit guest cannot reach\n",
               (unsigned long long)addr);
        return EXIT_BAD_ADDRESS;
    }
    printf("badmem: touching memory beyond RAM\n");
    printf("badmem: writing 0x%02x to 0x%08llx\n", POISON_BYTE, (unsigned long long)addr);
    *(volatile uint8_t *)(uintptr_t)addr = POISON_BYTE;
    printf("badmem: still alive\n");
    return EXIT_STILL_ALIVE;
}
