/*
 * echo32: a line echo on COM1, for the host-console input test.  Uses the
 * default devices (uart,pic), polled, no interrupts:
 *   - programs COM1 for 8N1, divisor 1, FIFOs on, and prints "echo: ready";
 *   - polls LSR.DR and collects received bytes into a line, ended by '\n' or
 *     '\r' (empty lines, e.g. the '\n' of a "\r\n", are ignored; bytes beyond
 *     LINE_MAX - 1 are dropped);
 *   - echoes each line as "echo: got <line>";
 *   - on the line "quit" prints "echo: bye" and exits with status 0.
 * On the host all of it appears as "[<vm>:COM1] echo: ...", and what is typed
 * on the host's serial console reaches the VM chosen by the kernel option
 * input=NAME (default: the first VM with a UART).  It waits for input forever:
 * the host's timeout ends it if "quit" never comes.  Under plain QEMU:
 *     qemu-system-x86_64 -kernel echo32.elf -serial stdio -display none \
 *         -device isa-debug-exit,iobase=0xf4,iosize=0x04
 */
#include <guest/guest.h>

/* COM1 registers (offsets from the base port), 16550A. */
#define COM1                0x3F8
#define UART_RBR            0       /* read: receive buffer (DLAB = 0) */
#define UART_THR            0       /* write: transmit holding (DLAB = 0) */
#define UART_DLL            0       /* divisor latch, low byte (DLAB = 1) */
#define UART_IER            1       /* interrupt enable (DLAB = 0) */
#define UART_DLM            1       /* divisor latch, high byte (DLAB = 1) */
#define UART_FCR            2       /* write: FIFO control */
#define UART_LCR            3
#define UART_MCR            4
#define UART_LSR            5

#define FCR_ENABLE_CLEAR    0x07    /* FIFOs on, both cleared */
#define LCR_DLAB            0x80
#define LCR_8N1             0x03
#define MCR_DTR_RTS         0x03
#define LSR_DR              0x01
#define LSR_THRE            0x20
#define LSR_TEMT            0x40    /* transmitter empty: FIFO and shift register */

#define LINE_MAX            128

static void uart_out(unsigned reg, uint8_t v)
{
    outb((uint16_t)(COM1 + reg), v);
}

static uint8_t uart_in(unsigned reg)
{
    return inb((uint16_t)(COM1 + reg));
}

/* 8N1, divisor 1 (115200 baud), FIFOs on and empty, interrupts off. */
static void uart_init(void)
{
    uart_out(UART_IER, 0);
    uart_out(UART_LCR, LCR_DLAB);
    uart_out(UART_DLL, 1);
    uart_out(UART_DLM, 0);
    uart_out(UART_LCR, LCR_8N1);
    uart_out(UART_FCR, FCR_ENABLE_CLEAR);
    uart_out(UART_MCR, MCR_DTR_RTS);
}

static void uart_putc(char c)
{
    while (!(uart_in(UART_LSR) & LSR_THRE))
        cpu_pause();
    uart_out(UART_THR, (uint8_t)c);
}

static void uart_puts(const char *s)
{
    while (*s)
        uart_putc(*s++);
}

static char uart_getc(void)
{
    while (!(uart_in(UART_LSR) & LSR_DR))
        cpu_pause();
    return (char)uart_in(UART_RBR);
}

/* Reads one non-empty line, without its terminator. */
static void read_line(char *line)
{
    size_t n = 0;
    for (;;) {
        char c = uart_getc();
        if (c == '\n' || c == '\r') {
            if (n == 0)
                continue;
            line[n] = '\0';
            return;
        }
        if (n < LINE_MAX - 1)
            line[n++] = c;
    }
}

int guest_main(uint32_t magic, const struct multiboot_info *mbi)
{
    char line[LINE_MAX];

    (void)magic;
    (void)mbi;
    uart_init();
    uart_puts("echo: ready\n");
    for (;;) {
        read_line(line);
        uart_puts("echo: got ");
        uart_puts(line);
        uart_puts("\n");
        if (!strcmp(line, "quit"))
            break;
    }
    uart_puts("echo: bye\n");
    while (!(uart_in(UART_LSR) & LSR_TEMT))
        cpu_pause();
    hv_exit(0);
}
