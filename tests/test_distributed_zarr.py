"""tconv.distributed.apply_zarr and ``tconv apply``: Zarr in, Zarr out, resumable, on threads and on a real cluster."""

from __future__ import annotations

import os
import threading
import time

import numpy as np
import pytest

zarr = pytest.importorskip("zarr")
dask = pytest.importorskip("dask")
pytest.importorskip("dask.array")

from support import assert_close  # noqa: E402

from tconv import distributed, nn  # noqa: E402
from tconv.cli import main  # noqa: E402
from tconv.errors import TconvError  # noqa: E402


def _decoder(seed: int = 0) -> nn.Sequential:
    return nn.Sequential(
        nn.ConvTranspose2d(3, 4, 4, stride=2, padding=1, rng=seed, dtype=np.float64), nn.LeakyReLU(0.1),
        nn.Conv2d(4, 2, 3, padding=1, rng=seed + 1, dtype=np.float64),
    ).eval()


@pytest.fixture
def source(tmp_path):
    x = np.random.default_rng(1).standard_normal((2, 3, 13, 10))
    z = zarr.create_array(str(tmp_path / "in.zarr"), shape=x.shape, chunks=(1, 3, 5, 4), dtype=x.dtype)
    z[...] = x
    return x, str(tmp_path / "in.zarr")


def test_apply_zarr_writes_the_models_output_in_aligned_chunks(source, tmp_path):
    x, path = source
    model = _decoder()
    out = str(tmp_path / "out.zarr")
    result = distributed.apply_zarr(model, path, out, progress=False)
    group = zarr.open_group(out, mode="r")
    assert group["data"].chunks == (1, 2, 10, 8) == result.chunks  # stride x the input's chunks
    assert result.computed == result.blocks == 2 * 3 * 3
    assert_close(group["data"][...], model(x))
    assert group["complete"][...].all()


def test_a_rerun_computes_only_the_blocks_not_marked_complete(source, tmp_path):
    x, path = source
    model = _decoder()
    out = str(tmp_path / "out.zarr")
    distributed.apply_zarr(model, path, out, chunks=(7, 6), progress=False)
    group = zarr.open_group(out, mode="a")
    # an interruption: two blocks unmarked, one of them holding garbage (half-written), one left unwritten
    group["data"][0, :, 7:14, 6:12] = 1e9
    group["complete"][0, 0, 1, 1] = 0
    group["data"][1, :, 0:7, 0:6] = 0
    group["complete"][1, 0, 0, 0] = 0
    again = distributed.apply_zarr(model, path, out, chunks=(7, 6), progress=False)
    assert (again.computed, again.skipped) == (2, again.blocks - 2)
    assert_close(zarr.open_group(out, mode="r")["data"][...], model(x))
    assert distributed.apply_zarr(model, path, out, chunks=(7, 6), progress=False).computed == 0


def test_a_block_that_fails_after_its_data_is_written_is_not_marked_and_a_rerun_completes_it(source, tmp_path,
                                                                                              monkeypatch):
    x, path = source
    model = _decoder()
    out = str(tmp_path / "out.zarr")
    real = distributed.store.write_block
    calls = []

    def dies_before_its_flag(pipe, src, data, record, index, rows, chains):
        calls.append(index)
        if len(calls) == 3:  # the data is written, the worker dies before the flag
            data[(rows, slice(None)) + tuple(slice(*c[-1]) for c in chains)] = -1.0
            raise RuntimeError("worker died")
        return real(pipe, src, data, record, index, rows, chains)

    monkeypatch.setattr(distributed.store, "write_block", dies_before_its_flag)
    with pytest.raises(RuntimeError, match="worker died"), dask.config.set(scheduler="synchronous"):
        distributed.apply_zarr(model, path, out, progress=False)
    monkeypatch.setattr(distributed.store, "write_block", real)
    flags = zarr.open_group(out, mode="r")["complete"][...]
    assert flags[calls[2]] == 0 and flags.sum() == 2
    again = distributed.apply_zarr(model, path, out, progress=False)
    assert again.computed == flags.size - flags.sum()
    assert_close(zarr.open_group(out, mode="r")["data"][...], model(x))


def test_a_rerun_with_another_model_input_or_chunking_refuses_to_resume(source, tmp_path):
    x, path = source
    out = str(tmp_path / "out.zarr")
    distributed.apply_zarr(_decoder(), path, out, progress=False)
    with pytest.raises(TconvError, match="refusing to resume: the model changed"):
        distributed.apply_zarr(_decoder(seed=5), path, out, progress=False)
    with pytest.raises(TconvError, match="the output chunking changed"):
        distributed.apply_zarr(_decoder(), path, out, chunks=4, progress=False)
    z = zarr.open_array(path, mode="a")
    z[0, 0, 0, 0] = 42.0
    with pytest.raises(TconvError, match="the input changed"):
        distributed.apply_zarr(_decoder(), path, out, progress=False)


def test_apply_zarr_refuses_bad_stores_and_chunks(source, tmp_path):
    _, path = source
    with pytest.raises(TconvError, match="does not exist"):
        distributed.apply_zarr(_decoder(), str(tmp_path / "missing.zarr"), str(tmp_path / "o.zarr"))
    (tmp_path / "empty").mkdir()
    with pytest.raises(TconvError, match="'.*empty' holds none"):
        distributed.apply_zarr(_decoder(), str(tmp_path / "empty"), str(tmp_path / "o.zarr"))
    with pytest.raises(TconvError, match="chunks must be one positive int or 2"):
        distributed.apply_zarr(_decoder(), path, str(tmp_path / "o.zarr"), chunks=(1, 2, 3))
    with pytest.raises(TconvError, match="takes 4 channels"):
        distributed.apply_zarr(nn.Sequential(nn.Conv2d(4, 1, 3)), path, str(tmp_path / "o.zarr"))


def test_the_command_runs_a_saved_model_and_resumes(source, tmp_path, capsys):
    x, path = source
    model = _decoder()
    nn.save(model, str(tmp_path / "model"))
    out = str(tmp_path / "out.zarr")
    assert main(["apply", str(tmp_path / "model"), "--input", path, "--output", out, "--quiet"]) == 0
    assert "18 block(s) computed" in capsys.readouterr().out
    assert_close(zarr.open_group(out, mode="r")["data"][...], model(x))
    assert main(["apply", str(tmp_path / "model"), "--input", path, "--output", out, "--quiet"]) == 0
    assert "0 block(s) computed, 18 already complete" in capsys.readouterr().out
    for argv, words in [
        (["--chunks", "3"], "the output chunking changed"),
        (["--memory-limit", "1GiB"], "--memory-limit needs --workers"),
        (["--workers", "0"], "--workers must be >= 1"),
    ]:
        assert main(["apply", str(tmp_path / "model"), "--input", path, "--output", out, *argv]) == 2
        err = capsys.readouterr().err
        assert err.startswith("tconv apply: ") and words in err and len(err.strip().splitlines()) == 1
    assert main(["apply", str(tmp_path / "nothing"), "--input", path, "--output", out]) == 2
    assert "model.json and weights.npz" in capsys.readouterr().err


@pytest.fixture(scope="module")
def client():
    distributed_ = pytest.importorskip("distributed")
    saved = dict(os.environ)  # the cluster sets OMP_NUM_THREADS, MALLOC_TRIM_THRESHOLD_, ... here for its workers
    try:
        with distributed_.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, memory_limit="1GiB",
                                       dashboard_address=None) as cluster, distributed_.Client(cluster) as c:
            yield c
    finally:
        os.environ.clear()
        os.environ.update(saved)


def test_apply_zarr_on_a_local_cluster_of_two_worker_processes(client, source, tmp_path):
    x, path = source
    model = _decoder()
    out = str(tmp_path / "out.zarr")
    result = distributed.apply_zarr(model, path, out, chunks=(5, 4), client=client, progress=False)
    assert len(client.scheduler_info()["workers"]) == 2
    assert result.computed == result.blocks
    assert_close(zarr.open_group(out, mode="r")["data"][...], model(x))
    lazy = distributed.apply(model, dask.array.from_zarr(path))
    assert_close(client.compute(lazy).result(), model(x))


@pytest.mark.slow  # about 20 s on two busy cores: a worker process restarts (benchmarks/scale.py kills one too)
def test_a_worker_killed_mid_run_loses_nothing(client, tmp_path):
    # enough blocks that the run is still going when one of the two worker processes dies
    x = np.random.default_rng(2).standard_normal((1, 3, 64, 48))
    path = str(tmp_path / "in.zarr")
    zarr.create_array(path, shape=x.shape, chunks=(1, 3, 8, 8), dtype=x.dtype)[...] = x
    model = _decoder()
    out = str(tmp_path / "out.zarr")
    done: dict = {}
    run = threading.Thread(target=lambda: done.update(result=distributed.apply_zarr(
        model, path, out, chunks=(8, 8), client=client, progress=False)))
    run.start()
    record = None
    for _ in range(600):
        time.sleep(0.02)
        try:
            record = zarr.open_array(out + "/complete", mode="r")
            if record[...].any():
                break
        except (FileNotFoundError, KeyError, ValueError):
            continue
    at_kill = int(record[...].sum())
    victim = sorted(client.scheduler_info()["workers"])[0]
    try:
        client.run(os._exit, 1, workers=[victim])
    except Exception:  # noqa: BLE001 - the worker dies before it answers
        pass
    run.join(timeout=120)
    assert not run.is_alive()
    assert done["result"].computed == done["result"].blocks
    assert 0 < at_kill < done["result"].blocks  # the worker died mid-run
    assert_close(zarr.open_group(out, mode="r")["data"][...], model(x))
    assert zarr.open_group(out, mode="r")["complete"][...].all()
