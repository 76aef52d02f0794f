/*
 * stringio32: the hypervisor's emulation of string port I/O (INS/OUTS),
 * against the test device's byte FIFO on port 0x510 (devices=testdev).
 *
 * Each case sends bytes with REP OUTSB/OUTSW/OUTSD and reads them back with
 * REP INSB/INSW/INSD: DF clear and set, 32-bit and 16-bit address size
 * (0x67: SI/DI/CX, the upper halves of ESI/EDI/ECX must survive), segment
 * overrides (OUTS honours them; INS always writes through ES, whatever the
 * prefix says), buffers and counts that cross a 4 KiB page boundary, and
 * elements that straddle it.  It checks the final ESI/EDI/ECX, the bytes
 * read back (and that nothing around them changed) and the FIFO's fill
 * level (port 0x514).  Then, with 32-bit paging, REP INSB into a buffer
 * whose second page is not present: the guest must see #PF with CR2 = the
 * first byte of that page, ECX = the count still to go and EDI at the
 * faulting byte, the bytes before it stored; the handler maps the page and
 * the instruction must finish where it stopped.  Output:
 *     stringio: <case> ok     or  stringio: <case> FAIL <what>
 *     stringio: <N> of <M> cases passed
 * Exit status: the number of failures (at most 76); 77 without the test
 * device ("stringio: no test device").
 *
 * With qemu-testdev on its command line it runs under plain QEMU with
 * -device pc-testdev: port 0xE0 is then a 4-byte latch rather than a FIFO
 * (every IN reads the last OUT), which the expected values follow; the
 * cases that need a FIFO are skipped.
 */
#include <guest/guest.h>

#include "testlib/gdt32.h"
#include "testlib/paging32.h"
#include "testlib/testdev.h"
#include "testlib/trap32.h"
#include "testlib/message.h"

#define EXIT_FAILURES_MAX   76
#define PAGE                4096u
#define AREA_SIZE           (3 * PAGE)
#define BOUNDARY            PAGE        /* the page boundary the transfers cross */
#define NEAR_OFFSET         0x8000u     /* where a 16-bit transfer starts in its segment */
#define DECOY_BASE          0x800u      /* a segment base that must (not) be used */
#define A16_HIGH            0xC3A50000u /* upper halves that 16-bit addressing keeps */
#define A16_COUNT_HIGH      0x5A5A0000u
#define GARBAGE             0x13572468u /* registers the instruction must not touch */
#define FLAG_DF             0x400u
#define FLAGS_FIXED         0x002u

/* The segment registers the string instructions use. */
enum { SR_NONE, SR_DS, SR_ES, SR_FS, SR_COUNT };

/* ------------------------------------------------------------------------
 * The instructions, one snippet each, and the trampoline that runs them.
 */
#define SIO_CODE(name, bytes) \
    __asm__(".pushsection .text\nsio_code_" #name ":\n\t.byte " bytes "\n\tret\n.popsection"); \
    extern const char sio_code_##name[];

SIO_CODE(rep_outsb, "0xf3, 0x6e")
SIO_CODE(rep_outsw, "0x66, 0xf3, 0x6f")
SIO_CODE(rep_outsd, "0xf3, 0x6f")
SIO_CODE(rep_insb, "0xf3, 0x6c")
SIO_CODE(rep_insw, "0x66, 0xf3, 0x6d")
SIO_CODE(rep_insd, "0xf3, 0x6d")
SIO_CODE(rep_outsb_a16, "0x67, 0xf3, 0x6e")
SIO_CODE(rep_outsw_a16, "0x67, 0x66, 0xf3, 0x6f")
SIO_CODE(rep_outsd_a16, "0x67, 0xf3, 0x6f")
SIO_CODE(rep_insb_a16, "0x67, 0xf3, 0x6c")
SIO_CODE(rep_insw_a16, "0x67, 0x66, 0xf3, 0x6d")
SIO_CODE(rep_insd_a16, "0x67, 0xf3, 0x6d")
SIO_CODE(rep_outsb_es, "0x26, 0xf3, 0x6e")
SIO_CODE(rep_outsw_ds, "0x3e, 0x66, 0xf3, 0x6f")
SIO_CODE(rep_outsd_fs, "0x64, 0xf3, 0x6f")
SIO_CODE(rep_outsw_a16_fs, "0x64, 0x67, 0x66, 0xf3, 0x6f")
SIO_CODE(rep_insb_ds, "0x3e, 0xf3, 0x6c")
SIO_CODE(rep_insd_fs, "0x64, 0xf3, 0x6d")
SIO_CODE(outsb, "0x6e")
SIO_CODE(insb, "0x6c")
SIO_CODE(outsd, "0x6f")
SIO_CODE(insd, "0x6d")

/* What the trampoline loads before and stores after the instruction. */
struct sio_state {
    uint32_t esi, edi, ecx, edx, eflags;
    uint16_t ds, es, fs, pad;
};

_Static_assert(__builtin_offsetof(struct sio_state, ds) == 20, "the trampoline's offsets");

struct sio_state sio_state __attribute__((used));

/*
 * void sio_call(const void *code): runs one snippet with ESI, EDI, ECX,
 * EDX, RFLAGS.DF and DS, ES, FS from sio_state, then stores ESI, EDI, ECX,
 * EDX back.  DS is loaded last (everything before reads sio_state through
 * it) and restored from SS (flat) first.
 */
void sio_call(const void *code);

__asm__(".pushsection .text\n"
        ".type sio_call, @function\n"
        "sio_call:\n\t"
        "push %ebx\n\t"
        "push %esi\n\t"
        "push %edi\n\t"
        "push %ebp\n\t"
        "push %ds\n\t"
        "push %es\n\t"
        "push %fs\n\t"
        "mov 32(%esp), %ebp\n\t"
        "mov sio_state+0, %esi\n\t"
        "mov sio_state+4, %edi\n\t"
        "mov sio_state+8, %ecx\n\t"
        "mov sio_state+12, %edx\n\t"
        "pushl sio_state+16\n\t"
        "popfl\n\t"
        "movw sio_state+22, %ax\n\t"
        "mov %ax, %es\n\t"
        "movw sio_state+24, %ax\n\t"
        "mov %ax, %fs\n\t"
        "movw sio_state+20, %ax\n\t"
        "mov %ax, %ds\n\t"
        "call *%ebp\n\t"
        "mov %ss, %ax\n\t"
        "mov %ax, %ds\n\t"
        "cld\n\t"
        "mov %esi, sio_state+0\n\t"
        "mov %edi, sio_state+4\n\t"
        "mov %ecx, sio_state+8\n\t"
        "mov %edx, sio_state+12\n\t"
        "pop %fs\n\t"
        "pop %es\n\t"
        "pop %ds\n\t"
        "pop %ebp\n\t"
        "pop %edi\n\t"
        "pop %esi\n\t"
        "pop %ebx\n\t"
        "ret\n"
        ".popsection");

/* ------------------------------------------------------------------------
 * The port, and a model of it that predicts what INS reads.
 */
struct port_model {
    bool fifo;                      /* the test device's FIFO, or pc-testdev's latch */
    uint16_t port;
    uint8_t queue[TESTDEV_FIFO_SIZE];
    unsigned head, count;
    uint8_t latch[4];
};

static struct port_model model;

static void outl(uint16_t port, uint32_t v)
{
    __asm__ volatile("outl %0, %w1" : : "a"(v), "Nd"(port));
}

static uint32_t inl(uint16_t port)
{
    uint32_t v;

    __asm__ volatile("inl %w1, %0" : "=a"(v) : "Nd"(port));
    return v;
}

static void port_reset(void)
{
    if (model.fifo)
        outl(TESTDEV_FIFO_COUNT_PORT, 0);       /* any OUT empties the FIFO */
    else
        outl(model.port, 0);
    model.head = model.count = 0;
    memset(model.latch, 0, sizeof(model.latch));
}

static void model_out(const uint8_t *bytes, unsigned width)
{
    for (unsigned i = 0; i < width; i++) {
        if (!model.fifo) {
            model.latch[i] = bytes[i];
        } else if (model.count < TESTDEV_FIFO_SIZE) {
            model.queue[(model.head + model.count) % TESTDEV_FIFO_SIZE] = bytes[i];
            model.count++;
        }
    }
}

static void model_in(uint8_t *bytes, unsigned width)
{
    for (unsigned i = 0; i < width; i++) {
        if (!model.fifo) {
            bytes[i] = model.latch[i];
        } else if (model.count == 0) {
            bytes[i] = 0xFF;                    /* nothing queued */
        } else {
            bytes[i] = model.queue[model.head];
            model.head = (model.head + 1) % TESTDEV_FIFO_SIZE;
            model.count--;
        }
    }
}

/* Element k of a transfer of `bytes` bytes is at offset k * width from
 * the lowest byte with DF clear, and counts down from the top with DF set. */
static unsigned element_offset(unsigned k, unsigned width, unsigned bytes, bool df)
{
    return df ? bytes - width - k * width : k * width;
}

static void model_outs(const uint8_t *lowest, unsigned bytes, unsigned width, bool df)
{
    for (unsigned k = 0; k < bytes / width; k++)
        model_out(lowest + element_offset(k, width, bytes, df), width);
}

static void model_ins(uint8_t *lowest, unsigned bytes, unsigned width, bool df)
{
    for (unsigned k = 0; k < bytes / width; k++)
        model_in(lowest + element_offset(k, width, bytes, df), width);
}

/* ------------------------------------------------------------------------
 * The cases.
 */
struct sio_op {
    const void *code;
    uint8_t width;
    bool a16;                       /* 0x67: 16-bit SI/DI/CX */
    bool rep;
    uint8_t seg;                    /* the segment the memory operand really uses */
    uint8_t ignored;                /* INS only: a segment an override prefix names in vain */
};

struct sio_case {
    const char *name;
    struct sio_op out, in;
    bool df;
    uint16_t bytes;                 /* sent by OUTS */
    uint16_t in_bytes;              /* read by INS; 0: the same */
    int16_t src_start, dst_start;   /* lowest byte of each buffer, relative to the boundary */
    bool needs_fifo;                /* meaningless against a latch */
};

#define OUT(c, w)           { .code = sio_code_##c, .width = (w), .rep = true, .seg = SR_DS }
#define OUT_SEG(c, w, s)    { .code = sio_code_##c, .width = (w), .rep = true, .seg = (s) }
#define IN(c, w)            { .code = sio_code_##c, .width = (w), .rep = true, .seg = SR_ES }
#define IN_A16(c, w)        { .code = sio_code_##c, .width = (w), .rep = true, .seg = SR_ES, .a16 = true }
#define IN_IGNORING(c, w, s) \
    { .code = sio_code_##c, .width = (w), .rep = true, .seg = SR_ES, .ignored = (s) }

/* The 12 combinations of width, DF and address size: 40 bytes from 18
 * (14) bytes below the boundary, so that a word or dword element straddles it. */
#define BASIC_CASE(name, out_code, in_code, w, df_, a16_)                                    \
    { name,                                                                                 \
      { .code = sio_code_##out_code, .width = (w), .rep = true, .seg = SR_DS, .a16 = (a16_) }, \
      { .code = sio_code_##in_code, .width = (w), .rep = true, .seg = SR_ES, .a16 = (a16_) },  \
      .df = (df_), .bytes = 40, .src_start = -18, .dst_start = -14 }

static const struct sio_case cases[] = {
    BASIC_CASE("rep-outsb-insb-df0-a32", rep_outsb, rep_insb, 1, false, false),
    BASIC_CASE("rep-outsw-insw-df0-a32", rep_outsw, rep_insw, 2, false, false),
    BASIC_CASE("rep-outsd-insd-df0-a32", rep_outsd, rep_insd, 4, false, false),
    BASIC_CASE("rep-outsb-insb-df1-a32", rep_outsb, rep_insb, 1, true, false),
    BASIC_CASE("rep-outsw-insw-df1-a32", rep_outsw, rep_insw, 2, true, false),
    BASIC_CASE("rep-outsd-insd-df1-a32", rep_outsd, rep_insd, 4, true, false),
    BASIC_CASE("rep-outsb-insb-df0-a16", rep_outsb_a16, rep_insb_a16, 1, false, true),
    BASIC_CASE("rep-outsw-insw-df0-a16", rep_outsw_a16, rep_insw_a16, 2, false, true),
    BASIC_CASE("rep-outsd-insd-df0-a16", rep_outsd_a16, rep_insd_a16, 4, false, true),
    BASIC_CASE("rep-outsb-insb-df1-a16", rep_outsb_a16, rep_insb_a16, 1, true, true),
    BASIC_CASE("rep-outsw-insw-df1-a16", rep_outsw_a16, rep_insw_a16, 2, true, true),
    BASIC_CASE("rep-outsd-insd-df1-a16", rep_outsd_a16, rep_insd_a16, 4, true, true),
    /* Without REP: one element, ECX untouched; the dword straddles the boundary. */
    { "outsb-insb-norep", { .code = sio_code_outsb, .width = 1, .seg = SR_DS },
      { .code = sio_code_insb, .width = 1, .seg = SR_ES }, .bytes = 1, .src_start = -1,
      .dst_start = 0 },
    { "outsd-insd-norep-straddling", { .code = sio_code_outsd, .width = 4, .seg = SR_DS },
      { .code = sio_code_insd, .width = 4, .seg = SR_ES }, .df = true, .bytes = 4,
      .src_start = -2, .dst_start = -3 },
    /* Segment overrides: OUTS reads through them; INS ignores them. */
    { "rep-outsb-es-override", OUT_SEG(rep_outsb_es, 1, SR_ES), IN(rep_insb, 1), .bytes = 24,
      .src_start = -7, .dst_start = -9 },
    { "rep-outsw-ds-override", OUT_SEG(rep_outsw_ds, 2, SR_DS), IN(rep_insw, 2), .bytes = 26,
      .src_start = -13, .dst_start = -3 },
    { "rep-outsd-fs-override", OUT_SEG(rep_outsd_fs, 4, SR_FS), IN(rep_insd, 4), .df = true,
      .bytes = 32, .src_start = -12, .dst_start = -20 },
    { "rep-outsw-a16-fs-override", { .code = sio_code_rep_outsw_a16_fs, .width = 2, .rep = true,
      .seg = SR_FS, .a16 = true }, IN_A16(rep_insw_a16, 2), .bytes = 30, .src_start = -10,
      .dst_start = -16 },
    { "rep-insb-ds-prefix-ignored", OUT(rep_outsb, 1), IN_IGNORING(rep_insb_ds, 1, SR_DS),
      .bytes = 20, .src_start = -5, .dst_start = -11 },
    { "rep-insd-fs-prefix-ignored", OUT(rep_outsd, 4), IN_IGNORING(rep_insd_fs, 4, SR_FS),
      .df = true, .bytes = 28, .src_start = -8, .dst_start = -6 },
    /* A whole FIFO's worth, crossing the boundary. */
    { "rep-outsb-insb-4k", OUT(rep_outsb, 1), IN(rep_insb, 1), .bytes = 4096,
      .src_start = -0x7F3, .dst_start = -0x805 },
    { "rep-outsd-insd-4k-df1", OUT(rep_outsd, 4), IN(rep_insd, 4), .df = true, .bytes = 4096,
      .src_start = -0x802, .dst_start = -0x7FE },
    /* The FIFO is bytes: any width in, any width out; reading more than was
     * queued gives 0xFF. */
    { "rep-outsb-insd-mixed", OUT(rep_outsb, 1), IN(rep_insd, 4), .bytes = 24, .src_start = -9,
      .dst_start = -13, .needs_fifo = true },
    { "rep-outsd-insw-mixed", OUT(rep_outsd, 4), IN(rep_insw, 2), .bytes = 24, .src_start = -4,
      .dst_start = -6, .needs_fifo = true },
    { "rep-insb-underflow", OUT(rep_outsb, 1), IN(rep_insb, 1), .bytes = 6, .in_bytes = 10,
      .src_start = -3, .dst_start = -5, .needs_fifo = true },
};

static uint8_t src_area[AREA_SIZE] __attribute__((aligned(PAGE)));
static uint8_t dst_area[AREA_SIZE] __attribute__((aligned(PAGE)));
static uint8_t expected_area[AREA_SIZE];

static uint8_t src_byte(unsigned i)
{
    return (uint8_t)(i * 29 + 11 + (i >> 8));
}

static uint8_t dst_byte(unsigned i)
{
    return (uint8_t)((i * 7 + 0x33) ^ 0x80);
}

static void expect_reg(struct message *m, const char *what, const char *reg, uint32_t got,
                       uint32_t want)
{
    if (got != want)
        say(m, " %s: %s 0x%x, expected 0x%x", what, reg, got, want);
}

/* The segment selectors: an extra GDT entry per register, used when its
 * base is not 0. */
static uint16_t selector_for(unsigned sr, uint32_t base)
{
    if (!base)
        return GDT32_SEL_DATA;
    unsigned sel = GDT32_SEL_EXTRA(sr - SR_DS);

    gdt32_set_base(sel, base);
    return (uint16_t)sel;
}

/*
 * Sets up and runs one string instruction on `bytes` bytes whose lowest
 * byte is at `lowest`; checks its registers.  The used segment gets a base
 * when it must be seen to be used: below the buffer for 16-bit offsets (the
 * buffer is above 1 MiB, out of reach of a flat 16-bit offset), a decoy
 * offset for an override.  A segment named by an ignored prefix gets
 * the used base + DECOY_BASE, so that using it would land in the guard area.
 */
static void run_op(const struct sio_op *op, bool is_out, bool df, uint8_t *lowest, unsigned bytes,
                   struct message *m)
{
    const char *what = is_out ? "outs" : "ins";
    uint32_t base[SR_COUNT] = { 0 };
    uint32_t start = (uint32_t)(uintptr_t)lowest + (df ? bytes - op->width : 0);
    unsigned count = op->rep ? bytes / op->width : 1;
    unsigned default_seg = is_out ? SR_DS : SR_ES;

    if (op->a16)
        base[op->seg] = (uint32_t)(uintptr_t)lowest - NEAR_OFFSET;
    else if (op->seg != default_seg)
        base[op->seg] = DECOY_BASE;
    if (op->ignored)
        base[op->ignored] = base[op->seg] + DECOY_BASE;

    uint32_t offset = start - base[op->seg];
    uint32_t index = op->a16 ? A16_HIGH | (offset & 0xFFFF) : offset;
    uint32_t ecx = op->a16 ? A16_COUNT_HIGH | count : count;

    sio_state = (struct sio_state){
        .esi = is_out ? index : GARBAGE,
        .edi = is_out ? GARBAGE : index,
        .ecx = op->rep ? ecx : GARBAGE,
        .edx = model.port,
        .eflags = FLAGS_FIXED | (df ? FLAG_DF : 0),
        .ds = selector_for(SR_DS, base[SR_DS]),
        .es = selector_for(SR_ES, base[SR_ES]),
        .fs = selector_for(SR_FS, base[SR_FS]),
    };
    sio_call(op->code);

    uint32_t moved = count * op->width;
    uint32_t end = df ? index - moved : index + moved;

    if (op->a16)
        end = (index & 0xFFFF0000u) | (end & 0xFFFF);
    expect_reg(m, what, "esi", sio_state.esi, is_out ? end : GARBAGE);
    expect_reg(m, what, "edi", sio_state.edi, is_out ? GARBAGE : end);
    expect_reg(m, what, "ecx", sio_state.ecx, op->rep ? ecx & (op->a16 ? 0xFFFF0000u : 0) : GARBAGE);
    expect_reg(m, what, "edx", sio_state.edx, model.port);
}

static void expect_fifo_level(struct message *m, const char *when)
{
    if (!model.fifo)
        return;
    uint32_t level = inl(TESTDEV_FIFO_COUNT_PORT);

    if (level != model.count)
        say(m, " FIFO holds %u bytes %s, expected %u", level, when, model.count);
}

static void compare_areas(struct message *m)
{
    unsigned first = AREA_SIZE, last = 0, count = 0;

    for (unsigned i = 0; i < AREA_SIZE; i++) {
        if (dst_area[i] != expected_area[i]) {
            if (first == AREA_SIZE)
                first = i;
            last = i;
            count++;
        }
    }
    if (count)
        say(m, " data: %u bytes differ, boundary offsets %d..%d (first 0x%02x, expected 0x%02x)",
            count, (int)first - (int)BOUNDARY, (int)last - (int)BOUNDARY, dst_area[first],
            expected_area[first]);
}

/* Returns 1 passed, 0 failed, -1 skipped. */
static int run_case(const struct sio_case *c)
{
    struct message m = { .len = 0 };
    unsigned in_bytes = c->in_bytes ? c->in_bytes : c->bytes;
    uint8_t *src = src_area + BOUNDARY + c->src_start;
    uint8_t *dst = dst_area + BOUNDARY + c->dst_start;

    if (c->needs_fifo && !model.fifo) {
        printf("stringio: %s skipped (needs the test device's FIFO)\n", c->name);
        return -1;
    }
    for (unsigned i = 0; i < AREA_SIZE; i++) {
        src_area[i] = src_byte(i);
        dst_area[i] = expected_area[i] = dst_byte(i);
    }
    port_reset();

    run_op(&c->out, true, c->df, src, c->bytes, &m);
    model_outs(src, c->bytes, c->out.width, c->df);
    expect_fifo_level(&m, "after OUTS");

    run_op(&c->in, false, c->df, dst, in_bytes, &m);
    model_ins(expected_area + BOUNDARY + c->dst_start, in_bytes, c->in.width, c->df);
    expect_fifo_level(&m, "after INS");
    compare_areas(&m);

    if (m.len == 0) {
        printf("stringio: %s ok\n", c->name);
        return 1;
    }
    printf("stringio: %s FAIL%s\n", c->name, m.text);
    return 0;
}

/* ------------------------------------------------------------------------
 * REP INSB into a page that is not present.
 */
#define PF_WINDOW       0x50000000u     /* linear: page 0 present, page 1 not */
#define PF_BYTES        40
#define PF_BEFORE       16              /* bytes that fit before the missing page */
#define PF_ERROR_W      (1u << 1)       /* #PF error code: a write */
#define PF_ERROR_P      (1u << 0)       /* ... to a present page (protection) */

static uint8_t pf_pages[2][PAGE] __attribute__((aligned(PAGE)));
static uint8_t pf_expected[PF_BYTES];

struct pf_record {
    unsigned count;
    uint32_t cr2, error_code, ecx, edi;
    uint8_t stored[PF_BEFORE];          /* page 0's last bytes when the fault came */
};

static volatile bool pf_armed;
static struct pf_record pf;

static void on_page_fault(struct trap_frame32 *frame)
{
    if (!pf_armed)
        trap32_fatal(frame);
    pf_armed = false;                   /* a second one would loop: let it be fatal */
    pf.count++;
    __asm__ volatile("mov %%cr2, %0" : "=r"(pf.cr2));
    pf.error_code = frame->error_code;
    pf.ecx = frame->ecx;
    pf.edi = frame->edi;
    memcpy(pf.stored, &pf_pages[0][PAGE - PF_BEFORE], PF_BEFORE);
    /* Map the page: the IRET restarts REP INSB where it stopped. */
    paging32_set_flags_4k(PF_WINDOW + PAGE, PTE_P | PTE_RW);
}

static void expect_bytes(struct message *m, const char *what, const uint8_t *got,
                         const uint8_t *want, unsigned n)
{
    if (memcmp(got, want, n) != 0)
        say(m, " %s differ", what);
}

static int report(const char *name, struct message *m)
{
    if (m->len == 0) {
        printf("stringio: %s ok\n", name);
        return 1;
    }
    printf("stringio: %s FAIL%s\n", name, m->text);
    return 0;
}

/* Returns the number of the two cases (fault, resume) that passed. */
static unsigned run_page_fault_cases(void)
{
    struct message fault = { .len = 0 }, resume = { .len = 0 };
    uint8_t fill[PAGE];
    const uint32_t edi0 = PF_WINDOW + PAGE - PF_BEFORE;

    for (unsigned i = 0; i < PF_BYTES; i++)
        src_area[i] = src_byte(i + 77);
    memset(pf_pages, 0xEE, sizeof(pf_pages));
    memset(fill, 0xEE, sizeof(fill));
    port_reset();
    struct sio_op out = OUT(rep_outsb, 1);

    run_op(&out, true, false, src_area, PF_BYTES, &fault);
    model_outs(src_area, PF_BYTES, 1, false);
    model_ins(pf_expected, PF_BYTES, 1, false);

    paging32_reset();
    paging32_map_4k(PF_WINDOW, (uint32_t)(uintptr_t)pf_pages[0], PTE_P | PTE_RW);
    paging32_map_4k(PF_WINDOW + PAGE, (uint32_t)(uintptr_t)pf_pages[1], 0);
    paging32_enable();
    pf = (struct pf_record){ .count = 0 };
    pf_armed = true;
    sio_state = (struct sio_state){
        .esi = GARBAGE, .edi = edi0, .ecx = PF_BYTES, .edx = model.port, .eflags = FLAGS_FIXED,
        .ds = GDT32_SEL_DATA, .es = GDT32_SEL_DATA, .fs = GDT32_SEL_DATA,
    };
    sio_call(sio_code_rep_insb);
    pf_armed = false;
    paging_disable();

    if (pf.count != 1)
        say(&fault, " %u page faults, expected 1", pf.count);
    if (pf.count) {
        expect_reg(&fault, "#PF", "cr2", pf.cr2, PF_WINDOW + PAGE);
        expect_reg(&fault, "#PF", "ecx", pf.ecx, PF_BYTES - PF_BEFORE);
        expect_reg(&fault, "#PF", "edi", pf.edi, PF_WINDOW + PAGE);
        if ((pf.error_code & (PF_ERROR_W | PF_ERROR_P)) != PF_ERROR_W)
            say(&fault, " #PF error code 0x%x, expected a write to a non-present page",
                pf.error_code);
        expect_bytes(&fault, "bytes stored before the fault", pf.stored, pf_expected,
                     PF_BEFORE);
    }
    expect_reg(&resume, "after", "ecx", sio_state.ecx, 0);
    expect_reg(&resume, "after", "edi", sio_state.edi, edi0 + PF_BYTES);
    expect_bytes(&resume, "bytes before the boundary", &pf_pages[0][PAGE - PF_BEFORE],
                 pf_expected, PF_BEFORE);
    expect_bytes(&resume, "bytes after the boundary", pf_pages[1], pf_expected + PF_BEFORE,
                 PF_BYTES - PF_BEFORE);
    expect_bytes(&resume, "bytes outside the buffer", pf_pages[0], fill, PAGE - PF_BEFORE);
    expect_bytes(&resume, "bytes beyond the buffer", &pf_pages[1][PF_BYTES - PF_BEFORE], fill,
                 PAGE - (PF_BYTES - PF_BEFORE));
    expect_fifo_level(&resume, "at the end");
    return (unsigned)report("pf-insb-fault", &fault) + (unsigned)report("pf-insb-resume", &resume);
}

int guest_main(uint32_t magic, const struct multiboot_info *mbi)
{
    bool qemu = cmdline_has(guest_cmdline(), QEMU_TESTDEV_OPTION);
    unsigned passed = 0, total = 0;

    (void)magic;
    (void)mbi;
    gdt32_install();
    trap32_install();
    trap32_set_handler(VEC32_PF, on_page_fault);
    sse_enable();                   /* for testdev_present's 8-byte read */
    if (!qemu && !testdev_present()) {
        printf("stringio: no test device\n");
        return EXIT_NO_TESTDEV;
    }
    model.fifo = !qemu;
    model.port = qemu ? PC_TESTDEV_LATCH_PORT : TESTDEV_FIFO_PORT;
    if (qemu)
        printf("stringio: using QEMU's pc-testdev latch on port 0x%x (not a FIFO)\n", model.port);

    for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
        int r = run_case(&cases[i]);

        if (r >= 0) {
            total++;
            passed += (unsigned)r;
        }
    }
    passed += run_page_fault_cases();
    total += 2;

    printf("stringio: %u of %u cases passed\n", passed, total);
    unsigned failures = total - passed;

    return failures > EXIT_FAILURES_MAX ? EXIT_FAILURES_MAX : (int)failures;
}
