/*
 * Guest page-table walker: translates a guest linear address the way the
 * guest's processor would (SDM Vol. 3A, chapter 4 "Paging"), for
 * instruction emulation and for reading and writing guest memory by linear
 * address.
 *
 * Paging modes (SDM 4.1.1, table 4-1), chosen from the guest's control
 * registers:
 *   CR0.PG = 0                          no paging (linear = physical)
 *   CR0.PG = 1, CR4.PAE = 0             32-bit paging (4 MiB pages if CR4.PSE)
 *   CR0.PG = 1, CR4.PAE = 1, not IA-32e PAE paging (2 MiB pages)
 *   CR0.PG = 1, EFER.LMA (or LME)       4-level, or 5-level with CR4.LA57
 *                                       (2 MiB and 1 GiB pages)
 *
 * Access rights follow SDM 4.6: CR0.WP, EFER.NXE, CR4.SMEP and CR4.SMAP
 * (with RFLAGS.AC for explicit supervisor accesses) are honoured.  Not
 * modelled: protection keys (CR4.PKE/PKS), shadow stacks (CET), HLAT,
 * linear-address masking, implicit supervisor accesses made at CPL 3 (pass
 * them as supervisor accesses; SMAP then treats them as explicit ones), and
 * CPUID feature gaps: 1 GiB pages and PSE-36 are assumed to exist.
 *
 * Like the processor, the walker sets the accessed flag of every
 * paging-structure entry it used and, for writes, the dirty flag of the
 * entry that maps the page (SDM 4.8) -- only when the translation succeeds,
 * by rewriting the entry's low byte through `write_phys` (not atomically:
 * another vCPU changing that same byte at the same moment could lose its
 * update).  With write_phys == NULL the walk changes nothing.
 *
 * Pure: guest memory is reached only through the callbacks.
 */
#ifndef HV_GWALK_H
#define HV_GWALK_H

#include <hv/types.h>

/* Control-register and EFER bits the walker reads (SDM Vol. 3A, 2.5, 2.2.1). */
#define GWALK_CR0_WP        BIT(16)
#define GWALK_CR0_PG        BIT(31)
#define GWALK_CR4_PSE       BIT(4)
#define GWALK_CR4_PAE       BIT(5)
#define GWALK_CR4_LA57      BIT(12)
#define GWALK_CR4_SMEP      BIT(20)
#define GWALK_CR4_SMAP      BIT(21)
#define GWALK_EFER_LME      BIT(8)
#define GWALK_EFER_LMA      BIT(10)
#define GWALK_EFER_NXE      BIT(11)
#define GWALK_RFLAGS_AC     BIT(18)

/* Page-fault error code bits (SDM Vol. 3A, 4.7). */
#define GWALK_PF_P          BIT(0)  /* 0: not present; 1: protection (or reserved bit) */
#define GWALK_PF_W          BIT(1)  /* the access was a write */
#define GWALK_PF_U          BIT(2)  /* the access was a user-mode access */
#define GWALK_PF_RSVD       BIT(3)  /* a reserved bit was set in some entry */
#define GWALK_PF_I          BIT(4)  /* instruction fetch (only with NXE or SMEP) */

#define GWALK_VECTOR_GP     13
#define GWALK_VECTOR_PF     14

/* Access flags (combine; write and fetch exclude each other). */
#define GWALK_ACC_READ      0u
#define GWALK_ACC_WRITE     1u
#define GWALK_ACC_FETCH     2u
#define GWALK_ACC_USER      4u      /* CPL 3; otherwise a supervisor-mode access */

/* Paging levels as the walker reports them. */
#define GWALK_LEVEL_NONE    0u      /* no paging, or no entry involved */
#define GWALK_LEVEL_PT      1u      /* PTE: 4 KiB page */
#define GWALK_LEVEL_PD      2u      /* PDE: 2 MiB / 4 MiB page or page table */
#define GWALK_LEVEL_PDPT    3u      /* PDPTE: 1 GiB page (PAE: one of 4 PDPTEs) */
#define GWALK_LEVEL_PML4    4u
#define GWALK_LEVEL_PML5    5u

/* The guest as seen by the walker. */
struct gwalk_guest {
    uint64_t cr0, cr3, cr4, efer;
    uint64_t rflags;            /* only AC (SMAP) is used */
    unsigned maxphyaddr;        /* guest CPUID.80000008H:EAX[7:0]; 0 means 52 */
    /* PAE paging: the processor translates through its four PDPTE registers,
     * loaded when CR3 was written, not through memory (SDM 4.4.1).  Under
     * EPT these are the VMCS guest PDPTE0-3 fields (SDM Vol. 3C, 25.4.2).
     * NULL: read them from the PDPT at CR3. */
    const uint64_t *pdptes;
    int (*read_phys)(void *ctx, uint64_t gpa, void *buf, size_t len);         /* 0 or -1 */
    int (*write_phys)(void *ctx, uint64_t gpa, const void *buf, size_t len);  /* 0 or -1 */
    void *ctx;
};

enum gwalk_status {
    GWALK_OK = 0,
    GWALK_PAGE_FAULT,           /* deliver #PF(error_code) with CR2 = fault.linear */
    GWALK_GP_FAULT,             /* deliver #GP(0) (#SS(0) for stack references) */
    GWALK_PHYS_ERROR,           /* read_phys/write_phys failed at fault.gpa */
    GWALK_BAD_ARGS,
};

enum gwalk_reason {
    GWALK_R_NONE = 0,
    GWALK_R_NOT_PRESENT,        /* P = 0 at fault.level */
    GWALK_R_RESERVED,           /* reserved bit set at fault.level */
    GWALK_R_USER_SUPERVISOR,    /* user access, U/S = 0 at fault.level */
    GWALK_R_READ_ONLY,          /* write, R/W = 0 at fault.level */
    GWALK_R_NX,                 /* fetch, XD = 1 at fault.level */
    GWALK_R_SMEP,               /* supervisor fetch from a user page */
    GWALK_R_SMAP,               /* supervisor data access to a user page, AC = 0 */
    GWALK_R_NON_CANONICAL,      /* 64-bit mode: not a canonical address */
    GWALK_R_PDPTE_RESERVED,     /* PAE PDPTE with reserved bits; reported as #GP, what
                                   loading it (MOV to CR3) would have raised, SDM 4.4.1 */
    GWALK_R_UNBACKED,           /* guest-physical memory missing (PHYS_ERROR) */
};

struct gwalk_fault {
    uint8_t vector;             /* GWALK_VECTOR_PF or _GP; 0 for PHYS_ERROR */
    uint32_t error_code;        /* #PF error code; 0 for #GP */
    uint64_t linear;            /* the faulting linear address (CR2) */
    unsigned level;             /* GWALK_LEVEL_* of the offending entry */
    enum gwalk_reason reason;
    uint64_t gpa;               /* PHYS_ERROR: the address that failed */
};

struct gwalk_result {
    uint64_t gpa;
    uint64_t page_size;         /* 4 KiB .. 1 GiB; 4 KiB without paging */
    unsigned level;             /* level of the entry mapping the page */
    bool writable, user, executable;    /* R/W, U/S and !XD over the walk */
};

/*
 * Translates `linear` for an access of kind `access` (GWALK_ACC_*).  On
 * success fills *res (may be NULL) and sets A/D flags; otherwise fills
 * *fault (may be NULL).  Without IA-32e paging, linear addresses are 32
 * bits wide and higher bits of `linear` are dropped.
 */
enum gwalk_status gwalk_translate(const struct gwalk_guest *g, uint64_t linear, unsigned access,
                                  struct gwalk_result *res, struct gwalk_fault *fault);

/*
 * Copy `len` bytes between a host buffer and guest linear memory, page by
 * page (each page translated separately; `access` may add GWALK_ACC_USER,
 * and GWALK_ACC_FETCH for copy_from).  Stops at the first fault: *copied
 * (may be NULL) gets the bytes copied before it and *fault the fault, whose
 * linear address is the first byte not copied.
 */
enum gwalk_status gwalk_copy_from_guest(const struct gwalk_guest *g, void *dst, uint64_t linear,
                                        size_t len, unsigned access, size_t *copied,
                                        struct gwalk_fault *fault);
enum gwalk_status gwalk_copy_to_guest(const struct gwalk_guest *g, uint64_t linear,
                                      const void *src, size_t len, unsigned access,
                                      size_t *copied, struct gwalk_fault *fault);

/* A short name for a reason, e.g. "not present". */
const char *gwalk_reason_string(enum gwalk_reason reason);

#endif
