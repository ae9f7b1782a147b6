import os

# keras reads KERAS_BACKEND once, at its first import, whichever test module imports it first.
os.environ.setdefault("KERAS_BACKEND", "jax")

# auto's choices must not depend on what this machine's user once tuned (tconv.tune's cache)
import tempfile  # noqa: E402

os.environ["TCONV_CACHE_DIR"] = tempfile.mkdtemp(prefix="tconv-test-cache-")
os.environ.pop("TCONV_TUNE", None)
