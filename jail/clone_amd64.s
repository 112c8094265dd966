//go:build !race && !msan && !asan

#include "textflag.h"

#define SYS_clone3 435
#define SYS_exit_group 231

// func rawClone3(args *cloneArgs, size uintptr, p *program, errFD uintptr) (pid uintptr, errno uintptr)
//
// The child returns from SYSCALL on the stack the kernel set from
// clone_args (stack + stack_size), where the parent's frame and arguments
// are out of reach: it finds p and errFD in R12 and R13, which the kernel
// preserves (it clobbers only AX, CX and R11), and calls runChild with
// them as ABI0 arguments. runChild does not return; if it did, the child
// exits.
TEXT ·rawClone3(SB),NOSPLIT|NOFRAME,$0-48
	MOVQ	args+0(FP), DI
	MOVQ	size+8(FP), SI
	MOVQ	p+16(FP), R12
	MOVQ	errFD+24(FP), R13
	MOVL	$SYS_clone3, AX
	SYSCALL
	TESTQ	AX, AX
	JEQ	child
	CMPQ	AX, $0xfffffffffffff001
	JLS	ok
	NEGQ	AX
	MOVQ	$0, pid+32(FP)
	MOVQ	AX, errno+40(FP)
	RET
ok:
	MOVQ	AX, pid+32(FP)
	MOVQ	$0, errno+40(FP)
	RET
child:
	ANDQ	$~15, SP
	SUBQ	$16, SP
	MOVQ	R12, 0(SP)
	MOVQ	R13, 8(SP)
	CALL	·runChild(SB)
	MOVL	$125, DI
	MOVL	$SYS_exit_group, AX
	SYSCALL
	JMP	child
