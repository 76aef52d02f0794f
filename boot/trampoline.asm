; Application-processor start-up code (SDM Vol. 3A, 9.4.4 "MP Initialization
; Example").  A Startup IPI starts an AP in real mode at CS:IP = VV00:0000 with
; VV the SIPI vector, so the BSP copies this blob to TRAMPOLINE_PHYS (a page
; below 1 MiB) before sending INIT-SIPI-SIPI.  The AP goes real mode ->
; protected mode -> long mode using the BSP's page tables (whose identity map
; covers this page), then jumps to ap_entry() with its own stack.
;
; The blob is position dependent on TRAMPOLINE_PHYS only; the BSP fills the
; parameter block at its end (see struct trampoline_params in kernel/arch/smp.c).

%define TRAMPOLINE_PHYS     0x8000
%define T(x)                (TRAMPOLINE_PHYS + (x) - trampoline_start)
%define CR0_PE              (1 << 0)
%define CR0_WP              (1 << 16)
%define CR0_PG              (1 << 31)
%define CR4_PAE             (1 << 5)
%define MSR_EFER            0xC0000080

global trampoline_start
global trampoline_end
global trampoline_params

section .rodata
align 16
bits 16
trampoline_start:
    cli
    cld
    mov ax, cs                      ; CS = TRAMPOLINE_PHYS >> 4
    mov ds, ax
    lgdt [tramp_gdtr - trampoline_start]
    mov eax, cr0
    or eax, CR0_PE
    mov cr0, eax
    jmp dword 0x08:T(pm32)

bits 32
pm32:
    mov ax, 0x10
    mov ds, ax
    mov es, ax
    mov ss, ax
    mov eax, [T(p_cr3)]
    mov cr3, eax
    mov eax, cr4
    or eax, CR4_PAE
    mov cr4, eax
    mov ecx, MSR_EFER
    rdmsr
    or eax, [T(p_efer)]
    wrmsr
    mov eax, cr0
    or eax, CR0_PG | CR0_WP
    mov cr0, eax
    jmp 0x18:T(lm64)

bits 64
lm64:
    xor eax, eax
    mov ds, ax
    mov es, ax
    mov ss, ax
    mov rsp, [T(p_stack)]
    mov rdi, [T(p_arg)]
    mov rax, [T(p_entry)]
    xor ebp, ebp
    call rax                        ; never returns
.hang:
    cli
    hlt
    jmp .hang

align 8
tramp_gdt:
    dq 0
    dq 0x00CF9A000000FFFF           ; 0x08: 32-bit code
    dq 0x00CF92000000FFFF           ; 0x10: data
    dq 0x00AF9A000000FFFF           ; 0x18: 64-bit code
tramp_gdt_end:
tramp_gdtr:
    dw tramp_gdt_end - tramp_gdt - 1
    dd T(tramp_gdt)

align 8
trampoline_params:
p_cr3:      dq 0
p_efer:     dq 0
p_stack:    dq 0
p_entry:    dq 0
p_arg:      dq 0
trampoline_end:
