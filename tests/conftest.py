import os

# keras reads KERAS_BACKEND once, at its first import, whichever test module imports it first.
os.environ.setdefault("KERAS_BACKEND", "jax")
