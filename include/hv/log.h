/* Kernel log: serial console (COM1) and framebuffer console, one line per call,
 * prefixed with the CPU ("[cpu1] ...") and the level for warnings and errors. */
#ifndef HV_LOG_H
#define HV_LOG_H

#include <hv/types.h>

enum log_level { LOG_ERROR, LOG_WARN, LOG_INFO, LOG_DEBUG };

extern enum log_level log_threshold;
extern const char *const log_level_names[];     /* NULL-terminated, for cmdline */

void log_init(void);
void log_printf(enum log_level level, const char *fmt, ...) __printf(2, 3);
void log_vprintf(enum log_level level, const char *fmt, va_list ap);
/* Unprefixed, unfiltered output: banners and the final verdict line. */
void log_raw(const char *fmt, ...) __printf(1, 2);
unsigned log_error_count(void);
unsigned log_warning_count(void);
/* The first error logged (for the verdict line), or "" when none. */
const char *log_first_error(void);

#define pr_err(...)     log_printf(LOG_ERROR, __VA_ARGS__)
#define pr_warn(...)    log_printf(LOG_WARN, __VA_ARGS__)
#define pr_info(...)    log_printf(LOG_INFO, __VA_ARGS__)
#define pr_debug(...)   log_printf(LOG_DEBUG, __VA_ARGS__)

/* Output devices. */
void serial_init(void);
void serial_write(const char *s, size_t n);
int serial_read_byte(void);
struct mb2_framebuffer;
void console_fb_init(const struct mb2_framebuffer *fb);
void console_fb_write(const char *s, size_t n);

#endif
