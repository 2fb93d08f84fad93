# The inner loop of the fast mode's AVX512-VNNI integer micro-kernel (QgemmAvx512Vnni.cs holds these instructions as
# bytes; assemble-vnni.sh regenerates them). .NET exposes no 512-bit vpdpwssd, so the loop is written here.
#
#   offset 0: void qgemm_avx512_vnni(int* a, short* b, int pc, int* sums)          System V AMD64: rdi, rsi, edx, rcx
#   offset 8: void qgemm_avx512_vnni_rows(int** rows, short* b, int pc, Flush* out)
#   offset 16: void qgemm_avx512_vnni_bytes(int** rows, sbyte* b, int pc, Flush* out)
#
# a: pc × 8 activation pairs (two int16 in each int32, ActivationPanels); rows: the 8 tile rows' first pairs where
# they lie (quantised rows, unpacked; a short tile repeats its last row); b: pc × 48 weight pairs (Int16Weights);
# sums: the 8 × 48 exact int32 sums, row-major. The in-place entry writes fp32 instead, as QgemmAvx512.Flush does:
# c[r][j] = fma(float(sum[r][j]), colScales[j] · rowScales[r], bias[j] or c[r][j]) for r < rows, with
# out = { float* c; long ldc (floats); long rows; float* rowScales; float* colScales; float* bias (null: add to c);
# int* compensation (bytes entry only) }. The code starts with a jump to each entry, so the caller finds them
# at fixed offsets without a linker. vpdpwssd is vpmaddwd + vpaddd in one instruction, without saturation;
# 12-bit operands and at most 192 pairs never reach 2^31, so the sums equal the other kernels' bit for bit.
#
# The bytes entry runs the 8-bit layers (Qgemm8): rows of pc quads of unsigned bytes (q + 128), weights as
# pc × 48 quads of signed bytes, vpdpbusd (four byte products a step, twice vpdpwssd's rate). Its flush subtracts
# compensation[j] = 128 · Σ w[j] over the block first, which leaves Σ q · w: the 12-bit kernels' exact sums of the same
# values, so the same bits.
#
# Registers: zmm0-2 one pair of 48 weight columns, zmm6/zmm7 an activation pair broadcast (alternating, so one row's
# broadcast need not wait for the previous row's multiply-adds), zmm8-31 the 8 × 3 accumulators (row r, columns
# 16j..16j+15 in zmm(8 + 3r + j)). All are caller-saved in System V; no general-purpose callee-saved register is used.
# An explicit vpbroadcastd per row beats an embedded {1to16} broadcast on each vpdpwssd on Zen 5 (11 loads per pair
# instead of 27: ~225 vs ~195 GMAC/s on one core); unrolling by 2 gains nothing.

    .intel_syntax noprefix
    .text

    jmp         packed                  # offset 0
    .p2align 3
    jmp         in_place                # offset 8
    .p2align 3
    jmp         in_place_bytes          # offset 16

# One row of the tile: broadcast its activation pair, multiply-add it with the three weight vectors.
.macro ROW offset, acc0, acc1, acc2, x
    vpbroadcastd \x, dword ptr [rdi + \offset]
    vpdpwssd    \acc0, zmm0, \x
    vpdpwssd    \acc1, zmm1, \x
    vpdpwssd    \acc2, zmm2, \x
.endm

# The same for a row read in place: its pointer register plus the step's offset in rdi. vpdpwssd multiplies int16
# pairs (symmetric operands); vpdpbusd four unsigned activation bytes (the broadcast) by four signed weight bytes.
.macro ROWAT op, base, acc0, acc1, acc2, x
    vpbroadcastd \x, dword ptr [\base + rdi]
    \op         \acc0, \x, zmm0
    \op         \acc1, \x, zmm1
    \op         \acc2, \x, zmm2
.endm

# One row of the flush: stop after the tile's rows; scale = column scales · the row's scale (as the C# flush:
# Multiply(s, r)), then c = fma(float(sums), scale, bias or c) and the next row of c.
.macro FLUSHROW r, acc0, acc1, acc2, compensate=0
    cmp         r9, \r
    jle         5f
    .if \compensate
    vpsubd      \acc0, \acc0, [rsi]
    vpsubd      \acc1, \acc1, [rsi + 64]
    vpsubd      \acc2, \acc2, [rsi + 128]
    .endif
    vbroadcastss zmm6, dword ptr [r10 + 4 * \r]
    vmulps      zmm3, zmm0, zmm6
    vmulps      zmm4, zmm1, zmm6
    vmulps      zmm5, zmm2, zmm6
    mov         rdx, rax
    test        r11, r11
    cmovnz      rdx, r11
    vcvtdq2ps   \acc0, \acc0
    vcvtdq2ps   \acc1, \acc1
    vcvtdq2ps   \acc2, \acc2
    vfmadd213ps \acc0, zmm3, [rdx]
    vfmadd213ps \acc1, zmm4, [rdx + 64]
    vfmadd213ps \acc2, zmm5, [rdx + 128]
    vmovups     [rax], \acc0
    vmovups     [rax + 64], \acc1
    vmovups     [rax + 128], \acc2
    add         rax, r8
.endm

    .p2align 4
packed:
    # The sums start at zero (the caller scales and adds them).
    .irp r, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31
    vpxord      zmm\r, zmm\r, zmm\r
    .endr
    test        edx, edx
    jle         2f

    .p2align 4
1:  # one input pair: 48 columns × 8 rows
    vmovdqu16   zmm0, [rsi]
    vmovdqu16   zmm1, [rsi + 64]
    vmovdqu16   zmm2, [rsi + 128]
    ROW  0, zmm8,  zmm9,  zmm10, zmm6
    ROW  4, zmm11, zmm12, zmm13, zmm7
    ROW  8, zmm14, zmm15, zmm16, zmm6
    ROW 12, zmm17, zmm18, zmm19, zmm7
    ROW 16, zmm20, zmm21, zmm22, zmm6
    ROW 20, zmm23, zmm24, zmm25, zmm7
    ROW 24, zmm26, zmm27, zmm28, zmm6
    ROW 28, zmm29, zmm30, zmm31, zmm7
    add         rsi, 192                # 48 columns × 2 int16
    add         rdi, 32                 # 8 rows × one int32 pair
    dec         edx
    jnz         1b

2:  # sums[r * 48 + 16 j ..] = zmm(8 + 3r + j): the accumulators in register order
    .irp r, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31
    vmovdqu32   [rcx + 64 * (\r - 8)], zmm\r
    .endr
    vzeroupper                          # leave no dirty upper state for SSE code
    ret

# In place: the eight row pointers in rax, r8-r11, rbx, r12, r13 (the last three callee-saved: pushed), one offset rdi.
.macro PROLOGUE
    push        rbx
    push        r12
    push        r13
    mov         rax, [rdi]
    mov         r8,  [rdi + 8]
    mov         r9,  [rdi + 16]
    mov         r10, [rdi + 24]
    mov         r11, [rdi + 32]
    mov         rbx, [rdi + 40]
    mov         r12, [rdi + 48]
    mov         r13, [rdi + 56]
    .irp r, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31
    vpxord      zmm\r, zmm\r, zmm\r
    .endr
    xor         edi, edi
.endm

# The flush's registers: rax = row r of c, r8 = ldc in bytes, r9 = rows, r10 = row scales, r11 = bias or 0,
# zmm0-2 = column scales; rsi = the compensation (bytes entry).
.macro FLUSHSETUP
    mov         rax, [rcx]
    mov         r8,  [rcx + 8]
    shl         r8,  2
    mov         r9,  [rcx + 16]
    mov         r10, [rcx + 24]
    mov         r11, [rcx + 32]
    vmovups     zmm0, [r11]
    vmovups     zmm1, [r11 + 64]
    vmovups     zmm2, [r11 + 128]
    mov         r11, [rcx + 40]
    mov         rsi, [rcx + 48]
.endm

.macro FLUSH compensate
    FLUSHROW 0, zmm8,  zmm9,  zmm10, \compensate
    FLUSHROW 1, zmm11, zmm12, zmm13, \compensate
    FLUSHROW 2, zmm14, zmm15, zmm16, \compensate
    FLUSHROW 3, zmm17, zmm18, zmm19, \compensate
    FLUSHROW 4, zmm20, zmm21, zmm22, \compensate
    FLUSHROW 5, zmm23, zmm24, zmm25, \compensate
    FLUSHROW 6, zmm26, zmm27, zmm28, \compensate
    FLUSHROW 7, zmm29, zmm30, zmm31, \compensate
5:
    vzeroupper
    pop         r13
    pop         r12
    pop         rbx
    ret
.endm

# The in-place loop, then its flush: per step, 48 columns of weights (load: their width) × one step of 8 rows (op).
.macro IN_PLACE load, op, compensate
    PROLOGUE
    test        edx, edx
    jle         4f

    .p2align 4
3:  # one input step (a pair or a quad): 48 columns × 8 rows
    \load       zmm0, [rsi]
    \load       zmm1, [rsi + 64]
    \load       zmm2, [rsi + 128]
    ROWAT \op, rax, zmm8,  zmm9,  zmm10, zmm6
    ROWAT \op, r8,  zmm11, zmm12, zmm13, zmm7
    ROWAT \op, r9,  zmm14, zmm15, zmm16, zmm6
    ROWAT \op, r10, zmm17, zmm18, zmm19, zmm7
    ROWAT \op, r11, zmm20, zmm21, zmm22, zmm6
    ROWAT \op, rbx, zmm23, zmm24, zmm25, zmm7
    ROWAT \op, r12, zmm26, zmm27, zmm28, zmm6
    ROWAT \op, r13, zmm29, zmm30, zmm31, zmm7
    add         rsi, 192                # 48 columns × 4 bytes (two int16 or four bytes)
    add         rdi, 4                  # the next step of every row
    dec         edx
    jnz         3b

4:  # the flush (less the compensation for bytes)
    FLUSHSETUP
    FLUSH \compensate
.endm

    .p2align 4
in_place:
    IN_PLACE vmovdqu16, vpdpwssd, 0

# In place, bytes: the same registers; one quad of every row a step.
    .p2align 4
in_place_bytes:
    IN_PLACE vmovdqu8, vpdpbusd, 1
