/*
 * Kernel heap: power-of-two size classes from 32 bytes to 2 KiB carved out of
 * pages, and whole pages for anything larger.  Each block carries a 16-byte
 * header naming its class so kfree() needs no size, and a magic value so a
 * bad or double free is caught instead of corrupting the lists.
 */
#include <hv/paging.h>
#include <hv/kernel.h>
#include <hv/spinlock.h>
#include <hv/kstring.h>

#define HEAP_MIN_SHIFT  5
#define HEAP_MAX_SHIFT  11
#define HEAP_CLASSES    (HEAP_MAX_SHIFT - HEAP_MIN_SHIFT + 1)
#define MAGIC_USED      0x48565553454455ULL     /* "HVUSEDU" */
#define MAGIC_FREE      0x48564652454546ULL     /* "HVFREEF" */
#define CLASS_PAGES     0xFF

struct block_header {
    uint64_t magic;
    uint32_t cls;           /* size class, or CLASS_PAGES */
    uint32_t pages;         /* for CLASS_PAGES */
};

struct free_block {
    struct block_header h;
    struct free_block *next;
};

static struct free_block *free_lists[HEAP_CLASSES];
static spinlock_t heap_lock = SPINLOCK_INIT;

static bool refill(unsigned cls)
{
    phys_addr_t p = phys_alloc_pages(1);
    if (p == PMM_NO_MEMORY)
        return false;
    size_t bsize = (size_t)1 << (cls + HEAP_MIN_SHIFT);
    uint8_t *page = phys_to_virt(p);
    for (size_t off = 0; off + bsize <= PAGE_SIZE; off += bsize) {
        struct free_block *b = (struct free_block *)(page + off);
        b->h.magic = MAGIC_FREE;
        b->h.cls = cls;
        b->next = free_lists[cls];
        free_lists[cls] = b;
    }
    return true;
}

void *kmalloc(size_t size)
{
    size_t need = size + sizeof(struct block_header);
    if (size == 0)
        return NULL;
    if (need > ((size_t)1 << HEAP_MAX_SHIFT)) {
        uint64_t pages = ALIGN_UP(need, PAGE_SIZE) / PAGE_SIZE;
        phys_addr_t p = phys_alloc_pages(pages);
        if (p == PMM_NO_MEMORY)
            return NULL;
        struct block_header *h = phys_to_virt(p);
        h->magic = MAGIC_USED;
        h->cls = CLASS_PAGES;
        h->pages = (uint32_t)pages;
        return h + 1;
    }
    unsigned cls = 0;
    while (((size_t)1 << (cls + HEAP_MIN_SHIFT)) < need)
        cls++;

    uint64_t f = spin_lock_irqsave(&heap_lock);
    if (!free_lists[cls] && !refill(cls)) {
        spin_unlock_irqrestore(&heap_lock, f);
        return NULL;
    }
    struct free_block *b = free_lists[cls];
    free_lists[cls] = b->next;
    spin_unlock_irqrestore(&heap_lock, f);
    if (b->h.magic != MAGIC_FREE)
        panic("kmalloc: heap free list corrupted at %p", (void *)b);
    b->h.magic = MAGIC_USED;
    return &b->h + 1;
}

void *kzalloc(size_t size)
{
    void *p = kmalloc(size);
    if (p)
        memset(p, 0, size);
    return p;
}

void kfree(void *p)
{
    if (!p)
        return;
    struct block_header *h = (struct block_header *)p - 1;
    if (h->magic != MAGIC_USED)
        panic("kfree(%p): not an allocated block (double free or wild pointer)", p);
    if (h->cls == CLASS_PAGES) {
        h->magic = MAGIC_FREE;
        phys_free_pages(virt_to_phys(h), h->pages);
        return;
    }
    if (h->cls >= HEAP_CLASSES)
        panic("kfree(%p): corrupted block header", p);
    struct free_block *b = (struct free_block *)h;
    uint64_t f = spin_lock_irqsave(&heap_lock);
    b->h.magic = MAGIC_FREE;
    b->next = free_lists[h->cls];
    free_lists[h->cls] = b;
    spin_unlock_irqrestore(&heap_lock, f);
}
