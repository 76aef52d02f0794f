/*
 * Extended page tables: the guest-physical -> host-physical translation of a
 * VMX guest (SDM Vol. 3C, 29.3 "The Extended Page Table Mechanism").
 *
 * Always 4-level (page-walk length 4, GPAs below 2^48).  Leaves are 4 KiB,
 * 2 MiB (EPT PDE with bit 7) or 1 GiB (EPT PDPTE with bit 7) pages, formats
 * in SDM tables 29-1 .. 29-6; the root pointer goes into the VMCS as the EPTP
 * (SDM 25.6.11).
 *
 * Pure: no globals, no hardware access.  Table pages are allocated, freed and
 * reached only through `struct ept_ops`, so the kernel backs them with its
 * physical allocator and direct map, and host unit tests with fake memory.
 *
 * Concurrency: the caller serialises every call on one `struct ept` and
 * issues INVEPT after a change that removes or narrows a translation.  New
 * tables are filled completely before the single 64-bit store that links
 * them in, so a processor walking the tables meanwhile sees either the old
 * or the new translation, never a half-built table.  Table pages are handed
 * to free_table as soon as they are unlinked, but processors may still hold
 * them in their paging-structure caches until that INVEPT (SDM Vol. 3C,
 * "Caching Translation Information"): a kernel free_table must not let the
 * page be reused before then (queue it and release the queue after INVEPT).
 */
#ifndef HV_EPT_H
#define HV_EPT_H

#include <hv/types.h>
#include <hv/pmm.h>

struct ept_ops {
    phys_addr_t (*alloc_table)(void *ctx);  /* a zeroed 4 KiB page, or PMM_NO_MEMORY */
    void (*free_table)(void *ctx, phys_addr_t page);
    void *(*to_virt)(void *ctx, phys_addr_t page);
    void *ctx;
};

/* Access rights, bits 2:0 of every EPT entry (SDM 29.3.2). */
#define EPT_READ        1u
#define EPT_WRITE       2u
#define EPT_EXEC        4u
#define EPT_RWX         (EPT_READ | EPT_WRITE | EPT_EXEC)

/* EPT memory types, bits 5:3 of a leaf (SDM 29.3, "EPT and memory typing");
 * 2, 3 and 7 are reserved and cause EPT misconfigurations. */
enum ept_memtype {
    EPT_MT_UC = 0,
    EPT_MT_WC = 1,
    EPT_MT_WT = 4,
    EPT_MT_WP = 5,
    EPT_MT_WB = 6,
};

/* Leaf levels reported by ept_lookup: the table that holds the leaf. */
#define EPT_LEVEL_PT    1u      /* 4 KiB page */
#define EPT_LEVEL_PD    2u      /* 2 MiB page */
#define EPT_LEVEL_PDPT  3u      /* 1 GiB page */
#define EPT_LEVEL_PML4  4u

#define EPT_GPA_LIMIT   BIT(48)     /* 4-level EPT translates 48-bit GPAs */
#define EPT_HPA_LIMIT   BIT(52)     /* architectural maximum physical-address width */

/* Return codes of the mapping functions. */
#define EPT_OK          0
#define EPT_EINVAL      (-1)
#define EPT_ENOMEM      (-2)

struct ept {
    phys_addr_t pml4;           /* PMM_NO_MEMORY before ept_init and after ept_destroy */
    struct ept_ops ops;
    bool allow_2mb, allow_1gb;
    uint64_t table_pages;       /* table pages currently allocated, PML4 included */
};

/*
 * Allocates the PML4.  `allow_2mb`/`allow_1gb` come from IA32_VMX_EPT_VPID_CAP
 * bits 16/17 (SDM A.10).  1 GiB leaves are only used together with 2 MiB
 * leaves: splitting a 1 GiB leaf produces 2 MiB leaves, so allow_1gb is
 * cleared when allow_2mb is false.
 * Returns EPT_OK, EPT_EINVAL (a NULL callback) or EPT_ENOMEM.
 */
int ept_init(struct ept *ept, const struct ept_ops *ops, bool allow_2mb, bool allow_1gb);

/*
 * Maps [gpa, gpa + size) to [hpa, hpa + size) with `perms` (EPT_READ/WRITE/
 * EXEC) and memory type `mt`, replacing whatever was mapped there.  All three
 * must be 4 KiB aligned; size 0 does nothing.  Uses 1 GiB / 2 MiB leaves
 * wherever both addresses are aligned, the range covers the whole page and
 * the ept allows it; a large leaf only partly remapped is split and the rest
 * keeps its translation.  Leaves get "ignore PAT" so `mt` is the effective
 * type.
 *
 * Rejected (EPT_EINVAL): unaligned arguments, a GPA range beyond 2^48, a
 * host range beyond 2^52, perms 0 or outside EPT_RWX, write without read
 * (an EPT misconfiguration, SDM 29.3.3.1), a reserved memory type.
 * Execute-only (EPT_EXEC alone) is accepted: the caller checks
 * EPT_CAP_EXECUTE_ONLY.
 *
 * All-or-nothing: the table pages needed are counted and allocated before
 * anything changes, so EPT_ENOMEM leaves the tables exactly as they were.
 */
int ept_map_range(struct ept *ept, uint64_t gpa, phys_addr_t hpa, uint64_t size,
                  unsigned perms, enum ept_memtype mt);

/*
 * Removes the translations of [gpa, gpa + size) (4 KiB aligned), splitting
 * large leaves that straddle the ends and freeing tables left empty.
 * Returns EPT_OK, EPT_EINVAL or EPT_ENOMEM (a split needed a table; nothing
 * changed).
 */
int ept_unmap_range(struct ept *ept, uint64_t gpa, uint64_t size);

/* Translates one GPA.  Any output pointer may be NULL.  `leaf_level` is
 * EPT_LEVEL_PT, _PD or _PDPT.  False when not mapped. */
bool ept_lookup(const struct ept *ept, uint64_t gpa, phys_addr_t *hpa, unsigned *perms,
                enum ept_memtype *mt, unsigned *leaf_level);

/* The VMCS EPTP (SDM 25.6.11): the PML4 address, memory type WB in bits 2:0,
 * page-walk length minus one (3) in bits 5:3, bit 6 enables accessed and
 * dirty flags (only when EPT_CAP_ACCESSED_DIRTY). */
uint64_t ept_eptp(const struct ept *ept, bool enable_ad);

/* Calls `fn` once per leaf, in increasing GPA order. */
typedef void (*ept_leaf_fn)(void *ctx, uint64_t gpa, phys_addr_t hpa, uint64_t size,
                            unsigned perms);
void ept_for_each_leaf(const struct ept *ept, ept_leaf_fn fn, void *ctx);

/* Frees every table page (not the memory the leaves map). */
void ept_destroy(struct ept *ept);

/* EPT-violation exit qualification bits (SDM Vol. 3C, table 28-7). */
#define EPT_VIOL_READ               BIT(0)  /* the access was a data read */
#define EPT_VIOL_WRITE              BIT(1)  /* ... a data write */
#define EPT_VIOL_FETCH              BIT(2)  /* ... an instruction fetch */
#define EPT_VIOL_READABLE           BIT(3)  /* the GPA was readable (AND over the EPT walk) */
#define EPT_VIOL_WRITABLE           BIT(4)  /* ... writable */
#define EPT_VIOL_EXECUTABLE         BIT(5)  /* ... executable */
#define EPT_VIOL_LINEAR_VALID       BIT(7)  /* the guest linear-address field is valid */
#define EPT_VIOL_FINAL_TRANSLATION  BIT(8)  /* with bit 7: the access was to the translated
                                               address, not to a guest paging-structure entry */

/*
 * Describes an EPT-violation exit qualification (SDM Vol. 3C, table 28-7),
 * e.g. "write to a not-present page (gpa access: R- W- X-), linear address
 * valid, final translation".  Writes at most n bytes (always NUL-terminated
 * when n > 0) and returns buf.
 */
const char *ept_violation_access_string(uint64_t exit_qualification, char *buf, size_t n);

#endif
