/*
 * Command-line words: the multiboot command line of a 32-bit guest or the
 * argument string of an elf64 guest, words separated by blanks, options
 * written key=value.  When a key appears more than once the last one wins
 * (boot loaders put their own words first, so the user's come last).
 */
#ifndef GUEST_CMDLINE_H
#define GUEST_CMDLINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * Finds key=N and parses N (decimal, or hexadecimal with 0x).
 * Returns 1 and sets *value when found and valid, 0 when the key is absent,
 * -1 when the value is empty, not a number, or does not fit in 64 bits.
 */
int cmdline_get(const char *cmdline, const char *key, uint64_t *value);

/* cmdline_get, or dflt when absent; a malformed value is reported on the
 * console and dflt is used. */
uint64_t cmdline_get_or(const char *cmdline, const char *key, uint64_t dflt);

/* Copies the value of key=value into buf (NUL-terminated, truncated to
 * size - 1).  Returns true when the key is present. */
bool cmdline_get_str(const char *cmdline, const char *key, char *buf, size_t size);

/* True when the exact word appears (a flag without "="). */
bool cmdline_has(const char *cmdline, const char *word);

#endif
