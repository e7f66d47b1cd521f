"""An int8 copy of an exported prompt decoder, for live previews.

Why our own pass: the fast decoder's big products are between two activations (the re-associated
attention multiplies the image tokens by matrices built from the prompt), and
``onnxruntime.quantization.quantize_dynamic`` quantizes only products with a constant weight, or
both sides as unsigned 8-bit, which ONNX Runtime runs no faster than fp32 on x86 (measured: a
4096x256x96 product 0.77 ms against 0.95 ms). Here the large side of each big product is quantized
per tensor to unsigned 8-bit (``DynamicQuantizeLinear``), the small side per column to signed
8-bit, the layout ONNX Runtime's x86 kernels (VNNI) run fastest: 0.43 ms for the same product.
A product whose large side is on the right is turned round (``B^T A^T``) when that side is a
transpose already; the rest stay in fp32.

The int8 graph is for previews only: accepted masks are decoded by the exact fp32 graph.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from gazeseg.core.errors import MissingDependencyError

#: products below this many multiply-adds stay in fp32: quantizing costs passes over the data
MIN_MACS = 20_000_000

#: how far an int8 preview's low-resolution logits may lie from the exact graph's: mean absolute
#: difference over the logits' standard deviation (measured 0.012 on a random-weight ViT-B with
#: six points, candidate masks agreeing at IoU 0.99 although random logits hug zero)
PREVIEW_TOLERANCE = 0.05


@dataclass(frozen=True)
class QuantizedProduct:
    """One product the pass rewrote: node name, (M, K, N) and how (``weight``, ``left``, ``turned``)."""

    node: str
    mkn: tuple[int, int, int]
    how: str


def int8_path_for(fp32_path: Path) -> Path:
    """``x.decoder.onnx`` -> ``x.decoder.int8.onnx``: where the preview graph sits."""
    fp32_path = Path(fp32_path)
    return fp32_path.with_name(fp32_path.name[: -len(".onnx")] + ".int8.onnx")


def quantize_decoder(src: Path, dst: Path, sample_feeds: dict[str, np.ndarray], *, min_macs: int = MIN_MACS) -> list[QuantizedProduct]:
    """Write an int8 copy of the ONNX graph at ``src`` to ``dst`` (atomically); nothing is written
    when no product is large enough to gain (a tiny test model), and the list is then empty.

    ``sample_feeds``: one valid set of inputs; the pass runs the graph once on them to learn the
    shapes of the products (which side is large does not depend on the number of points).
    """
    try:
        import onnx
    except ImportError as error:
        raise MissingDependencyError("onnx", "onnx", "the int8 preview decoder") from error
    model = onnx.load(str(src))
    shapes = _product_operand_shapes(model, sample_feeds)
    rewritten = _Rewriter(model, shapes, min_macs).run()
    if not rewritten:
        return []
    dst = Path(dst)
    tmp = dst.with_name(dst.name + ".tmp")
    onnx.save(model, str(tmp))
    tmp.replace(dst)
    return rewritten


def _product_operand_shapes(model, feeds: dict[str, np.ndarray]) -> dict[str, tuple[int, ...]]:  # noqa: ANN001
    """Shapes of every MatMul/Gemm operand, constant or computed, from one run of the graph."""
    import onnx
    import onnxruntime as ort

    constants = {t.name: tuple(t.dims) for t in model.graph.initializer}
    wanted = []
    for node in model.graph.node:
        if node.op_type in ("MatMul", "Gemm"):
            wanted += [x for x in node.input[:2] if x not in constants and x not in wanted]
    probe = onnx.ModelProto()
    probe.CopyFrom(model)
    known = {o.name for o in probe.graph.output}
    for name in wanted:
        if name not in known:
            probe.graph.output.append(onnx.helper.make_empty_tensor_value_info(name))
    session = ort.InferenceSession(probe.SerializeToString(), providers=["CPUExecutionProvider"])
    inputs = {i.name for i in session.get_inputs()}
    values = session.run(wanted, {k: v for k, v in feeds.items() if k in inputs})
    return {**constants, **{name: tuple(v.shape) for name, v in zip(wanted, values)}}


class _Rewriter:
    """Replaces big MatMul/Gemm nodes of ``model`` in place by their int8 form."""

    def __init__(self, model, shapes: dict[str, tuple[int, ...]], min_macs: int) -> None:  # noqa: ANN001
        self.model, self.shapes, self.min_macs = model, shapes, min_macs
        self.constants = {t.name: t for t in model.graph.initializer}
        self.producers = {out: node for node in model.graph.node for out in node.output}
        self.nodes: list = []
        self.count = 0

    def run(self) -> list[QuantizedProduct]:
        import onnx

        done: list[QuantizedProduct] = []
        self.model.graph.initializer.append(onnx.numpy_helper.from_array(np.array(127.0, np.float32), "int8_127"))
        self.model.graph.initializer.append(onnx.numpy_helper.from_array(np.array(1e-30, np.float32), "int8_tiny"))
        for node in self.model.graph.node:
            product = self._rewrite(node)
            if product is None:
                self.nodes.append(node)
            else:
                done.append(product)
        del self.model.graph.node[:]
        self.model.graph.node.extend(_without_dead_nodes(self.nodes, {o.name for o in self.model.graph.output}))
        used = {x for node in self.model.graph.node for x in node.input}
        kept = [t for t in self.model.graph.initializer if t.name in used]
        del self.model.graph.initializer[:]
        self.model.graph.initializer.extend(kept)
        return done

    # -- deciding ---------------------------------------------------------------------------
    def _rewrite(self, node) -> QuantizedProduct | None:  # noqa: ANN001
        import onnx

        if node.op_type not in ("MatMul", "Gemm"):
            return None
        attrs = {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}
        if attrs.get("transA", 0) or attrs.get("alpha", 1.0) != 1.0 or attrs.get("beta", 1.0) != 1.0:
            return None
        a_name, b_name = node.input[0], node.input[1]
        a_shape, b_shape = self.shapes.get(a_name), self.shapes.get(b_name)
        if a_shape is None or b_shape is None or len(a_shape) < 2 or len(b_shape) < 2:
            return None
        trans_b = bool(attrs.get("transB", 0))
        m, k = a_shape[-2], a_shape[-1]
        n = b_shape[-2] if trans_b else b_shape[-1]
        batch = int(np.prod(a_shape[:-2])) if len(a_shape) > 2 else 1
        bias = node.input[2] if node.op_type == "Gemm" and len(node.input) > 2 and node.input[2] else None
        out = node.output[0]
        if batch * m * k * n < self.min_macs:
            return None
        if b_name in self.constants and len(b_shape) == 2:
            self._weight_product(a_name, b_name, trans_b, bias, out)
            return QuantizedProduct(node.name, (m, k, n), "weight")
        if m >= n:
            b = self._transpose(b_name) if trans_b else b_name
            self._dynamic_product(a_name, b, bias, out)
            return QuantizedProduct(node.name, (m, k, n), "left")
        source = self.producers.get(b_name)
        if not trans_b and bias is None and source is not None and _swaps_last_two(source, len(b_shape)):
            # A (m x k) . B (k x n) with B = T^T, T (n x k) large: (T . A^T)^T
            turned = self._fresh("turned")
            self._dynamic_product(source.input[0], self._transpose(a_name), None, turned)
            self._emit("Transpose", [turned], [out], perm=_last_two_swapped(len(b_shape)))
            return QuantizedProduct(node.name, (m, k, n), "turned")
        return None

    # -- emitting ---------------------------------------------------------------------------
    def _weight_product(self, a: str, b: str, trans_b: bool, bias: str | None, out: str) -> None:
        """A constant weight: quantized once here, per output column (symmetric signed 8-bit)."""
        import onnx

        weight = onnx.numpy_helper.to_array(self.constants[b]).astype(np.float32)
        if trans_b:
            weight = weight.T
        scale = np.maximum(np.abs(weight).max(axis=0), 1e-30) / 127.0
        q = np.clip(np.round(weight / scale), -127, 127).astype(np.int8)
        q_name, s_name = self._fresh("wq"), self._fresh("ws")
        self.model.graph.initializer.append(onnx.numpy_helper.from_array(q, q_name))
        self.model.graph.initializer.append(onnx.numpy_helper.from_array(scale.astype(np.float32), s_name))
        self._finish(a, q_name, s_name, bias, out)

    def _dynamic_product(self, a: str, b: str, bias: str | None, out: str) -> None:
        """Both sides computed: B (small) quantized per column on the fly."""
        absolute, peak, scale, scaled, rounded, q = (self._fresh(p) for p in ("babs", "bmax", "bs", "bd", "br", "bq"))
        self._emit("Abs", [b], [absolute])
        self._emit("ReduceMax", [absolute], [peak], axes=[-2], keepdims=1)
        self._emit("Div", [peak, "int8_127"], [scale + "_raw"])
        self._emit("Max", [scale + "_raw", "int8_tiny"], [scale])
        self._emit("Div", [b, scale], [scaled])
        self._emit("Round", [scaled], [rounded])
        self._emit("Cast", [rounded], [q], to=3)  # INT8
        self._finish(a, q, scale, bias, out)

    def _finish(self, a: str, b_q: str, b_scale: str, bias: str | None, out: str) -> None:
        a_q, a_scale, a_zero, acc, acc_f, scale, scaled = (self._fresh(p) for p in ("aq", "as", "az", "acc", "accf", "s", "y"))
        self._emit("DynamicQuantizeLinear", [a], [a_q, a_scale, a_zero])
        self._emit("MatMulInteger", [a_q, b_q, a_zero], [acc])
        self._emit("Cast", [acc], [acc_f], to=1)  # FLOAT
        self._emit("Mul", [a_scale, b_scale], [scale])
        if bias is None:
            self._emit("Mul", [acc_f, scale], [out])
        else:
            self._emit("Mul", [acc_f, scale], [scaled])
            self._emit("Add", [scaled, bias], [out])

    def _transpose(self, name: str) -> str:
        out = self._fresh("t")
        self._emit("Transpose", [name], [out], perm=_last_two_swapped(len(self.shapes[name])))
        return out

    def _emit(self, op: str, inputs: list[str], outputs: list[str], **attrs: object) -> None:
        import onnx

        self.nodes.append(onnx.helper.make_node(op, inputs, outputs, name=self._fresh(op), **attrs))

    def _fresh(self, prefix: str) -> str:
        self.count += 1
        return f"int8/{prefix}_{self.count}"


def _without_dead_nodes(nodes: list, outputs: set[str]) -> list:
    """``nodes`` less those whose results nobody reads (the transposes a turned product replaced)."""
    while True:
        read = outputs | {x for node in nodes for x in node.input}
        alive = [node for node in nodes if any(o in read for o in node.output)]
        if len(alive) == len(nodes):
            return alive
        nodes = alive


def _last_two_swapped(rank: int) -> list[int]:
    return list(range(rank - 2)) + [rank - 1, rank - 2]


def _swaps_last_two(node, rank: int) -> bool:  # noqa: ANN001
    import onnx

    if node.op_type != "Transpose":
        return False
    perm = next((onnx.helper.get_attribute_value(a) for a in node.attribute if a.name == "perm"), None)
    return perm is not None and list(perm) == _last_two_swapped(rank)
