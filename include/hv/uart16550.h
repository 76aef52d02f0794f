/*
 * A 16550A UART (National Semiconductor / TI PC16550D), as one of the PC's
 * COM ports: eight registers at a base port, 16-byte FIFOs, interrupt
 * identification with the datasheet's four priority levels, modem control
 * and status with local loopback, and the INTR output gated by MCR.OUT2 as
 * ISA serial cards wire it.
 *
 * Pure: the model has no timers, no I/O and no global state.  The outside
 * world is reached only through `struct uart16550_host` (a transmitted byte,
 * a change of the IRQ line) and uart16550_receive() (bytes arriving on the
 * serial input).
 *
 * Timing model (the model has no clock; see kernel/devices/uart16550.c):
 *   - the transmitter is instantaneous: a byte written to THR leaves through
 *     host->tx (or, in loopback, enters the receiver) during the write, and
 *     THR and the transmitter are empty again when the write returns, so
 *     LSR.THRE and LSR.TEMT always read 1;
 *   - the receiver's 4-character timeout has always elapsed: whenever the
 *     RX FIFO holds data below the trigger level, the character timeout
 *     interrupt (IIR 0Ch) is pending;
 *   - uart16550_receive() never overruns: it accepts only what fits in the
 *     RX FIFO (one byte with FIFOs off) and the host keeps the rest, like a
 *     sender held back by flow control.  Overruns happen in loopback, where
 *     the guest itself transmits into a full receiver.
 */
#ifndef HV_UART16550_H
#define HV_UART16550_H

#include <hv/types.h>

/* Register offsets from the base port (PC16550D, table II). */
#define UART_RBR            0   /* read, DLAB=0: receiver buffer */
#define UART_THR            0   /* write, DLAB=0: transmitter holding */
#define UART_DLL            0   /* DLAB=1: divisor latch, low byte */
#define UART_IER            1   /* DLAB=0: interrupt enable */
#define UART_DLM            1   /* DLAB=1: divisor latch, high byte */
#define UART_IIR            2   /* read: interrupt identification */
#define UART_FCR            2   /* write: FIFO control */
#define UART_LCR            3   /* line control */
#define UART_MCR            4   /* modem control */
#define UART_LSR            5   /* line status */
#define UART_MSR            6   /* modem status */
#define UART_SCR            7   /* scratch */
#define UART_NR_REGS        8

/* IER: interrupt enable. */
#define UART_IER_ERBFI      0x01    /* received data available (and timeout) */
#define UART_IER_ETBEI      0x02    /* transmitter holding register empty */
#define UART_IER_ELSI       0x04    /* receiver line status */
#define UART_IER_EDSSI      0x08    /* modem status */
#define UART_IER_MASK       0x0F    /* bits 7:4 are always 0 on a 16550A */

/* IIR: interrupt identification (bits 3:0), FIFOs enabled (bits 7:6). */
#define UART_IIR_NO_INT     0x01
#define UART_IIR_MSI        0x00    /* modem status */
#define UART_IIR_THRI       0x02    /* THR empty */
#define UART_IIR_RDI        0x04    /* received data available */
#define UART_IIR_RLSI       0x06    /* receiver line status */
#define UART_IIR_CTI        0x0C    /* character timeout */
#define UART_IIR_ID_MASK    0x0F
#define UART_IIR_FIFOS_ON   0xC0

/* FCR: FIFO control (write-only). */
#define UART_FCR_ENABLE     0x01
#define UART_FCR_RX_RESET   0x02
#define UART_FCR_TX_RESET   0x04
#define UART_FCR_DMA_MODE   0x08    /* selects RXRDY/TXRDY pin behaviour only */
#define UART_FCR_TRIG_MASK  0xC0
#define UART_FCR_TRIG_1     0x00
#define UART_FCR_TRIG_4     0x40
#define UART_FCR_TRIG_8     0x80
#define UART_FCR_TRIG_14    0xC0

/* LCR: line control. */
#define UART_LCR_WLEN8      0x03
#define UART_LCR_BREAK      0x40
#define UART_LCR_DLAB       0x80

/* MCR: modem control. */
#define UART_MCR_DTR        0x01
#define UART_MCR_RTS        0x02
#define UART_MCR_OUT1       0x04
#define UART_MCR_OUT2       0x08
#define UART_MCR_LOOP       0x10
#define UART_MCR_MASK       0x1F    /* bits 7:5 are always 0 on a 16550A */

/* LSR: line status. */
#define UART_LSR_DR         0x01    /* data ready */
#define UART_LSR_OE         0x02    /* overrun error */
#define UART_LSR_PE         0x04    /* parity error */
#define UART_LSR_FE         0x08    /* framing error */
#define UART_LSR_BI         0x10    /* break interrupt */
#define UART_LSR_THRE       0x20    /* THR (TX FIFO) empty */
#define UART_LSR_TEMT       0x40    /* THR and transmitter shift register empty */
#define UART_LSR_FIFO_ERR   0x80    /* a PE/FE/BI byte is in the RX FIFO */

/* MSR: modem status (deltas in bits 3:0, input lines in bits 7:4). */
#define UART_MSR_DCTS       0x01
#define UART_MSR_DDSR       0x02
#define UART_MSR_TERI       0x04    /* RI went from on to off */
#define UART_MSR_DDCD       0x08
#define UART_MSR_DELTAS     0x0F
#define UART_MSR_CTS        0x10
#define UART_MSR_DSR        0x20
#define UART_MSR_RI         0x40
#define UART_MSR_DCD        0x80
#define UART_MSR_LINES      0xF0

#define UART_FIFO_SIZE      16

/* How the model reaches the outside world.  Either callback may be NULL. */
struct uart16550_host {
    void (*tx)(void *ctx, uint8_t byte);    /* a byte left the transmitter (to the host console / log) */
    void (*irq)(void *ctx, bool level);     /* the INTR output changed (level-triggered, ISA IRQ line) */
    void *ctx;
};

/* The receiver FIFO (also the single RBR when FIFOs are off). */
struct uart16550_fifo {
    uint8_t data[UART_FIFO_SIZE];
    uint8_t head;           /* index of the oldest byte */
    uint8_t count;
};

/* Device state; the fields are the model's, not an interface. */
struct uart16550 {
    struct uart16550_host host;
    struct uart16550_fifo rx;
    uint8_t rbr;            /* the last byte read from RBR: read again when empty */
    uint8_t ier, fcr, lcr, mcr, scr;
    uint8_t dll, dlm;
    uint8_t lsr_errors;     /* OE, cleared by reading LSR */
    uint8_t msr_deltas;     /* MSR bits 3:0, cleared by reading MSR */
    uint8_t modem_inputs;   /* CTS DSR RI DCD from outside (MSR bits 7:4) */
    bool thre_pending;      /* the THRE interrupt latch (see uart16550.c) */
    bool irq_level;         /* the level last reported through host->irq */
};

/* Resets to the PC16550D master-reset state; host is copied. */
void uart16550_init(struct uart16550 *u, const struct uart16550_host *host);

/* Guest register accesses; offset 0-7 from the base port (others: reads
 * return FFh, writes are ignored). */
uint8_t uart16550_read(struct uart16550 *u, unsigned offset);
void uart16550_write(struct uart16550 *u, unsigned offset, uint8_t value);

/* Host -> guest input on the serial line; returns bytes accepted (RX FIFO
 * space; 0 in loopback mode, where the serial input is disconnected). */
size_t uart16550_receive(struct uart16550 *u, const uint8_t *data, size_t len);

/* Sets the modem input lines (UART_MSR_CTS | _DSR | _RI | _DCD) the outside
 * presents; changes set the MSR delta bits.  After init: CTS, DSR and DCD on,
 * RI off (a connected null-modem peer).  In loopback the inputs are
 * disconnected and MSR follows MCR instead. */
void uart16550_set_modem_inputs(struct uart16550 *u, uint8_t lines);

#endif
