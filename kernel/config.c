/* Kernel command line options; see README.md for the user's view. */
#include <hv/config.h>
#include <hv/cmdline.h>
#include <hv/log.h>
#include <hv/kstring.h>

struct kernel_config config = { .loglevel = LOG_INFO, .test = TEST_NONE };

const char *const test_scenario_names[] = {
    [TEST_NONE] = "none",
    [TEST_BOOT] = "boot",
    [TEST_EXCEPTION_BSP] = "exception-bsp",
    [TEST_EXCEPTION_AP] = "exception-ap",
    [TEST_TIMER] = "timer",
    [TEST_SCENARIO_COUNT] = NULL,
};

static const struct cmdline_option options[] = {
    { .name = "loglevel", .type = CMDLINE_ENUM, .dest = &config.loglevel,
      .choices = log_level_names, .help = "error|warn|info|debug" },
    { .name = "test", .type = CMDLINE_ENUM, .dest = &config.test,
      .choices = test_scenario_names, .help = "run a test scenario, then power off" },
    { .name = "maxcpus", .type = CMDLINE_UINT, .dest = &config.maxcpus, .min = 1, .max = 64,
      .help = "start at most this many CPUs" },
    { .name = "modules", .type = CMDLINE_UINT, .dest = &config.modules, .max = 32,
      .help = "number of modules grub.cfg loads: a missing one is reported" },
    { .name = "poweroff", .type = CMDLINE_FLAG, .dest = &config.poweroff,
      .help = "power off when the run ends" },
    { .name = "verbose", .type = CMDLINE_FLAG, .dest = &config.verbose,
      .help = "full VMX capability detail for every core" },
    { .name = "input", .type = CMDLINE_STRING, .dest = config.input_vm,
      .size = sizeof(config.input_vm), .help = "the VM that receives host console input" },
    { .name = "acpidump", .type = CMDLINE_FLAG, .dest = &config.acpidump,
      .help = "hex-dump the ACPI MADT and FADT to the console" },
};

/* True when `line` contains a word starting with `prefix`. */
static bool strstr_word(const char *line, const char *prefix)
{
    size_t n = strlen(prefix);
    for (const char *p = line; p && *p; p++)
        if ((p == line || p[-1] == ' ') && !strncmp(p, prefix, n))
            return true;
    return false;
}

static void report(void *ctx, const char *word, size_t len, const char *problem)
{
    (void)ctx;
    pr_err("command line: '%.*s': %s", (int)len, word, problem);
}

int config_parse(const char *cmdline)
{
    int problems = cmdline_parse(cmdline, options, ARRAY_SIZE(options), report, NULL);
    log_threshold = (enum log_level)config.loglevel;
    config.modules_set = config.modules != 0 || strstr_word(cmdline, "modules=");
    if (problems) {
        char known[160];
        size_t n = 0;
        for (size_t i = 0; i < ARRAY_SIZE(options) && n < sizeof(known) - 24; i++) {
            const char *s = options[i].name;
            if (n)
                known[n++] = ' ';
            while (*s)
                known[n++] = *s++;
        }
        known[n] = '\0';
        pr_info("command line: known options: %s (see README.md)", known);
    }
    return problems;
}
