/*
 * kernel/devices/uart16550.c: the 16550A UART model.
 *
 * Each test drives one UART through its registers and uart16550_receive()
 * and watches the two host callbacks: transmitted bytes are collected and
 * every call of the IRQ callback is counted (and must be a change of level).
 * Expected values are the PC16550D datasheet's; the last test replays the
 * register accesses of the Linux 8250 driver's probe (autoconfig,
 * autoconfig_16550a, size_fifo, and the THRE tests of
 * serial8250_do_startup in drivers/tty/serial/8250/8250_port.c).
 */
#include "helpers.h"
#include <hv/uart16550.h>

struct env {
    struct uart16550 u;
    uint8_t tx[512];
    size_t ntx;
    unsigned irq_calls;
    bool irq;
};

static void on_tx(void *ctx, uint8_t byte)
{
    struct env *e = ctx;
    assert_true(e->ntx < sizeof(e->tx));
    e->tx[e->ntx++] = byte;
}

static void on_irq(void *ctx, bool level)
{
    struct env *e = ctx;
    assert_true(level != e->irq);       /* the model reports changes only */
    e->irq = level;
    e->irq_calls++;
}

static int setup(void **state)
{
    struct env *e = calloc(1, sizeof(*e));
    assert_non_null(e);
    const struct uart16550_host host = { .tx = on_tx, .irq = on_irq, .ctx = e };
    uart16550_init(&e->u, &host);
    *state = e;
    return 0;
}

static int teardown(void **state)
{
    free(*state);
    return 0;
}

static uint8_t rd(struct env *e, unsigned offset)
{
    return uart16550_read(&e->u, offset);
}

static void wr(struct env *e, unsigned offset, uint8_t value)
{
    uart16550_write(&e->u, offset, value);
}

static size_t rx(struct env *e, const void *data, size_t len)
{
    return uart16550_receive(&e->u, data, len);
}

/* Receives bytes first, first + 1, ... */
static size_t rx_seq(struct env *e, uint8_t first, size_t len)
{
    uint8_t buf[64];
    assert_true(len <= sizeof(buf));
    for (size_t i = 0; i < len; i++)
        buf[i] = (uint8_t)(first + i);
    return rx(e, buf, len);
}

#define LSR_IDLE    (UART_LSR_THRE | UART_LSR_TEMT)
#define MSR_PEER    (UART_MSR_CTS | UART_MSR_DSR | UART_MSR_DCD)
#define IIR_FIFO(x) (UART_IIR_FIFOS_ON | (x))

/* ---- registers ---------------------------------------------------------- */

static void test_reset_values(void **state)
{
    struct env *e = *state;
    assert_int_equal(rd(e, UART_IER), 0);
    assert_int_equal(rd(e, UART_IIR), UART_IIR_NO_INT);
    assert_int_equal(rd(e, UART_LCR), 0);
    assert_int_equal(rd(e, UART_MCR), 0);
    assert_int_equal(rd(e, UART_LSR), LSR_IDLE);
    assert_int_equal(rd(e, UART_MSR), MSR_PEER);
    assert_int_equal(rd(e, UART_SCR), 0);
    wr(e, UART_LCR, UART_LCR_DLAB);
    assert_int_equal(rd(e, UART_DLL), 12);      /* 9600 baud */
    assert_int_equal(rd(e, UART_DLM), 0);
    assert_int_equal(e->irq_calls, 0);
    assert_int_equal(e->ntx, 0);
}

static void test_scratch(void **state)
{
    struct env *e = *state;
    wr(e, UART_SCR, 0xA5);
    assert_int_equal(rd(e, UART_SCR), 0xA5);
    wr(e, UART_SCR, 0x5A);
    assert_int_equal(rd(e, UART_SCR), 0x5A);
}

static void test_reserved_bits_read_zero(void **state)
{
    struct env *e = *state;
    wr(e, UART_IER, 0xFF);
    assert_int_equal(rd(e, UART_IER), UART_IER_MASK);
    wr(e, UART_IER, 0);
    wr(e, UART_MCR, 0xFF);
    assert_int_equal(rd(e, UART_MCR), UART_MCR_MASK);
    wr(e, UART_LCR, 0x7F);
    assert_int_equal(rd(e, UART_LCR), 0x7F);    /* LCR keeps all 8 bits */
}

static void test_dlab(void **state)
{
    struct env *e = *state;
    wr(e, UART_IER, UART_IER_ERBFI);
    assert_int_equal(rx(e, "z", 1), 1);

    wr(e, UART_LCR, UART_LCR_DLAB | UART_LCR_WLEN8);
    assert_int_equal(rd(e, UART_LCR), 0x83);
    wr(e, UART_DLL, 0x01);                      /* 115200 baud: not a THR write */
    wr(e, UART_DLM, 0x02);                      /* not an IER write */
    assert_int_equal(rd(e, UART_DLL), 0x01);    /* not an RBR read */
    assert_int_equal(rd(e, UART_DLM), 0x02);
    assert_int_equal(e->ntx, 0);
    /* Offsets 2-7 do not depend on DLAB. */
    wr(e, UART_SCR, 0x42);
    assert_int_equal(rd(e, UART_SCR), 0x42);
    assert_int_equal(rd(e, UART_LSR), LSR_IDLE | UART_LSR_DR);
    assert_int_equal(rd(e, UART_IIR), UART_IIR_RDI);

    /* LCR=BFh (a 16650's EFR access key) is just DLAB=1 on a 16550A. */
    wr(e, UART_LCR, 0xBF);
    assert_int_equal(rd(e, UART_DLL), 0x01);
    assert_int_equal(rd(e, UART_DLM), 0x02);
    wr(e, UART_FCR, UART_FCR_ENABLE);           /* offset 2 is FCR, not EFR */
    assert_int_equal(rd(e, UART_IIR) & UART_IIR_FIFOS_ON, UART_IIR_FIFOS_ON);

    wr(e, UART_LCR, UART_LCR_WLEN8);
    assert_int_equal(rd(e, UART_IER), UART_IER_ERBFI);
    assert_int_equal(rd(e, UART_RBR), 0);       /* FIFO enable cleared the byte */
    wr(e, UART_THR, 'x');
    assert_int_equal(e->ntx, 1);
    wr(e, UART_LCR, UART_LCR_DLAB);
    assert_int_equal(rd(e, UART_DLL), 0x01);    /* the divisor survived */
}

static void test_out_of_range_and_read_only(void **state)
{
    struct env *e = *state;
    assert_int_equal(rd(e, UART_NR_REGS), 0xFF);
    wr(e, UART_NR_REGS, 0x55);
    wr(e, UART_LSR, 0xFF);                      /* factory test only: ignored */
    wr(e, UART_MSR, 0xFF);
    assert_int_equal(rd(e, UART_LSR), LSR_IDLE);
    assert_int_equal(rd(e, UART_MSR), MSR_PEER);
    assert_int_equal(e->ntx, 0);
}

static void test_null_callbacks(void **state)
{
    (void)state;
    struct uart16550 u;
    uart16550_init(&u, NULL);
    uart16550_write(&u, UART_MCR, UART_MCR_OUT2);
    uart16550_write(&u, UART_IER, UART_IER_ETBEI);
    uart16550_write(&u, UART_THR, 'a');
    assert_int_equal(uart16550_read(&u, UART_IIR), UART_IIR_THRI);
}

/* ---- transmitter and receiver --------------------------------------------- */

static void test_transmit(void **state)
{
    struct env *e = *state;
    const char *msg = "hello\n";
    for (const char *c = msg; *c; c++) {
        wr(e, UART_THR, (uint8_t)*c);
        /* The transmitter is instantaneous: empty again at once. */
        assert_int_equal(rd(e, UART_LSR), LSR_IDLE);
    }
    assert_int_equal(e->ntx, strlen(msg));
    assert_memory_equal(e->tx, msg, strlen(msg));
}

static void test_receive_without_fifo(void **state)
{
    struct env *e = *state;
    /* FIFOs off: RBR holds one byte; the host keeps the rest. */
    assert_int_equal(rx(e, "ab", 2), 1);
    assert_int_equal(rx(e, "b", 1), 0);
    assert_int_equal(rd(e, UART_LSR), LSR_IDLE | UART_LSR_DR);
    assert_int_equal(rd(e, UART_RBR), 'a');
    assert_int_equal(rd(e, UART_LSR), LSR_IDLE);    /* no overrun */
    assert_int_equal(rd(e, UART_RBR), 'a');         /* RBR keeps the last byte */
    assert_int_equal(rx(e, "b", 1), 1);
    assert_int_equal(rd(e, UART_RBR), 'b');
    assert_int_equal(rd(e, UART_IIR), UART_IIR_NO_INT);  /* no FIFO bits */
}

static void test_fifo_enable_and_reset(void **state)
{
    struct env *e = *state;
    wr(e, UART_FCR, UART_FCR_ENABLE);
    assert_int_equal(rd(e, UART_IIR), IIR_FIFO(UART_IIR_NO_INT));
    assert_int_equal(rx_seq(e, 0, 5), 5);

    /* Rewriting FCR with FIFOs still on, or resetting TX, keeps RX data. */
    wr(e, UART_FCR, UART_FCR_ENABLE | UART_FCR_TRIG_8);
    wr(e, UART_FCR, UART_FCR_ENABLE | UART_FCR_TX_RESET);
    assert_int_equal(rd(e, UART_LSR), LSR_IDLE | UART_LSR_DR);

    /* RX reset empties the receiver FIFO. */
    wr(e, UART_FCR, UART_FCR_ENABLE | UART_FCR_RX_RESET);
    assert_int_equal(rd(e, UART_LSR), LSR_IDLE);

    /* Turning FIFOs off clears them; without bit 0 nothing else is set. */
    assert_int_equal(rx_seq(e, 0, 3), 3);
    wr(e, UART_FCR, UART_FCR_TRIG_14 | UART_FCR_RX_RESET);
    assert_int_equal(rd(e, UART_LSR), LSR_IDLE);
    assert_int_equal(rd(e, UART_IIR), UART_IIR_NO_INT);

    /* Turning them on clears the RBR too. */
    assert_int_equal(rx(e, "q", 1), 1);
    wr(e, UART_FCR, UART_FCR_ENABLE);
    assert_int_equal(rd(e, UART_LSR), LSR_IDLE);
}

static void test_fifo_depth_and_order(void **state)
{
    struct env *e = *state;
    wr(e, UART_FCR, UART_FCR_ENABLE);
    assert_int_equal(rx_seq(e, 0, 20), UART_FIFO_SIZE);
    assert_int_equal(rx_seq(e, 99, 1), 0);
    assert_int_equal(rd(e, UART_LSR), LSR_IDLE | UART_LSR_DR);  /* never overruns */
    for (unsigned i = 0; i < 10; i++)
        assert_int_equal(rd(e, UART_RBR), i);
    /* Refill across the ring's wrap-around. */
    assert_int_equal(rx_seq(e, 16, 20), 10);
    for (unsigned i = 10; i < 26; i++)
        assert_int_equal(rd(e, UART_RBR), i);
    assert_int_equal(rd(e, UART_LSR), LSR_IDLE);
}

static void test_overrun_fifo(void **state)
{
    struct env *e = *state;
    wr(e, UART_FCR, UART_FCR_ENABLE);
    wr(e, UART_MCR, UART_MCR_LOOP);
    for (unsigned i = 0; i < UART_FIFO_SIZE + 2; i++)
        wr(e, UART_THR, (uint8_t)i);
    assert_int_equal(e->ntx, 0);
    /* OE is set; reading LSR clears it; the extra bytes are lost. */
    assert_int_equal(rd(e, UART_LSR), LSR_IDLE | UART_LSR_DR | UART_LSR_OE);
    assert_int_equal(rd(e, UART_LSR), LSR_IDLE | UART_LSR_DR);
    for (unsigned i = 0; i < UART_FIFO_SIZE; i++)
        assert_int_equal(rd(e, UART_RBR), i);
    assert_int_equal(rd(e, UART_LSR), LSR_IDLE);
}

static void test_overrun_without_fifo(void **state)
{
    struct env *e = *state;
    wr(e, UART_MCR, UART_MCR_LOOP);
    wr(e, UART_THR, 'x');
    wr(e, UART_THR, 'y');           /* overwrites the unread RBR */
    assert_int_equal(rd(e, UART_LSR), LSR_IDLE | UART_LSR_DR | UART_LSR_OE);
    assert_int_equal(rd(e, UART_RBR), 'y');
    assert_int_equal(rd(e, UART_LSR), LSR_IDLE);
}

/* ---- interrupts -------------------------------------------------------------- */

static void test_trigger_levels(void **state)
{
    struct env *e = *state;
    static const struct { uint8_t fcr; unsigned level; } levels[] = {
        { UART_FCR_TRIG_1, 1 }, { UART_FCR_TRIG_4, 4 },
        { UART_FCR_TRIG_8, 8 }, { UART_FCR_TRIG_14, 14 },
    };
    wr(e, UART_IER, UART_IER_ERBFI);
    for (size_t i = 0; i < ARRAY_SIZE(levels); i++) {
        unsigned level = levels[i].level;
        wr(e, UART_FCR, UART_FCR_ENABLE | UART_FCR_RX_RESET | levels[i].fcr);
        assert_int_equal(rd(e, UART_IIR), IIR_FIFO(UART_IIR_NO_INT));
        /* Below the level: the character timeout (always elapsed here). */
        assert_int_equal(rx_seq(e, 0, level - 1), level - 1);
        assert_int_equal(rd(e, UART_IIR),
                         IIR_FIFO(level > 1 ? UART_IIR_CTI : UART_IIR_NO_INT));
        /* At the level: received data available, until it drops below. */
        assert_int_equal(rx_seq(e, 0, 1), 1);
        assert_int_equal(rd(e, UART_IIR), IIR_FIFO(UART_IIR_RDI));
        assert_int_equal(rx_seq(e, 0, 1), level < UART_FIFO_SIZE ? 1 : 0);
        assert_int_equal(rd(e, UART_IIR), IIR_FIFO(UART_IIR_RDI));
        rd(e, UART_RBR);
        if (level > 1) {
            rd(e, UART_RBR);
            assert_int_equal(rd(e, UART_IIR), IIR_FIFO(UART_IIR_CTI));
        }
    }
}

static void test_received_data_interrupt(void **state)
{
    struct env *e = *state;
    wr(e, UART_MCR, UART_MCR_OUT2);
    wr(e, UART_FCR, UART_FCR_ENABLE | UART_FCR_TRIG_4);
    assert_int_equal(rx(e, "a", 1), 1);
    assert_int_equal(e->irq_calls, 0);          /* ERBFI off */
    wr(e, UART_IER, UART_IER_ERBFI);
    assert_true(e->irq);
    assert_int_equal(rx(e, "bcd", 3), 3);       /* timeout -> data available */
    assert_int_equal(e->irq_calls, 1);          /* the line was already up */
    for (unsigned i = 0; i < 3; i++)
        rd(e, UART_RBR);
    assert_true(e->irq);                        /* one byte left: timeout */
    assert_int_equal(rd(e, UART_RBR), 'd');
    assert_false(e->irq);
    assert_int_equal(e->irq_calls, 2);

    /* Non-FIFO mode: RBR full means data available. */
    wr(e, UART_FCR, 0);
    assert_int_equal(rx(e, "e", 1), 1);
    assert_int_equal(rd(e, UART_IIR), UART_IIR_RDI);
    assert_true(e->irq);
    rd(e, UART_RBR);
    assert_int_equal(rd(e, UART_IIR), UART_IIR_NO_INT);
    assert_false(e->irq);
    assert_int_equal(e->irq_calls, 4);
}

static void test_iir_priorities(void **state)
{
    struct env *e = *state;
    wr(e, UART_FCR, UART_FCR_ENABLE);
    wr(e, UART_IER, UART_IER_MASK);
    /* Entering loopback changes CTS, DSR, DCD (modem status); 17 bytes
     * fill the FIFO (data available) and overrun (line status); THR is
     * empty (THRE). */
    wr(e, UART_MCR, UART_MCR_LOOP);
    for (unsigned i = 0; i <= UART_FIFO_SIZE; i++)
        wr(e, UART_THR, (uint8_t)i);
    assert_int_equal(rd(e, UART_IIR), IIR_FIFO(UART_IIR_RLSI));
    assert_int_equal(rd(e, UART_IIR), IIR_FIFO(UART_IIR_RLSI));  /* IIR read keeps it */
    rd(e, UART_LSR);
    assert_int_equal(rd(e, UART_IIR), IIR_FIFO(UART_IIR_RDI));
    for (unsigned i = 0; i < UART_FIFO_SIZE; i++)
        rd(e, UART_RBR);
    assert_int_equal(rd(e, UART_IIR), IIR_FIFO(UART_IIR_THRI));  /* read: cleared */
    assert_int_equal(rd(e, UART_IIR), IIR_FIFO(UART_IIR_MSI));
    assert_int_equal(rd(e, UART_MSR) & UART_MSR_DELTAS,
                     UART_MSR_DCTS | UART_MSR_DDSR | UART_MSR_DDCD);
    assert_int_equal(rd(e, UART_IIR), IIR_FIFO(UART_IIR_NO_INT));
    assert_int_equal(e->irq_calls, 0);          /* loopback: the IRQ is gated off */
}

static void test_iir_read_clears_thre_only_when_reported(void **state)
{
    struct env *e = *state;
    wr(e, UART_IER, UART_IER_ERBFI | UART_IER_ETBEI);
    assert_int_equal(rx(e, "a", 1), 1);
    assert_int_equal(rd(e, UART_IIR), UART_IIR_RDI);  /* THRE hidden behind RX data */
    rd(e, UART_RBR);
    assert_int_equal(rd(e, UART_IIR), UART_IIR_THRI); /* still pending */
    assert_int_equal(rd(e, UART_IIR), UART_IIR_NO_INT);
}

static void test_thre_interrupt(void **state)
{
    struct env *e = *state;
    wr(e, UART_MCR, UART_MCR_OUT2);
    /* Enabling ETBEI with THR empty raises it. */
    wr(e, UART_IER, UART_IER_ETBEI);
    assert_true(e->irq);
    assert_int_equal(rd(e, UART_IIR), UART_IIR_THRI);
    /* Reading IIR when it reports THRE clears it. */
    assert_false(e->irq);
    assert_int_equal(rd(e, UART_IIR), UART_IIR_NO_INT);
    /* Writing THR clears it; it is raised again when THR empties, i.e. at
     * once with the instantaneous transmitter. */
    wr(e, UART_THR, 'a');
    assert_true(e->irq);
    assert_int_equal(e->irq_calls, 3);
    wr(e, UART_THR, 'b');                       /* already pending: no change */
    assert_int_equal(e->irq_calls, 3);
    assert_int_equal(rd(e, UART_IIR), UART_IIR_THRI);
    assert_false(e->irq);
    /* Rewriting IER with ETBEI already on does not raise it again ... */
    wr(e, UART_IER, UART_IER_ETBEI);
    assert_int_equal(rd(e, UART_IIR), UART_IIR_NO_INT);
    /* ... turning ETBEI off and on does. */
    wr(e, UART_IER, 0);
    wr(e, UART_IER, UART_IER_ETBEI);
    assert_true(e->irq);
    wr(e, UART_IER, 0);
    assert_false(e->irq);
    assert_int_equal(e->irq_calls, 6);
    assert_int_equal(e->ntx, 2);
}

static void test_irq_reports_changes_only(void **state)
{
    struct env *e = *state;
    wr(e, UART_MCR, UART_MCR_OUT2);
    wr(e, UART_FCR, UART_FCR_ENABLE);
    wr(e, UART_IER, UART_IER_ERBFI | UART_IER_ELSI | UART_IER_EDSSI);
    for (unsigned i = 0; i < 8; i++)
        assert_int_equal(rx(e, "x", 1), 1);     /* up once */
    uart16550_set_modem_inputs(&e->u, UART_MSR_CTS);   /* another source: still up */
    rd(e, UART_LSR);
    rd(e, UART_IIR);
    for (unsigned i = 0; i < 8; i++)
        rd(e, UART_RBR);
    assert_true(e->irq);                        /* modem status remains */
    assert_int_equal(e->irq_calls, 1);
    rd(e, UART_MSR);
    assert_false(e->irq);
    assert_int_equal(e->irq_calls, 2);
    rd(e, UART_MSR);
    rd(e, UART_RBR);
    wr(e, UART_SCR, 1);
    assert_int_equal(e->irq_calls, 2);
}

static void test_out2_gates_irq(void **state)
{
    struct env *e = *state;
    wr(e, UART_IER, UART_IER_ERBFI);
    assert_int_equal(rx(e, "a", 1), 1);
    assert_int_equal(rd(e, UART_IIR), UART_IIR_RDI);    /* INTR is up ... */
    assert_int_equal(e->irq_calls, 0);                  /* ... the IRQ line is not */
    wr(e, UART_MCR, UART_MCR_OUT2);
    assert_true(e->irq);
    wr(e, UART_MCR, UART_MCR_DTR | UART_MCR_RTS);
    assert_false(e->irq);
    wr(e, UART_MCR, UART_MCR_DTR | UART_MCR_RTS | UART_MCR_OUT2);
    assert_true(e->irq);
    /* Loopback forces the OUT2 pin off. */
    wr(e, UART_MCR, UART_MCR_LOOP | UART_MCR_OUT2);
    assert_false(e->irq);
    wr(e, UART_MCR, UART_MCR_OUT2);
    assert_true(e->irq);
    rd(e, UART_RBR);
    assert_false(e->irq);
    assert_int_equal(e->irq_calls, 6);
}

/* ---- modem control and status ------------------------------------------------ */

static void test_loopback(void **state)
{
    struct env *e = *state;
    wr(e, UART_MCR, UART_MCR_LOOP);
    wr(e, UART_THR, 'A');
    assert_int_equal(e->ntx, 0);                /* the outside sees nothing */
    assert_int_equal(rd(e, UART_LSR), LSR_IDLE | UART_LSR_DR);
    assert_int_equal(rd(e, UART_RBR), 'A');
    assert_int_equal(rx(e, "B", 1), 0);         /* SIN is disconnected */

    /* MSR lines follow MCR: CTS=RTS, DSR=DTR, RI=OUT1, DCD=OUT2. */
    static const struct { uint8_t mcr, lines; } map[] = {
        { 0, 0 },
        { UART_MCR_RTS, UART_MSR_CTS },
        { UART_MCR_DTR, UART_MSR_DSR },
        { UART_MCR_OUT1, UART_MSR_RI },
        { UART_MCR_OUT2, UART_MSR_DCD },
        { UART_MCR_MASK & ~UART_MCR_LOOP, UART_MSR_LINES },
    };
    for (size_t i = 0; i < ARRAY_SIZE(map); i++) {
        wr(e, UART_MCR, UART_MCR_LOOP | map[i].mcr);
        assert_int_equal(rd(e, UART_MSR) & UART_MSR_LINES, map[i].lines);
    }
    /* Leaving loopback reconnects both sides. */
    wr(e, UART_MCR, 0);
    assert_int_equal(rd(e, UART_MSR) & UART_MSR_LINES, MSR_PEER);
    wr(e, UART_THR, 'C');
    assert_int_equal(e->ntx, 1);
    assert_int_equal(rx(e, "B", 1), 1);
    assert_int_equal(rd(e, UART_RBR), 'B');
}

static void test_msr_deltas(void **state)
{
    struct env *e = *state;
    assert_int_equal(rd(e, UART_MSR), MSR_PEER);        /* no deltas at reset */

    /* DSR and DCD drop: their deltas set; reading MSR clears them. */
    uart16550_set_modem_inputs(&e->u, UART_MSR_CTS);
    assert_int_equal(rd(e, UART_MSR), UART_MSR_CTS | UART_MSR_DDSR | UART_MSR_DDCD);
    assert_int_equal(rd(e, UART_MSR), UART_MSR_CTS);

    /* TERI marks only the trailing edge of RI. */
    uart16550_set_modem_inputs(&e->u, UART_MSR_CTS | UART_MSR_RI);
    assert_int_equal(rd(e, UART_MSR), UART_MSR_CTS | UART_MSR_RI);
    uart16550_set_modem_inputs(&e->u, UART_MSR_CTS);
    assert_int_equal(rd(e, UART_MSR), UART_MSR_CTS | UART_MSR_TERI);

    /* Deltas accumulate until read. */
    uart16550_set_modem_inputs(&e->u, 0);
    uart16550_set_modem_inputs(&e->u, UART_MSR_CTS);
    assert_int_equal(rd(e, UART_MSR), UART_MSR_CTS | UART_MSR_DCTS);

    /* The modem status interrupt, cleared by reading MSR. */
    wr(e, UART_MCR, UART_MCR_OUT2);
    wr(e, UART_IER, UART_IER_EDSSI);
    assert_false(e->irq);
    uart16550_set_modem_inputs(&e->u, MSR_PEER);
    assert_true(e->irq);
    assert_int_equal(rd(e, UART_IIR), UART_IIR_MSI);
    assert_int_equal(rd(e, UART_IIR), UART_IIR_MSI);    /* IIR read keeps it */
    assert_int_equal(rd(e, UART_MSR), MSR_PEER | UART_MSR_DDSR | UART_MSR_DDCD);
    assert_false(e->irq);
    assert_int_equal(rd(e, UART_IIR), UART_IIR_NO_INT);

    /* Loopback's MCR-driven lines produce deltas as well. */
    wr(e, UART_IER, 0);
    wr(e, UART_MCR, UART_MCR_LOOP | UART_MCR_RTS | UART_MCR_DTR | UART_MCR_OUT2);
    assert_int_equal(rd(e, UART_MSR), MSR_PEER);        /* same lines: no delta */
    wr(e, UART_MCR, UART_MCR_LOOP | UART_MCR_OUT1);
    assert_int_equal(rd(e, UART_MSR), UART_MSR_RI | UART_MSR_DCTS | UART_MSR_DDSR |
                                      UART_MSR_DDCD);
    wr(e, UART_MCR, UART_MCR_LOOP);
    assert_int_equal(rd(e, UART_MSR), UART_MSR_TERI);
}

/* ---- the Linux 8250 probe ------------------------------------------------------ */

#define UART_EFR            2       /* 16650: EFR at offset 2 when LCR = BFh */
#define LCR_CONF_MODE_A     0x80
#define LCR_CONF_MODE_B     0xBF
#define LCR_NATSEMI_BANK2   0xE0
#define FCR7_64BYTE         0x20
#define IIR_FIFO_BITS_16750 0xE0
#define IER_UUE             0x40

static unsigned dl_read(struct env *e)
{
    return rd(e, UART_DLL) | (unsigned)rd(e, UART_DLM) << 8;
}

static void dl_write(struct env *e, unsigned dl)
{
    wr(e, UART_DLL, (uint8_t)dl);
    wr(e, UART_DLM, (uint8_t)(dl >> 8));
}

/* autoconfig(): existence (IER) and loopback tests, then the FIFO type. */
static void probe_autoconfig(struct env *e)
{
    uint8_t scratch = rd(e, UART_IER);
    wr(e, UART_IER, 0);
    assert_int_equal(rd(e, UART_IER) & UART_IER_MASK, 0);
    wr(e, UART_IER, UART_IER_MASK);
    assert_int_equal(rd(e, UART_IER) & UART_IER_MASK, UART_IER_MASK);
    wr(e, UART_IER, scratch);

    uint8_t save_mcr = rd(e, UART_MCR);
    wr(e, UART_MCR, UART_MCR_LOOP | UART_MCR_OUT2 | UART_MCR_RTS);
    assert_int_equal(rd(e, UART_MSR) & UART_MSR_LINES, UART_MSR_DCD | UART_MSR_CTS);
    /* The older form of the test: every output on, then every output off. */
    wr(e, UART_MCR, 0x1F);
    assert_int_equal(rd(e, UART_MSR) & UART_MSR_LINES, 0xF0);
    wr(e, UART_MCR, 0x10);
    assert_int_equal(rd(e, UART_MSR) & UART_MSR_LINES, 0);
    wr(e, UART_MCR, save_mcr);

    /* Clearing a 16650's EFR: on a 16550A a write of FCR = 0. */
    wr(e, UART_LCR, LCR_CONF_MODE_B);
    wr(e, UART_EFR, 0);
    wr(e, UART_LCR, 0);

    wr(e, UART_FCR, UART_FCR_ENABLE);
    assert_int_equal(rd(e, UART_IIR) & UART_IIR_FIFOS_ON, UART_IIR_FIFOS_ON);  /* 16550A */
    /* Older drivers probed with FCR = E7h: still 11b, and bit 5 clear (no
     * 64-byte 16750 FIFO). */
    wr(e, UART_FCR, 0xE7);
    assert_int_equal(rd(e, UART_IIR) & IIR_FIFO_BITS_16750, UART_IIR_FIFOS_ON);
    wr(e, UART_FCR, UART_FCR_ENABLE);
}

/* autoconfig_16550a(): none of the 16550A variants' signatures match. */
static void probe_16550a_variants(struct env *e)
{
    /* ST16C650V1: EFR under DLAB reads 0.  It reads IIR, never 0 here. */
    wr(e, UART_LCR, LCR_CONF_MODE_A);
    assert_int_not_equal(rd(e, UART_EFR), 0);
    /* EFRv2 parts (ST16C650V2, TI16C752, ...): EFR under LCR = BFh. */
    wr(e, UART_LCR, LCR_CONF_MODE_B);
    assert_int_not_equal(rd(e, UART_EFR), 0);

    /* NatSemi SuperIO: EXCR1 in bank 2 (offset 2) mirrors MCR.LOOP. */
    wr(e, UART_LCR, 0);
    uint8_t status1 = rd(e, UART_MCR);
    wr(e, UART_LCR, LCR_NATSEMI_BANK2);
    uint8_t status2 = rd(e, 2);
    assert_false((status2 ^ status1) & UART_MCR_LOOP);
    wr(e, UART_LCR, 0);
    wr(e, UART_MCR, status1 ^ UART_MCR_LOOP);
    wr(e, UART_LCR, LCR_NATSEMI_BANK2);
    status2 = rd(e, 2);
    wr(e, UART_LCR, 0);
    wr(e, UART_MCR, status1);
    assert_false((status2 ^ status1) & UART_MCR_LOOP);  /* not a NS16550A */

    /* TI16750: IIR bit 5 with FCR bit 5, without and with DLAB. */
    wr(e, UART_LCR, 0);
    wr(e, UART_FCR, UART_FCR_ENABLE | FCR7_64BYTE);
    status1 = rd(e, UART_IIR) & IIR_FIFO_BITS_16750;
    wr(e, UART_FCR, UART_FCR_ENABLE);
    wr(e, UART_LCR, LCR_CONF_MODE_A);
    wr(e, UART_FCR, UART_FCR_ENABLE | FCR7_64BYTE);
    status2 = rd(e, UART_IIR) & IIR_FIFO_BITS_16750;
    wr(e, UART_FCR, UART_FCR_ENABLE);
    wr(e, UART_LCR, 0);
    assert_int_equal(status1, UART_IIR_FIFOS_ON);
    assert_int_equal(status2, UART_IIR_FIFOS_ON);       /* not a 16750 */

    /* XScale: IER bit 6 (UUE) does not stick. */
    uint8_t iersave = rd(e, UART_IER);
    wr(e, UART_IER, iersave & ~IER_UUE);
    assert_false(rd(e, UART_IER) & IER_UUE);
    wr(e, UART_IER, iersave | IER_UUE);
    assert_false(rd(e, UART_IER) & IER_UUE);
    wr(e, UART_IER, iersave);
}

/* size_fifo(): 256 bytes through loopback at divisor 1; count what arrived. */
static unsigned probe_size_fifo(struct env *e)
{
    uint8_t old_lcr = rd(e, UART_LCR);
    wr(e, UART_LCR, 0);
    uint8_t old_fcr = rd(e, UART_FCR);          /* really IIR, as in Linux */
    uint8_t old_mcr = rd(e, UART_MCR);
    wr(e, UART_FCR, UART_FCR_ENABLE | UART_FCR_RX_RESET | UART_FCR_TX_RESET);
    wr(e, UART_MCR, UART_MCR_LOOP);
    wr(e, UART_LCR, LCR_CONF_MODE_A);
    unsigned old_dl = dl_read(e);
    dl_write(e, 1);
    wr(e, UART_LCR, UART_LCR_WLEN8);
    for (unsigned count = 0; count < 256; count++)
        wr(e, UART_THR, (uint8_t)count);
    unsigned count;
    for (count = 0; (rd(e, UART_LSR) & UART_LSR_DR) && count < 256; count++)
        rd(e, UART_RBR);
    wr(e, UART_FCR, old_fcr);
    wr(e, UART_MCR, old_mcr);
    wr(e, UART_LCR, LCR_CONF_MODE_A);
    dl_write(e, old_dl);
    wr(e, UART_LCR, old_lcr);
    return count;
}

/* serial8250_do_startup(): the LSR safety check and the two THRE tests. */
static void probe_startup(struct env *e)
{
    wr(e, UART_FCR, UART_FCR_ENABLE);
    wr(e, UART_FCR, UART_FCR_ENABLE | UART_FCR_RX_RESET | UART_FCR_TX_RESET);
    wr(e, UART_FCR, 0);
    rd(e, UART_LSR);
    rd(e, UART_RBR);
    rd(e, UART_IIR);
    rd(e, UART_MSR);
    assert_int_not_equal(rd(e, UART_LSR), 0xFF);

    /* THRE must be re-asserted after IER is cleared and set again. */
    wr(e, UART_IER, UART_IER_ETBEI);
    uint8_t iir1 = rd(e, UART_IIR);
    wr(e, UART_IER, 0);
    wr(e, UART_IER, UART_IER_ETBEI);
    uint8_t iir = rd(e, UART_IIR);
    wr(e, UART_IER, 0);
    assert_false(iir1 & UART_IIR_NO_INT);
    assert_false(iir & UART_IIR_NO_INT);        /* no UART_BUG_THRE */

    wr(e, UART_LCR, UART_LCR_WLEN8);
    wr(e, UART_MCR, UART_MCR_DTR | UART_MCR_RTS | UART_MCR_OUT2);

    /* Enabling the TX interrupt with the transmitter idle interrupts. */
    wr(e, UART_IER, UART_IER_ETBEI);
    uint8_t lsr = rd(e, UART_LSR);
    iir = rd(e, UART_IIR);
    wr(e, UART_IER, 0);
    assert_true(lsr & UART_LSR_TEMT);
    assert_false(iir & UART_IIR_NO_INT);        /* no UART_BUG_TXEN */
    rd(e, UART_LSR);
    rd(e, UART_RBR);
    rd(e, UART_IIR);
    rd(e, UART_MSR);
}

static void test_linux_8250_probe(void **state)
{
    struct env *e = *state;
    uint8_t save_lcr = rd(e, UART_LCR);
    probe_autoconfig(e);
    probe_16550a_variants(e);
    assert_int_equal(probe_size_fifo(e), UART_FIFO_SIZE);   /* not a U6_16550A */
    wr(e, UART_LCR, save_lcr);
    assert_int_equal(e->ntx, 0);                /* loopback kept it all inside */

    /* autoconfig()'s reset of the port. */
    wr(e, UART_MCR, 0);
    wr(e, UART_FCR, UART_FCR_ENABLE);
    wr(e, UART_FCR, UART_FCR_ENABLE | UART_FCR_RX_RESET | UART_FCR_TX_RESET);
    wr(e, UART_FCR, 0);
    rd(e, UART_RBR);
    wr(e, UART_IER, 0);
    wr(e, UART_LCR, LCR_CONF_MODE_A);
    assert_int_equal(dl_read(e), 12);           /* size_fifo restored the divisor */
    wr(e, UART_LCR, 0);

    probe_startup(e);
    assert_false(e->irq);
    assert_int_equal(rd(e, UART_IIR), UART_IIR_NO_INT);
    wr(e, UART_THR, 'k');                       /* and it is a working port */
    assert_int_equal(e->ntx, 1);
}

#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_reset_values),
        T(test_scratch),
        T(test_reserved_bits_read_zero),
        T(test_dlab),
        T(test_out_of_range_and_read_only),
        cmocka_unit_test(test_null_callbacks),
        T(test_transmit),
        T(test_receive_without_fifo),
        T(test_fifo_enable_and_reset),
        T(test_fifo_depth_and_order),
        T(test_overrun_fifo),
        T(test_overrun_without_fifo),
        T(test_trigger_levels),
        T(test_received_data_interrupt),
        T(test_iir_priorities),
        T(test_iir_read_clears_thre_only_when_reported),
        T(test_thre_interrupt),
        T(test_irq_reports_changes_only),
        T(test_out2_gates_irq),
        T(test_loopback),
        T(test_msr_deltas),
        T(test_linux_8250_probe),
    };
    return cmocka_run_group_tests_name("uart16550", tests, NULL, NULL);
}
