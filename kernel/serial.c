/* COM1 16550 UART driver for the host console: polled, 115200 baud, 8N1. */
#include <hv/log.h>
#include <hv/x86.h>

#define COM1_BASE       0x3F8
#define UART_THR        0       /* transmit holding register (DLAB = 0) */
#define UART_DLL        0       /* divisor latch low (DLAB = 1) */
#define UART_IER        1
#define UART_DLM        1
#define UART_FCR        2
#define UART_LCR        3
#define UART_MCR        4
#define UART_LSR        5
#define UART_SCR        7

#define LCR_8N1         0x03
#define LCR_DLAB        0x80
#define FCR_ENABLE_CLEAR 0xC7   /* enable FIFOs, clear both, 14-byte trigger */
#define MCR_DTR_RTS_OUT2 0x0B
#define LSR_THRE        0x20
#define LSR_DATA_READY  0x01
#define UART_RBR        0

#define UART_CLOCK      115200  /* 1.8432 MHz / 16 */
#define BAUD            115200
#define THRE_SPIN_LIMIT 100000  /* give up on a dead UART rather than hang */

static bool serial_present;

void serial_init(void)
{
    /* A missing UART floats the bus: the scratch register will not hold a value. */
    outb(COM1_BASE + UART_SCR, 0x5A);
    if (inb(COM1_BASE + UART_SCR) != 0x5A)
        return;
    outb(COM1_BASE + UART_IER, 0);
    outb(COM1_BASE + UART_LCR, LCR_DLAB);
    outb(COM1_BASE + UART_DLL, (UART_CLOCK / BAUD) & 0xFF);
    outb(COM1_BASE + UART_DLM, (UART_CLOCK / BAUD) >> 8);
    outb(COM1_BASE + UART_LCR, LCR_8N1);
    outb(COM1_BASE + UART_FCR, FCR_ENABLE_CLEAR);
    outb(COM1_BASE + UART_MCR, MCR_DTR_RTS_OUT2);
    serial_present = true;
}

static void serial_putc(char c)
{
    for (unsigned i = 0; i < THRE_SPIN_LIMIT; i++)
        if (inb(COM1_BASE + UART_LSR) & LSR_THRE)
            break;
    outb(COM1_BASE + UART_THR, (uint8_t)c);
}

void serial_write(const char *s, size_t n)
{
    if (!serial_present)
        return;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '\n')
            serial_putc('\r');
        serial_putc(s[i]);
    }
}

/* One byte typed on the host console, or -1.  Safe from any core: it touches
 * only RBR/LSR, while the log (under its lock) writes THR. */
int serial_read_byte(void)
{
    if (!serial_present || !(inb(COM1_BASE + UART_LSR) & LSR_DATA_READY))
        return -1;
    return inb(COM1_BASE + UART_RBR);
}
