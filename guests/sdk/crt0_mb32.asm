; Start code of a multiboot (v1) guest.
;
; The loader (GRUB, QEMU -kernel, or the hypervisor's multiboot entry mode)
; jumps to _start in 32-bit protected mode, paging off, with
; EAX = 0x2BADB002 and EBX = physical address of the multiboot info.  ESP is
; undefined, and the specification warns that GDTR may be too: so load our
; own GDT and stack before anything else, clear .bss (it is ours to trust,
; not the loader's), and call sdk_start_mb32(magic, mbi) in sdk/start.c.

bits 32

; Same values as guest/multiboot.h (nasm cannot read C headers).
MB_HEADER_MAGIC     equ 0x1BADB002
MB_PAGE_ALIGN       equ 1 << 0         ; modules on 4 KiB boundaries
MB_MEMORY_INFO      equ 1 << 1         ; we want mem_lower/mem_upper and the mmap
MB_FLAGS            equ MB_PAGE_ALIGN | MB_MEMORY_INFO
MB_CHECKSUM         equ -(MB_HEADER_MAGIC + MB_FLAGS)

STACK_SIZE          equ 16384
SEL_CODE            equ 0x08
SEL_DATA            equ 0x10

; The linker script puts this section first, well inside the 8 KiB that a
; loader searches.  ELF images need no address fields (no a.out kludge).
section .multiboot progbits alloc noexec nowrite align=4
    dd MB_HEADER_MAGIC
    dd MB_FLAGS
    dd MB_CHECKSUM

section .text
global _start
extern sdk_start_mb32
extern sdk_bss_start, sdk_bss_end

_start:
    cli
    cld
    mov esi, eax                ; magic: EAX is needed by REP STOSB below
    mov ebp, ebx                ; multiboot info

    lgdt [gdt_descriptor]
    jmp SEL_CODE:.reload_segments   ; a far jump is the only way to reload CS
.reload_segments:
    mov ax, SEL_DATA
    mov ds, ax
    mov es, ax
    mov fs, ax
    mov gs, ax
    mov ss, ax

    mov edi, sdk_bss_start
    mov ecx, sdk_bss_end
    sub ecx, edi
    xor eax, eax
    rep stosb

    mov esp, stack_top
    sub esp, 8                  ; keep ESP 16-byte aligned at the call (i386 SysV)
    push ebp
    push esi
    xor ebp, ebp                ; end of the frame-pointer chain for debuggers
    call sdk_start_mb32         ; does not return
.halt:
    cli
    hlt
    jmp .halt

section .data
align 8
; Flat 4 GiB segments: null, ring-0 code (0x08), ring-0 data (0x10).
gdt:
    dq 0
    dq 0x00CF9A000000FFFF       ; base 0, limit 4 GiB, 32-bit, execute/read
    dq 0x00CF92000000FFFF       ; base 0, limit 4 GiB, read/write
gdt_end:
gdt_descriptor:
    dw gdt_end - gdt - 1
    dd gdt

section .bss
align 16
stack_bottom:
    resb STACK_SIZE
stack_top:

section .note.GNU-stack noalloc noexec nowrite progbits
