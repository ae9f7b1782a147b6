"""The real JAX as an oracle in subprocesses that outlive XLA aborting them.

XLA's CPU compiler kills the interpreter (``Check failed``, SIGABRT) on some
transposed convolutions: its algebraic simplifier swaps the operands of a
convolution with a base-dilated axis whose kernel is 2 and whose padding is
(0, 0), and builds a window the new kernel does not have (docs/peer-findings.md).
:func:`run_batch` runs many ``jax.lax.conv_transpose`` calls in one fresh
interpreter, each result written as it comes; when the interpreter dies of a
signal, the case it died on is ``("abort", message)`` and a new interpreter
carries on with the next one. Such a case must be that abort, and is run again
with the simplifier off (the convolution it computes is the same).
"""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
import tempfile
import warnings

import numpy as np

#: what XLA prints when the simplifier's operand swap builds a window the swapped kernel does not have
SWAP_ABORT = "Window dimensions do not match RHS shape"
#: XLA_FLAGS that turn XLA's algebraic simplifier, where that swap happens, off
WITHOUT_SIMPLIFIER = "--xla_disable_hlo_passes=algsimp"

_HERE = os.path.dirname(os.path.abspath(__file__))
_WORKER = "import sys; sys.path.insert(0, sys.argv[1]); import jax_support; jax_support.serve(*sys.argv[2:])"


def conv_transpose(case: dict) -> np.ndarray:
    """``jax.lax.conv_transpose(case["x"], case["w"], **case["kwargs"])`` as a NumPy array."""
    import jax

    return np.asarray(jax.lax.conv_transpose(case["x"], case["w"], **case["kwargs"]))


def serve(cases_path: str, results_path: str, start: str) -> None:
    """The worker: the cases from index ``start`` on, each ``("ok", y)`` or ``("error", message)`` appended as it ends."""
    with open(cases_path, "rb") as f:
        cases = pickle.load(f)
    with open(results_path, "ab") as out:
        for case in cases[int(start):]:
            try:
                result = ("ok", conv_transpose(case))
            except Exception as exc:  # a refusal, recorded: the caller decides
                result = ("error", f"{type(exc).__name__}: {exc}")
            pickle.dump(result, out)
            out.flush()  # written before the next case can kill the process


def _read(path: str) -> list:
    results = []
    if os.path.exists(path):
        with open(path, "rb") as f:
            while True:
                try:
                    results.append(pickle.load(f))
                except EOFError:
                    return results
    return results


def _reason(stderr: str) -> str:
    """XLA's ``Check failed`` line, or the end of what the process wrote."""
    for line in stderr.splitlines():
        if "Check failed" in line:
            return line.strip()[:400]
    return stderr[-400:]


def run_once(cases: list[dict], *, xla_flags: str | None = None, timeout: float = 600) -> list[tuple[str, object]]:
    """Every case, in as many fresh interpreters as it takes: ``("ok", y)``, ``("error", message)`` or
    ``("abort", message)`` (the interpreter died of a signal on that case) per case."""
    env = dict(os.environ, JAX_PLATFORMS="cpu")
    if xla_flags:
        env["XLA_FLAGS"] = f"{env.get('XLA_FLAGS', '')} {xla_flags}".strip()
    results: list = []
    with tempfile.TemporaryDirectory() as tmp:
        cases_path = os.path.join(tmp, "cases.pkl")
        with open(cases_path, "wb") as f:
            pickle.dump(cases, f)
        while len(results) < len(cases):
            results_path = os.path.join(tmp, f"results-{len(results)}.pkl")
            done = subprocess.run([sys.executable, "-c", _WORKER, _HERE, cases_path, results_path, str(len(results))],
                                  capture_output=True, text=True, timeout=timeout, env=env)  # fmt: skip
            results += _read(results_path)
            if len(results) == len(cases):
                break
            if done.returncode >= 0:  # not killed by a signal: the worker itself is broken
                raise RuntimeError(f"the JAX subprocess failed ({done.returncode}): {done.stderr[-3000:]}")
            results.append(("abort", f"signal {-done.returncode}: {_reason(done.stderr)}"))
    return results


def run_batch(cases: list[dict], timeout: float = 600) -> list[tuple[str, object]]:
    """:func:`run_once`, each abort checked to be XLA's operand-swap abort and run again with the simplifier off."""
    results = run_once(cases, timeout=timeout)
    aborted = [i for i, (status, _) in enumerate(results) if status == "abort"]
    for i in aborted:
        assert SWAP_ABORT in results[i][1], (cases[i]["kwargs"], results[i][1])
    if aborted:
        again = run_once([cases[i] for i in aborted], xla_flags=WITHOUT_SIMPLIFIER, timeout=timeout)
        for i, result in zip(aborted, again):
            results[i] = result
        warnings.warn(f"XLA aborted on {len(aborted)} of {len(cases)} JAX runs (its operand swap, "
                      "docs/peer-findings.md); they ran again with the algebraic simplifier off", stacklevel=2)  # fmt: skip
    return results
