"""Eight-lane float32 vectors for Numba kernels: an LLVM ``<8 x float>`` value.

A value of type :data:`f32x8` lives in one 256-bit register (ymm on x86-64
with AVX; two 128-bit registers elsewhere); a kernel that keeps a tile of
them in local variables keeps the tile in registers.  Memory is addressed
by integer byte addresses (``array.ctypes.data + byte offset``): the
caller guarantees that the 32 bytes (4 for :func:`vbcast`) are inside an
array it holds.  :func:`vfma` multiplies and adds with LLVM's ``contract``
flag, which the backend fuses into one ``vfmadd231ps``; nothing else is
reassociated.
"""

from __future__ import annotations

import llvmlite.ir as ir
from numba import types
from numba.extending import intrinsic, models, register_model

_LANES = 8
_VEC = ir.VectorType(ir.FloatType(), _LANES)
_I32 = ir.IntType(32)


class F32x8(types.Type):
    """Numba type of an eight-lane float32 vector."""

    def __init__(self):
        super().__init__(name="F32x8")


#: The vector type (an instance of :class:`F32x8`).
f32x8 = F32x8()


@register_model(F32x8)
class _F32x8Model(models.PrimitiveModel):
    def __init__(self, dmm, fe_type):
        super().__init__(dmm, fe_type, _VEC)


def _pointer(builder, address, ty):
    return builder.inttoptr(address, ty.as_pointer())


@intrinsic
def vzero(typingctx):
    """Eight zeros."""

    def codegen(context, builder, sig, args):
        return ir.Constant(_VEC, [0.0] * _LANES)

    return f32x8(), codegen


@intrinsic
def vload(typingctx, address):
    """The eight float32 at byte address ``address`` (no alignment needed)."""

    def codegen(context, builder, sig, args):
        return builder.load(_pointer(builder, args[0], _VEC), align=4)

    return f32x8(types.intp), codegen


@intrinsic
def vbcast(typingctx, address):
    """The float32 at byte address ``address``, in every lane."""

    def codegen(context, builder, sig, args):
        s = builder.load(_pointer(builder, args[0], ir.FloatType()), align=4)
        v = builder.insert_element(ir.Constant(_VEC, ir.Undefined), s, ir.Constant(_I32, 0))
        zeros = ir.Constant(ir.VectorType(_I32, _LANES), [0] * _LANES)
        return builder.shuffle_vector(v, ir.Constant(_VEC, ir.Undefined), zeros)

    return f32x8(types.intp), codegen


@intrinsic
def vstore(typingctx, address, v):
    """Store the eight lanes of ``v`` at byte address ``address``."""

    def codegen(context, builder, sig, args):
        builder.store(args[1], _pointer(builder, args[0], _VEC), align=4)
        return context.get_dummy_value()

    return types.none(types.intp, f32x8), codegen


@intrinsic
def vfma(typingctx, a, b, c):
    """``a * b + c`` lane by lane, the product and sum marked ``contract`` (one FMA, one rounding)."""

    def codegen(context, builder, sig, args):
        product = builder.fmul(args[0], args[1], flags=("contract",))
        return builder.fadd(product, args[2], flags=("contract",))

    return f32x8(f32x8, f32x8, f32x8), codegen


@intrinsic
def vadd(typingctx, a, b):
    """``a + b`` lane by lane."""

    def codegen(context, builder, sig, args):
        return builder.fadd(args[0], args[1])

    return f32x8(f32x8, f32x8), codegen


@intrinsic
def vrelu(typingctx, a):
    """``a`` where ``a > 0`` or ``a`` is NaN, else ``0`` (NaN propagates, as in the scalar kernels)."""

    def codegen(context, builder, sig, args):
        zero = ir.Constant(_VEC, [0.0] * _LANES)
        keep = builder.fcmp_unordered(">", args[0], zero)
        return builder.select(keep, args[0], zero)

    return f32x8(f32x8), codegen


@intrinsic
def keep_alive(typingctx, a):
    """Nothing; a use of ``a`` here keeps Numba from freeing it earlier (its data is read through an address)."""

    def codegen(context, builder, sig, args):
        return context.get_dummy_value()

    return types.none(a), codegen
