import os

# keras reads KERAS_BACKEND once, at its first import, whichever test module imports it first.
os.environ.setdefault("KERAS_BACKEND", "jax")

# auto's choices must not depend on what this machine's user once tuned (tconv.tune's cache)
import tempfile  # noqa: E402

os.environ["TCONV_CACHE_DIR"] = tempfile.mkdtemp(prefix="tconv-test-cache-")
os.environ.pop("TCONV_TUNE", None)

# ``import openvino`` sends a usage event over the network unless it runs in CI (``CI=true``), which
# it checks at its first import: the tests import it once here so, and restore the variable.
_ci = os.environ.get("CI")
os.environ["CI"] = "true"
try:
    import openvino  # noqa: E402, F401
except ImportError:
    pass
finally:
    if _ci is None:
        del os.environ["CI"]
    else:
        os.environ["CI"] = _ci

