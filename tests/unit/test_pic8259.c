/*
 * kernel/devices/pic8259.c: the PC's master/slave 8259A pair.
 *
 * Most tests start from the initialization Linux's init_8259A() performs
 * (ICW1 11h, ICW2 20h/28h, ICW3 04h/02h, ICW4 01h), with every IRQ
 * unmasked, and act as the CPU: pic8259_ack() is the INTA cycle and EOIs are
 * OCW2 writes.  Every call of the INTR callback is counted and must be a
 * change of level.  Expected behaviour is the Intel 8259A datasheet's.
 */
#include "helpers.h"
#include <hv/pic8259.h>

struct env {
    struct pic8259 p;
    unsigned intr_calls;
    bool intr;
};

static void on_intr(void *ctx, bool level)
{
    struct env *e = ctx;
    assert_true(level != e->intr);      /* the model reports changes only */
    e->intr = level;
    e->intr_calls++;
}

#define M_CMD   PIC8259_MASTER_CMD
#define M_DATA  PIC8259_MASTER_DATA
#define S_CMD   PIC8259_SLAVE_CMD
#define S_DATA  PIC8259_SLAVE_DATA
#define M_BASE  0x20
#define S_BASE  0x28

static void out(struct env *e, uint16_t port, uint8_t value)
{
    pic8259_write(&e->p, port, value);
}

static uint8_t in(struct env *e, uint16_t port)
{
    return pic8259_read(&e->p, port);
}

/* Linux's init_8259A(): mask all, ICW1-ICW4 on each chip. */
static void linux_init(struct env *e, uint8_t master_icw4, uint8_t slave_icw4)
{
    out(e, M_DATA, 0xFF);
    out(e, S_DATA, 0xFF);
    out(e, M_CMD, 0x11);                /* ICW1: edge, cascade, ICW4 */
    out(e, M_DATA, M_BASE);             /* ICW2 */
    out(e, M_DATA, 0x04);               /* ICW3: slave on IR2 */
    out(e, M_DATA, master_icw4);        /* ICW4 */
    out(e, S_CMD, 0x11);
    out(e, S_DATA, S_BASE);
    out(e, S_DATA, 0x02);               /* ICW3: slave ID 2 */
    out(e, S_DATA, slave_icw4);
    out(e, M_DATA, 0x00);               /* unmask everything */
    out(e, S_DATA, 0x00);
}

static struct env *new_env(void)
{
    struct env *e = calloc(1, sizeof(*e));
    assert_non_null(e);
    const struct pic8259_host host = { .intr = on_intr, .ctx = e };
    pic8259_init(&e->p, &host);
    return e;
}

static int setup_bios(void **state)
{
    *state = new_env();
    return 0;
}

static int setup(void **state)
{
    struct env *e = new_env();
    linux_init(e, PIC8259_ICW4_8086, PIC8259_ICW4_8086);
    *state = e;
    return 0;
}

static int teardown(void **state)
{
    free(*state);
    return 0;
}

static void irq(struct env *e, unsigned n, bool level)
{
    pic8259_set_irq(&e->p, n, level);
}

static void pulse(struct env *e, unsigned n)
{
    irq(e, n, true);
    irq(e, n, false);
}

static int ack(struct env *e)
{
    return pic8259_ack(&e->p);
}

static bool pending(struct env *e)
{
    return pic8259_has_interrupt(&e->p);
}

static uint8_t read_isr(struct env *e, uint16_t cmd)
{
    out(e, cmd, PIC8259_OCW3_READ_ISR);
    uint8_t isr = in(e, cmd);
    out(e, cmd, PIC8259_OCW3_READ_IRR);
    return isr;
}

static uint8_t read_irr(struct env *e, uint16_t cmd)
{
    out(e, cmd, PIC8259_OCW3_READ_IRR);
    return in(e, cmd);
}

/* The EOIs Linux sends for an IRQ (specific, slave first). */
static void eoi(struct env *e, unsigned n)
{
    if (n >= 8) {
        out(e, S_CMD, (uint8_t)(PIC8259_OCW2_SEOI | (n & 7)));
        out(e, M_CMD, PIC8259_OCW2_SEOI | PIC8259_CASCADE_IRQ);
    } else {
        out(e, M_CMD, (uint8_t)(PIC8259_OCW2_SEOI | n));
    }
}

static uint8_t vec(unsigned n)
{
    return (uint8_t)(n < 8 ? M_BASE + n : S_BASE + n - 8);
}

/* ---- initialization ------------------------------------------------------------ */

static void test_bios_state(void **state)
{
    struct env *e = *state;
    assert_int_equal(in(e, M_DATA), 0xFB);      /* only the cascade unmasked */
    assert_int_equal(in(e, S_DATA), 0xFF);
    assert_int_equal(in(e, M_CMD), 0);          /* IRR */
    assert_int_equal(read_isr(e, M_CMD), 0);
    assert_int_equal(in(e, PIC8259_ELCR_MASTER), 0);
    assert_int_equal(in(e, PIC8259_ELCR_SLAVE), 0);
    irq(e, 0, true);
    assert_false(pending(e));
    assert_int_equal(ack(e), -1);
    out(e, M_DATA, 0xFA);
    assert_true(pending(e));
    assert_int_equal(ack(e), 0x08);             /* BIOS vector bases 08h / 70h */
    irq(e, 8, true);
    out(e, S_DATA, 0xFE);
    out(e, M_CMD, PIC8259_OCW2_EOI);
    assert_int_equal(ack(e), 0x70);
    assert_int_equal(e->intr_calls, 4);
}

static void test_linux_init_vectors(void **state)
{
    struct env *e = *state;
    assert_int_equal(in(e, M_DATA), 0);
    assert_int_equal(in(e, S_DATA), 0);
    for (unsigned n = 0; n < PIC8259_NR_IRQS; n++) {
        if (n == PIC8259_CASCADE_IRQ)
            continue;
        irq(e, n, true);
        assert_true(pending(e));
        assert_int_equal(ack(e), vec(n));
        assert_false(pending(e));
        if (n >= 8) {
            assert_int_equal(read_isr(e, M_CMD), 1u << PIC8259_CASCADE_IRQ);
            assert_int_equal(read_isr(e, S_CMD), 1u << (n - 8));
        } else {
            assert_int_equal(read_isr(e, M_CMD), 1u << n);
        }
        eoi(e, n);
        assert_int_equal(read_isr(e, M_CMD), 0);
        assert_int_equal(read_isr(e, S_CMD), 0);
        irq(e, n, false);
    }
}

static void test_icw1_resets(void **state)
{
    struct env *e = *state;
    out(e, M_DATA, 0x41);
    irq(e, 3, true);
    irq(e, 4, true);
    assert_int_equal(ack(e), vec(3));
    assert_false(pending(e));                   /* 4 waits behind 3 */
    /* Re-initialize: IMR, ISR, IRR cleared; held lines need a new edge. */
    out(e, M_CMD, 0x11);
    assert_int_equal(in(e, M_DATA), 0);         /* IMR cleared by ICW1 */
    out(e, M_DATA, M_BASE);
    out(e, M_DATA, 0x04);
    out(e, M_DATA, 0x01);
    assert_int_equal(read_isr(e, M_CMD), 0);
    assert_int_equal(read_irr(e, M_CMD), 0);
    assert_false(pending(e));
    irq(e, 4, false);
    irq(e, 4, true);
    assert_int_equal(ack(e), vec(4));
}

static void test_icw_sequence_variants(void **state)
{
    struct env *e = *state;
    /* Single mode: no ICW3; the next data write after ICW4 is OCW1. */
    out(e, M_CMD, PIC8259_ICW1_INIT | PIC8259_ICW1_SNGL | PIC8259_ICW1_IC4);
    out(e, M_DATA, 0x40);
    out(e, M_DATA, PIC8259_ICW4_8086);
    out(e, M_DATA, 0xF0);
    assert_int_equal(in(e, M_DATA), 0xF0);
    /* ... and IR2 is an ordinary input answered by the master. */
    out(e, S_DATA, 0xFE);
    irq(e, 8, true);                            /* slave INT -> master IR2 */
    assert_int_equal(ack(e), 0x42);
    assert_int_equal(read_isr(e, S_CMD), 0);

    /* No ICW4: ICW2, ICW3, then OCW1.  ICW2's low 3 bits are ignored. */
    out(e, M_CMD, PIC8259_ICW1_INIT);
    out(e, M_DATA, 0x47);
    out(e, M_DATA, 0x04);
    out(e, M_DATA, 0xFE);
    assert_int_equal(in(e, M_DATA), 0xFE);
    irq(e, 0, true);
    out(e, M_DATA, 0x00);
    assert_int_equal(ack(e), 0x40);
}

/* ---- masking and priorities -------------------------------------------------------- */

static void test_masking(void **state)
{
    struct env *e = *state;
    out(e, M_DATA, 0xA5);
    assert_int_equal(in(e, M_DATA), 0xA5);
    out(e, S_DATA, 0x5A);
    assert_int_equal(in(e, S_DATA), 0x5A);
    out(e, M_DATA, 1u << 5);
    out(e, S_DATA, 1u << 4);
    pulse(e, 5);
    pulse(e, 12);
    assert_false(pending(e));
    assert_int_equal(ack(e), -1);
    assert_int_equal(read_irr(e, M_CMD), 1u << 5);      /* latched behind the mask */
    out(e, S_DATA, 0);
    assert_int_equal(ack(e), vec(12));
    eoi(e, 12);
    assert_false(pending(e));
    out(e, M_DATA, 0);
    assert_int_equal(ack(e), vec(5));
    /* Masking the slave's input on the master masks all of IRQ 8-15. */
    eoi(e, 5);
    out(e, M_DATA, 1u << PIC8259_CASCADE_IRQ);
    pulse(e, 9);
    assert_false(pending(e));
    out(e, M_DATA, 0);
    assert_int_equal(ack(e), vec(9));
}

static void test_priority_order(void **state)
{
    struct env *e = *state;
    static const unsigned raised[] = { 7, 5, 15, 3, 9, 1, 0 };
    /* IR0 highest, IR7 lowest; IRQ 8-15 rank at IR2, between 1 and 3. */
    static const unsigned expected[] = { 0, 1, 9, 15, 3, 5, 7 };
    for (size_t i = 0; i < ARRAY_SIZE(raised); i++)
        pulse(e, raised[i]);
    for (size_t i = 0; i < ARRAY_SIZE(expected); i++) {
        assert_true(pending(e));
        assert_int_equal(ack(e), vec(expected[i]));
        assert_false(pending(e));               /* fully nested: the rest wait */
        eoi(e, expected[i]);
    }
    assert_false(pending(e));
}

static void test_nesting(void **state)
{
    struct env *e = *state;
    pulse(e, 5);
    assert_int_equal(ack(e), vec(5));
    pulse(e, 6);                                /* lower: waits */
    assert_false(pending(e));
    pulse(e, 5);                                /* same level in service: waits */
    assert_false(pending(e));
    pulse(e, 3);                                /* higher: interrupts */
    assert_true(pending(e));
    assert_int_equal(ack(e), vec(3));
    assert_int_equal(read_isr(e, M_CMD), (1u << 3) | (1u << 5));
    out(e, M_CMD, PIC8259_OCW2_EOI);            /* ends 3, the highest */
    assert_int_equal(read_isr(e, M_CMD), 1u << 5);
    assert_false(pending(e));                   /* 5 and 6 wait behind 5 */
    out(e, M_CMD, PIC8259_OCW2_EOI);
    assert_int_equal(ack(e), vec(5));
    out(e, M_CMD, PIC8259_OCW2_EOI);
    assert_int_equal(ack(e), vec(6));
    out(e, M_CMD, PIC8259_OCW2_EOI);
    assert_int_equal(ack(e), -1);
}

static void test_eoi(void **state)
{
    struct env *e = *state;
    pulse(e, 6);
    assert_int_equal(ack(e), vec(6));
    pulse(e, 4);
    assert_int_equal(ack(e), vec(4));
    pulse(e, 1);
    assert_int_equal(ack(e), vec(1));
    assert_int_equal(read_isr(e, M_CMD), 0x52);
    /* Specific EOI ends exactly the named level. */
    out(e, M_CMD, PIC8259_OCW2_SEOI | 4);
    assert_int_equal(read_isr(e, M_CMD), 0x42);
    out(e, M_CMD, PIC8259_OCW2_SEOI | 5);       /* not in service: no effect */
    assert_int_equal(read_isr(e, M_CMD), 0x42);
    /* Non-specific EOI ends the highest level in service. */
    out(e, M_CMD, PIC8259_OCW2_EOI);
    assert_int_equal(read_isr(e, M_CMD), 0x40);
    out(e, M_CMD, PIC8259_OCW2_NOP);
    assert_int_equal(read_isr(e, M_CMD), 0x40);
    out(e, M_CMD, PIC8259_OCW2_EOI);
    assert_int_equal(read_isr(e, M_CMD), 0);
    out(e, M_CMD, PIC8259_OCW2_EOI);            /* nothing in service: harmless */
    assert_int_equal(read_isr(e, M_CMD), 0);
}

/* ---- triggering ---------------------------------------------------------------------- */

static void test_edge_triggering(void **state)
{
    struct env *e = *state;
    irq(e, 4, true);
    assert_int_equal(ack(e), vec(4));
    eoi(e, 4);
    irq(e, 4, true);                            /* still high: no new edge */
    assert_false(pending(e));
    assert_int_equal(read_irr(e, M_CMD), 0);
    irq(e, 4, false);
    irq(e, 4, true);                            /* low, then high again */
    assert_true(pending(e));
    assert_int_equal(ack(e), vec(4));
    eoi(e, 4);
    irq(e, 4, false);

    /* A pulse stays latched in IRR until acknowledged. */
    pulse(e, 6);
    assert_int_equal(read_irr(e, M_CMD), 1u << 6);
    assert_int_equal(ack(e), vec(6));
    eoi(e, 6);
    /* Two pulses before the acknowledge are one request. */
    pulse(e, 6);
    pulse(e, 6);
    assert_int_equal(ack(e), vec(6));
    eoi(e, 6);
    assert_false(pending(e));
}

static void test_level_triggering_elcr(void **state)
{
    struct env *e = *state;
    /* IRQ 0, 1, 2, 8 and 13 cannot be level-triggered (PIIX4 ELCR). */
    out(e, PIC8259_ELCR_MASTER, 0xFF);
    out(e, PIC8259_ELCR_SLAVE, 0xFF);
    assert_int_equal(in(e, PIC8259_ELCR_MASTER), 0xF8);
    assert_int_equal(in(e, PIC8259_ELCR_SLAVE), 0xDE);
    out(e, PIC8259_ELCR_MASTER, 1u << 5);
    out(e, PIC8259_ELCR_SLAVE, 1u << (10 - 8));

    irq(e, 10, true);
    assert_int_equal(ack(e), vec(10));
    eoi(e, 10);
    assert_true(pending(e));                    /* still high: requests again */
    assert_int_equal(ack(e), vec(10));
    irq(e, 10, false);
    eoi(e, 10);
    assert_false(pending(e));

    /* A level request disappears when its line drops before the ack. */
    irq(e, 5, true);
    assert_true(pending(e));
    assert_int_equal(read_irr(e, M_CMD), 1u << 5);
    irq(e, 5, false);
    assert_false(pending(e));
    assert_int_equal(read_irr(e, M_CMD), 0);
    assert_int_equal(ack(e), -1);

    /* Switching a held line to level triggering requests at once. */
    irq(e, 7, true);
    assert_int_equal(ack(e), vec(7));
    eoi(e, 7);
    assert_false(pending(e));
    out(e, PIC8259_ELCR_MASTER, (1u << 5) | (1u << 7));
    assert_int_equal(ack(e), vec(7));
}

static void test_level_triggering_ltim(void **state)
{
    struct env *e = *state;
    irq(e, 3, true);
    assert_int_equal(ack(e), vec(3));
    eoi(e, 3);
    assert_false(pending(e));                   /* edge: no retrigger */
    out(e, M_CMD, PIC8259_ICW1_INIT | PIC8259_ICW1_LTIM | PIC8259_ICW1_IC4);
    out(e, M_DATA, M_BASE);
    out(e, M_DATA, 0x04);
    out(e, M_DATA, PIC8259_ICW4_8086);
    assert_true(pending(e));                    /* level: the held line requests */
    assert_int_equal(ack(e), vec(3));
    eoi(e, 3);
    assert_int_equal(ack(e), vec(3));
}

/* ---- cascade ------------------------------------------------------------------------ */

static void test_cascade(void **state)
{
    struct env *e = *state;
    pulse(e, 12);
    pulse(e, 10);
    assert_int_equal(read_irr(e, S_CMD), (1u << 2) | (1u << 4));
    assert_int_equal(read_irr(e, M_CMD), 1u << PIC8259_CASCADE_IRQ);
    assert_int_equal(ack(e), vec(10));
    assert_int_equal(read_isr(e, M_CMD), 1u << PIC8259_CASCADE_IRQ);
    assert_int_equal(read_isr(e, S_CMD), 1u << 2);
    assert_false(pending(e));
    /* The slave's EOI lets it raise IR2 again; the master waits for its own. */
    out(e, S_CMD, PIC8259_OCW2_SEOI | 2);
    assert_int_equal(read_irr(e, M_CMD), 1u << PIC8259_CASCADE_IRQ);
    assert_false(pending(e));
    out(e, M_CMD, PIC8259_OCW2_SEOI | PIC8259_CASCADE_IRQ);
    assert_true(pending(e));
    assert_int_equal(ack(e), vec(12));
    /* EOI in the other order works as well. */
    pulse(e, 13);                               /* below 12 on the slave */
    out(e, M_CMD, PIC8259_OCW2_EOI);
    assert_false(pending(e));                   /* slave still has 12 in service */
    out(e, S_CMD, PIC8259_OCW2_EOI);
    assert_int_equal(ack(e), vec(13));
    eoi(e, 13);
    /* A higher slave IRQ raises IR2 at once, but the master waits. */
    pulse(e, 12);
    assert_int_equal(ack(e), vec(12));
    pulse(e, 9);
    assert_int_equal(read_irr(e, M_CMD), 1u << PIC8259_CASCADE_IRQ);
    assert_false(pending(e));
    out(e, M_CMD, PIC8259_OCW2_EOI);
    assert_int_equal(ack(e), vec(9));           /* nested in 12 on the slave */
    assert_int_equal(read_isr(e, S_CMD), (1u << 1) | (1u << 4));
    eoi(e, 9);
    eoi(e, 12);
    /* A master IRQ of higher priority interrupts a slave one. */
    pulse(e, 14);
    assert_int_equal(ack(e), vec(14));
    pulse(e, 3);
    assert_false(pending(e));
    pulse(e, 1);
    assert_int_equal(ack(e), vec(1));
    eoi(e, 1);
    eoi(e, 14);
    assert_int_equal(ack(e), vec(3));
}

static void test_spurious_slave_irq(void **state)
{
    struct env *e = *state;
    pulse(e, 11);
    assert_true(pending(e));
    /* The request goes away after the slave raised IR2 (masked here). */
    out(e, S_DATA, 1u << 3);
    assert_true(pending(e));                    /* IR2's edge is latched */
    assert_int_equal(ack(e), S_BASE + 7);       /* the slave's default IR7 */
    assert_int_equal(read_isr(e, S_CMD), 0);    /* how Linux tells it is spurious */
    assert_int_equal(read_isr(e, M_CMD), 1u << PIC8259_CASCADE_IRQ);
    out(e, M_CMD, PIC8259_OCW2_SEOI | PIC8259_CASCADE_IRQ);
    assert_false(pending(e));
    out(e, S_DATA, 0);
    assert_int_equal(ack(e), vec(11));          /* still latched in the slave */
}

static void test_special_fully_nested(void **state)
{
    struct env *e = *state;
    /* Fully nested: a higher slave IRQ waits while IR2 is in service. */
    pulse(e, 12);
    assert_int_equal(ack(e), vec(12));
    pulse(e, 9);
    assert_false(pending(e));
    eoi(e, 12);
    assert_int_equal(ack(e), vec(9));
    eoi(e, 9);

    /* Special fully nested (master ICW4 SFNM): it nests. */
    linux_init(e, PIC8259_ICW4_8086 | PIC8259_ICW4_SFNM, PIC8259_ICW4_8086);
    pulse(e, 12);
    assert_int_equal(ack(e), vec(12));
    pulse(e, 13);                               /* lower on the slave: waits */
    assert_false(pending(e));
    pulse(e, 9);
    assert_true(pending(e));
    assert_int_equal(ack(e), vec(9));
    pulse(e, 5);                                /* lower on the master: waits */
    out(e, S_CMD, PIC8259_OCW2_SEOI | 1);
    assert_false(pending(e));                   /* 13 is below 12 in service */
    out(e, S_CMD, PIC8259_OCW2_SEOI | 4);
    /* With the slave's ISR empty, the master still passes its requests
     * while IR2 is in service: software checks the slave's ISR before the
     * master's EOI in this mode. */
    assert_true(pending(e));
    assert_int_equal(ack(e), vec(13));
    eoi(e, 13);
    assert_int_equal(ack(e), vec(5));
}

/* ---- OCW3, AEOI, rotation --------------------------------------------------------- */

static void test_ocw3_read_registers(void **state)
{
    struct env *e = *state;
    pulse(e, 1);
    pulse(e, 5);
    pulse(e, 10);
    assert_int_equal(in(e, M_CMD), 0x26);       /* IRR is read by default */
    assert_int_equal(in(e, S_CMD), 0x04);
    assert_int_equal(ack(e), vec(1));
    out(e, M_CMD, PIC8259_OCW3_READ_ISR);
    assert_int_equal(in(e, M_CMD), 0x02);
    assert_int_equal(in(e, M_CMD), 0x02);       /* the selection sticks ... */
    out(e, M_CMD, PIC8259_OCW3);                /* ... RR=0 leaves it */
    assert_int_equal(in(e, M_CMD), 0x02);
    out(e, M_CMD, PIC8259_OCW3_READ_IRR);
    assert_int_equal(in(e, M_CMD), 0x24);
    assert_int_equal(in(e, M_DATA), 0);         /* the data port reads IMR */
}

static void test_poll(void **state)
{
    struct env *e = *state;
    out(e, M_CMD, PIC8259_OCW3_POLL);
    assert_int_equal(in(e, M_CMD), 0);          /* nothing pending */
    assert_int_equal(in(e, M_CMD), 0);          /* back to reading IRR */
    pulse(e, 6);
    pulse(e, 4);
    out(e, M_CMD, PIC8259_OCW3_POLL);
    assert_int_equal(in(e, M_CMD), 0x80 | 4);   /* acts as the acknowledge */
    assert_int_equal(read_isr(e, M_CMD), 1u << 4);
    assert_false(pending(e));
    out(e, M_CMD, PIC8259_OCW2_EOI);
    out(e, M_CMD, PIC8259_OCW3_POLL);
    assert_int_equal(in(e, M_CMD), 0x80 | 6);
    out(e, M_CMD, PIC8259_OCW2_EOI);
    assert_false(pending(e));
}

static void test_aeoi(void **state)
{
    struct env *e = *state;
    linux_init(e, PIC8259_ICW4_8086 | PIC8259_ICW4_AEOI, PIC8259_ICW4_8086 | PIC8259_ICW4_AEOI);
    pulse(e, 5);
    pulse(e, 6);
    assert_int_equal(ack(e), vec(5));
    assert_int_equal(read_isr(e, M_CMD), 0);    /* no EOI needed */
    assert_true(pending(e));                    /* so 6 follows at once */
    assert_int_equal(ack(e), vec(6));
    /* Cascaded: both chips in AEOI, two slave IRQs back to back. */
    pulse(e, 9);
    pulse(e, 11);
    assert_int_equal(ack(e), vec(9));
    assert_int_equal(read_isr(e, S_CMD), 0);
    assert_int_equal(read_isr(e, M_CMD), 0);
    assert_true(pending(e));                    /* the slave still requests */
    assert_int_equal(ack(e), vec(11));
    assert_false(pending(e));
    assert_int_equal(ack(e), -1);
}

static void test_rotation(void **state)
{
    struct env *e = *state;
    /* Set priority: IR4 lowest, so IR5 highest. */
    out(e, M_CMD, PIC8259_OCW2_SET_PRIO | 4);
    pulse(e, 3);
    pulse(e, 6);
    pulse(e, 4);
    assert_int_equal(ack(e), vec(6));
    assert_false(pending(e));                   /* 3 and 4 rank below 6 now */
    out(e, M_CMD, PIC8259_OCW2_EOI);
    assert_int_equal(ack(e), vec(3));
    out(e, M_CMD, PIC8259_OCW2_EOI);
    assert_int_equal(ack(e), vec(4));
    out(e, M_CMD, PIC8259_OCW2_EOI);

    /* Rotate on non-specific EOI: the served level becomes lowest. */
    out(e, M_CMD, PIC8259_OCW2_SET_PRIO | 7);
    pulse(e, 1);
    assert_int_equal(ack(e), vec(1));
    out(e, M_CMD, PIC8259_OCW2_ROT_EOI);
    pulse(e, 1);
    pulse(e, 7);
    assert_int_equal(ack(e), vec(7));           /* 7 now outranks 1 */
    out(e, M_CMD, PIC8259_OCW2_ROT_SEOI | 7);   /* rotate on specific EOI */
    pulse(e, 0);
    assert_int_equal(ack(e), vec(0));           /* 0 is now highest */
    out(e, M_CMD, PIC8259_OCW2_EOI);
    assert_int_equal(ack(e), vec(1));
    out(e, M_CMD, PIC8259_OCW2_EOI);

    /* Rotate in AEOI mode. */
    linux_init(e, PIC8259_ICW4_8086 | PIC8259_ICW4_AEOI, PIC8259_ICW4_8086);
    out(e, M_CMD, PIC8259_OCW2_ROT_AEOI_SET);
    pulse(e, 3);
    assert_int_equal(ack(e), vec(3));
    pulse(e, 3);
    pulse(e, 5);
    assert_int_equal(ack(e), vec(5));           /* 3 was rotated to lowest */
    assert_int_equal(ack(e), vec(3));
    out(e, M_CMD, PIC8259_OCW2_ROT_AEOI_CLR);
    pulse(e, 3);
    assert_int_equal(ack(e), vec(3));           /* no rotation: 3 is lowest */
    pulse(e, 3);
    pulse(e, 4);
    assert_int_equal(ack(e), vec(4));
}

static void test_special_mask_mode(void **state)
{
    struct env *e = *state;
    pulse(e, 3);
    assert_int_equal(ack(e), vec(3));
    pulse(e, 6);
    assert_false(pending(e));
    /* The handler masks its own level and enters special mask mode. */
    out(e, M_DATA, 1u << 3);
    out(e, M_CMD, PIC8259_OCW3_SMM_SET);
    assert_true(pending(e));                    /* lower levels are enabled */
    assert_int_equal(ack(e), vec(6));
    out(e, M_CMD, PIC8259_OCW2_SEOI | 6);
    pulse(e, 5);
    out(e, M_CMD, PIC8259_OCW3_SMM_CLR);
    assert_false(pending(e));                   /* 3 in service blocks again */
    out(e, M_CMD, PIC8259_OCW2_SEOI | 3);
    out(e, M_DATA, 0);
    assert_int_equal(ack(e), vec(5));
}

/* ---- the interface ------------------------------------------------------------------- */

static void test_intr_reports_changes_only(void **state)
{
    struct env *e = *state;
    assert_int_equal(e->intr_calls, 0);
    irq(e, 4, true);
    irq(e, 3, true);
    irq(e, 9, true);
    assert_int_equal(e->intr_calls, 1);
    assert_true(e->intr);
    assert_int_equal(ack(e), vec(9));           /* IR2 outranks IR3 */
    assert_false(e->intr);                      /* 3 and 4 rank below it */
    eoi(e, 9);
    assert_true(e->intr);
    assert_int_equal(ack(e), vec(3));
    assert_int_equal(ack(e), -1);
    eoi(e, 3);
    assert_int_equal(ack(e), vec(4));
    eoi(e, 4);
    assert_false(e->intr);
    assert_int_equal(e->intr_calls, 6);
}

static void test_ignored_inputs_and_ports(void **state)
{
    struct env *e = *state;
    irq(e, PIC8259_CASCADE_IRQ, true);          /* driven by the slave only */
    irq(e, PIC8259_NR_IRQS, true);
    assert_false(pending(e));
    assert_int_equal(in(e, 0x22), 0xFF);
    assert_int_equal(in(e, 0x4D2), 0xFF);
    out(e, 0x22, 0x00);
    assert_int_equal(in(e, M_DATA), 0);
    assert_int_equal(e->intr_calls, 0);
}

static void test_ack_without_interrupt(void **state)
{
    struct env *e = *state;
    assert_int_equal(ack(e), -1);
    pulse(e, 4);
    out(e, M_DATA, 1u << 4);
    assert_int_equal(ack(e), -1);               /* masked */
    assert_int_equal(read_isr(e, M_CMD), 0);
}

static void test_null_host(void **state)
{
    (void)state;
    struct pic8259 p;
    pic8259_init(&p, NULL);
    pic8259_write(&p, M_DATA, 0xFA);
    pic8259_set_irq(&p, 0, true);
    assert_true(pic8259_has_interrupt(&p));
    assert_int_equal(pic8259_ack(&p), 0x08);
}

#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_bios_state, setup_bios, teardown),
        T(test_linux_init_vectors),
        T(test_icw1_resets),
        T(test_icw_sequence_variants),
        T(test_masking),
        T(test_priority_order),
        T(test_nesting),
        T(test_eoi),
        T(test_edge_triggering),
        T(test_level_triggering_elcr),
        T(test_level_triggering_ltim),
        T(test_cascade),
        T(test_spurious_slave_irq),
        T(test_special_fully_nested),
        T(test_ocw3_read_registers),
        T(test_poll),
        T(test_aeoi),
        T(test_rotation),
        T(test_special_mask_mode),
        T(test_intr_reports_changes_only),
        T(test_ignored_inputs_and_ports),
        T(test_ack_without_interrupt),
        cmocka_unit_test(test_null_host),
    };
    return cmocka_run_group_tests_name("pic8259", tests, NULL, NULL);
}
