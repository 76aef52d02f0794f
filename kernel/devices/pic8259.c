/*
 * The PC's master/slave 8259A pair; see include/hv/pic8259.h.
 *
 * Reference: Intel "8259A Programmable Interrupt Controller (8259A/8259A-2)"
 * datasheet (order number 231468), cited as [DS <section>] by its section
 * titles ("Interrupt Sequence", "Initialization Command Words", "Operation
 * Command Words", "End of Interrupt", "Automatic Rotation", ...), and for
 * the ELCR the Intel 82371AB PIIX4 datasheet [PIIX4 ELCR1/ELCR2].
 *
 * Each chip resolves priority among its eight inputs [DS Priority
 * Resolver]: the highest-priority request in IRR that is not masked by IMR
 * asserts INT when it has a higher priority than every level in service in
 * ISR (fully nested mode).  Priorities rotate: `lowest` is the level with
 * the lowest priority, IR0 highest after initialization (lowest = 7).
 *
 * Triggering [DS Edge and Level Triggered Modes]: an edge-triggered input
 * sets its IRR bit on a rising edge, and a line held high does not request
 * again until it has gone low and high; a level-triggered input (ELCR bit,
 * or ICW1.LTIM for the whole chip) requests while it is high.  Model
 * decision: an edge-triggered request stays latched in IRR when its line
 * falls before the acknowledge.  The datasheet asks the line to stay high
 * until the first INTA pulse and would otherwise answer with a default IR7;
 * latching lets device models pulse a line (raise, then lower at once)
 * without losing the interrupt.
 *
 * Cascade: the slave's INT drives the master's IR2 like any device would
 * (edge-triggered unless LTIM says otherwise).  During the INTA cycle the
 * master puts IR2 in service and the slave supplies the vector [DS
 * Cascading].  The slave's INT is treated as dropping during that cycle and
 * re-evaluated after it, so a slave request still pending afterwards (in
 * AEOI or special mask mode) is a fresh edge on IR2 instead of being lost.
 *
 * INTA [DS Interrupt Sequence, 8086 mode]: the highest-priority request
 * moves from IRR to ISR (not set in AEOI mode, where the second INTA pulse
 * clears it again) and the vector is ICW2 bits 7:3 | level.  A level-
 * triggered input that is still high keeps requesting (IRR set again at
 * once), to be served again after the EOI.  INTA when INTR is low does not
 * happen (pic8259_ack returns -1); a cascade acknowledge that finds the
 * slave without a request gets the slave's IR7 vector with no in-service
 * bit set (the spurious IRQ 15 that Linux checks for through the ISR).
 *
 * Implemented: ICW1-ICW4 (edge/level, single/cascade, ICW4 needed, vector
 * base, cascade ID, 8086 mode, AEOI, SFNM), OCW1, every OCW2 command
 * (non-specific / specific EOI, rotate on non-specific / specific EOI,
 * rotate in AEOI set / clear, set priority), OCW3 (read IRR / ISR, poll,
 * special mask mode), special fully nested mode on the master, ELCR.
 *
 * Not modelled: MCS-80/85 mode (ICW4 uPM = 0, or no ICW4): the vector is
 * computed as in 8086 mode and ADI and the A15-A8 address bytes are ignored;
 * buffered mode (ICW4 BUF, M/S: pin behaviour only, stored); the slave's
 * ICW3 ID (the PC's slave always answers the master's IR2 acknowledge) and
 * master ICW3 bits other than IR2 (no slave is wired there: the master
 * answers for those inputs itself); in special mask mode a non-specific EOI
 * still clears the highest in-service level (the datasheet asks for a
 * specific EOI there).
 */
#include <hv/pic8259.h>
#include <hv/kstring.h>

#define NR_LEVELS           8
#define LEVEL_MASK          0x07
#define NO_LEVEL            (-1)
#define SPURIOUS_LEVEL      7       /* the default IR7 answer [DS Interrupt Sequence] */
#define VECTOR_BASE_MASK    0xF8    /* ICW2 T7-T3 in 8086 mode */

/* Initialization sequence steps [DS Initialization Command Words, fig. 6]. */
enum { STEP_READY, STEP_ICW2, STEP_ICW3, STEP_ICW4 };

/* OCW2 fields [DS Operation Command Words, OCW2]. */
#define OCW2_CMD_MASK       0xE0    /* R SL EOI */

/* OCW3 bits [DS Operation Command Words, OCW3]; bit 3 set, bit 4 clear. */
#define OCW3_SELECT         0x08
#define OCW3_RIS            0x01
#define OCW3_RR             0x02
#define OCW3_P              0x04
#define OCW3_SMM            0x20
#define OCW3_ESMM           0x40

#define POLL_INT            0x80    /* poll word bit 7: an interrupt was pending */

/* PIIX4 ELCR: IRQ 0, 1, 2 (timer, keyboard, cascade), 8 (RTC) and 13 (FPU
 * error) are edge-triggered only; their bits are reserved and read 0. */
#define ELCR_MASTER_MASK    0xF8
#define ELCR_SLAVE_MASK     0xDE

#define OPEN_BUS            0xFF

/* What a PC BIOS programs (and Linux again): ICW1 edge, cascade, ICW4. */
#define BIOS_ICW1           (PIC8259_ICW1_INIT | PIC8259_ICW1_IC4)
#define BIOS_MASTER_BASE    0x08
#define BIOS_SLAVE_BASE     0x70
#define BIOS_MASTER_ICW3    (1u << PIC8259_CASCADE_IRQ)
#define BIOS_SLAVE_ICW3     PIC8259_CASCADE_IRQ
#define BIOS_ICW4           PIC8259_ICW4_8086
#define BIOS_MASTER_IMR     (uint8_t)~(1u << PIC8259_CASCADE_IRQ)
#define BIOS_SLAVE_IMR      0xFF

/* ---- priority ------------------------------------------------------------ */

/* 0 for the highest-priority level, 7 for `lowest`. */
static unsigned rank(const struct pic8259_chip *c, unsigned level)
{
    return (level - c->lowest - 1) & LEVEL_MASK;
}

/* The highest-priority level set in mask, or NO_LEVEL. */
static int highest_level(const struct pic8259_chip *c, uint8_t mask)
{
    for (unsigned i = 0; i < NR_LEVELS; i++) {
        unsigned level = (c->lowest + 1 + i) & LEVEL_MASK;
        if (mask & (1u << level))
            return (int)level;
    }
    return NO_LEVEL;
}

static uint8_t level_triggered(const struct pic8259_chip *c)
{
    return (c->icw1 & PIC8259_ICW1_LTIM) ? 0xFF : c->elcr;
}

static bool is_master(const struct pic8259 *p, const struct pic8259_chip *c)
{
    return c == &p->master;
}

/* The master inputs ICW3 declares as slave inputs (none in single mode). */
static uint8_t cascade_inputs(const struct pic8259 *p, const struct pic8259_chip *c)
{
    if (!is_master(p, c) || (c->icw1 & PIC8259_ICW1_SNGL))
        return 0;
    return c->icw3;
}

/* Whether the slave answers an acknowledge of master level `level`. */
static bool slave_answers(const struct pic8259 *p, int level)
{
    return level == PIC8259_CASCADE_IRQ &&
           (cascade_inputs(p, &p->master) & (1u << PIC8259_CASCADE_IRQ));
}

/* The level whose request asserts INT, or NO_LEVEL [DS Priority Resolver,
 * Fully Nested Mode].  In special mask mode, masked levels in service do
 * not block others [DS Special Mask Mode]; in special fully nested mode a
 * slave input may interrupt its own level in service, so that the slave
 * can nest its requests [DS Special Fully Nested Mode]. */
static int requesting_level(const struct pic8259 *p, const struct pic8259_chip *c)
{
    int req = highest_level(c, c->irr & ~c->imr);
    if (req == NO_LEVEL)
        return NO_LEVEL;
    uint8_t in_service = c->isr;
    if (c->special_mask)
        in_service &= ~c->imr;
    int busy = highest_level(c, in_service);
    if (busy == NO_LEVEL || rank(c, (unsigned)req) < rank(c, (unsigned)busy))
        return req;
    if (req == busy && (c->icw4 & PIC8259_ICW4_SFNM) &&
        (cascade_inputs(p, c) & (1u << req)))
        return req;
    return NO_LEVEL;
}

/* ---- inputs and outputs ---------------------------------------------------- */

/* An IR input changes level [DS Edge and Level Triggered Modes]. */
static void drive_input(struct pic8259_chip *c, unsigned level_nr, bool high)
{
    uint8_t bit = (uint8_t)(1u << level_nr);
    bool was_high = c->lines & bit;
    if (high)
        c->lines |= bit;
    else
        c->lines &= ~bit;
    if (level_triggered(c) & bit) {
        if (high)
            c->irr |= bit;
        else
            c->irr &= ~bit;
    } else if (high && !was_high) {
        c->irr |= bit;                  /* rising edge; falling keeps it (see top) */
    }
}

/* Propagates the slave's INT to master IR2 and the master's INT to the CPU,
 * reporting only changes of the latter. */
static void update(struct pic8259 *p)
{
    p->slave.int_out = requesting_level(p, &p->slave) != NO_LEVEL;
    drive_input(&p->master, PIC8259_CASCADE_IRQ, p->slave.int_out);
    p->master.int_out = requesting_level(p, &p->master) != NO_LEVEL;
    if (p->master.int_out == p->intr)
        return;
    p->intr = p->master.int_out;
    if (p->host.intr)
        p->host.intr(p->host.ctx, p->intr);
}

/* ---- acknowledge ---------------------------------------------------------- */

/* The first INTA pulse (or a poll read) for `level`: IRR to ISR [DS
 * Interrupt Sequence]; in AEOI mode the ISR bit is cleared again at the end
 * of the cycle, rotating if asked [DS Automatic End of Interrupt Mode]. */
static void serve(struct pic8259_chip *c, unsigned level)
{
    uint8_t bit = (uint8_t)(1u << level);
    c->irr &= ~bit;
    c->irr |= c->lines & level_triggered(c) & bit;  /* a held level requests again */
    if (!(c->icw4 & PIC8259_ICW4_AEOI))
        c->isr |= bit;
    else if (c->rotate_in_aeoi)
        c->lowest = (uint8_t)level;
}

static uint8_t vector(const struct pic8259_chip *c, unsigned level)
{
    return (uint8_t)(c->vector_base | level);
}

/* The slave's part of a cascaded INTA: its vector, or its IR7 vector when
 * its request went away after it raised IR2 (masked meanwhile, or a level
 * input that dropped) [DS Interrupt Sequence]. */
static uint8_t slave_ack(struct pic8259 *p)
{
    int level = requesting_level(p, &p->slave);
    if (level == NO_LEVEL)
        return vector(&p->slave, SPURIOUS_LEVEL);
    serve(&p->slave, (unsigned)level);
    /* INT drops during the cycle; update() raises it again (a new edge on
     * IR2) if the slave still requests. */
    drive_input(&p->master, PIC8259_CASCADE_IRQ, false);
    return vector(&p->slave, (unsigned)level);
}

/* OCW3 poll [DS Poll Command]: the read acts as an INTA without a vector
 * and returns bit 7 = request pending, bits 2:0 = its level. */
static uint8_t poll_read(struct pic8259 *p, struct pic8259_chip *c)
{
    c->poll = false;
    int level = requesting_level(p, c);
    if (level == NO_LEVEL)
        return 0;
    serve(c, (unsigned)level);
    update(p);
    return (uint8_t)(POLL_INT | level);
}

/* ---- command words -------------------------------------------------------- */

/* ICW1 [DS Initialization Command Words]: edge sense reset (a line already
 * high needs a new rising edge), IMR cleared, IR7 lowest priority, special
 * mask mode off, IRR selected for reads, ICW4 functions zeroed without IC4.
 * The model also clears ISR, which the datasheet's list leaves unsaid, so
 * that re-initialization starts clean. */
static void write_icw1(struct pic8259_chip *c, uint8_t value)
{
    c->icw1 = value;
    c->init_step = STEP_ICW2;
    c->imr = 0;
    c->isr = 0;
    c->irr = c->lines & level_triggered(c);
    c->lowest = NR_LEVELS - 1;
    c->special_mask = false;
    c->read_isr = false;
    c->poll = false;
    c->rotate_in_aeoi = false;
    if (!(value & PIC8259_ICW1_IC4))
        c->icw4 = 0;
}

/* ICW2-ICW4 in order, skipping ICW3 in single mode and ICW4 without IC4
 * [DS Initialization Command Words, initialization flow chart]. */
static void write_icw(struct pic8259_chip *c, uint8_t value)
{
    bool single = c->icw1 & PIC8259_ICW1_SNGL;
    bool need_icw4 = c->icw1 & PIC8259_ICW1_IC4;
    switch (c->init_step) {
    case STEP_ICW2:
        c->vector_base = value & VECTOR_BASE_MASK;
        c->init_step = !single ? STEP_ICW3 : need_icw4 ? STEP_ICW4 : STEP_READY;
        break;
    case STEP_ICW3:
        c->icw3 = value;
        c->init_step = need_icw4 ? STEP_ICW4 : STEP_READY;
        break;
    case STEP_ICW4:
        c->icw4 = value;
        c->init_step = STEP_READY;
        break;
    default:
        break;
    }
}

/* Ends the in-service level `level` (if any), rotating if asked. */
static void end_of_interrupt(struct pic8259_chip *c, int level, bool rotate)
{
    if (level == NO_LEVEL)
        return;
    c->isr &= ~(1u << level);
    if (rotate)
        c->lowest = (uint8_t)level;
}

/* OCW2 [DS Operation Command Words, OCW2; End of Interrupt; Automatic
 * Rotation; Specific Rotation].  A non-specific EOI ends the highest level
 * in service, the one being served in fully nested mode. */
static void write_ocw2(struct pic8259_chip *c, uint8_t value)
{
    unsigned level = value & LEVEL_MASK;
    switch (value & OCW2_CMD_MASK) {
    case PIC8259_OCW2_EOI:
        end_of_interrupt(c, highest_level(c, c->isr), false);
        break;
    case PIC8259_OCW2_SEOI:
        end_of_interrupt(c, (int)level, false);
        break;
    case PIC8259_OCW2_ROT_EOI:
        end_of_interrupt(c, highest_level(c, c->isr), true);
        break;
    case PIC8259_OCW2_ROT_SEOI:
        end_of_interrupt(c, (int)level, true);
        break;
    case PIC8259_OCW2_SET_PRIO:
        c->lowest = (uint8_t)level;
        break;
    case PIC8259_OCW2_ROT_AEOI_SET:
        c->rotate_in_aeoi = true;
        break;
    case PIC8259_OCW2_ROT_AEOI_CLR:
        c->rotate_in_aeoi = false;
        break;
    default:                            /* PIC8259_OCW2_NOP */
        break;
    }
}

/* OCW3 [DS Operation Command Words, OCW3]: SMM only with ESMM, RIS only
 * with RR; P asks the next read to poll. */
static void write_ocw3(struct pic8259_chip *c, uint8_t value)
{
    if (value & OCW3_ESMM)
        c->special_mask = value & OCW3_SMM;
    if (value & OCW3_RR)
        c->read_isr = value & OCW3_RIS;
    if (value & OCW3_P)
        c->poll = true;
}

/* ---- ports ------------------------------------------------------------------ */

static void write_command(struct pic8259_chip *c, uint8_t value)
{
    if (value & PIC8259_ICW1_INIT)
        write_icw1(c, value);
    else if (value & OCW3_SELECT)
        write_ocw3(c, value);
    else
        write_ocw2(c, value);
}

/* After ICW1 the data port takes ICW2-4, then OCW1 (the IMR). */
static void write_data(struct pic8259_chip *c, uint8_t value)
{
    if (c->init_step != STEP_READY)
        write_icw(c, value);
    else
        c->imr = value;
}

static uint8_t read_command(struct pic8259 *p, struct pic8259_chip *c)
{
    if (c->poll)
        return poll_read(p, c);
    return c->read_isr ? c->isr : c->irr;
}

/* A change of the ELCR makes newly level-triggered inputs request from
 * their current level; inputs made edge-triggered keep their IRR bit. */
static void write_elcr(struct pic8259_chip *c, uint8_t value, uint8_t writable)
{
    c->elcr = value & writable;
    uint8_t level = level_triggered(c);
    c->irr = (uint8_t)((c->irr & ~level) | (c->lines & level));
}

/* ---- interface ------------------------------------------------------------- */

void pic8259_init(struct pic8259 *p, const struct pic8259_host *host)
{
    memset(p, 0, sizeof(*p));
    if (host)
        p->host = *host;
    static const struct {
        uint16_t cmd, data;
        uint8_t base, icw3, imr;
    } bios[] = {
        { PIC8259_MASTER_CMD, PIC8259_MASTER_DATA, BIOS_MASTER_BASE, BIOS_MASTER_ICW3, BIOS_MASTER_IMR },
        { PIC8259_SLAVE_CMD, PIC8259_SLAVE_DATA, BIOS_SLAVE_BASE, BIOS_SLAVE_ICW3, BIOS_SLAVE_IMR },
    };
    for (size_t i = 0; i < ARRAY_SIZE(bios); i++) {
        pic8259_write(p, bios[i].cmd, BIOS_ICW1);
        pic8259_write(p, bios[i].data, bios[i].base);
        pic8259_write(p, bios[i].data, bios[i].icw3);
        pic8259_write(p, bios[i].data, BIOS_ICW4);
        pic8259_write(p, bios[i].data, bios[i].imr);
    }
}

uint8_t pic8259_read(struct pic8259 *p, uint16_t port)
{
    switch (port) {
    case PIC8259_MASTER_CMD:
        return read_command(p, &p->master);
    case PIC8259_MASTER_DATA:
        return p->master.imr;
    case PIC8259_SLAVE_CMD:
        return read_command(p, &p->slave);
    case PIC8259_SLAVE_DATA:
        return p->slave.imr;
    case PIC8259_ELCR_MASTER:
        return p->master.elcr;
    case PIC8259_ELCR_SLAVE:
        return p->slave.elcr;
    default:
        return OPEN_BUS;
    }
}

void pic8259_write(struct pic8259 *p, uint16_t port, uint8_t value)
{
    switch (port) {
    case PIC8259_MASTER_CMD:
        write_command(&p->master, value);
        break;
    case PIC8259_MASTER_DATA:
        write_data(&p->master, value);
        break;
    case PIC8259_SLAVE_CMD:
        write_command(&p->slave, value);
        break;
    case PIC8259_SLAVE_DATA:
        write_data(&p->slave, value);
        break;
    case PIC8259_ELCR_MASTER:
        write_elcr(&p->master, value, ELCR_MASTER_MASK);
        break;
    case PIC8259_ELCR_SLAVE:
        write_elcr(&p->slave, value, ELCR_SLAVE_MASK);
        break;
    default:
        return;
    }
    update(p);
}

void pic8259_set_irq(struct pic8259 *p, unsigned irq, bool level)
{
    if (irq >= PIC8259_NR_IRQS || irq == PIC8259_CASCADE_IRQ)
        return;
    struct pic8259_chip *c = irq < NR_LEVELS ? &p->master : &p->slave;
    drive_input(c, irq & LEVEL_MASK, level);
    update(p);
}

int pic8259_ack(struct pic8259 *p)
{
    int level = requesting_level(p, &p->master);
    if (level == NO_LEVEL)
        return -1;
    serve(&p->master, (unsigned)level);
    uint8_t v = slave_answers(p, level) ? slave_ack(p) : vector(&p->master, (unsigned)level);
    update(p);
    return v;
}

bool pic8259_has_interrupt(const struct pic8259 *p)
{
    return p->master.int_out;
}
