/*
 * String port I/O: INS and OUTS, with and without REP (SDM Vol. 2B, INS/OUTS;
 * Vol. 3A, 19.3 "I/O instructions").  The exit qualification gives the port,
 * size and REP; we take the address size and segment from the instruction's
 * own prefixes, so nothing depends on the optional VM-exit instruction
 * information.  Guest memory goes through the guest's paging: a fault stops
 * the instruction with the registers of the iterations already done and is
 * delivered as on hardware (RIP still at the instruction, as a restartable
 * fault).  INS checks its destination before it reads the port, so a fault
 * never swallows a byte from the device.
 */
#include <hv/vm_internal.h>
#include <hv/guest_access.h>
#include <hv/x86_emulate.h>
#include <hv/kstring.h>
#include <hv/log.h>

#define MAX_ITERATIONS_PER_EXIT 65536   /* the rest is done when the guest re-executes */
#define RFLAGS_DF               BIT(10)
#define PREFIX_OPSIZE           0x66
#define PREFIX_ADDRSIZE         0x67
#define PREFIX_REP              0xF3
#define PREFIX_REPNE            0xF2
#define PREFIX_LOCK             0xF0

struct string_op {
    bool in, rep;
    unsigned size;                  /* 1, 2, 4 */
    uint16_t port;
    unsigned addr_bytes;            /* 2, 4, 8 */
    enum x86_seg seg;               /* OUTS: DS or override; INS: always ES */
};

static enum x86_seg segment_prefix(uint8_t b)
{
    switch (b) {
    case 0x26: return X86_SEG_ES;
    case 0x2E: return X86_SEG_CS;
    case 0x36: return X86_SEG_SS;
    case 0x3E: return X86_SEG_DS;
    case 0x64: return X86_SEG_FS;
    case 0x65: return X86_SEG_GS;
    default:   return X86_SEG_NONE;
    }
}

/* Reads the legacy prefixes in front of INS/OUTS (opcodes 6C-6F). */
static bool parse_prefixes(const uint8_t *b, size_t n, enum x86_cpu_mode mode, struct string_op *op)
{
    bool addr_override = false;
    enum x86_seg seg = X86_SEG_DS;
    size_t i = 0;
    for (; i < n; i++) {
        enum x86_seg s = segment_prefix(b[i]);
        if (s != X86_SEG_NONE)
            seg = s;
        else if (b[i] == PREFIX_ADDRSIZE)
            addr_override = true;
        else if (b[i] == PREFIX_OPSIZE || b[i] == PREFIX_REP || b[i] == PREFIX_REPNE ||
                 b[i] == PREFIX_LOCK || (mode == X86_MODE_LONG64 && (b[i] & 0xF0) == 0x40))
            continue;                               /* REX and the others carry nothing here */
        else
            break;
    }
    if (i == n || b[i] < 0x6C || b[i] > 0x6F)
        return false;
    switch (mode) {
    case X86_MODE_LONG64: op->addr_bytes = addr_override ? 4 : 8; break;
    case X86_MODE_PROT32: op->addr_bytes = addr_override ? 2 : 4; break;
    default:              op->addr_bytes = addr_override ? 4 : 2; break;
    }
    op->seg = op->in ? X86_SEG_ES : seg;
    return true;
}

static uint64_t addr_mask(unsigned bytes)
{
    return bytes == 8 ? ~0ULL : (1ULL << (bytes * 8)) - 1;
}

/* Writes an address-size-wide register: 16 bits merge, 32 bits zero-extend. */
static void set_counter(uint64_t *reg, uint64_t v, unsigned bytes)
{
    *reg = bytes == 2 ? (*reg & ~0xFFFFULL) | (v & 0xFFFF) : v & addr_mask(bytes);
}

/* One element through the general path (devices, page-crossing elements). */
static bool element_slow(struct guest_access *ga, struct vm *vm, const struct string_op *op,
                         uint64_t linear)
{
    uint64_t v = 0;
    if (op->in) {
        /* Check the destination first: a fault must not swallow a device byte. */
        if (guest_probe_write(ga, linear, op->size))
            return false;
        bus_pio(&vm->bus, op->port, op->size, false, &v);
        return guest_access(ga, linear, &v, op->size, true) == 0;
    }
    if (guest_access(ga, linear, &v, op->size, false))
        return false;
    bus_pio(&vm->bus, op->port, op->size, true, &v);
    return true;
}

static bool do_string_io(struct vcpu *vcpu, struct vm_exit *e, struct guest_access *ga,
                         const struct string_op *op)
{
    struct vm *vm = vcpu->vm;
    uint64_t mask = addr_mask(op->addr_bytes);
    unsigned idx = op->in ? GPR_RDI : GPR_RSI;
    uint64_t ptr = vcpu->gpr[idx] & mask;
    uint64_t count = op->rep ? vcpu->gpr[GPR_RCX] & mask : 1;
    int64_t step = (virt->get_reg(vcpu, VREG_RFLAGS) & RFLAGS_DF) ? -(int64_t)op->size : op->size;
    uint64_t seg_base = guest_linear(ga, op->seg, 0);
    uint64_t lin_mask = ga->mode == X86_MODE_LONG64 ? ~0ULL : 0xFFFFFFFFULL;
    uint64_t done = 0, window = ~0ULL;     /* the linear page `host` points into */
    uint8_t *host = NULL;
    bool faulted = false;

    while (done < count && done < MAX_ITERATIONS_PER_EXIT) {
        uint64_t linear = (seg_base + ptr) & lin_mask;
        uint64_t page = linear & ~(PAGE_SIZE - 1);
        bool inside = (linear & (PAGE_SIZE - 1)) + op->size <= PAGE_SIZE;
        if (inside && page != window) {
            /* One translation per page; RAM is then reached directly. */
            ga->status = GWALK_OK;
            uint8_t *p = guest_ram_pointer(ga, page, op->in);
            if (!p && ga->status != GWALK_OK) {
                faulted = true;
                break;
            }
            host = p;
            window = p ? page : ~0ULL;
        }
        if (inside && host) {
            uint64_t v = 0;
            uint8_t *at = host + (linear & (PAGE_SIZE - 1));
            if (op->in) {
                bus_pio(&vm->bus, op->port, op->size, false, &v);
                memcpy(at, &v, op->size);
            } else {
                memcpy(&v, at, op->size);
                bus_pio(&vm->bus, op->port, op->size, true, &v);
            }
        } else if (!element_slow(ga, vm, op, linear)) {
            faulted = true;
            break;
        }
        ptr = (ptr + step) & mask;
        done++;
        if (vm->stop_reason != STOP_NONE)
            break;                                  /* e.g. the debug-exit port */
    }
    set_counter(&vcpu->gpr[idx], ptr, op->addr_bytes);
    if (op->rep)
        set_counter(&vcpu->gpr[GPR_RCX], count - done, op->addr_bytes);
    vm->stats.string_io++;
    if (faulted) {
        guest_access_deliver_fault(ga, op->in ? "INS" : "OUTS");
        return vm->stop_reason == STOP_NONE;
    }
    if (done == count)
        e->skip = true;                             /* else re-executed for the rest */
    return vm->stop_reason == STOP_NONE;
}

bool vm_string_io(struct vcpu *vcpu, struct vm_exit *e)
{
    struct guest_access ga;
    struct string_op op = { .in = e->io.in, .rep = e->io.rep, .size = e->io.size, .port = e->io.port };
    uint8_t bytes[X86_MAX_INSN_LEN];

    guest_access_init(&ga, vcpu);
    size_t n = guest_fetch(&ga, e->rip, bytes, MIN((size_t)e->insn_len, sizeof(bytes)));
    if (!parse_prefixes(bytes, n, ga.mode, &op)) {
        vm_stop(vcpu->vm, STOP_MISBEHAVED, 0, "string I/O exit at RIP=%#llx, but the bytes there "
                "are not INS/OUTS (self-modifying code?)", (unsigned long long)e->rip);
        return false;
    }
    return do_string_io(vcpu, e, &ga, &op);
}
