/*
 * A VM's devices: which ones it has (devices= on its module command line),
 * where they sit on its buses, and how their interrupt lines reach the vCPU:
 *     UART INTR (gated by MCR.OUT2) -> 8259A IRQ 4 -> PIC INTR -> vCPU
 * The vCPU side (injecting the vector when the guest can take it) is in
 * vm_deliver_interrupts() below, called before every VM entry.
 */
#include <hv/vm_internal.h>
#include <hv/devices.h>
#include <hv/uart16550.h>
#include <hv/pic8259.h>
#include <hv/hypercall.h>
#include <hv/paging.h>
#include <hv/format.h>
#include <hv/kstring.h>
#include <hv/log.h>

#define COM1_BASE           0x3F8
#define COM2_BASE           0x2F8
#define UART_PORTS          8
#define COM1_IRQ            4
#define COM2_IRQ            3
#define PIC_MASTER_BASE     0x20
#define PIC_SLAVE_BASE      0xA0
#define PIC_PORTS           2
#define ELCR_BASE           0x4D0
#define DEBUG_EXIT_PORT     0xF4
#define UART_LINE_MAX       160
#define UART_LOG_SIZE       4096    /* per UART: the last 4 KiB it transmitted */
#define UART_LOG_TAIL_LINES 8

struct vm_uart {
    struct uart16550 uart;
    struct vm *vm;
    unsigned irq;
    const char *name;
    char line[UART_LINE_MAX];
    size_t len;
    char log[UART_LOG_SIZE];        /* ring: the VM's own log of this port */
    uint64_t logged;                /* bytes ever written to `log` */
};

struct vm_devices {
    struct vm *vm;
    int pending_input;          /* a host byte the guest's RX FIFO had no room for, or -1 */
    struct vm_uart com[2];
    struct pic8259 pic;
    struct testdev testdev;
};

static const char *const device_names[] = { "uart", "com2", "pic", "testdev" };

int vm_parse_devices(const char *list, unsigned *mask, char *err, size_t errlen)
{
    *mask = 0;
    for (const char *p = list; *p;) {
        const char *end = p;
        while (*end && *end != ',')
            end++;
        size_t n = end - p;
        unsigned i;
        for (i = 0; i < ARRAY_SIZE(device_names); i++)
            if (strlen(device_names[i]) == n && !strncmp(device_names[i], p, n))
                break;
        if (i == ARRAY_SIZE(device_names)) {
            ksnprintf(err, errlen, "devices=: unknown device '%.*s' (known: uart, com2, pic, "
                      "testdev)", (int)n, p);
            return -1;
        }
        *mask |= 1u << i;
        p = *end ? end + 1 : end;
    }
    return 0;
}

/* ---- the always-present debug devices ---- */

static void debugcon_access(void *dev, uint64_t offset, void *data, unsigned size, bool write)
{
    struct vm *vm = dev;
    (void)offset;
    if (!write) {
        *(uint8_t *)data = HV_DEBUG_CONSOLE_PORT;   /* Bochs and QEMU read back 0xE9 */
        return;
    }
    for (unsigned i = 0; i < size; i++)
        vm_console_putc(vm, ((char *)data)[i]);
}

/* QEMU's isa-debug-exit: writing V ends the VM with status (V << 1) | 1. */
static void debug_exit_access(void *dev, uint64_t offset, void *data, unsigned size, bool write)
{
    struct vm *vm = dev;
    (void)offset;
    (void)size;
    if (!write)
        return;
    uint64_t status = ((uint64_t)*(uint8_t *)data << 1) | 1;
    vm_stop(vm, STOP_EXITED, status, "exited through the debug-exit port %#x with status %llu",
            DEBUG_EXIT_PORT, (unsigned long long)status);
}

/* ---- UARTs ---- */

static void uart_flush(struct vm_uart *u)
{
    log_raw("[%s:%s] %.*s\n", u->vm->name, u->name, (int)u->len, u->line);
    u->len = 0;
}

static void uart_tx(void *ctx, uint8_t byte)
{
    struct vm_uart *u = ctx;
    if (byte == '\0' || byte == '\r')
        return;
    u->log[u->logged++ % UART_LOG_SIZE] = (char)byte;
    if (byte == '\n') {
        uart_flush(u);
        return;
    }
    u->line[u->len++] = (byte < 0x20 && byte != '\t') || byte >= 0x7F ? '?' : (char)byte;
    if (u->len == sizeof(u->line))
        uart_flush(u);
}

static void uart_irq(void *ctx, bool level)
{
    struct vm_uart *u = ctx;
    struct vm_devices *d = u->vm->devs;
    if (u->vm->device_mask & VM_DEV_PIC)
        pic8259_set_irq(&d->pic, u->irq, level);
}

static void uart_access(void *dev, uint64_t offset, void *data, unsigned size, bool write)
{
    struct vm_uart *u = dev;
    uint8_t *b = data;
    /* A wider access reaches consecutive registers, as on an 8-bit ISA bus. */
    for (unsigned i = 0; i < size && offset + i < UART_PORTS; i++) {
        if (write)
            uart16550_write(&u->uart, (unsigned)offset + i, b[i]);
        else
            b[i] = uart16550_read(&u->uart, (unsigned)offset + i);
    }
}

/* ---- the interrupt controller ---- */

static void pic_intr(void *ctx, bool level)
{
    struct vm_devices *d = ctx;
    d->vm->irq_line = level;
}

static void pic_access(void *dev, uint64_t offset, void *data, unsigned size, bool write)
{
    struct pic8259 *p = dev;
    (void)size;
    uint16_t port = (uint16_t)offset;      /* the range passes the absolute port as offset */
    if (write)
        pic8259_write(p, port, *(uint8_t *)data);
    else
        *(uint8_t *)data = pic8259_read(p, port);
}

static void pic_master_access(void *dev, uint64_t off, void *data, unsigned size, bool write)
{
    pic_access(dev, PIC_MASTER_BASE + off, data, size, write);
}

static void pic_slave_access(void *dev, uint64_t off, void *data, unsigned size, bool write)
{
    pic_access(dev, PIC_SLAVE_BASE + off, data, size, write);
}

static void elcr_access(void *dev, uint64_t off, void *data, unsigned size, bool write)
{
    pic_access(dev, ELCR_BASE + off, data, size, write);
}

static void add_uart(struct vm *vm, struct vm_uart *u, uint16_t base, unsigned irq, const char *name)
{
    const struct uart16550_host host = { .tx = uart_tx, .irq = uart_irq, .ctx = u };
    u->vm = vm;
    u->irq = irq;
    u->name = name;
    uart16550_init(&u->uart, &host);
    bus_add_pio(&vm->bus, base, UART_PORTS, uart_access, u, name);
}

int vm_create_devices(struct vm *vm, char *err, size_t errlen)
{
    struct vm_devices *d = kzalloc(sizeof(*d));
    if (!d) {
        ksnprintf(err, errlen, "out of memory for its devices");
        return -1;
    }
    vm->devs = d;
    d->vm = vm;
    d->pending_input = -1;
    bus_add_pio(&vm->bus, HV_DEBUG_CONSOLE_PORT, 1, debugcon_access, vm, "debugcon");
    bus_add_pio(&vm->bus, DEBUG_EXIT_PORT, 1, debug_exit_access, vm, "debug-exit");
    if (vm->device_mask & VM_DEV_PIC) {
        const struct pic8259_host host = { .intr = pic_intr, .ctx = d };
        pic8259_init(&d->pic, &host);
        bus_add_pio(&vm->bus, PIC_MASTER_BASE, PIC_PORTS, pic_master_access, &d->pic, "pic-master");
        bus_add_pio(&vm->bus, PIC_SLAVE_BASE, PIC_PORTS, pic_slave_access, &d->pic, "pic-slave");
        bus_add_pio(&vm->bus, ELCR_BASE, 2, elcr_access, &d->pic, "elcr");
    }
    if (vm->device_mask & VM_DEV_UART)
        add_uart(vm, &d->com[0], COM1_BASE, COM1_IRQ, "COM1");
    if (vm->device_mask & VM_DEV_COM2)
        add_uart(vm, &d->com[1], COM2_BASE, COM2_IRQ, "COM2");
    if (vm->device_mask & VM_DEV_TESTDEV) {
        bus_add_mmio(&vm->bus, TESTDEV_MMIO_BASE, TESTDEV_MMIO_SIZE, testdev_mmio, &d->testdev, "testdev");
        bus_add_pio(&vm->bus, TESTDEV_PORT_FIFO, TESTDEV_PORT_COUNT - TESTDEV_PORT_FIFO + 4,
                    testdev_pio, &d->testdev, "testdev-fifo");
    }
    return 0;
}

void vm_destroy_devices(struct vm *vm)
{
    struct vm_devices *d = vm->devs;
    if (!d)
        return;
    for (unsigned i = 0; i < 2; i++)
        if (d->com[i].len)
            uart_flush(&d->com[i]);
    kfree(d);
    vm->devs = NULL;
}

/* Called before each VM entry when the PIC's INTR is up: the interrupt is
 * acknowledged (INTA) and injected when the guest can take it, else the
 * backend asks for an exit as soon as it can (interrupt-window exiting). */
void vm_deliver_interrupts(struct vcpu *vcpu)
{
    struct vm_devices *d = vcpu->vm->devs;
    if (!virt->interrupt_window_open(vcpu)) {
        virt->request_interrupt_window(vcpu, true);
        return;
    }
    virt->request_interrupt_window(vcpu, false);
    int vector = pic8259_ack(&d->pic);
    if (vector >= 0)
        virt->inject_interrupt(vcpu, (uint8_t)vector);
}

bool vm_has_uart(const struct vm *vm)
{
    return vm->devs && (vm->device_mask & VM_DEV_UART);
}

/* Moves what was typed on the host console into the VM's COM1 receiver,
 * keeping a byte that does not fit for the next call (the host UART cannot
 * take it back). */
void vm_console_input(struct vm *vm)
{
    struct vm_devices *d = vm->devs;
    for (;;) {
        int c = d->pending_input >= 0 ? d->pending_input : serial_read_byte();
        if (c < 0)
            return;
        uint8_t byte = (uint8_t)c;
        if (!uart16550_receive(&d->com[0].uart, &byte, 1)) {
            d->pending_input = c;
            return;
        }
        d->pending_input = -1;
    }
}

/* Prints the last lines a VM wrote to its COM1 log (after an abnormal stop:
 * its last words, even when the console has long scrolled past them). */
void vm_uart_log_tail(const struct vm *vm)
{
    const struct vm_uart *u = vm->devs ? &vm->devs->com[0] : NULL;
    if (!u || !(vm->device_mask & VM_DEV_UART) || !u->logged)
        return;
    uint64_t start = u->logged > UART_LOG_SIZE ? u->logged - UART_LOG_SIZE : 0;
    unsigned newlines = 0;
    uint64_t from = u->logged;
    while (from > start) {      /* walk back over UART_LOG_TAIL_LINES complete lines */
        if (u->log[(from - 1) % UART_LOG_SIZE] == '\n' && from != u->logged &&
            ++newlines > UART_LOG_TAIL_LINES)
            break;
        from--;
    }
    log_raw("  last lines of %s's COM1 log (%llu bytes in all):\n", vm->name,
            (unsigned long long)u->logged);
    char line[UART_LINE_MAX];
    size_t n = 0;
    for (uint64_t i = from; i < u->logged; i++) {
        char c = u->log[i % UART_LOG_SIZE];
        if (c != '\n' && n < sizeof(line) - 1) {
            line[n++] = (c < 0x20 && c != '\t') || c >= 0x7F ? '?' : c;
            continue;
        }
        if (c == '\n') {
            log_raw("  | %.*s\n", (int)n, line);
            n = 0;
        }
    }
    if (n)
        log_raw("  | %.*s\n", (int)n, line);
}
