/* Kernel log; see include/hv/log.h. */
#include <hv/log.h>
#include <hv/format.h>
#include <hv/percpu.h>
#include <hv/spinlock.h>
#include <hv/kstring.h>

#define LOG_LINE_MAX    512
#define NO_OWNER        0xFFFFFFFFu

enum log_level log_threshold = LOG_INFO;
const char *const log_level_names[] = { "error", "warn", "info", "debug", NULL };

static spinlock_t log_lock = SPINLOCK_INIT;
static volatile uint32_t log_owner = NO_OWNER;  /* CPU holding log_lock */
static unsigned errors, warnings;
static char first_error[160];

static uint32_t current_cpu(void)
{
    return percpu_ready ? this_cpu()->index : 0;
}

/* Takes the log lock unless this CPU already holds it (an exception taken
 * while printing must still be able to print its register dump). */
static bool log_lock_acquire(uint64_t *flags)
{
    uint32_t me = current_cpu();
    *flags = irq_save();
    if (log_owner == me)
        return false;
    spin_lock(&log_lock);
    log_owner = me;
    return true;
}

static void log_lock_release(bool taken, uint64_t flags)
{
    if (taken) {
        log_owner = NO_OWNER;
        spin_unlock(&log_lock);
    }
    irq_restore(flags);
}

static void emit(const char *s, size_t n)
{
    serial_write(s, n);
    console_fb_write(s, n);
}

void log_init(void)
{
    serial_init();
}

void log_vprintf(enum log_level level, const char *fmt, va_list ap)
{
    static const char *const tags[] = { "ERROR: ", "WARNING: ", "", "" };
    char line[LOG_LINE_MAX];
    uint32_t cpu = current_cpu();

    int n = ksnprintf(line, sizeof(line), "[cpu%u] %s", cpu, tags[level]);
    size_t head = (size_t)n;
    va_list aq;
    va_copy(aq, ap);
    kvsnprintf(line + head, sizeof(line) - head - 1, fmt, aq);
    va_end(aq);
    size_t len = strlen(line);
    line[len++] = '\n';

    uint64_t flags;
    bool taken = log_lock_acquire(&flags);
    if (level == LOG_ERROR) {
        if (errors++ == 0) {
            size_t m = MIN(len - 1 - head, sizeof(first_error) - 1);
            memcpy(first_error, line + head, m);
            first_error[m] = '\0';
        }
    } else if (level == LOG_WARN) {
        warnings++;
    }
    if (level <= log_threshold)
        emit(line, len);
    log_lock_release(taken, flags);
}

void log_printf(enum log_level level, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    log_vprintf(level, fmt, ap);
    va_end(ap);
}

void log_raw(const char *fmt, ...)
{
    char line[LOG_LINE_MAX];
    va_list ap;
    va_start(ap, fmt);
    kvsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);

    uint64_t flags;
    bool taken = log_lock_acquire(&flags);
    emit(line, strlen(line));
    log_lock_release(taken, flags);
}

unsigned log_error_count(void) { return errors; }
unsigned log_warning_count(void) { return warnings; }
const char *log_first_error(void) { return first_error; }
