/*
 * The C half of the start code: everything that must happen before the
 * guest's main function (hypervisor detection, console choice), then the
 * call, then the exit with main's return value.
 */
#include "sdk_internal.h"

/* Selects the console from the guest's own command line, so that any guest
 * can be told to use the hypercall console without being rebuilt. */
#define CONSOLE_OPTION          "console"
#define CONSOLE_OPTION_MAX      16

static const char *start_cmdline = "";

const char *guest_cmdline(void)
{
    return start_cmdline;
}

static void apply_console_option(const char *cmdline)
{
    char value[CONSOLE_OPTION_MAX];

    if (!cmdline_get_str(cmdline, CONSOLE_OPTION, value, sizeof(value)))
        return;
    if (strcmp(value, "port") == 0)
        hv_console_set_mode(HV_CONSOLE_PORT);
    else if (strcmp(value, "hypercall") != 0)
        printf("guest: unknown console=%s (port or hypercall), keeping the port\n", value);
    else if (!hv_present())
        printf("guest: console=hypercall needs the hypervisor, keeping port 0xE9\n");
    else
        hv_console_set_mode(HV_CONSOLE_HYPERCALL);
}

static void sdk_init(const char *cmdline)
{
    start_cmdline = cmdline ? cmdline : "";
    (void)hv_present();             /* detect now, before anything prints */
    apply_console_option(start_cmdline);
}

#ifdef __x86_64__

noreturn void sdk_start_elf64(const char *args, uint64_t ram_size)
{
    sdk_init(args);
    hv_exit(guest_main64(guest_cmdline(), ram_size));
}

#else

noreturn void sdk_start_mb32(uint32_t magic, const struct multiboot_info *mbi)
{
    /* Without the right magic EBX means nothing: do not dereference it. */
    const char *cmdline = NULL;

    if (magic == MULTIBOOT_BOOTLOADER_MAGIC && mbi && (mbi->flags & MULTIBOOT_INFO_CMDLINE))
        cmdline = (const char *)(uintptr_t)mbi->cmdline;
    sdk_init(cmdline);
    hv_exit(guest_main(magic, mbi));
}

#endif
