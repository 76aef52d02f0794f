/*
 * Guest page-table walker; see include/hv/gwalk.h.
 *
 * One loop walks every paging mode; what differs between modes (entry size,
 * index width, which entries may map pages, which bits are reserved) is
 * looked up per mode and level.  Levels are numbered from the bottom:
 * 1 = PTE, 2 = PDE, 3 = PDPTE, 4 = PML4E, 5 = PML5E.
 */
#include <hv/gwalk.h>
#include <hv/kstring.h>

/* Paging-structure entry bits (SDM Vol. 3A, tables 4-4 .. 4-20). */
#define ENT_P               BIT(0)
#define ENT_RW              BIT(1)
#define ENT_US              BIT(2)
#define ENT_A               BIT(5)
#define ENT_D               BIT(6)  /* in entries that map a page */
#define ENT_PS              BIT(7)  /* in PDEs (and IA-32e PDPTEs): maps a page */
#define ENT_XD              BIT(63) /* 64-bit entries, with EFER.NXE */

/* 32-bit paging (SDM 4.3, tables 4-4 .. 4-6). */
#define P32_ENTRY_SIZE      4
#define P32_INDEX_BITS      10
#define P32_FRAME_MASK      0xFFFFF000ULL   /* bits 31:12 of CR3, PDE, PTE */
#define P32_4M_LOW_MASK     0xFFC00000ULL   /* 4 MiB PDE bits 31:22: address bits 31:22 */
#define P32_4M_HIGH_SHIFT   13              /* 4 MiB PDE bits 20:13: address bits 39:32 */
#define P32_4M_HIGH_BITS    8
#define P32_4M_RSVD_TOP     21              /* 4 MiB PDE bit 21 is always reserved */
#define P32_PSE36_MAX_M     40              /* PSE-36 reaches at most 40 address bits */
#define P32_LINEAR_MASK     0xFFFFFFFFULL   /* linear addresses are 32 bits wide */
#define P32_4M_PAGE         (4 * MiB)

/* PAE paging (SDM 4.4, tables 4-7 .. 4-11). */
#define PAE_CR3_PDPT_MASK   0xFFFFFFE0ULL   /* CR3 bits 31:5: 32-byte aligned PDPT */
#define PAE_PDPTES          4
#define PAE_PDPT_SHIFT      30              /* linear bits 31:30 select the PDPTE */
#define PAE_PDPTE_RSVD      (BIT(1) | BIT(2) | BIT(5) | BIT(6) | BIT(7) | BIT(8))
#define PAE_RSVD_TOP        62              /* PAE entries: bits 62:M reserved */

/* PAE and IA-32e entries (SDM 4.4, 4.5). */
#define L64_ENTRY_SIZE      8
#define L64_INDEX_BITS      9
#define IA32E_RSVD_TOP      51              /* IA-32e entries: bits 51:M reserved */
#define PS_1G_RSVD_HIGH     29              /* 1 GiB PDPTE bits 29:13 reserved */
#define PS_2M_RSVD_HIGH     20              /* 2 MiB PDE bits 20:13 reserved */
#define PS_RSVD_LOW         13
#define MAX_PHYADDR         52
#define MIN_PHYADDR         32
#define LINEAR_BITS_4LEVEL  48              /* canonical: bits 63:47 equal */
#define LINEAR_BITS_5LEVEL  57              /* canonical: bits 63:56 equal */

#define MAX_LEVELS          5

enum mode { MODE_NONE, MODE_32, MODE_PAE, MODE_4LEVEL, MODE_5LEVEL };

struct walk {
    const struct gwalk_guest *g;
    enum mode mode;
    uint64_t la;
    unsigned access;
    unsigned m;                     /* MAXPHYADDR */
    bool nxe;
    /* Rights accumulated over the walk (SDM 4.6), with the first level
     * that took each one away. */
    bool rw, us, xd;
    unsigned ro_level, su_level, xd_level;
    /* Entries used, top-down, for the accessed/dirty update. */
    uint64_t entry_gpa[MAX_LEVELS], entry_val[MAX_LEVELS];
    unsigned nentries;
    unsigned leaf_level;
    uint64_t leaf_entry;
};

/* ---- modes and levels ---------------------------------------------------- */

/* SDM 4.1.1, table 4-1.  EFER.LMA is what the processor uses; LME is accepted
 * too because with CR0.PG = 1 the two cannot differ on real hardware, and a
 * hypervisor tracking EFER itself may hold only LME. */
static enum mode paging_mode(const struct gwalk_guest *g)
{
    if (!(g->cr0 & GWALK_CR0_PG))
        return MODE_NONE;
    if (!(g->cr4 & GWALK_CR4_PAE))
        return MODE_32;
    if (!(g->efer & (GWALK_EFER_LMA | GWALK_EFER_LME)))
        return MODE_PAE;
    return (g->cr4 & GWALK_CR4_LA57) ? MODE_5LEVEL : MODE_4LEVEL;
}

static inline bool mode_ia32e(enum mode mode)
{
    return mode == MODE_4LEVEL || mode == MODE_5LEVEL;
}

static unsigned top_level(enum mode mode)
{
    switch (mode) {
    case MODE_32:       return GWALK_LEVEL_PD;
    case MODE_PAE:      return GWALK_LEVEL_PDPT;
    case MODE_4LEVEL:   return GWALK_LEVEL_PML4;
    case MODE_5LEVEL:   return GWALK_LEVEL_PML5;
    case MODE_NONE:     break;
    }
    return GWALK_LEVEL_NONE;
}

static inline unsigned entry_size(enum mode mode)
{
    return mode == MODE_32 ? P32_ENTRY_SIZE : L64_ENTRY_SIZE;
}

static inline unsigned level_shift(enum mode mode, unsigned level)
{
    unsigned bits = mode == MODE_32 ? P32_INDEX_BITS : L64_INDEX_BITS;
    return PAGE_SHIFT + bits * (level - 1);
}

static inline uint64_t level_index(enum mode mode, uint64_t la, unsigned level)
{
    unsigned bits = mode == MODE_32 ? P32_INDEX_BITS : L64_INDEX_BITS;
    return (la >> level_shift(mode, level)) & ((1ULL << bits) - 1);
}

static inline uint64_t page_size(enum mode mode, unsigned level)
{
    return 1ULL << level_shift(mode, level);
}

/* Bits hi..lo inclusive; none when lo > hi. */
static inline uint64_t bit_range(unsigned hi, unsigned lo)
{
    if (lo > hi)
        return 0;
    uint64_t upto_hi = hi >= 63 ? ~0ULL : BIT(hi + 1) - 1;
    return upto_hi & ~(BIT(lo) - 1);
}

/* Physical-address bits (M-1):12 of a table or page frame. */
static inline uint64_t frame_mask(unsigned m)
{
    return bit_range(m - 1, PAGE_SHIFT);
}

/* SDM 4.3 (CR4.PSE), 4.4 and 4.5: which entries map a page. */
static bool entry_is_leaf(const struct walk *w, unsigned level, uint64_t e)
{
    if (level == GWALK_LEVEL_PT)
        return true;
    if (!(e & ENT_PS))
        return false;
    switch (w->mode) {
    case MODE_32:
        return level == GWALK_LEVEL_PD && (w->g->cr4 & GWALK_CR4_PSE);
    case MODE_PAE:
        return level == GWALK_LEVEL_PD;
    case MODE_4LEVEL:
    case MODE_5LEVEL:
        return level == GWALK_LEVEL_PD || level == GWALK_LEVEL_PDPT;
    case MODE_NONE:
        break;
    }
    return false;
}

/* Reserved bits of a present entry (SDM 4.7 "RSVD flag" and the entry
 * format tables of 4.3 - 4.5). */
static uint64_t reserved_bits(const struct walk *w, unsigned level, uint64_t e)
{
    if (w->mode == MODE_32) {
        /* Only 4 MiB PDEs have any: bits 21:(M-19), M capped at 40. */
        if (!entry_is_leaf(w, level, e) || level != GWALK_LEVEL_PD)
            return 0;
        unsigned m = MIN(w->m, P32_PSE36_MAX_M);
        return bit_range(P32_4M_RSVD_TOP, m - 19);
    }

    uint64_t rsvd = bit_range(w->mode == MODE_PAE ? PAE_RSVD_TOP : IA32E_RSVD_TOP, w->m);
    if (!w->nxe)
        rsvd |= ENT_XD;
    if (level >= GWALK_LEVEL_PML4)
        rsvd |= ENT_PS;                 /* PML4Es and PML5Es never map pages */
    if (e & ENT_PS) {
        if (level == GWALK_LEVEL_PDPT && mode_ia32e(w->mode))
            rsvd |= bit_range(PS_1G_RSVD_HIGH, PS_RSVD_LOW);
        else if (level == GWALK_LEVEL_PD)
            rsvd |= bit_range(PS_2M_RSVD_HIGH, PS_RSVD_LOW);
    }
    return rsvd;
}

/* Address of the table an entry points to. */
static uint64_t table_address(const struct walk *w, uint64_t e)
{
    return w->mode == MODE_32 ? (e & P32_FRAME_MASK) : (e & frame_mask(w->m));
}

/* The guest-physical address `la` translates to through the leaf entry. */
static uint64_t leaf_address(const struct walk *w)
{
    uint64_t e = w->leaf_entry;
    if (w->mode == MODE_32) {
        if (w->leaf_level == GWALK_LEVEL_PT)
            return (e & P32_FRAME_MASK) | (w->la & (PAGE_SIZE - 1));
        uint64_t high = (e >> P32_4M_HIGH_SHIFT) & (BIT(P32_4M_HIGH_BITS) - 1);
        return (e & P32_4M_LOW_MASK) | (high << 32) | (w->la & (P32_4M_PAGE - 1));
    }
    uint64_t size = page_size(w->mode, w->leaf_level);
    return (e & frame_mask(w->m) & ~(size - 1)) | (w->la & (size - 1));
}

static bool is_canonical(uint64_t la, unsigned bits)
{
    unsigned unused = 64 - bits;
    return (uint64_t)((int64_t)(la << unused) >> unused) == la;
}

/* ---- faults ----------------------------------------------------------------- */

/* SDM 4.7. */
static uint32_t pf_error_code(const struct walk *w, bool protection, bool rsvd)
{
    const struct gwalk_guest *g = w->g;
    uint32_t ec = 0;
    if (protection)
        ec |= GWALK_PF_P;
    if (w->access & GWALK_ACC_WRITE)
        ec |= GWALK_PF_W;
    if (w->access & GWALK_ACC_USER)
        ec |= GWALK_PF_U;
    if (rsvd)
        ec |= GWALK_PF_RSVD;
    /* I/D is reported only when fetches can fault by themselves: with SMEP,
     * or with XD in use (CR4.PAE = 1 and EFER.NXE = 1, which is w->nxe). */
    if ((w->access & GWALK_ACC_FETCH) && ((g->cr4 & GWALK_CR4_SMEP) || w->nxe))
        ec |= GWALK_PF_I;
    return ec;
}

static enum gwalk_status page_fault(const struct walk *w, struct gwalk_fault *f,
                                    enum gwalk_reason reason, unsigned level)
{
    bool protection = reason != GWALK_R_NOT_PRESENT;
    f->vector = GWALK_VECTOR_PF;
    f->error_code = pf_error_code(w, protection, reason == GWALK_R_RESERVED);
    f->linear = w->la;
    f->level = level;
    f->reason = reason;
    f->gpa = 0;
    return GWALK_PAGE_FAULT;
}

static enum gwalk_status gp_fault(uint64_t la, struct gwalk_fault *f, enum gwalk_reason reason,
                                  unsigned level)
{
    f->vector = GWALK_VECTOR_GP;
    f->error_code = 0;
    f->linear = la;
    f->level = level;
    f->reason = reason;
    f->gpa = 0;
    return GWALK_GP_FAULT;
}

static enum gwalk_status phys_error(uint64_t la, uint64_t gpa, struct gwalk_fault *f,
                                    unsigned level)
{
    f->vector = 0;
    f->error_code = 0;
    f->linear = la;
    f->level = level;
    f->reason = GWALK_R_UNBACKED;
    f->gpa = gpa;
    return GWALK_PHYS_ERROR;
}

/* ---- the walk ------------------------------------------------------------- */

static int read_entry(const struct walk *w, uint64_t gpa, uint64_t *e)
{
    *e = 0;     /* 4-byte entries fill the low half (x86 is little-endian) */
    return w->g->read_phys(w->g->ctx, gpa, e, entry_size(w->mode));
}

/* SDM 4.6: R/W and U/S are ANDed over the walk, XD is ORed (with NXE). */
static void accumulate(struct walk *w, unsigned level, uint64_t e)
{
    if (!(e & ENT_RW) && w->rw) {
        w->rw = false;
        w->ro_level = level;
    }
    if (!(e & ENT_US) && w->us) {
        w->us = false;
        w->su_level = level;
    }
    if (w->nxe && (e & ENT_XD) && !w->xd) {
        w->xd = true;
        w->xd_level = level;
    }
}

/*
 * PAE paging starts at one of four PDPTEs (SDM 4.4.1), which have no
 * access-right or accessed bits.  A present PDPTE with reserved bits cannot
 * be in use: loading it made MOV to CR3 (or VM entry) fail with #GP, so
 * that is what is reported -- the guest state is inconsistent, not a page
 * the guest could fault on.
 */
static enum gwalk_status pae_pdpte(struct walk *w, struct gwalk_fault *f, uint64_t *table)
{
    unsigned idx = (unsigned)(w->la >> PAE_PDPT_SHIFT) & (PAE_PDPTES - 1);
    uint64_t e;
    if (w->g->pdptes) {
        e = w->g->pdptes[idx];
    } else {
        uint64_t gpa = (w->g->cr3 & PAE_CR3_PDPT_MASK) + (uint64_t)idx * L64_ENTRY_SIZE;
        if (read_entry(w, gpa, &e))
            return phys_error(w->la, gpa, f, GWALK_LEVEL_PDPT);
    }
    if (!(e & ENT_P))
        return page_fault(w, f, GWALK_R_NOT_PRESENT, GWALK_LEVEL_PDPT);
    if (e & (PAE_PDPTE_RSVD | bit_range(63, w->m)))
        return gp_fault(w->la, f, GWALK_R_PDPTE_RESERVED, GWALK_LEVEL_PDPT);
    *table = e & frame_mask(w->m);
    return GWALK_OK;
}

static uint64_t root_table(const struct walk *w)
{
    if (w->mode == MODE_32)
        return w->g->cr3 & P32_FRAME_MASK;
    return w->g->cr3 & frame_mask(w->m);
}

/* Reads entries top-down until one maps the page (SDM 4.3 - 4.5). */
static enum gwalk_status walk_tables(struct walk *w, struct gwalk_fault *f)
{
    unsigned level = top_level(w->mode);
    uint64_t table;

    if (w->mode == MODE_PAE) {
        enum gwalk_status st = pae_pdpte(w, f, &table);
        if (st != GWALK_OK)
            return st;
        level = GWALK_LEVEL_PD;
    } else {
        table = root_table(w);
    }

    for (;; level--) {
        uint64_t gpa = table + level_index(w->mode, w->la, level) * entry_size(w->mode);
        uint64_t e;
        if (read_entry(w, gpa, &e))
            return phys_error(w->la, gpa, f, level);
        if (!(e & ENT_P))
            return page_fault(w, f, GWALK_R_NOT_PRESENT, level);
        if (e & reserved_bits(w, level, e))
            return page_fault(w, f, GWALK_R_RESERVED, level);
        accumulate(w, level, e);
        w->entry_gpa[w->nentries] = gpa;
        w->entry_val[w->nentries] = e;
        w->nentries++;
        if (entry_is_leaf(w, level, e)) {
            w->leaf_level = level;
            w->leaf_entry = e;
            return GWALK_OK;
        }
        table = table_address(w, e);
    }
}

/* SDM 4.6.1: whether the access is allowed by the accumulated rights. */
static enum gwalk_status check_rights(const struct walk *w, struct gwalk_fault *f)
{
    const struct gwalk_guest *g = w->g;
    bool write = w->access & GWALK_ACC_WRITE;
    bool fetch = w->access & GWALK_ACC_FETCH;

    if (w->access & GWALK_ACC_USER) {
        if (!w->us)
            return page_fault(w, f, GWALK_R_USER_SUPERVISOR, w->su_level);
        if (write && !w->rw)
            return page_fault(w, f, GWALK_R_READ_ONLY, w->ro_level);
        if (fetch && w->xd)
            return page_fault(w, f, GWALK_R_NX, w->xd_level);
        return GWALK_OK;
    }

    if (fetch) {
        if (w->xd)
            return page_fault(w, f, GWALK_R_NX, w->xd_level);
        if ((g->cr4 & GWALK_CR4_SMEP) && w->us)
            return page_fault(w, f, GWALK_R_SMEP, w->leaf_level);
        return GWALK_OK;
    }
    if ((g->cr4 & GWALK_CR4_SMAP) && w->us && !(g->rflags & GWALK_RFLAGS_AC))
        return page_fault(w, f, GWALK_R_SMAP, w->leaf_level);
    /* With CR0.WP = 0 supervisor writes ignore R/W. */
    if (write && !w->rw && (g->cr0 & GWALK_CR0_WP))
        return page_fault(w, f, GWALK_R_READ_ONLY, w->ro_level);
    return GWALK_OK;
}

/* SDM 4.8: accessed in every entry used, dirty in the one mapping the page
 * for a write.  Both live in the entry's low byte, the only byte rewritten. */
static enum gwalk_status set_accessed_dirty(const struct walk *w, struct gwalk_fault *f)
{
    if (!w->g->write_phys)
        return GWALK_OK;
    for (unsigned i = 0; i < w->nentries; i++) {
        uint64_t e = w->entry_val[i];
        uint64_t want = e | ENT_A;
        if (i + 1 == w->nentries && (w->access & GWALK_ACC_WRITE))
            want |= ENT_D;
        if (want == e)
            continue;
        uint8_t low = (uint8_t)want;
        if (w->g->write_phys(w->g->ctx, w->entry_gpa[i], &low, sizeof(low)))
            return phys_error(w->la, w->entry_gpa[i], f, GWALK_LEVEL_NONE);
    }
    return GWALK_OK;
}

static void fill_result(const struct walk *w, struct gwalk_result *res)
{
    if (!res)
        return;
    res->gpa = leaf_address(w);
    res->page_size = page_size(w->mode, w->leaf_level);
    res->level = w->leaf_level;
    res->writable = w->rw;
    res->user = w->us;
    res->executable = !w->xd;
}

static bool access_ok(unsigned access)
{
    unsigned known = GWALK_ACC_WRITE | GWALK_ACC_FETCH | GWALK_ACC_USER;
    return !(access & ~known) &&
           (access & (GWALK_ACC_WRITE | GWALK_ACC_FETCH)) != (GWALK_ACC_WRITE | GWALK_ACC_FETCH);
}

/* 0 (default) or a width the architecture allows: 32-bit paging alone
 * already addresses 4 GiB. */
static bool maxphyaddr_ok(unsigned m)
{
    return m == 0 || (m >= MIN_PHYADDR && m <= MAX_PHYADDR);
}

static void fill_unpaged(uint64_t la, struct gwalk_result *res)
{
    if (!res)
        return;
    res->gpa = la;
    res->page_size = PAGE_SIZE;
    res->level = GWALK_LEVEL_NONE;
    res->writable = res->user = res->executable = true;
}

/* ---- public API ------------------------------------------------------------ */

enum gwalk_status gwalk_translate(const struct gwalk_guest *g, uint64_t linear, unsigned access,
                                  struct gwalk_result *res, struct gwalk_fault *fault)
{
    struct gwalk_fault scratch;
    if (!fault)
        fault = &scratch;
    if (!g || !g->read_phys || !access_ok(access) || !maxphyaddr_ok(g->maxphyaddr))
        return GWALK_BAD_ARGS;

    enum mode mode = paging_mode(g);
    if (!mode_ia32e(mode))
        linear &= P32_LINEAR_MASK;
    if (mode == MODE_NONE) {
        fill_unpaged(linear, res);
        return GWALK_OK;
    }
    /* SDM Vol. 3A, 3.3.7.1: a non-canonical reference faults before paging. */
    if (mode_ia32e(mode) &&
        !is_canonical(linear, mode == MODE_5LEVEL ? LINEAR_BITS_5LEVEL : LINEAR_BITS_4LEVEL))
        return gp_fault(linear, fault, GWALK_R_NON_CANONICAL, GWALK_LEVEL_NONE);

    struct walk w = {
        .g = g,
        .mode = mode,
        .la = linear,
        .access = access,
        .m = g->maxphyaddr ? g->maxphyaddr : MAX_PHYADDR,
        /* XD exists only in the 64-bit entries of PAE and IA-32e paging. */
        .nxe = mode != MODE_32 && (g->efer & GWALK_EFER_NXE),
        .rw = true,
        .us = true,
    };
    enum gwalk_status st = walk_tables(&w, fault);
    if (st == GWALK_OK)
        st = check_rights(&w, fault);
    if (st == GWALK_OK)
        st = set_accessed_dirty(&w, fault);
    if (st == GWALK_OK)
        fill_result(&w, res);
    return st;
}

/* Copies page by page, into `into` (from the guest) or from `from` (to it). */
static enum gwalk_status copy_linear(const struct gwalk_guest *g, uint64_t linear, uint8_t *into,
                                     const uint8_t *from, size_t len, unsigned access,
                                     size_t *copied, struct gwalk_fault *fault)
{
    struct gwalk_fault scratch;
    if (!fault)
        fault = &scratch;
    size_t done = 0;
    enum gwalk_status st = GWALK_OK;

    while (done < len) {
        uint64_t la = linear + done;
        struct gwalk_result r;
        st = gwalk_translate(g, la, access, &r, fault);
        if (st != GWALK_OK)
            break;
        size_t chunk = (size_t)MIN((uint64_t)(len - done), PAGE_SIZE - (la & (PAGE_SIZE - 1)));
        int rc = from ? g->write_phys(g->ctx, r.gpa, from + done, chunk)
                      : g->read_phys(g->ctx, r.gpa, into + done, chunk);
        if (rc) {
            st = phys_error(la, r.gpa, fault, r.level);
            break;
        }
        done += chunk;
    }
    if (copied)
        *copied = done;
    return st;
}

enum gwalk_status gwalk_copy_from_guest(const struct gwalk_guest *g, void *dst, uint64_t linear,
                                        size_t len, unsigned access, size_t *copied,
                                        struct gwalk_fault *fault)
{
    if (copied)
        *copied = 0;
    if (!g || !g->read_phys || (len && !dst))
        return GWALK_BAD_ARGS;
    return copy_linear(g, linear, dst, NULL, len, access & ~GWALK_ACC_WRITE, copied, fault);
}

enum gwalk_status gwalk_copy_to_guest(const struct gwalk_guest *g, uint64_t linear,
                                      const void *src, size_t len, unsigned access,
                                      size_t *copied, struct gwalk_fault *fault)
{
    if (copied)
        *copied = 0;
    if (!g || !g->read_phys || !g->write_phys || (len && !src))
        return GWALK_BAD_ARGS;
    unsigned acc = (access & ~GWALK_ACC_FETCH) | GWALK_ACC_WRITE;
    return copy_linear(g, linear, NULL, src, len, acc, copied, fault);
}

const char *gwalk_reason_string(enum gwalk_reason reason)
{
    switch (reason) {
    case GWALK_R_NONE:              return "none";
    case GWALK_R_NOT_PRESENT:       return "not present";
    case GWALK_R_RESERVED:          return "reserved bit set";
    case GWALK_R_USER_SUPERVISOR:   return "user access to supervisor page";
    case GWALK_R_READ_ONLY:         return "write to read-only page";
    case GWALK_R_NX:                return "fetch from execute-disabled page";
    case GWALK_R_SMEP:              return "supervisor fetch from user page (SMEP)";
    case GWALK_R_SMAP:              return "supervisor access to user page (SMAP)";
    case GWALK_R_NON_CANONICAL:     return "non-canonical address";
    case GWALK_R_PDPTE_RESERVED:    return "reserved bit in PAE PDPTE";
    case GWALK_R_UNBACKED:          return "guest-physical memory not backed";
    }
    return "unknown";
}
