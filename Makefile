# Hypervisor build.  `make` builds build/hypervisor.elf and build/hypervisor.iso;
# `make test` runs every test (host unit tests and boot tests); `make run` boots
# the ISO (QEMU/KVM with nested VMX when the host has it, Bochs otherwise).

CC      := gcc
LD      := ld
NASM    := nasm
PYTHON  := python3
# Debian's python3-pytest installs pytest-3 for the system Python.
PYTEST  := $(shell command -v pytest-3 || echo "python3 -m pytest")
BUILD   := build

FONT_SRC ?= /usr/share/grub/ascii.pf2

# -mgeneral-regs-only: the kernel never touches FPU/SSE state, so guest vector
# registers stay intact across exits unless the exit path saves them itself.
KCFLAGS := -std=gnu11 -O2 -g -ffreestanding -fno-stack-protector -fno-pic -fno-pie \
           -mno-red-zone -mcmodel=kernel -mgeneral-regs-only -fno-omit-frame-pointer \
           -fno-strict-aliasing -fno-common -Wall -Wextra -Werror -Wshadow \
           -Wstrict-prototypes -Wmissing-prototypes -Wno-unused-parameter -Iinclude
LDFLAGS := -nostdlib -static -z max-page-size=0x1000 -z noexecstack --no-warn-rwx-segments -T linker.ld

KERNEL_C   := $(shell find kernel -name '*.c' | sort)
BOOT_ASM   := $(wildcard boot/*.asm) $(shell find kernel -name "*.asm" | sort)
KERNEL_OBJ := $(patsubst %.c,$(BUILD)/obj/%.o,$(KERNEL_C)) \
              $(patsubst %.asm,$(BUILD)/obj/%.o,$(BOOT_ASM)) \
              $(BUILD)/obj/gen/font8x16.o

ELF := $(BUILD)/hypervisor.elf
ISO := $(BUILD)/hypervisor.iso
GUEST_DIR := $(abspath $(BUILD)/guests)
# The example guests the default ISO runs (see iso/grub.cfg).
DEMO_GUESTS := $(GUEST_DIR)/hello32.elf $(GUEST_DIR)/hello64.elf $(GUEST_DIR)/real16.bin

.PHONY: all iso run test unit-test boot-test bench clean deps guests
all: $(ISO)

guests:
	@$(MAKE) -s -C guests O=$(GUEST_DIR)

$(DEMO_GUESTS): guests

deps:
	@tools/deps.sh

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	@echo "  CC      $<"
	@$(CC) $(KCFLAGS) -MMD -MP -c $< -o $@

$(BUILD)/obj/%.o: %.asm
	@mkdir -p $(dir $@)
	@echo "  NASM    $<"
	@$(NASM) -f elf64 -w+all -o $@ $<

$(BUILD)/gen/font8x16.c: tools/pf2font.py $(FONT_SRC)
	@mkdir -p $(dir $@)
	$(PYTHON) tools/pf2font.py $(FONT_SRC) $@

$(BUILD)/obj/gen/font8x16.o: $(BUILD)/gen/font8x16.c
	@mkdir -p $(dir $@)
	$(CC) $(KCFLAGS) -c $< -o $@

$(ELF): $(KERNEL_OBJ) linker.ld
	@echo "  LD      $@"
	@$(LD) $(LDFLAGS) -o $@ $(KERNEL_OBJ)
	@grub-file --is-x86-multiboot2 $@ || { echo "$@: no valid multiboot2 header" >&2; rm -f $@; exit 1; }

$(ISO): $(ELF) iso/grub.cfg tools/mkiso.sh $(DEMO_GUESTS)
	@echo "  ISO     $@"
	@tools/mkiso.sh $@ iso/grub.cfg $(ELF) $(DEMO_GUESTS)

iso: $(ISO)

run: deps
	@$(MAKE) -s $(ISO)
	tools/run.sh $(ISO)

unit-test:
	$(MAKE) -C tests/unit

bench: deps
	@$(MAKE) -s $(ISO)
	$(PYTHON) tools/bench.py

boot-test: $(ISO)
	$(PYTEST) -v tests/boot

test: deps
	@$(MAKE) -s $(ISO)
	$(MAKE) unit-test
	$(MAKE) boot-test

clean:
	rm -rf $(BUILD)

-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)

# The exit path (see docs/vmx-lifecycle.md, "Cost of an exit"): no frame
# pointers in these files, which saves a push/pop pair per call on every exit.
# Exception backtraces skip their frames.
HOT_PATH_OBJS := $(BUILD)/obj/kernel/vmx/vmx_vcpu.o $(BUILD)/obj/kernel/vm/exit.o $(BUILD)/obj/kernel/vm/vm.o
$(HOT_PATH_OBJS): KCFLAGS += -fomit-frame-pointer
