"""tconv.deconvnet.infer: every method on every boundary solves one problem; SPORCO's ConvBPDN agrees."""

from __future__ import annotations

import numpy as np
import pytest

import tconv
from tconv import deconvnet

RNG = np.random.default_rng(7)
F1 = RNG.standard_normal((4, 1, 3, 3))
F2 = RNG.standard_normal((3, 2, 3, 2))


def _sparse_images(f, n, boundary="zero", stride=1, seed=0):
    rng = np.random.default_rng(seed)
    m = deconvnet.z_shape(n, f.shape[2:], boundary=boundary, stride=stride)
    z = np.zeros((1, f.shape[0]) + m)
    idx = tuple(rng.integers(0, s, 6) for s in z.shape)
    z[idx] = rng.standard_normal(6) * 2
    return deconvnet.synthesize(z, f, boundary=boundary, stride=stride, image_shape=n)


@pytest.mark.parametrize("boundary, n, k, s, m", [
    ("zero", 7, 3, 1, 9), ("zero", 7, 3, 2, 5), ("zero", 8, 4, 3, 5),
    ("valid", 7, 3, 1, 5), ("valid", 8, 3, 2, 3), ("circular", 8, 3, 2, 4), ("circular", 6, 3, 1, 6),
])
def test_z_shape_and_synthesis_is_the_transposed_conv_cut(boundary, n, k, s, m):
    assert deconvnet.z_shape((n,), (k,), boundary=boundary, stride=s) == (m,)
    rng = np.random.default_rng(0)
    z, f = rng.standard_normal((2, 3, m)), rng.standard_normal((3, 2, k))
    y = deconvnet.synthesize(z, f, boundary=boundary, stride=s, image_shape=(n,))
    full = tconv.conv_transpose(z, f, stride=s)  # the uncut scatter y_full[i*s + j] += z[i] f[j]
    if boundary == "zero":
        expect = full[..., k - 1:k - 1 + n]
    elif boundary == "valid":
        expect = np.zeros((2, 2, n))
        expect[..., :full.shape[-1]] = full
    else:
        expect = np.zeros((2, 2, n))
        for start in range(0, full.shape[-1], n):
            block = full[..., start:start + n]
            expect[..., :block.shape[-1]] += block
    np.testing.assert_allclose(y, expect, atol=1e-12)


@pytest.mark.parametrize("boundary", deconvnet.BOUNDARIES)
@pytest.mark.parametrize("stride", [1, 2])
def test_admm_and_fista_reach_one_minimum(boundary, stride):
    f = F2
    y = _sparse_images(f, (8, 10), boundary, stride) + 0.05 * RNG.standard_normal((1, 2, 8, 10))
    kw = dict(boundary=boundary, stride=stride)
    a = deconvnet.infer(y, f, 4.0, method="admm", max_iter=600, tol=0, **kw)
    b = deconvnet.infer(y, f, 4.0, method="fista", max_iter=1500, tol=1e-9, **kw)
    ea, eb = (deconvnet.objective(y, r.z, f, 4.0, **kw) for r in (a, b))
    assert abs(ea - eb) <= 1e-4 * eb
    h = np.array(b.objective)
    assert h[-1] < h[0] and h[-1] <= h.min() * (1 + 1e-9)
    assert a.z.shape == b.z.shape == (1, 3) + deconvnet.z_shape((8, 10), (3, 2), **kw)


def test_float32_stays_float32_and_matches_float64():
    y = _sparse_images(F1, (12, 12), "circular").astype(np.float32)
    r32 = deconvnet.infer(y, F1.astype(np.float32), 10.0, boundary="circular", max_iter=300, tol=0)
    r64 = deconvnet.infer(y.astype(np.float64), F1, 10.0, boundary="circular", max_iter=300, tol=0)
    assert r32.z.dtype == np.float32 and r64.z.dtype == np.float64
    assert abs(r32.objective[-1] - r64.objective[-1]) <= 1e-4 * r64.objective[-1]


def test_connectivity_map_cuts_the_links():
    g = np.array([[1, 0], [0, 1], [1, 1]])
    y = RNG.standard_normal((1, 2, 8, 8))
    r = deconvnet.infer(y, F2, 5.0, g=g, boundary="circular", max_iter=50)
    masked = F2 * g[:, :, None, None]
    again = deconvnet.infer(y, masked, 5.0, boundary="circular", max_iter=50)
    np.testing.assert_allclose(r.z, again.z, atol=1e-12)


def test_continuation_p_below_one_is_sparser():
    y = _sparse_images(F1, (12, 12))
    assert deconvnet.infer(y, F1, 50.0, p=0.5, max_iter=2).method == "continuation"
    out = {p: deconvnet.infer(y, F1, 50.0, p=p, method="continuation", max_iter=60) for p in (1.0, 0.5)}
    for r in out.values():
        assert r.objective[-1] < 0.2 * r.objective[0]
    nnz = {p: np.count_nonzero(np.abs(r.z) > 1e-8) for p, r in out.items()}
    assert nnz[0.5] < nnz[1.0]
    e = deconvnet.objective(y, out[0.5].z, F1, 50.0, p=0.5)
    assert e < deconvnet.objective(y, np.zeros_like(out[0.5].z), F1, 50.0, p=0.5) / 5


def test_callback_sees_each_iteration_and_can_stop():
    seen = []
    y = RNG.standard_normal((1, 1, 8, 8))
    r = deconvnet.infer(y, F1, 3.0, boundary="circular", callback=lambda k, z, e: seen.append((k, e)) or k == 5)
    assert [k for k, _ in seen] == [1, 2, 3, 4, 5] and r.iterations == 5
    assert [e for _, e in seen] == r.objective


# --- SPORCO, the anchor -------------------------------------------------------------------------------


def _sporco_problem():
    rng = np.random.default_rng(5)
    d = rng.standard_normal((5, 5, 6)).astype(np.float64)
    d /= np.sqrt((d ** 2).sum(axis=(0, 1)))
    s = rng.standard_normal((16, 16))
    return d, s, np.ascontiguousarray(np.moveaxis(d, -1, 0)[:, None])


def test_tconv_objective_of_sporco_solution_is_sporco_objective():
    cbpdn = pytest.importorskip("sporco.admm.cbpdn")
    d, s, f = _sporco_problem()
    lmbda = 0.1
    opt = cbpdn.ConvBPDN.Options({"Verbose": False, "MaxMainIter": 40, "RelStopTol": 0.0, "AuxVarObj": False})
    b = cbpdn.ConvBPDN(d, s, lmbda, opt, dimK=0)
    b.solve()
    z = np.moveaxis(b.X.reshape(16, 16, -1), -1, 0)[None]  # the iterate SPORCO's F is of (AuxVarObj=False)
    mine = deconvnet.objective(s[None, None], z, f, 1 / lmbda, boundary="circular") * lmbda
    theirs = float(b.getitstat().ObjFun[-1])
    assert abs(mine - theirs) <= 1e-6 * abs(theirs)


def test_circular_infer_solves_sporco_problem_with_lam_one_over_lmbda():
    cbpdn = pytest.importorskip("sporco.admm.cbpdn")
    d, s, f = _sporco_problem()
    lmbda = 0.1
    # a fixed penalty: SPORCO's adaptive one wanders on this small random problem
    opt = cbpdn.ConvBPDN.Options({"Verbose": False, "MaxMainIter": 3000, "RelStopTol": 1e-9, "AuxVarObj": False,
                                  "rho": 1.0, "AutoRho": {"Enabled": False}})
    b = cbpdn.ConvBPDN(d, s, lmbda, opt, dimK=0)
    x = b.solve()
    theirs = np.moveaxis(x.reshape(16, 16, -1), -1, 0)[None]
    r = deconvnet.infer(s[None, None], f, 1 / lmbda, boundary="circular", method="fista", max_iter=3000, tol=1e-12)
    fs = [deconvnet.objective(s[None, None], z, f, 1 / lmbda, boundary="circular") * lmbda for z in (r.z, theirs)]
    assert abs(fs[0] - fs[1]) <= 1e-5 * fs[1]
    assert np.linalg.norm(r.z - theirs) <= 1e-2 * np.linalg.norm(theirs)
    wrong = deconvnet.infer(s[None, None], f, lmbda, boundary="circular", max_iter=200)
    assert np.linalg.norm(wrong.z - theirs) > 0.5 * np.linalg.norm(theirs)  # lam = lmbda is another problem


# --- refusals -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("kwargs, match", [
    (dict(lam=0.0), "lam must be > 0"),
    (dict(p=1.5), r"p must be in \(0, 1\]"),
    (dict(p=0.5, method="admm"), "method='admm' solves p = 1 only"),
    (dict(boundary="reflect"), "boundary must be one of"),
    (dict(method="sgd"), "method must be one of"),
    (dict(stride=0), "stride must be >= 1"),
    (dict(boundary="circular", stride=3), "divisible by the stride"),
    (dict(max_iter=0), "max_iter must be >= 1"),
    (dict(g=np.ones((3, 1))), r"g \(the connectivity map\) must have shape \(K, C\) = \(4, 1\)"),
])
def test_bad_inputs_are_refused(kwargs, match):
    args = dict(lam=1.0) | kwargs
    lam = args.pop("lam")
    with pytest.raises(tconv.TconvError, match=match) as err:
        deconvnet.infer(np.ones((1, 1, 8, 8)), F1, lam, **args)
    assert str(err.value).startswith("tconv.deconvnet.infer: ")


def test_mismatched_filters_and_maps_are_refused():
    with pytest.raises(tconv.TconvError, match=r"filters.shape\[1\] must equal the image channels C = 2"):
        deconvnet.infer(np.ones((1, 2, 8, 8)), F1, 1.0)
    with pytest.raises(tconv.TconvError, match=r"z must have shape \(N, K=4, \*\(10, 10\)\)"):
        deconvnet.synthesize(np.ones((1, 4, 8, 8)), F1, image_shape=(8, 8))
    with pytest.raises(TypeError, match="callback must be callable"):
        deconvnet.infer(np.ones((1, 1, 8, 8)), F1, 1.0, callback=3)
