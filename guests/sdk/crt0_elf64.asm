; Start code of an elf64 guest.
;
; The hypervisor's elf64 entry mode jumps to e_entry in 64-bit long mode with
; identity-mapped paging, RDI = guest-physical address of the argument string
; and RSI = RAM size in bytes, on a stack near the top of RAM.  We still load
; our own GDT (an IDT installed later needs a code selector whose descriptor
; is known to exist in guest memory), move to our own stack, clear .bss and
; call sdk_start_elf64(args, ram_size) in sdk/start.c.

bits 64
default rel

STACK_SIZE          equ 16384
SEL_CODE            equ 0x08
SEL_DATA            equ 0x10

section .text
global _start
extern sdk_start_elf64
extern sdk_bss_start, sdk_bss_end

_start:
    cli
    cld
    mov r12, rdi                ; argument string: RDI is needed by REP STOSB
    mov r13, rsi                ; RAM size

    lgdt [gdt_descriptor]
    ; Reload CS with a far return: push the selector and the target.
    push SEL_CODE
    lea rax, [.reload_segments]
    push rax
    retfq
.reload_segments:
    mov ax, SEL_DATA
    mov ds, ax
    mov es, ax
    mov fs, ax
    mov gs, ax
    mov ss, ax

    lea rdi, [sdk_bss_start]
    lea rcx, [sdk_bss_end]
    sub rcx, rdi
    xor eax, eax
    rep stosb

    lea rsp, [stack_top]        ; 16-byte aligned, as the SysV ABI wants at a call
    xor ebp, ebp
    mov rdi, r12
    mov rsi, r13
    call sdk_start_elf64        ; does not return
.halt:
    cli
    hlt
    jmp .halt

section .data
align 8
; null, ring-0 64-bit code (0x08: L=1), ring-0 data (0x10).
gdt:
    dq 0
    dq 0x00AF9A000000FFFF
    dq 0x00CF92000000FFFF
gdt_end:
gdt_descriptor:
    dw gdt_end - gdt - 1
    dq gdt

section .bss
align 16
stack_bottom:
    resb STACK_SIZE
stack_top:

section .note.GNU-stack noalloc noexec nowrite progbits
