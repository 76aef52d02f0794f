/*
 * The PC's pair of Intel 8259A programmable interrupt controllers: a master
 * at ports 20h/21h driving the CPU's INTR, and a slave at A0h/A1h whose INT
 * output is wired to the master's IR2 (IRQ 8-15 arrive through IRQ 2).  The
 * edge/level control registers (ELCR) of PC chipsets (Intel PIIX/ICH) at
 * 4D0h/4D1h select level triggering per IRQ.
 *
 * Pure: no I/O, no timers, no global state.  Devices drive the IRQ inputs
 * with pic8259_set_irq(); the CPU side watches the master's INTR (host->intr
 * reports its changes, pic8259_has_interrupt() reads it) and runs the
 * interrupt acknowledge cycle with pic8259_ack().
 *
 * See kernel/devices/pic8259.c for what is modelled and what is not.
 */
#ifndef HV_PIC8259_H
#define HV_PIC8259_H

#include <hv/types.h>

/* I/O ports (PC/AT). */
#define PIC8259_MASTER_CMD      0x20    /* ICW1, OCW2, OCW3; reads IRR/ISR/poll */
#define PIC8259_MASTER_DATA     0x21    /* ICW2-ICW4, OCW1 (IMR) */
#define PIC8259_SLAVE_CMD       0xA0
#define PIC8259_SLAVE_DATA      0xA1
#define PIC8259_ELCR_MASTER     0x4D0   /* IRQ 0-7 edge(0)/level(1) */
#define PIC8259_ELCR_SLAVE      0x4D1   /* IRQ 8-15 */

#define PIC8259_NR_IRQS         16
#define PIC8259_CASCADE_IRQ     2       /* the master input the slave drives */

/* ICW1 (command port, bit 4 set). */
#define PIC8259_ICW1_IC4        0x01    /* ICW4 follows */
#define PIC8259_ICW1_SNGL       0x02    /* single: no ICW3, no cascade */
#define PIC8259_ICW1_ADI        0x04    /* call address interval 4 (8080 mode only) */
#define PIC8259_ICW1_LTIM       0x08    /* level-triggered inputs */
#define PIC8259_ICW1_INIT       0x10

/* ICW4. */
#define PIC8259_ICW4_8086       0x01    /* uPM: 8086/8088 mode */
#define PIC8259_ICW4_AEOI       0x02    /* automatic end of interrupt */
#define PIC8259_ICW4_MS         0x04    /* buffered mode: master (1) / slave (0) */
#define PIC8259_ICW4_BUF        0x08    /* buffered mode */
#define PIC8259_ICW4_SFNM       0x10    /* special fully nested mode */

/* OCW2 (command port, bits 4:3 = 00): R SL EOI in bits 7:5, level in 2:0. */
#define PIC8259_OCW2_EOI        0x20    /* non-specific EOI */
#define PIC8259_OCW2_SEOI       0x60    /* specific EOI (| level) */
#define PIC8259_OCW2_ROT_EOI    0xA0    /* rotate on non-specific EOI */
#define PIC8259_OCW2_ROT_AEOI_SET 0x80  /* rotate in automatic EOI mode (set) */
#define PIC8259_OCW2_ROT_AEOI_CLR 0x00  /* rotate in automatic EOI mode (clear) */
#define PIC8259_OCW2_ROT_SEOI   0xE0    /* rotate on specific EOI (| level) */
#define PIC8259_OCW2_SET_PRIO   0xC0    /* set priority: level becomes lowest */
#define PIC8259_OCW2_NOP        0x40

/* OCW3 (command port, bits 4:3 = 01). */
#define PIC8259_OCW3            0x08
#define PIC8259_OCW3_READ_IRR   0x0A    /* RR=1, RIS=0 */
#define PIC8259_OCW3_READ_ISR   0x0B    /* RR=1, RIS=1 */
#define PIC8259_OCW3_POLL       0x0C    /* P=1 */
#define PIC8259_OCW3_SMM_SET    0x68    /* ESMM=1, SMM=1 */
#define PIC8259_OCW3_SMM_CLR    0x48    /* ESMM=1, SMM=0 */

/* The master's INT output, to the CPU's INTR pin.  intr may be NULL. */
struct pic8259_host {
    void (*intr)(void *ctx, bool level);
    void *ctx;
};

/* One 8259A; the fields are the model's, not an interface. */
struct pic8259_chip {
    uint8_t irr;            /* interrupt request register */
    uint8_t isr;            /* in-service register */
    uint8_t imr;            /* interrupt mask register (OCW1) */
    uint8_t lines;          /* current levels of the IR inputs */
    uint8_t elcr;           /* level-triggered inputs (ELCR) */
    uint8_t vector_base;    /* ICW2 bits 7:3 */
    uint8_t icw3;           /* master: inputs with slaves; slave: its ID */
    uint8_t lowest;         /* the IR level with the lowest priority */
    uint8_t init_step;      /* the ICW expected next; 0 when initialized */
    uint8_t icw1, icw4;
    bool rotate_in_aeoi;    /* OCW2 R=1 SL=0 EOI=0 */
    bool special_mask;      /* OCW3 SMM */
    bool read_isr;          /* OCW3 RIS: the command port reads ISR */
    bool poll;              /* OCW3 P: the next command port read polls */
    bool int_out;           /* INT output */
};

struct pic8259 {
    struct pic8259_chip master, slave;
    struct pic8259_host host;
    bool intr;              /* the level last reported through host->intr */
};

/* Powers up as a PC BIOS leaves the pair: initialized with ICW1 11h, vector
 * bases 08h and 70h, slave on IR2, 8086 mode, every IRQ masked but the
 * cascade, all inputs edge-triggered.  host is copied. */
void pic8259_init(struct pic8259 *p, const struct pic8259_host *host);

/* Port accesses: 20h, 21h, A0h, A1h, 4D0h, 4D1h (others read FFh, writes
 * are ignored). */
uint8_t pic8259_read(struct pic8259 *p, uint16_t port);
void pic8259_write(struct pic8259 *p, uint16_t port, uint8_t value);

/* Drives IRQ input irq (0-15) to level.  Edge-triggered inputs request on a
 * rising edge; level-triggered ones (ELCR, or ICW1.LTIM) while high.  IRQ 2
 * is the cascade input, driven by the slave only: set_irq(2) is ignored (on
 * the AT, ISA IRQ 2 is wired to IRQ 9). */
void pic8259_set_irq(struct pic8259 *p, unsigned irq, bool level);

/* The CPU's interrupt acknowledge cycle: returns the vector of the highest
 * priority pending unmasked request and moves it to in-service (slave
 * requests: the slave's vector, with IR2 in service on the master).  -1 when
 * INTR is low (no INTA cycle happens then).  When the master acknowledges
 * IR2 but the slave no longer has a request, the slave answers with its IR7
 * vector and sets no in-service bit, as the hardware does (spurious IRQ 15). */
int pic8259_ack(struct pic8259 *p);

/* The master's INT output (the CPU's INTR). */
bool pic8259_has_interrupt(const struct pic8259 *p);

#endif
