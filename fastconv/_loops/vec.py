"""Float32 vectors of 8 or 16 lanes for Numba kernels: an LLVM ``<8 x float>`` or ``<16 x float>`` value.

A vector lives in one register where the CPU has registers that wide (ymm
with AVX2, zmm with AVX-512; narrower CPUs split it); a kernel that keeps a
tile of them in local variables keeps the tile in registers.  The lane
count is a compile-time constant: :func:`vzero`, :func:`vload` and
:func:`vbcast` take it as a literal int (8 or 16), the other operations take
it from their operands.  Memory is addressed by int64 byte addresses
(``np.int64(array.ctypes.data)`` plus a byte offset): the caller guarantees
that the bytes read or written lie inside an array it keeps alive
(:func:`keep_alive`).  :func:`vfma` multiplies and adds with LLVM's
``contract`` flag, which the backend fuses into one ``vfmadd231ps``;
nothing is reassociated.
"""

from __future__ import annotations

import llvmlite.ir as ir
from numba import types
from numba.extending import intrinsic, models, register_model

_I32 = ir.IntType(32)


class F32Vec(types.Type):
    """Numba type of a float32 vector of ``lanes`` lanes."""

    def __init__(self, lanes: int):
        self.lanes = lanes
        super().__init__(name=f"F32x{lanes}")


@register_model(F32Vec)
class _F32VecModel(models.PrimitiveModel):
    def __init__(self, dmm, fe_type):
        super().__init__(dmm, fe_type, ir.VectorType(ir.FloatType(), fe_type.lanes))


#: The vector types by lane count.
F32X = {8: F32Vec(8), 16: F32Vec(16)}


def _lanes(lanes):
    """The vector type for a literal lane count, or None (typing then retries with the literal)."""
    if isinstance(lanes, types.IntegerLiteral) and lanes.literal_value in F32X:
        return F32X[lanes.literal_value]
    return None


def _pointer(builder, address, ty):
    return builder.inttoptr(address, ty.as_pointer())


@intrinsic(prefer_literal=True)
def vzero(typingctx, lanes):
    """A vector of zeros (``lanes`` a literal 8 or 16)."""
    vt = _lanes(lanes)
    if vt is None:
        return None

    def codegen(context, builder, sig, args):
        return ir.Constant(ir.VectorType(ir.FloatType(), vt.lanes), [0.0] * vt.lanes)

    return vt(lanes), codegen


@intrinsic(prefer_literal=True)
def vload(typingctx, address, lanes):
    """The ``lanes`` float32 at byte address ``address`` (no alignment needed)."""
    vt = _lanes(lanes)
    if vt is None:
        return None

    def codegen(context, builder, sig, args):
        ty = ir.VectorType(ir.FloatType(), vt.lanes)
        return builder.load(_pointer(builder, args[0], ty), align=4)

    return vt(types.int64, lanes), codegen


@intrinsic(prefer_literal=True)
def vbcast(typingctx, address, lanes):
    """The float32 at byte address ``address``, in every one of ``lanes`` lanes."""
    vt = _lanes(lanes)
    if vt is None:
        return None

    def codegen(context, builder, sig, args):
        ty = ir.VectorType(ir.FloatType(), vt.lanes)
        s = builder.load(_pointer(builder, args[0], ir.FloatType()), align=4)
        v = builder.insert_element(ir.Constant(ty, ir.Undefined), s, ir.Constant(_I32, 0))
        zeros = ir.Constant(ir.VectorType(_I32, vt.lanes), [0] * vt.lanes)
        return builder.shuffle_vector(v, ir.Constant(ty, ir.Undefined), zeros)

    return vt(types.int64, lanes), codegen


@intrinsic
def vstore(typingctx, address, v):
    """Store the lanes of ``v`` at byte address ``address``."""
    if not isinstance(v, F32Vec):
        return None

    def codegen(context, builder, sig, args):
        builder.store(args[1], _pointer(builder, args[0], args[1].type), align=4)
        return context.get_dummy_value()

    return types.none(types.int64, v), codegen


@intrinsic
def vfma(typingctx, a, b, c):
    """``a * b + c`` lane by lane, the product and sum marked ``contract`` (one FMA, one rounding)."""
    if not (isinstance(a, F32Vec) and a == b == c):
        return None

    def codegen(context, builder, sig, args):
        product = builder.fmul(args[0], args[1], flags=("contract",))
        return builder.fadd(product, args[2], flags=("contract",))

    return a(a, a, a), codegen


@intrinsic
def vadd(typingctx, a, b):
    """``a + b`` lane by lane."""
    if not (isinstance(a, F32Vec) and a == b):
        return None

    def codegen(context, builder, sig, args):
        return builder.fadd(args[0], args[1])

    return a(a, a), codegen


@intrinsic
def vrelu(typingctx, a):
    """``a`` where ``a > 0`` or ``a`` is NaN, else ``0`` (NaN propagates, as in the scalar kernels)."""
    if not isinstance(a, F32Vec):
        return None

    def codegen(context, builder, sig, args):
        zero = ir.Constant(args[0].type, [0.0] * a.lanes)
        keep = builder.fcmp_unordered(">", args[0], zero)
        return builder.select(keep, args[0], zero)

    return a(a), codegen


@intrinsic
def keep_alive(typingctx, a):
    """Nothing; a use of ``a`` here keeps Numba from freeing it earlier (its data is read through an address)."""

    def codegen(context, builder, sig, args):
        return context.get_dummy_value()

    return types.none(a), codegen


@intrinsic
def vmax(typingctx, v, m):
    """``v`` where ``v > m``, else ``m``, lane by lane (a NaN in ``m`` stays; a NaN in ``v`` is not taken)."""
    if not (isinstance(v, F32Vec) and v == m):
        return None

    def codegen(context, builder, sig, args):
        return builder.select(builder.fcmp_ordered(">", args[0], args[1]), args[0], args[1])

    return v(v, v), codegen
