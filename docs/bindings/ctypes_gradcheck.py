#!/usr/bin/env python3
"""ctypes_gradcheck.py — henbun from Python with nothing but the standard library.

Loads the installed shared library, mirrors the two structs a caller touches (ag_tensor,
ag_node), and runs ag_gradcheck on
  1. a composite of built-in ops, loss = sum(tanh(x · Wᵀ)), and
  2. an op written in Python (y = x³) through the custom-op API (ag_op + ag_apply): once
     with the right backward (3x²) and once with a wrong one (2x²), which must fail.
The precision is read from the library itself: it defines the symbol
henbun_abi_v0_double__link_with_libhenbun_double or henbun_abi_v0_float__link_with_libhenbun.

  python3 docs/bindings/ctypes_gradcheck.py PREFIX/lib/libhenbun-double.so

Prints one line per check and exits 0 when the first two pass and the wrong one fails.
See docs/bindings.md for what a binding must know (errors, ownership, threads).
"""
import ctypes as C
import random
import sys

if len(sys.argv) != 2:
    sys.exit("usage: ctypes_gradcheck.py PATH/libhenbun[-double].so")
lib = C.CDLL(sys.argv[1])
double = hasattr(lib, "henbun_abi_v0_double__link_with_libhenbun_double")
real = C.c_double if double else C.c_float
MAX_DIMS, MAX_INPUTS = 4, 4


class Tensor(C.Structure):  # ag_tensor, field for field
    _fields_ = [("ndim", C.c_int), ("shape", C.c_int * MAX_DIMS), ("size", C.c_size_t),
                ("data", C.POINTER(real)), ("grad", C.POINTER(real)),
                ("requires_grad", C.c_bool), ("owns_memory", C.c_bool),
                ("node", C.c_void_p), ("name", C.c_char_p)]


class Node(C.Structure):  # the leading fields of struct ag_node (attr, after them, unused)
    _fields_ = [("op", C.c_void_p), ("tape", C.c_void_p), ("out", C.POINTER(Tensor)),
                ("inputs", C.POINTER(Tensor) * MAX_INPUTS), ("n_in", C.c_int),
                ("saved", C.c_void_p)]


NodeFn = C.CFUNCTYPE(None, C.POINTER(Node))


class Op(C.Structure):  # ag_op
    _fields_ = [("name", C.c_char_p), ("forward", NodeFn), ("backward", NodeFn)]


class Report(C.Structure):  # ag_gradcheck_report
    _fields_ = [("max_rel_err", C.c_double), ("max_abs_err", C.c_double), ("input", C.c_int),
                ("index", C.c_size_t), ("analytic", C.c_double), ("numeric", C.c_double),
                ("evaluations", C.c_int), ("ok", C.c_bool), ("accumulates", C.c_bool),
                ("name", C.c_char_p), ("passed_on_abs", C.c_bool), ("kink", C.c_bool),
                ("slope_lo", C.c_double), ("slope_hi", C.c_double),
                ("eps", C.c_double), ("rtol", C.c_double), ("atol", C.c_double)]


T = C.POINTER(Tensor)
# ag_fn; ctypes callbacks cannot return a typed pointer, so it returns the address
Fn = C.CFUNCTYPE(C.c_void_p, C.c_void_p, C.POINTER(T), C.c_void_p)
for name, res, args in [
        ("henbun_version", C.c_char_p, []),
        ("ag_param", T, [C.c_int, C.POINTER(C.c_int)]),
        ("ag_tensor_free", None, [T]),
        ("ag_matmul", T, [C.c_void_p, T, T, C.c_bool, C.c_bool]),
        ("ag_tanh", T, [C.c_void_p, T]),
        ("ag_sum", T, [C.c_void_p, T]),
        ("ag_apply", T, [C.c_void_p, C.POINTER(Op), C.POINTER(T), C.c_int, C.c_int,
                         C.POINTER(C.c_int), C.c_void_p, C.c_size_t]),
        ("ag_node_grad", C.POINTER(real), [C.POINTER(Node), C.c_int]),
        ("ag_gradcheck", Report, [Fn, C.POINTER(T), C.c_int, C.c_void_p, C.c_void_p])]:
    getattr(lib, name).restype = res
    getattr(lib, name).argtypes = args


def param(rng, *shape):
    """A heap tensor that requires grad, filled from Python; free with ag_tensor_free."""
    x = lib.ag_param(len(shape), (C.c_int * len(shape))(*shape))
    for i in range(x.contents.size):
        x.contents.data[i] = rng.uniform(-1.5, 1.5)
    return x


def gradcheck(label, f, inputs, expect_ok):
    arr = (T * len(inputs))(*inputs)
    fn = Fn(lambda t, ins, ctx: C.cast(f(t, ins, ctx), C.c_void_p).value)
    r = lib.ag_gradcheck(fn, arr, len(inputs), None, None)
    good = r.ok == expect_ok
    print("%s %-34s rel %.1e (input %d [%d]: analytic %.6g, numeric %.6g)%s"
          % ("ok  " if good else "FAIL", label, r.max_rel_err, r.input, r.index, r.analytic,
             r.numeric, "" if expect_ok else ", rejected as it must be"))
    return good


# 1. built-in ops: loss = sum(tanh(x · Wᵀ)), x (3, 4), W (2, 4)
def tanh_linear(t, ins, ctx):
    return lib.ag_sum(t, lib.ag_tanh(t, lib.ag_matmul(t, ins[0], ins[1], False, True)))


# 2. an op written in Python: y = x³; backward adds dy · 3x² (or the wrong 2x²)
def cube_forward(n):
    x, y = n.contents.inputs[0].contents, n.contents.out.contents
    for i in range(y.size):
        y.data[i] = x.data[i] ** 3


def make_backward(k):
    def backward(n):
        x, y = n.contents.inputs[0].contents, n.contents.out.contents
        gx = lib.ag_node_grad(n, 0)
        if gx:  # NULL when the input needs no gradient
            for i in range(y.size):
                gx[i] += y.grad[i] * k * x.data[i] ** 2
    return backward


keep = []  # ctypes callbacks must outlive every call that may use them


def cube_op(k, name):
    op = Op(name, NodeFn(cube_forward), NodeFn(make_backward(k)))
    keep.append(op)

    def f(t, ins, ctx):
        x = ins[0]
        y = lib.ag_apply(t, C.byref(op), (T * 1)(x), 1, x.contents.ndim, x.contents.shape,
                         None, 0)
        return lib.ag_sum(t, y)
    return f


rng = random.Random(5)
x, w, z = param(rng, 3, 4), param(rng, 2, 4), param(rng, 5)
print("henbun %s, %s, from Python %s" % (lib.henbun_version().decode(),
                                         "double" if double else "float", sys.version.split()[0]))
results = [gradcheck("sum(tanh(x · Wᵀ))", tanh_linear, [x, w], True),
           gradcheck("python op x³, backward 3x²", cube_op(3, b"cube"), [z], True),
           gradcheck("python op x³, wrong backward 2x²", cube_op(2, b"bad_cube"), [z], False)]
for p in (x, w, z):
    lib.ag_tensor_free(p)
sys.exit(0 if all(results) else 1)
