/*
 * 16550A UART model; see include/hv/uart16550.h.
 *
 * References: National Semiconductor (now TI) "PC16550D Universal
 * Asynchronous Receiver/Transmitter with FIFOs" datasheet (June 1995),
 * cited below as [DS <section>], by the datasheet's section titles ("Line
 * Status Register", "FIFO Interrupt Mode Operation", ...) and tables
 * (Table III "UART Reset Configuration", Table IV "Interrupt Control
 * Functions").
 *
 * Timing model.  The model has no clock, so every delay of the real part is
 * taken to be zero:
 *   - Transmitter: a byte written to THR moves at once through the
 *     (always empty) TX FIFO and shift register and out of SOUT, i.e. to
 *     host->tx, or to the receiver in loopback.  THR write therefore clears
 *     a pending THRE interrupt [DS Table IV: THRE is reset by "writing into the THR"]
 *     and the holding register empties again before the write returns, which
 *     sets it again.  LSR.THRE and LSR.TEMT always read 1.
 *   - Receiver timeout [DS FIFO Interrupt Mode Operation]: the real part raises the character timeout
 *     interrupt when the RX FIFO holds data and nothing was received or read
 *     for 4 character times.  Here that time has always passed: with FIFOs
 *     on, data below the trigger level always reports IIR 0Ch.  A driver's
 *     handler reads until LSR.DR is 0, so it never waits for it.
 *   - Host input is flow-controlled: uart16550_receive() accepts only what
 *     fits and never overruns.  Overrun (LSR.OE) happens when the guest
 *     transmits in loopback into a full receiver.
 *
 * Interrupt model [DS Interrupt Identification Register, Table IV].  Four sources, from highest priority:
 *   1. receiver line status (IIR 06h): LSR.OE set (PE/FE/BI never occur on
 *      a virtual line); cleared by reading LSR;
 *   2. received data available (04h): RX FIFO at or above the trigger level
 *      (non-FIFO mode: RBR full); character timeout (0Ch): FIFO mode, data
 *      below the trigger level; both cleared by reading below the level;
 *   3. THR empty (02h): a latch set whenever THR becomes empty (after every
 *      send) and when ETBEI goes from 0 to 1 while THR is empty -- always
 *      here -- as the Linux 8250 driver's THRE re-assertion test expects;
 *      cleared by a THR write or by an IIR read that reports it;
 *   4. modem status (00h): any MSR delta bit set; cleared by reading MSR.
 * Each is enabled by its IER bit.  INTR is high when any enabled source is
 * pending; a PC's serial port drives its ISA IRQ line from INTR only while
 * OUT2 is active (the OUT2 pin enables the IRQ driver), and in loopback the
 * OUT2 pin is forced inactive [DS Modem Control Register, bit 4], so the IRQ line is
 * INTR && MCR.OUT2 && !MCR.LOOP.  host->irq is called only when that line
 * changes level.
 *
 * Linux 8250 probing (drivers/tty/serial/8250/8250_port.c) finds a 16550A:
 *   autoconfig():
 *     - IER test: IER=0 reads 0, IER=0Fh reads 0Fh (IER bits 3:0 stored);
 *     - loopback test: MCR = LOOP|OUT2|RTS reads MSR 7:4 = DCD|CTS (90h),
 *       and MCR=1Fh gives F0h, MCR=10h gives 0 (loopback MSR mapping);
 *     - LCR=BFh, "EFR"=0, LCR=0: with DLAB set, offset 2 is still FCR, so
 *       this only writes FCR=0 (FIFOs off), harmless;
 *     - FCR=01h (or E7h): IIR bits 7:6 = 11 -> autoconfig_16550a().
 *   autoconfig_16550a() (CONFIG_SERIAL_8250_16550A_VARIANTS):
 *     - LCR=80h then LCR=BFh, read "EFR" at offset 2: reads IIR, which is
 *       never 0 with FIFOs on (bits 7:6 set), so no ST16C650/EFR is found;
 *     - NatSemi test (LCR=E0h, read offset 2 = IIR, compare bit 4 with
 *       MCR.LOOP, then toggle LOOP and compare again): IIR bit 4 is always
 *       0, so it never follows MCR.LOOP -> not a NS16550A SuperIO;
 *     - 16750 test: FCR=21h with LCR=0 and with DLAB: IIR bit 5 is always
 *       0 -> not a 16750;
 *     - UUE test: IER bit 6 reads 0 -> not an XScale UART;
 *     - size_fifo(): FCR=07h, loopback, 256 bytes written with the
 *       divisor at 1, then RBR read while LSR.DR: the loopback receiver
 *       keeps 16 bytes and overruns on the rest -> 16 (a 16550A, not U6).
 *   serial8250_do_startup():
 *     - FCR clear, LSR/RBR/IIR/MSR read, LSR != FFh (the "safety check");
 *     - THRE re-assertion test: IER=THRI gives IIR 02h, IER=0 then THRI
 *       again gives 02h again (no UART_BUG_THRE);
 *     - TX enable test: IER=THRI with THR empty gives LSR.TEMT and an IIR
 *       with an interrupt pending (no UART_BUG_TXEN).
 *   tests/unit/test_uart16550.c replays these steps.
 *
 * Not modelled: baud rate, word length, parity and stop bits (LCR and the
 * divisor latch are stored and read back but do not affect timing or data);
 * break (LCR bit 6 sends nothing; LSR.BI never sets); parity, framing and
 * break errors (LSR bits 2-4 and 7 read 0); DMA mode (FCR bit 3 only
 * affects the RXRDY/TXRDY pins, which a PC does not wire); the PC16550D's
 * test registers behind LSR/MSR writes (ignored).
 */
#include <hv/uart16550.h>
#include <hv/kstring.h>

/* RX FIFO trigger levels selected by FCR bits 7:6 [DS FIFO Control Register, bits 6-7]. */
static const uint8_t rx_trigger_levels[] = { 1, 4, 8, 14 };
#define FCR_TRIG_SHIFT      6

/* The PC16550D's divisor latch is undefined after reset; the model starts at
 * 12, 9600 baud from the PC's 1.8432 MHz clock (1843200 / (16 * 12)). */
#define DIVISOR_RESET       12

/* A serial line with a peer attached: CTS, DSR and DCD on, no ring. */
#define MODEM_INPUTS_RESET  (UART_MSR_CTS | UART_MSR_DSR | UART_MSR_DCD)

#define OPEN_BUS            0xFF    /* what a read of no register returns */

/* ---- helpers ----------------------------------------------------------- */

static bool fifos_enabled(const struct uart16550 *u)
{
    return u->fcr & UART_FCR_ENABLE;
}

static bool dlab(const struct uart16550 *u)
{
    return u->lcr & UART_LCR_DLAB;
}

static bool loopback(const struct uart16550 *u)
{
    return u->mcr & UART_MCR_LOOP;
}

/* With FIFOs off the receiver is the single RBR [DS Line Status Register, bit 1]. */
static unsigned rx_capacity(const struct uart16550 *u)
{
    return fifos_enabled(u) ? UART_FIFO_SIZE : 1;
}

static unsigned rx_trigger(const struct uart16550 *u)
{
    return rx_trigger_levels[(u->fcr & UART_FCR_TRIG_MASK) >> FCR_TRIG_SHIFT];
}

static void fifo_clear(struct uart16550_fifo *f)
{
    f->head = 0;
    f->count = 0;
}

static void fifo_push(struct uart16550_fifo *f, uint8_t byte)
{
    f->data[(f->head + f->count) % UART_FIFO_SIZE] = byte;
    f->count++;
}

static uint8_t fifo_pop(struct uart16550_fifo *f)
{
    uint8_t byte = f->data[f->head];
    f->head = (f->head + 1) % UART_FIFO_SIZE;
    f->count--;
    return byte;
}

/* ---- modem status ------------------------------------------------------- */

/* MSR bits 7:4.  In loopback the modem inputs are disconnected and driven
 * by the MCR outputs: CTS = RTS, DSR = DTR, RI = OUT1, DCD = OUT2
 * [DS Modem Control Register, bit 4]. */
static uint8_t modem_lines(const struct uart16550 *u)
{
    if (!loopback(u))
        return u->modem_inputs;
    uint8_t lines = 0;
    if (u->mcr & UART_MCR_RTS)
        lines |= UART_MSR_CTS;
    if (u->mcr & UART_MCR_DTR)
        lines |= UART_MSR_DSR;
    if (u->mcr & UART_MCR_OUT1)
        lines |= UART_MSR_RI;
    if (u->mcr & UART_MCR_OUT2)
        lines |= UART_MSR_DCD;
    return lines;
}

/* Delta bits for a change of the lines [DS Modem Status Register]: DCTS, DDSR and DDCD on any
 * change; TERI only when RI goes from on to off (the trailing edge). */
static uint8_t modem_deltas(uint8_t before, uint8_t after)
{
    uint8_t changed = before ^ after;
    uint8_t deltas = 0;
    if (changed & UART_MSR_CTS)
        deltas |= UART_MSR_DCTS;
    if (changed & UART_MSR_DSR)
        deltas |= UART_MSR_DDSR;
    if ((before & UART_MSR_RI) && !(after & UART_MSR_RI))
        deltas |= UART_MSR_TERI;
    if (changed & UART_MSR_DCD)
        deltas |= UART_MSR_DDCD;
    return deltas;
}

/* ---- interrupts --------------------------------------------------------- */

/* The IIR identification bits 3:0 of the highest-priority pending enabled
 * source, or UART_IIR_NO_INT [DS Interrupt Identification Register, Table IV]. */
static uint8_t pending_interrupt(const struct uart16550 *u)
{
    if ((u->ier & UART_IER_ELSI) && u->lsr_errors)
        return UART_IIR_RLSI;
    if ((u->ier & UART_IER_ERBFI) && u->rx.count) {
        if (!fifos_enabled(u) || u->rx.count >= rx_trigger(u))
            return UART_IIR_RDI;
        return UART_IIR_CTI;
    }
    if ((u->ier & UART_IER_ETBEI) && u->thre_pending)
        return UART_IIR_THRI;
    if ((u->ier & UART_IER_EDSSI) && u->msr_deltas)
        return UART_IIR_MSI;
    return UART_IIR_NO_INT;
}

/* Drives the ISA IRQ line: INTR through the OUT2 gate, which loopback
 * forces off.  Called after every state change; reports changes only. */
static void update_irq(struct uart16550 *u)
{
    bool intr = pending_interrupt(u) != UART_IIR_NO_INT;
    bool level = intr && (u->mcr & UART_MCR_OUT2) && !loopback(u);
    if (level == u->irq_level)
        return;
    u->irq_level = level;
    if (u->host.irq)
        u->host.irq(u->host.ctx, level);
}

/* ---- receiver and transmitter ------------------------------------------- */

/* A character completes in the receiver.  A full FIFO overruns: the new
 * character stays in the shift register and is lost [DS Line Status Register, bit 1];
 * without FIFOs it overwrites the unread RBR. */
static void rx_char(struct uart16550 *u, uint8_t byte)
{
    if (u->rx.count < rx_capacity(u)) {
        fifo_push(&u->rx, byte);
        return;
    }
    u->lsr_errors |= UART_LSR_OE;
    if (!fifos_enabled(u)) {
        fifo_clear(&u->rx);
        fifo_push(&u->rx, byte);
    }
}

/* THR write: the byte leaves at once (see the timing model above). */
static void write_thr(struct uart16550 *u, uint8_t byte)
{
    u->thre_pending = false;            /* writing THR clears THRE ... */
    if (loopback(u))
        rx_char(u, byte);               /* SOUT is looped back to SIN */
    else if (u->host.tx)
        u->host.tx(u->host.ctx, byte);
    u->thre_pending = true;             /* ... which empties again at once */
    update_irq(u);
}

static uint8_t read_rbr(struct uart16550 *u)
{
    if (u->rx.count)
        u->rbr = fifo_pop(&u->rx);
    update_irq(u);
    return u->rbr;
}

/* ---- registers ------------------------------------------------------------ */

static void write_ier(struct uart16550 *u, uint8_t value)
{
    uint8_t enabled = (uint8_t)(value & ~u->ier);
    u->ier = value & UART_IER_MASK;
    /* Enabling ETBEI with THR empty raises THRE (the 8250 driver relies on
     * it, see above); THR is always empty here. */
    if (enabled & UART_IER_ETBEI)
        u->thre_pending = true;
    update_irq(u);
}

/* FCR [DS FIFO Control Register]: bit 0 must be 1 for the other bits to be written; changing
 * bit 0 clears both FIFOs; bits 1 and 2 clear the RX / TX FIFO and are
 * self-clearing.  The TX FIFO is always empty (instantaneous transmitter). */
static void write_fcr(struct uart16550 *u, uint8_t value)
{
    if ((value ^ u->fcr) & UART_FCR_ENABLE)
        fifo_clear(&u->rx);
    if (!(value & UART_FCR_ENABLE)) {
        u->fcr = 0;
    } else {
        u->fcr = value & (UART_FCR_ENABLE | UART_FCR_DMA_MODE | UART_FCR_TRIG_MASK);
        if (value & UART_FCR_RX_RESET)
            fifo_clear(&u->rx);
    }
    update_irq(u);
}

/* IIR [DS Interrupt Identification Register]: bits 7:6 are set when FIFOs are on; bits 5:4 are always 0
 * on a 16550A (bit 5 set would mean a 16750's 64-byte FIFO).  Reading it
 * clears a THRE interrupt it reports. */
static uint8_t read_iir(struct uart16550 *u)
{
    uint8_t id = pending_interrupt(u);
    if (id == UART_IIR_THRI) {
        u->thre_pending = false;
        update_irq(u);
    }
    return id | (fifos_enabled(u) ? UART_IIR_FIFOS_ON : 0);
}

/* MCR [DS Modem Control Register]: entering or leaving loopback switches MSR's lines between
 * the modem inputs and the MCR outputs, which sets deltas like any change. */
static void write_mcr(struct uart16550 *u, uint8_t value)
{
    uint8_t before = modem_lines(u);
    u->mcr = value & UART_MCR_MASK;
    u->msr_deltas |= modem_deltas(before, modem_lines(u));
    update_irq(u);
}

/* LSR [DS Line Status Register]: reading clears OE (the error bits); DR follows the FIFO. */
static uint8_t read_lsr(struct uart16550 *u)
{
    uint8_t lsr = UART_LSR_THRE | UART_LSR_TEMT | u->lsr_errors;
    if (u->rx.count)
        lsr |= UART_LSR_DR;
    u->lsr_errors = 0;
    update_irq(u);
    return lsr;
}

/* MSR [DS Modem Status Register]: reading clears the delta bits. */
static uint8_t read_msr(struct uart16550 *u)
{
    uint8_t msr = modem_lines(u) | u->msr_deltas;
    u->msr_deltas = 0;
    update_irq(u);
    return msr;
}

/* ---- interface ------------------------------------------------------------ */

/* Master reset values [DS Table III]: IER, FCR,
 * LCR, MCR 0; IIR 01h; LSR 60h; MSR deltas 0.  SCR and the divisor latch
 * are not reset by the part; the model starts them at 0 and DIVISOR_RESET. */
void uart16550_init(struct uart16550 *u, const struct uart16550_host *host)
{
    memset(u, 0, sizeof(*u));
    if (host)
        u->host = *host;
    u->dll = DIVISOR_RESET;
    u->modem_inputs = MODEM_INPUTS_RESET;
    u->thre_pending = true;             /* THR is empty */
}

uint8_t uart16550_read(struct uart16550 *u, unsigned offset)
{
    switch (offset) {
    case UART_RBR:
        return dlab(u) ? u->dll : read_rbr(u);
    case UART_IER:
        return dlab(u) ? u->dlm : u->ier;
    case UART_IIR:
        return read_iir(u);
    case UART_LCR:
        return u->lcr;
    case UART_MCR:
        return u->mcr;
    case UART_LSR:
        return read_lsr(u);
    case UART_MSR:
        return read_msr(u);
    case UART_SCR:
        return u->scr;
    default:
        return OPEN_BUS;
    }
}

void uart16550_write(struct uart16550 *u, unsigned offset, uint8_t value)
{
    switch (offset) {
    case UART_THR:
        if (dlab(u))
            u->dll = value;
        else
            write_thr(u, value);
        break;
    case UART_IER:
        if (dlab(u))
            u->dlm = value;
        else
            write_ier(u, value);
        break;
    case UART_FCR:
        write_fcr(u, value);
        break;
    case UART_LCR:
        u->lcr = value;
        break;
    case UART_MCR:
        write_mcr(u, value);
        break;
    case UART_SCR:
        u->scr = value;
        break;
    default:
        /* LSR and MSR writes reach the part's factory test logic only. */
        break;
    }
}

size_t uart16550_receive(struct uart16550 *u, const uint8_t *data, size_t len)
{
    if (loopback(u))
        return 0;                       /* SIN is disconnected [DS Modem Control Register] */
    size_t space = rx_capacity(u) - u->rx.count;
    size_t n = MIN(len, space);
    for (size_t i = 0; i < n; i++)
        fifo_push(&u->rx, data[i]);
    update_irq(u);
    return n;
}

void uart16550_set_modem_inputs(struct uart16550 *u, uint8_t lines)
{
    uint8_t before = modem_lines(u);
    u->modem_inputs = lines & UART_MSR_LINES;
    u->msr_deltas |= modem_deltas(before, modem_lines(u));
    update_irq(u);
}
