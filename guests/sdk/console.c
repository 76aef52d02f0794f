/* The console: port 0xE9 byte by byte, or HC_CONSOLE_WRITE. */
#include <guest/guest.h>

static enum hv_console_mode console_mode = HV_CONSOLE_PORT;

bool hv_console_set_mode(enum hv_console_mode mode)
{
    if (mode == HV_CONSOLE_HYPERCALL && !hv_present())
        return false;
    console_mode = mode;
    return true;
}

enum hv_console_mode hv_console_get_mode(void)
{
    return console_mode;
}

/* One OUT per byte rather than REP OUTSB: string I/O is harder for a
 * hypervisor to emulate, and a debug console must work first time. */
void hv_console_write_port(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++)
        outb(HV_DEBUG_CONSOLE_PORT, (uint8_t)s[i]);
}

long hv_console_write_hc(const char *s, size_t len)
{
    size_t done = 0;

    while (done < len) {
        size_t chunk = len - done;

        if (chunk > HC_CONSOLE_WRITE_MAX)
            chunk = HC_CONSOLE_WRITE_MAX;
        /* Paging is off (32-bit) or identity-mapped (64-bit), so the
         * pointer is also the guest-physical address. */
        long ret = (long)hv_hypercall(HC_CONSOLE_WRITE, (unsigned long)(uintptr_t)(s + done),
                                      chunk, 0, 0);
        if (ret < 0)
            return ret;
        if (ret == 0)
            break;              /* no progress: do not spin */
        done += (size_t)ret;
    }
    return (long)done;
}

void hv_console_write(const char *s, size_t len)
{
    if (console_mode == HV_CONSOLE_HYPERCALL) {
        long ret = hv_console_write_hc(s, len);

        if (ret >= 0 && (size_t)ret == len)
            return;
        /* Never lose output: whatever the hypercall refused goes to the port. */
        if (ret > 0) {
            s += ret;
            len -= (size_t)ret;
        }
    }
    hv_console_write_port(s, len);
}
