; VM entry and VM exit (SDM Vol. 3C, chapters 27 and 28).
;
; int vmx_enter(struct vcpu *vcpu, int launched)
;   Loads the guest's general registers and CR2 from *vcpu and executes
;   VMRESUME (launched != 0) or VMLAUNCH.  When the guest exits, the CPU loads
;   the host state from the VMCS: RIP = vmx_exit_stub, RSP = the stack pointer
;   written to HOST_RSP below, where the vcpu pointer sits.  The stub stores
;   the guest registers back into *vcpu and returns 0 from vmx_enter.
;   If VMLAUNCH/VMRESUME itself fails, it returns 1 (VMfailInvalid, CF = 1)
;   or 2 (VMfailValid, ZF = 1: the reason is in the VM-instruction error field).
;
; Only the general registers and CR2 are switched here: everything else the
; guest can touch is either in the VMCS (segments, CR0/3/4, RSP, RIP, RFLAGS,
; EFER, PAT, SYSENTER, DR7), or never used by the host (FPU/SSE/AVX: the host
; is built with -mgeneral-regs-only; see kernel/vm/vcpu.c for when they are
; saved).

%define VMCS_HOST_RSP   0x6C14

; struct vcpu layout (include/hv/vm.h)
%define V_RAX   0*8
%define V_RCX   1*8
%define V_RDX   2*8
%define V_RBX   3*8
%define V_RBP   5*8
%define V_RSI   6*8
%define V_RDI   7*8
%define V_R8    8*8
%define V_R9    9*8
%define V_R10   10*8
%define V_R11   11*8
%define V_R12   12*8
%define V_R13   13*8
%define V_R14   14*8
%define V_R15   15*8
%define V_CR2   16*8

global vmx_enter
global vmx_exit_stub

section .text
bits 64

vmx_enter:
    ; Host callee-saved registers (SysV ABI) survive the guest on this stack.
    push rbp
    push rbx
    push r12
    push r13
    push r14
    push r15
    push rdi                        ; the vcpu: [HOST_RSP] at exit

    mov eax, VMCS_HOST_RSP
    vmwrite rax, rsp

    ; MOV to CR2 is serializing on real CPUs: write it only when it changed.
    mov rax, cr2
    cmp rax, [rdi + V_CR2]
    je .cr2_ok
    mov rax, [rdi + V_CR2]
    mov cr2, rax
.cr2_ok:

    test esi, esi                   ; flags survive the MOVs below
    mov rax, [rdi + V_RAX]
    mov rcx, [rdi + V_RCX]
    mov rdx, [rdi + V_RDX]
    mov rbx, [rdi + V_RBX]
    mov rbp, [rdi + V_RBP]
    mov rsi, [rdi + V_RSI]
    mov r8,  [rdi + V_R8]
    mov r9,  [rdi + V_R9]
    mov r10, [rdi + V_R10]
    mov r11, [rdi + V_R11]
    mov r12, [rdi + V_R12]
    mov r13, [rdi + V_R13]
    mov r14, [rdi + V_R14]
    mov r15, [rdi + V_R15]
    mov rdi, [rdi + V_RDI]
    jnz .resume
    vmlaunch
    jmp .failed
.resume:
    vmresume
.failed:
    ; Still in the host, guest values in the registers: restore and report.
    ; POP does not change flags, so CF/ZF from VMLAUNCH/VMRESUME survive.
    pop rdi
    pop r15
    pop r14
    pop r13
    pop r12
    pop rbx
    pop rbp
    mov eax, 1
    jc .out
    mov eax, 2
.out:
    ret

align 16
vmx_exit_stub:
    ; RSP = HOST_RSP: [rsp] holds the vcpu pointer.  Swap it with the guest's RDI.
    xchg rdi, [rsp]
    mov [rdi + V_RAX], rax
    mov [rdi + V_RCX], rcx
    mov [rdi + V_RDX], rdx
    mov [rdi + V_RBX], rbx
    mov [rdi + V_RBP], rbp
    mov [rdi + V_RSI], rsi
    mov [rdi + V_R8],  r8
    mov [rdi + V_R9],  r9
    mov [rdi + V_R10], r10
    mov [rdi + V_R11], r11
    mov [rdi + V_R12], r12
    mov [rdi + V_R13], r13
    mov [rdi + V_R14], r14
    mov [rdi + V_R15], r15
    pop rax                         ; the guest's RDI
    mov [rdi + V_RDI], rax
    mov rax, cr2
    mov [rdi + V_CR2], rax
    pop r15
    pop r14
    pop r13
    pop r12
    pop rbx
    pop rbp
    xor eax, eax
    ret
