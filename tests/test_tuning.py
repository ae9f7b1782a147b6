"""tconv.tune and the tuning cache: a stored choice is used, a bad cache file is ignored safely."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest

import tconv
from tconv import algorithms, tuning
from tconv.geometry import transpose_geometry

X_SHAPE, W_SHAPE = (2, 3, 5, 5), (3, 2, 4, 4)
GEOM = dict(stride=2, padding=1)


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("TCONV_CACHE_DIR", str(tmp_path))
    monkeypatch.delenv("TCONV_TUNE", raising=False)
    return tmp_path / tuning.FILE_NAME


def _key(dtype=np.float64):
    geom = transpose_geometry("test", X_SHAPE[2:], W_SHAPE[2:], stride=2, padding=1, output_padding=0, dilation=1,
                              groups=1, nd=2)
    return tuning.key(X_SHAPE, W_SHAPE, geom, np.dtype(dtype))


def _spy(monkeypatch):
    """Count the calls of each implementation auto may run."""
    calls = {name: 0 for name in algorithms.IMPLEMENTATIONS}
    for name, run in list(algorithms.IMPLEMENTATIONS.items()):
        def counted(x, w, g, name=name, run=run):
            calls[name] += 1
            return run(x, w, g)
        monkeypatch.setitem(algorithms.IMPLEMENTATIONS, name, counted)
    return calls


def _data():
    rng = np.random.default_rng(1)
    return rng.standard_normal(X_SHAPE), rng.standard_normal(W_SHAPE)


def test_tune_stores_the_fastest_and_auto_runs_it(cache, monkeypatch):
    t = tconv.tune(X_SHAPE, W_SHAPE, dtype="float64", repeats=1, **GEOM)
    assert t.algorithm == min(t.seconds, key=t.seconds.__getitem__)
    assert set(t.seconds) <= set(algorithms.ESTIMATES) and t.seconds
    assert os.path.samefile(t.path, cache)
    assert tuning.cached(_key()) == t.algorithm
    calls = _spy(monkeypatch)
    x, w = _data()
    tconv.conv_transpose(x, w, **GEOM)
    assert calls[t.algorithm] == 1 and sum(calls.values()) == 1


@pytest.mark.parametrize("kind", ["cost model's last", "any other"])
def test_a_cached_choice_overrides_the_cost_model(cache, monkeypatch, kind):
    x, w = _data()
    geom = transpose_geometry("test", X_SHAPE[2:], W_SHAPE[2:], stride=2, padding=1, output_padding=0, dilation=1,
                              groups=1, nd=2)
    ranked = algorithms.ranked(X_SHAPE, W_SHAPE, geom)
    forced = ranked[-1] if kind == "cost model's last" else ranked[1]
    tuning.store(_key(), forced, {forced: 1e-3})
    calls = _spy(monkeypatch)
    y = tconv.conv_transpose(x, w, **GEOM)
    assert calls[forced] == 1 and sum(calls.values()) == 1
    np.testing.assert_allclose(y, tconv.conv_transpose(x, w, algorithm="scatter", **GEOM), atol=1e-9)


@pytest.mark.parametrize(
    "content",
    [
        b"\x00\xff not json",
        b"[1, 2, 3]",
        b'{"format": "someone-else/7", "entries": {}}',
        b'{"format": "tconv-tune/1", "entries": []}',
        b'{"format": "tconv-tune/1"',
        "{KEY: {\"algorithm\": \"no-such-algorithm\", \"seconds\": {}}}",
        "{KEY: {\"algorithm\": \"scatter\", \"seconds\": {}}}",
        "{KEY: {\"algorithm\": \"phase\", \"seconds\": {\"phase\": \"fast\"}}}",
        "{KEY: \"phase\"}",
        b"[" * 100000,
    ],
    ids=["binary", "list", "foreign format", "entries not a dict", "truncated", "unknown algorithm",
         "not an auto candidate", "bad seconds", "entry not a dict", "deep nesting"],
)
def test_a_corrupt_or_foreign_cache_is_ignored(cache, monkeypatch, content):
    if isinstance(content, str):
        content = ('{"format": "tconv-tune/1", "entries": ' + content.replace("KEY", json.dumps(_key())) + "}").encode()
    cache.write_bytes(content)
    assert tuning.cached(_key()) is None
    calls = _spy(monkeypatch)
    x, w = _data()
    tconv.conv_transpose(x, w, **GEOM)  # the cost model's choice, no error
    geom = transpose_geometry("test", X_SHAPE[2:], W_SHAPE[2:], stride=2, padding=1, output_padding=0, dilation=1,
                              groups=1, nd=2)
    assert calls[algorithms.ranked(X_SHAPE, W_SHAPE, geom)[0]] == 1
    tuning.store(_key(), "phase", {"phase": 1.0})  # the next store replaces the bad file
    assert json.loads(cache.read_text())["format"] == tuning.FORMAT
    assert tuning.cached(_key()) == "phase"
    assert [p.name for p in cache.parent.iterdir()] == [tuning.FILE_NAME]  # no temporary file left


def test_another_machines_entry_matches_nothing(cache, monkeypatch):
    tuning.store(_key(), "phase", {"phase": 1.0})
    monkeypatch.setattr(tuning, "_fingerprint", "0123456789abcdef")
    assert tuning.cached(_key()) is None
    assert tuning.cached(_key().replace(tuning.fingerprint(), "x")) is None


def test_the_key_separates_dtype_threads_and_backend(cache, monkeypatch):
    base = _key()
    assert _key(np.float32) != base
    monkeypatch.setenv("TCONV_NUM_THREADS", "7")
    assert _key() != base
    monkeypatch.delenv("TCONV_NUM_THREADS")
    monkeypatch.setenv("TCONV_KERNELS", "numpy")
    assert _key().endswith("|numpy") and (_key() != base) == (not base.endswith("|numpy"))


def test_opt_in_tunes_on_the_first_auto_call_only(cache, monkeypatch):
    x, w = _data()
    with tconv.autotune():
        assert tuning.enabled()
        tconv.conv_transpose(x, w, **GEOM)
    chosen = tuning.cached(_key())
    assert chosen in algorithms.ESTIMATES
    calls = _spy(monkeypatch)
    monkeypatch.setenv("TCONV_TUNE", "1")
    tconv.conv_transpose(x, w, **GEOM)  # measured already: one call, no new timing
    assert calls[chosen] == 1 and sum(calls.values()) == 1
    with tconv.autotune(False):
        assert not tuning.enabled()


def test_without_opt_in_nothing_is_measured_or_written(cache):
    x, w = _data()
    tconv.conv_transpose(x, w, **GEOM)
    assert not cache.exists()


def test_bad_arguments_are_refused(cache, monkeypatch):
    with pytest.raises(tconv.TconvError, match=r"tune: dtype must be one of"):
        tconv.tune(X_SHAPE, W_SHAPE, dtype="int8")
    with pytest.raises(tconv.TconvError, match=r"tune: x_shape must be a non-empty tuple"):
        tconv.tune(5, W_SHAPE)
    with pytest.raises(tconv.TconvError, match=r"tune: weight.shape\[0\] must equal C_in"):
        tconv.tune((1, 4, 5, 5), W_SHAPE)
    with pytest.raises(tconv.TconvError, match=r"tune: x_shape must have a batch of at least 1"):
        tconv.tune((0, 3, 5, 5), W_SHAPE)
    with pytest.raises(tconv.TconvError, match=r"autotune: enabled must be True or False"):
        with tconv.autotune("yes"):
            pass
    monkeypatch.setenv("TCONV_TUNE", "maybe")
    with pytest.raises(tconv.TconvError, match=r"TCONV_TUNE must be one of .* got 'maybe'"):
        tuning.enabled()


def test_an_unwritable_cache_folder_is_a_clear_error(tmp_path, monkeypatch):
    blocker = tmp_path / "file"
    blocker.write_text("")
    monkeypatch.setenv("TCONV_CACHE_DIR", str(blocker / "sub"))
    with pytest.raises(tconv.TconvError, match=r"tune: cannot write the tuning cache .* set TCONV_CACHE_DIR"):
        tconv.tune(X_SHAPE, W_SHAPE, repeats=1, **GEOM)


def test_tuning_respects_the_memory_budget(cache):
    with tconv.memory_budget(1000):
        with pytest.raises(tconv.TconvError, match=r"tune"):
            tconv.tune((4, 64, 32, 32), (64, 64, 4, 4), stride=2, padding=1)
    assert not cache.exists()
