/*
 * uart32: the hypervisor's 16550A on COM1 and its 8259A PICs (the default
 * devices=uart,pic), driven the way a PC operating system would:
 *   (a) polled: 8N1, divisor 1, FIFOs on; "uart: polled hello" through THR,
 *       waiting for LSR.THRE before each byte;
 *   (b) interrupt-driven: PICs remapped to vectors 0x20/0x28, everything but
 *       IRQ4 masked, MCR.OUT2 and IER.ETBEI set, STI; the IRQ 4 handler
 *       (vector 0x24) reads IIR, writes the next byte of
 *       "uart: interrupt-driven hello" and sends EOI; the main loop HLTs
 *       until the last byte is out;
 *   (c) loopback: MCR.LOOP, 16 bytes out, read back by polling LSR.DR.
 * The two hello lines appear on the host as "[<vm>:COM1] uart: ...".  The
 * results go to the debug console:
 *     uart: polled ok | uart: polled FAIL ...
 *     uart: irq ok (<n> THRE interrupts) | uart: irq FAIL ...
 *     uart: loopback ok | uart: loopback FAIL ...
 * Exit status 0 when all three passed, 1 otherwise.  Runs under plain QEMU
 * too (its PC has both devices):
 *     qemu-system-x86_64 -kernel uart32.elf -serial stdio -debugcon file:dc.log ...
 * If no interrupt ever comes, (b) waits in HLT forever: the host's timeout
 * ends the VM.
 */
#include <guest/guest.h>

#include "testlib/trap32.h"

#define EXIT_FAILED         1

/* COM1 registers (offsets from the base port), 16550A. */
#define COM1                0x3F8
#define UART_RBR            0       /* read: receive buffer (DLAB = 0) */
#define UART_THR            0       /* write: transmit holding (DLAB = 0) */
#define UART_DLL            0       /* divisor latch, low byte (DLAB = 1) */
#define UART_IER            1       /* interrupt enable (DLAB = 0) */
#define UART_DLM            1       /* divisor latch, high byte (DLAB = 1) */
#define UART_IIR            2       /* read: interrupt identification */
#define UART_FCR            2       /* write: FIFO control */
#define UART_LCR            3
#define UART_MCR            4
#define UART_LSR            5

#define IER_ERBFI           0x01    /* received data available */
#define IER_ETBEI           0x02    /* transmit holding register empty */
#define IIR_NO_INTERRUPT    0x01
#define IIR_ID_MASK         0x0E
#define IIR_ID_THRE         0x02
#define FCR_ENABLE_CLEAR    0x07    /* FIFOs on, both cleared */
#define LCR_DLAB            0x80
#define LCR_8N1             0x03
#define MCR_DTR_RTS         0x03
#define MCR_OUT2            0x08    /* gates the interrupt line on PCs */
#define MCR_LOOP            0x10
#define LSR_DR              0x01
#define LSR_THRE            0x20
#define LSR_TEMT            0x40    /* transmitter empty: FIFO and shift register */

/* The 8259A pair: master at 0x20, slave at 0xA0, slave on the master's IR2. */
#define PIC1_CMD            0x20
#define PIC1_DATA           0x21
#define PIC2_CMD            0xA0
#define PIC2_DATA           0xA1
#define PIC_ICW1_INIT_ICW4  0x11    /* edge triggered, cascade, ICW4 follows */
#define PIC1_VECTOR_BASE    0x20
#define PIC2_VECTOR_BASE    0x28
#define PIC1_ICW3_SLAVE_IR2 0x04    /* master: a slave on IR2 */
#define PIC2_ICW3_ID        0x02    /* slave: its cascade identity */
#define PIC_ICW4_8086       0x01
#define PIC_EOI             0x20
#define PIC_MASK_ALL        0xFF
#define COM1_IRQ            4
#define VEC_COM1            (PIC1_VECTOR_BASE + COM1_IRQ)
#define VEC_SPURIOUS_MASTER (PIC1_VECTOR_BASE + 7)
#define VEC_SPURIOUS_SLAVE  (PIC2_VECTOR_BASE + 7)

#define POLL_LIMIT          1000000 /* LSR reads before a bit counts as stuck */
#define LOOPBACK_BYTES      16      /* the receive FIFO's depth */

static const char polled_text[] = "uart: polled hello\n";
static const char irq_text[] = "uart: interrupt-driven hello\n";

static void uart_out(unsigned reg, uint8_t v)
{
    outb((uint16_t)(COM1 + reg), v);
}

static uint8_t uart_in(unsigned reg)
{
    return inb((uint16_t)(COM1 + reg));
}

/* Waits until LSR shows `bit`; false after POLL_LIMIT reads. */
static bool uart_wait(uint8_t bit)
{
    for (unsigned i = 0; i < POLL_LIMIT; i++) {
        if (uart_in(UART_LSR) & bit)
            return true;
        cpu_pause();
    }
    return false;
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

/* ---- (a) polled -------------------------------------------------------- */

static bool test_polled(void)
{
    uart_init();
    for (size_t i = 0; i < sizeof(polled_text) - 1; i++) {
        if (!uart_wait(LSR_THRE)) {
            printf("uart: polled FAIL LSR.THRE stayed clear before byte %u\n", (unsigned)i);
            return false;
        }
        uart_out(UART_THR, (uint8_t)polled_text[i]);
    }
    /* The next test clears the FIFOs: let the line go out first. */
    if (!uart_wait(LSR_TEMT)) {
        printf("uart: polled FAIL LSR.TEMT stayed clear after the last byte\n");
        return false;
    }
    printf("uart: polled ok\n");
    return true;
}

/* ---- (b) interrupt-driven ---------------------------------------------- */

static volatile size_t irq_sent;        /* bytes of irq_text written to THR */
static volatile unsigned thre_interrupts, other_interrupts, spurious_interrupts;
static volatile bool irq_done;

static void pic_init(void)
{
    outb(PIC1_CMD, PIC_ICW1_INIT_ICW4);
    outb(PIC2_CMD, PIC_ICW1_INIT_ICW4);
    outb(PIC1_DATA, PIC1_VECTOR_BASE);
    outb(PIC2_DATA, PIC2_VECTOR_BASE);
    outb(PIC1_DATA, PIC1_ICW3_SLAVE_IR2);
    outb(PIC2_DATA, PIC2_ICW3_ID);
    outb(PIC1_DATA, PIC_ICW4_8086);
    outb(PIC2_DATA, PIC_ICW4_8086);
    outb(PIC1_DATA, (uint8_t)~(1u << COM1_IRQ));
    outb(PIC2_DATA, PIC_MASK_ALL);
}

/*
 * IRQ 4.  Reading IIR with THRE as the reason acknowledges it; writing THR
 * then empties again and raises the next one.  ETBEI goes off before the
 * last byte: turning it off after would drop the line too late, the PIC
 * having latched the edge already, and leave an interrupt whose IIR says
 * "none" (harmless, and counted as "other", but not what this test is about).
 */
static void on_com1(struct trap_frame32 *frame)
{
    uint8_t iir = uart_in(UART_IIR);
    const size_t len = sizeof(irq_text) - 1;

    (void)frame;
    if (!(iir & IIR_NO_INTERRUPT) && (iir & IIR_ID_MASK) == IIR_ID_THRE) {
        thre_interrupts++;
        if (irq_sent == len - 1)
            uart_out(UART_IER, 0);
        if (irq_sent < len)
            uart_out(UART_THR, (uint8_t)irq_text[irq_sent++]);
        if (irq_sent == len)
            irq_done = true;
    } else {
        other_interrupts++;
    }
    outb(PIC1_CMD, PIC_EOI);
}

/* IR7 without a request behind it: no EOI, as the 8259A wants. */
static void on_spurious(struct trap_frame32 *frame)
{
    (void)frame;
    spurious_interrupts++;
}

/* STI's one-instruction delay makes STI;HLT atomic: an interrupt that is
 * already pending wakes the HLT rather than slipping in before it. */
static void wait_for_interrupt(void)
{
    __asm__ volatile("sti\n\t"
                     "hlt\n\t"
                     "cli"
                     : : : "memory");
}

static bool test_interrupts(void)
{
    uart_init();
    pic_init();
    trap32_set_handler(VEC_COM1, on_com1);
    trap32_set_handler(VEC_SPURIOUS_MASTER, on_spurious);
    trap32_set_handler(VEC_SPURIOUS_SLAVE, on_spurious);
    uart_out(UART_MCR, MCR_DTR_RTS | MCR_OUT2);
    uart_out(UART_IER, IER_ETBEI);          /* THR is empty: the first interrupt is due */
    while (!irq_done)
        wait_for_interrupt();
    outb(PIC1_DATA, PIC_MASK_ALL);
    uart_out(UART_MCR, MCR_DTR_RTS);
    (void)uart_wait(LSR_TEMT);              /* before the loopback test clears the FIFOs */

    /* Every byte went out in its own THRE interrupt (irq_sent == the THRE count). */
    if (irq_sent == sizeof(irq_text) - 1 && thre_interrupts == irq_sent) {
        printf("uart: irq ok (%u THRE interrupts)\n", thre_interrupts);
        return true;
    }
    printf("uart: irq FAIL sent %u of %u bytes, %u THRE interrupts, %u others, %u spurious\n",
           (unsigned)irq_sent, (unsigned)(sizeof(irq_text) - 1), thre_interrupts,
           other_interrupts, spurious_interrupts);
    return false;
}

/* ---- (c) loopback ------------------------------------------------------ */

static uint8_t loopback_byte(unsigned i)
{
    return (uint8_t)(i * 37 + 0x5A);
}

static bool test_loopback(void)
{
    uint8_t got[LOOPBACK_BYTES];
    unsigned drained = 0;

    uart_init();                            /* FIFOs cleared */
    uart_out(UART_MCR, MCR_LOOP | MCR_DTR_RTS);
    while ((uart_in(UART_LSR) & LSR_DR) && drained < POLL_LIMIT) {
        (void)uart_in(UART_RBR);
        drained++;
    }
    for (unsigned i = 0; i < LOOPBACK_BYTES; i++) {
        if (!uart_wait(LSR_THRE)) {
            uart_out(UART_MCR, MCR_DTR_RTS);
            printf("uart: loopback FAIL LSR.THRE stayed clear before byte %u\n", i);
            return false;
        }
        uart_out(UART_THR, loopback_byte(i));
    }
    for (unsigned i = 0; i < LOOPBACK_BYTES; i++) {
        if (!uart_wait(LSR_DR)) {
            uart_out(UART_MCR, MCR_DTR_RTS);
            printf("uart: loopback FAIL received %u of %u bytes\n", i, LOOPBACK_BYTES);
            return false;
        }
        got[i] = uart_in(UART_RBR);
    }
    bool extra = uart_in(UART_LSR) & LSR_DR;

    uart_out(UART_MCR, MCR_DTR_RTS);
    for (unsigned i = 0; i < LOOPBACK_BYTES; i++) {
        if (got[i] != loopback_byte(i)) {
            printf("uart: loopback FAIL byte %u is 0x%02x, sent 0x%02x\n", i, got[i],
                   loopback_byte(i));
            return false;
        }
    }
    if (extra) {
        printf("uart: loopback FAIL LSR.DR still set after %u bytes\n", LOOPBACK_BYTES);
        return false;
    }
    printf("uart: loopback ok\n");
    return true;
}

int guest_main(uint32_t magic, const struct multiboot_info *mbi)
{
    (void)magic;
    (void)mbi;
    trap32_install();

    bool polled = test_polled();
    bool irq = test_interrupts();
    bool loopback = test_loopback();

    return polled && irq && loopback ? 0 : EXIT_FAILED;
}
