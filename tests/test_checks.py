"""Issue 17, part 3: the converter, compat layouts, checkerboard and inspect check what they are given."""

from __future__ import annotations

import numpy as np
import pytest

import tconv
from tconv import TconvError, convert
from tconv.converter import MAX_JSON_DEPTH, loads

TORCH_LAYER = {"framework": "torch", "layer": "ConvTranspose2d", "in_channels": 4, "out_channels": 6,
               "kernel_size": 3, "stride": 2}  # fmt: skip


# --------------------------------------------------------------------------
# converter: shapes and divisibility
# --------------------------------------------------------------------------


def test_convert_weights_refuses_a_swapped_or_misfitting_kernel():
    c = convert(TORCH_LAYER, "keras", (5, 5))
    assert c.convert_weights(np.ones((4, 6, 3, 3)))[0].shape == (3, 3, 6, 4)
    with pytest.raises(TconvError, match=r"convert_weights: weight does not fit .* must be \(4, 6, 3, 3\).*got \(6, 4, 3, 3\)"):
        c.convert_weights(np.ones((6, 4, 3, 3)))
    with pytest.raises(TconvError, match=r"must have 4 dims"):
        c.convert_weights(np.ones((4, 6, 3)))
    with pytest.raises(TconvError, match=r"bias must have shape \(6,\) \(C_out\); got shape \(3,\)"):
        c.convert_weights(np.ones((4, 6, 3, 3)), np.ones(3))


def test_convert_refuses_a_weight_that_does_not_fit_the_layer():
    with pytest.raises(TconvError, match=r"tconv.convert: weight does not fit .* \(4, 6, 3, 3\).*got \(4, 6, 2, 2\)"):
        convert(TORCH_LAYER, "keras", (5, 5), weight=np.ones((4, 6, 2, 2)))
    with pytest.raises(TconvError, match=r"must be \(4, 3, 3, 3\) \(groups = 2 dividing C_in\); got \(4, 2, 3, 3\)"):
        convert({**TORCH_LAYER, "groups": 2}, "onnx", (5, 5), weight=np.ones((4, 2, 3, 3)))
    without_channels = {k: v for k, v in TORCH_LAYER.items() if not k.endswith("channels")}
    with pytest.raises(TconvError, match=r"\(\?, \?, 3, 3\) \(groups = 2 dividing C_in\); got \(3, 1, 3, 3\)"):
        convert({**without_channels, "groups": 2}, "onnx", (5, 5), weight=np.ones((3, 1, 3, 3)))
    keras = {"framework": "keras", "layer": "Conv2DTranspose", "filters": 6, "kernel_size": 3, "strides": 2,
             "in_channels": 4}  # fmt: skip
    with pytest.raises(TconvError, match=r"got \(6, 4, 3, 3\) \(from the source's shape \(3, 3, 4, 6\)\)"):
        convert(keras, "torch", (5, 5), weight=np.ones((3, 3, 4, 6)))  # Keras' (*k, C_out, C_in) given swapped


def test_groups_must_divide_the_channels():
    with pytest.raises(TconvError, match=r"groups = 4 must divide out_channels; got out_channels = 6"):
        convert({**TORCH_LAYER, "groups": 4}, "keras", (5, 5))
    with pytest.raises(TconvError, match=r"groups = 3 must divide in_channels; got in_channels = 4"):
        convert({**TORCH_LAYER, "groups": 3, "out_channels": 6}, "onnx", (5, 5))
    onnx_node = {"framework": "onnx", "kernel_shape": [3, 3], "group": 3, "in_channels": 4, "out_channels": 6}
    with pytest.raises(TconvError, match=r"groups = 3 must divide in_channels; got in_channels = 4"):
        convert(onnx_node, "torch", (5, 5))


def test_apply_residual_refuses_a_wrongly_shaped_output():
    keras = {"framework": "keras", "layer": "Conv2DTranspose", "filters": 64, "kernel_size": 3, "strides": 2,
             "padding": "same", "in_channels": 128}  # fmt: skip
    c = convert(keras, "torch", (32, 32))
    assert c.residual == ((0, 1), (0, 1))
    assert c.apply_residual(np.ones((1, 64, 65, 65))).shape == (1, 64, 64, 64)
    with pytest.raises(TconvError, match=r"apply_residual: y must be the torch layer's output \(N, C, \*spatial\) = "
                                         r"\(N, 64, 65, 65\) for input \(32, 32\); got shape \(1, 64, 64, 64\)"):
        c.apply_residual(np.ones((1, 64, 64, 64)))
    with pytest.raises(TconvError, match=r"got shape \(64, 65, 65\)"):
        c.apply_residual(np.ones((64, 65, 65)))
    exact = convert(TORCH_LAYER, "keras", (5, 5))
    with pytest.raises(TconvError, match=r"\(N, \*spatial, C\) = \(N, 11, 11, 6\).*got shape \(1, 6, 11, 11\)"):
        exact.apply_residual(np.ones((1, 6, 11, 11)))  # channels-first given to a channels-last target


def test_loads_refuses_deep_nesting_with_the_limit():
    with pytest.raises(TconvError, match=rf"nests 100000 levels deep; at most {MAX_JSON_DEPTH} are read"):
        loads("[" * 100_000)
    assert loads('{"name": "' + "[" * 100 + '"}') == {"name": "[" * 100}  # brackets inside strings do not count
    with pytest.raises(TypeError, match="must be a str"):
        loads(b"{}")


# --------------------------------------------------------------------------
# compat.layouts and checkerboard.image_score: ranks and axes
# --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda L: L.to_channels_first(np.ones(3)), r"to_channels_first: x must have at least 3 dims \(N, \*spatial, C\).*got shape \(3,\)"),
        (lambda L: L.to_channels_last(np.ones((2, 3))), r"to_channels_last: x must have at least 3 dims .*got shape \(2, 3\)"),
        (lambda L: L.from_tf(np.ones((3, 3))), r"from_tf: filters must have at least 3 dims"),
        (lambda L: L.to_tf(np.ones(4)), r"to_tf: weight must have at least 3 dims"),
        (lambda L: L.from_keras(np.ones((3, 3))), r"from_tf: filters must have at least 3 dims"),
        (lambda L: L.from_onnx([[1.0]]), r"from_onnx: weight must have at least 3 dims"),
        (lambda L: L.to_jax(np.ones((2, 3, 3))), r"to_jax: rhs_spec 'HWIO' names 4 dims; the kernel has 3"),
        (lambda L: L.from_jax(np.ones((2, 3, 3, 3)), "OIW"), r"from_jax: rhs_spec 'OIW' names 3 dims; the kernel has 4"),
        (lambda L: L.ungroup(np.ones(4), 2), r"ungroup: weight must have at least 3 dims"),
        (lambda L: L.ungroup(np.ones((4, 1, 3)), 3), r"groups must divide C_in = 4; got 3"),
    ],
)
def test_layouts_refuse_a_wrong_rank_with_the_library_message(call, message):
    from tconv.compat import layouts

    with pytest.raises(TconvError, match=message):
        call(layouts)


def test_ungroup_checks_its_groups_and_its_memory():
    from tconv.compat import layouts

    with pytest.raises(TypeError, match=r"ungroup: groups must be an int; got 2.0"):
        layouts.ungroup(np.ones((4, 1, 3)), 2.0)
    with tconv.memory_budget("1MiB"), pytest.raises(TconvError, match=r"block-diagonal kernel of 1000 groups needs"):
        layouts.ungroup(np.ones((1000, 1, 1), np.float32), 1000)


def test_image_score_refuses_bad_axes_ranks_and_values():
    from tconv.checkerboard import image_score

    image = np.random.default_rng(0).standard_normal((8, 8, 3))
    assert image_score(image, 2, channel_axis=2) == image_score(image, 2)
    with pytest.raises(TconvError, match=r"channel_axis must be in \[-3, 2\] for a 3-D image, or None; got 5"):
        image_score(image, 2, channel_axis=5)
    with pytest.raises(TypeError, match=r"channel_axis must be an int; got 'x'"):
        image_score(image, 2, channel_axis="x")
    with pytest.raises(TconvError, match=r"got shape \(\)"):
        image_score(1.0, 2, channel_axis=None)
    with pytest.raises(TconvError, match=r"image must be finite; it holds 1 NaN or inf values"):
        image_score(np.array([[np.nan, 1.0], [1.0, 1.0]]), 2)
    with pytest.raises(TypeError, match=r"image must hold real numbers"):
        image_score(np.ones((2, 2)) * 1j, 2)
    with tconv.memory_budget("1KiB"), pytest.raises(TconvError, match=r"the image's spectrum needs"):
        image_score(np.ones((64, 64)), 2)


# --------------------------------------------------------------------------
# negative lengths, memory and N-d reports
# --------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["circular", "reflect", "replicate"])
def test_a_padding_that_empties_the_output_is_called_so(mode):
    from tconv.compat.torch import conv_transpose1d

    with pytest.raises(TconvError, match=r"the output would be negative on axis 0: length 3 - padding 3 - 3 = -3; "
                                         r"it must be >= 1 \(reduce padding to at most 2 in total\)"):
        conv_transpose1d(np.ones((1, 1, 2)), np.ones((1, 1, 2)), padding=3, padding_mode=mode)
    with pytest.raises(TconvError, match=r"would be empty on axis 0: length 4 - padding 2 - 2 = 0"):
        conv_transpose1d(np.ones((1, 1, 2)), np.ones((1, 1, 3)), padding=2, padding_mode=mode)


def test_padmodes_check_their_pairs():
    from tconv import padmodes

    with pytest.raises(TconvError, match=r"padmodes.fold: the output would be negative on axis 0: length 3 - padding 2 - 2 = -1"):
        padmodes.fold(np.ones((1, 1, 3)), [(2, 2)])
    with pytest.raises(TconvError, match=r"padmodes.pad: padding must be >= 0"):
        padmodes.pad(np.ones((1, 3)), [(-1, 0)])
    with pytest.raises(TconvError, match=r"one \(lo, hi\) per trailing axis \(at most 1\)"):
        padmodes.pad(np.ones(3), [(1, 1), (1, 1)])
    x = np.arange(3.0)[None, None]
    assert padmodes.pad(x, [(2, 1)], "reflect")[0, 0].tolist() == [2, 1, 0, 1, 2, 1]


def test_overlap_and_stacks_check_the_memory_their_period_needs():
    from tconv import checkerboard

    with pytest.raises(TconvError, match=r"checkerboard.overlap: the overlap pattern \(period 1000000000, kernel 3\) "
                                         r"needs about .* more than the memory budget"):
        checkerboard.overlap(3, 10**9)
    with pytest.raises(TconvError, match=r"period 2, kernel 1000000000\) needs"):
        checkerboard.unevenness(10**9, 2)
    with pytest.raises(TconvError, match=r"analyze_stack: layer 1's pattern \(the stack's period becomes 1000000x1000000\)"):
        checkerboard.analyze_stack([dict(kernel_size=3, stride=(1000, 1000))] * 2)
    with tconv.memory_budget("1MiB"), pytest.raises(TconvError, match=r"remedies: each remedy's response"):
        checkerboard.remedies(3, (300, 300))
    assert checkerboard.overlap(3, 10**5).sum() == 3  # long periods within the budget still work


def test_overlap_patterns_are_unchanged():
    from tconv import checkerboard

    # count[o] = #{j < k : j*d = o + lo (mod s)} per axis, the N-d count their product
    expected = np.multiply.outer([2, 1], [2, 2, 1]).tolist()  # k=3, s=2, lo=0 and k=5, s=3, d=2, lo=2
    assert checkerboard.overlap((3, 5), (2, 3), dilation=(1, 2), padding=(0, 2)).tolist() == expected
    r = checkerboard.analyze_stack([dict(kernel_size=5, stride=1, padding=2), dict(kernel_size=5, stride=2, padding=1),
                                    dict(kernel_size=5, stride=2, padding=1), dict(kind="conv", kernel_size=3, stride=2)])
    assert [layer.stack_pattern.tolist() for layer in r.layers] == [[5.0], [10.0, 15.0], [25.0, 40.0, 25.0, 35.0], [90.0, 85.0]]


def test_reports_of_3d_and_4d_geometries():
    from tconv import checkerboard

    text = checkerboard.report((3, 3, 3), 2)
    assert text.splitlines()[:8] == [
        "overlap (taps per output position over one period 2x2x2):",
        "  [0, :, :]", "    8 4", "    4 2", "  [1, :, :]", "    4 2", "    2 1",
        "unevenness: 8",
    ]  # fmt: skip
    assert "padding=(1, 0, 0, 1), output_padding=(1, 0, 0, 1)" in checkerboard.report((3, 3, 3, 3), (2, 1, 1, 2))
    assert "[0, 0, :, :]" in checkerboard.report((3, 3, 3, 3), 2)
    assert "whole stack: period 2x2x2, unevenness 8" in checkerboard.analyze_stack([dict(kernel_size=(3, 3, 3), stride=2)]).text()
    assert checkerboard.report(1, (64, 64)).splitlines()[1] == "  64x64 pattern, min 0, max 1"  # not 4096 numbers


def test_report_checks_in_size_and_seed():
    from tconv import checkerboard

    with pytest.raises(TconvError, match=r"remedies: in_size must be >= 1; got 0"):
        checkerboard.report(3, 2, in_size=0)
    with pytest.raises(TypeError, match=r"remedies: in_size must be an int"):
        checkerboard.report(3, 2, in_size="x")
    with pytest.raises(TconvError, match=r"in_size=2 leaves no whole period of the response inside its edges on axis 0"):
        checkerboard.report(3, 2, in_size=2)
    with pytest.raises(TypeError, match=r"remedies: rng must be None, an int seed"):
        checkerboard.remedies(3, 2, seed="x")


def test_convert_names_a_framework_given_as_a_non_string():
    with pytest.raises(TypeError, match=r"tconv.convert: to must be a framework name, one of 'torch'.*got \[\]"):
        convert(TORCH_LAYER, [], 5)
    with pytest.raises(TypeError, match=r"tconv.convert: layer\['framework'\] must be a framework name"):
        convert({**TORCH_LAYER, "framework": ["torch"]}, "keras", 5)


def test_the_torch_search_stays_fast_and_finds_the_same_arguments():
    import time

    from tconv.compat import porting
    from tconv.compat.jax import geometry as jax_geometry
    from tconv.compat.torch import convert as torch_port
    from tconv.compat.torch import geometry as torch_geometry

    keras = {"framework": "keras", "layer": "Conv1DTranspose", "filters": 1, "kernel_size": 2001, "strides": 1000,
             "padding": "same", "in_channels": 1}  # fmt: skip
    started = time.perf_counter()
    assert convert(keras, "torch", 5).residual == ((0, 1),)  # scanned 1001 x 1000 pairs before
    assert time.perf_counter() - started < 5
    rng = np.random.default_rng(1)
    for _ in range(1500):  # the turning points find what the whole scan finds
        k, s, d, n = (int(v) for v in (rng.integers(1, 30), rng.integers(1, 25), rng.integers(1, 12), rng.integers(1, 12)))
        pads = [(int(rng.integers(-30, 60)), int(rng.integers(-30, 60)))]
        try:
            a = jax_geometry((n,), (k,), (s,), pads, (d,)).axes[0]
        except TconvError:
            continue

        def axis_of(p, op, a=a):
            return porting.only_axis(torch_geometry(a.size, a.kernel, a.stride, p, op, 1, a.dilation))

        whole = porting.best(a, (((p, op), lambda p=p, op=op: axis_of(p, op))
                                 for p in range(max(a.start, 0), -1, -1) for op in range(max(a.stride, a.dilation))))
        limit, torch_port._ENUMERATE_LIMIT = torch_port._ENUMERATE_LIMIT, 0  # the turning points only
        try:
            assert torch_port.search(a) == whole, a
        finally:
            torch_port._ENUMERATE_LIMIT = limit
