"""Writes the onnx_import seeds: tiny graphs of each kind the importer reads
(MLP with Gemm, MatMul+Add, Reshape from a Constant; CNN with Conv, BatchNorm,
pools; a QDQ int8 MLP). Run with a Python that has the onnx package:
    python3 fuzz/corpus/make_onnx_seeds.py fuzz/corpus/onnx_import
"""
import sys

import numpy as np
from onnx import TensorProto, helper, numpy_helper


def init(name, arr):
    return numpy_helper.from_array(np.asarray(arr), name)


def model(nodes, inits, in_shape, out_width, opset=13):
    g = helper.make_graph(
        nodes, "seed", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch"] + in_shape)],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", out_width])], inits)
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)], ir_version=7)


rng = np.random.default_rng(1)
f = lambda *s: rng.standard_normal(s).astype(np.float32)
out = sys.argv[1]

mlp = model([
    helper.make_node("Constant", [], ["s"], value=init("", np.array([-1, 4], np.int64))),
    helper.make_node("Reshape", ["x", "s"], ["a"]),
    helper.make_node("Gemm", ["a", "w1", "b1"], ["b"], transB=1),
    helper.make_node("Relu", ["b"], ["c"]),
    helper.make_node("MatMul", ["c", "w2"], ["d"]),
    helper.make_node("Add", ["d", "b2"], ["e"]),
    helper.make_node("Dropout", ["e"], ["g"]),
    helper.make_node("Softmax", ["g"], ["y"], axis=-1),
], [init("w1", f(3, 4)), init("b1", f(3)), init("w2", f(3, 2)), init("b2", f(2))], [1, 2, 2], 2)

cnn = model([
    helper.make_node("Conv", ["x", "cw", "cb"], ["a"], kernel_shape=[3, 3], pads=[1, 1, 1, 1]),
    helper.make_node("BatchNormalization", ["a", "g", "be", "m", "v"], ["bn"]),
    helper.make_node("Relu", ["bn"], ["c"]),
    helper.make_node("MaxPool", ["c"], ["d"], kernel_shape=[2, 2], strides=[2, 2]),
    helper.make_node("AveragePool", ["d"], ["e"], kernel_shape=[1, 1]),
    helper.make_node("GlobalAveragePool", ["e"], ["h"]),
    helper.make_node("Flatten", ["h"], ["i"], axis=1),
    helper.make_node("Gemm", ["i", "w", "b"], ["j"], transB=1),
    helper.make_node("Tanh", ["j"], ["k"]),
    helper.make_node("Sigmoid", ["k"], ["y"]),
], [init("cw", f(2, 1, 3, 3)), init("cb", f(2)), init("g", f(2)), init("be", f(2)),
    init("m", f(2)), init("v", np.abs(f(2)) + 1), init("w", f(3, 2)), init("b", f(3))], [1, 4, 4], 3)

q = lambda s, z: [init(s, np.float32(0.02)), init(z, np.uint8(128))]
qdq = model([
    helper.make_node("QuantizeLinear", ["x", "s0", "z0"], ["q0"]),
    helper.make_node("DequantizeLinear", ["q0", "s0", "z0"], ["d0"]),
    helper.make_node("DequantizeLinear", ["w1q", "w1s", "w1z"], ["w1"], axis=0),
    helper.make_node("Gemm", ["d0", "w1", "b1"], ["a"], transB=1),
    helper.make_node("Relu", ["a"], ["r"]),
    helper.make_node("QuantizeLinear", ["r", "s1", "z1"], ["q1"]),
    helper.make_node("DequantizeLinear", ["q1", "s1", "z1"], ["d1"]),
    helper.make_node("DequantizeLinear", ["w2q", "w2s", "w2z"], ["w2"], axis=0),
    helper.make_node("Gemm", ["d1", "w2", "b2"], ["y"], transB=1),
], q("s0", "z0") + q("s1", "z1") + [
    init("w1q", rng.integers(-127, 128, (3, 4)).astype(np.int8)), init("w1s", np.full(3, 0.01, np.float32)),
    init("w1z", np.zeros(3, np.int8)), init("b1", f(3)),
    init("w2q", rng.integers(-127, 128, (2, 3)).astype(np.int8)), init("w2s", np.full(2, 0.01, np.float32)),
    init("w2z", np.zeros(2, np.int8)), init("b2", f(2))], [4], 2)

for name, m in [("mlp.onnx", mlp), ("cnn.onnx", cnn), ("qdq_int8.onnx", qdq)]:
    with open(f"{out}/{name}", "wb") as fh:
        fh.write(m.SerializeToString())
