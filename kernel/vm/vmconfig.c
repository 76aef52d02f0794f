/* A VM's configuration from its GRUB module command line, e.g.
 *   module2 /boot/hello32.elf name=hello mem=64M cpu=1 args="status=3"
 * Every problem is reported; a VM with a bad configuration is not created. */
#include <hv/vm_internal.h>
#include <hv/cmdline.h>
#include <hv/format.h>
#include <hv/kstring.h>

#define CPU_ANY         (~0ULL)
#define REAL_MODE_LOAD  0x7C00
#define RFLAGS_DEFAULT  0x2         /* bit 1 is reserved and always 1 */
#define MAX_TIMEOUT_MS  (3600ULL * 1000)

static const char *const entry_names[] = { "auto", "multiboot", "elf32", "elf64", "real", NULL };

struct report_ctx { char *err; size_t len; int count; };

static void report(void *ctx, const char *word, size_t len, const char *problem)
{
    struct report_ctx *r = ctx;
    if (r->count++ == 0)
        ksnprintf(r->err, r->len, "'%.*s': %s", (int)len, word, problem);
}

/* "for=NAME rest of line": a file for VM NAME; the rest is its module string,
 * handed to the guest untouched (as GRUB hands a module's command line). */
static bool parse_owner(const char *cmdline, struct vm_config *cfg, char *err, size_t errlen)
{
    const char *p = cmdline, *name;
    while (*p == ' ')
        p++;
    if (strncmp(p, "for=", 4))
        return false;
    name = p += 4;
    while (*p && *p != ' ')
        p++;
    if (p == name || (size_t)(p - name) >= sizeof(cfg->owner)) {
        ksnprintf(err, errlen, "for= needs the name of a VM (at most %zu characters)",
                  sizeof(cfg->owner) - 1);
        cfg->owner[0] = '\0';
        return true;
    }
    memcpy(cfg->owner, name, p - name);
    cfg->owner[p - name] = '\0';
    while (*p == ' ')
        p++;
    cfg->module_string = p;
    return true;
}

int vm_config_parse(const char *cmdline, struct vm_config *cfg, char *err, size_t errlen)
{
    memset(cfg, 0, sizeof(*cfg));
    if (parse_owner(cmdline, cfg, err, errlen))
        return cfg->owner[0] ? 0 : -1;
    cfg->mem = VM_DEFAULT_MEM;
    cfg->cpu = CPU_ANY;
    cfg->load = REAL_MODE_LOAD;
    cfg->rflags = RFLAGS_DEFAULT;

    const struct cmdline_option opts[] = {
        { .name = "name", .type = CMDLINE_STRING, .dest = cfg->name, .size = sizeof(cfg->name) },
        { .name = "mem", .type = CMDLINE_UINT, .dest = &cfg->mem, .min = VM_MIN_MEM, .max = VM_MAX_MEM },
        { .name = "cpu", .type = CMDLINE_UINT, .dest = &cfg->cpu, .max = 63 },
        { .name = "entry", .type = CMDLINE_ENUM, .dest = &cfg->entry, .choices = entry_names },
        { .name = "load", .type = CMDLINE_UINT, .dest = &cfg->load, .max = 0xFFFFF },
        { .name = "timeout", .type = CMDLINE_UINT, .dest = &cfg->timeout_ms, .max = MAX_TIMEOUT_MS },
        { .name = "rflags", .type = CMDLINE_UINT, .dest = &cfg->rflags, .max = 0xFFFFFFFF },
        { .name = "args", .type = CMDLINE_STRING, .dest = cfg->args, .size = sizeof(cfg->args) },
        { .name = "devices", .type = CMDLINE_STRING, .dest = cfg->devices, .size = sizeof(cfg->devices) },
    };
    struct report_ctx r = { err, errlen, 0 };
    cmdline_parse(cmdline, opts, ARRAY_SIZE(opts), report, &r);
    if (r.count)
        return -1;
    if (cfg->mem % PAGE_SIZE) {
        ksnprintf(err, errlen, "mem=%llu is not a multiple of 4 KiB", (unsigned long long)cfg->mem);
        return -1;
    }
    if (!cfg->owner[0] && !cfg->name[0]) {
        ksnprintf(err, errlen, "no name= given (each VM needs a name)");
        return -1;
    }
    cfg->rflags_set = cfg->rflags != RFLAGS_DEFAULT;
    cfg->device_mask = VM_DEV_DEFAULT;
    if (cfg->devices[0] && vm_parse_devices(cfg->devices, &cfg->device_mask, err, errlen))
        return -1;
    return 0;
}
