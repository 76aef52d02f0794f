/* Ticket spinlocks: FIFO fairness so that no core starves on the log lock. */
#ifndef HV_SPINLOCK_H
#define HV_SPINLOCK_H

#include <hv/x86.h>

typedef struct { volatile uint32_t next; volatile uint32_t owner; } spinlock_t;
#define SPINLOCK_INIT { 0, 0 }

static inline void spin_lock(spinlock_t *l)
{
    uint32_t ticket = __atomic_fetch_add(&l->next, 1, __ATOMIC_RELAXED);
    while (__atomic_load_n(&l->owner, __ATOMIC_ACQUIRE) != ticket)
        cpu_relax();
}

static inline void spin_unlock(spinlock_t *l)
{
    __atomic_store_n(&l->owner, l->owner + 1, __ATOMIC_RELEASE);
}

/* Interrupt-safe variants: the lock may also be taken from interrupt context. */
static inline uint64_t spin_lock_irqsave(spinlock_t *l) { uint64_t f = irq_save(); spin_lock(l); return f; }
static inline void spin_unlock_irqrestore(spinlock_t *l, uint64_t f) { spin_unlock(l); irq_restore(f); }

#endif
