"""The benchmark's layers: transposed convolutions taken from well-known models.

Each case is PyTorch-style (symmetric ``padding``, ``output_padding`` at the end),
float32, with the model it comes from. ``tiny()`` shrinks a case to a shape that
runs in milliseconds (``--quick``) while keeping its kernel, stride, dilation,
padding and group structure.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace


@dataclass(frozen=True)
class Case:
    name: str
    source: str
    batch: int
    c_in: int
    c_out: int
    size: tuple[int, ...]
    kernel: tuple[int, ...]
    stride: tuple[int, ...]
    padding: tuple[int, ...]
    output_padding: tuple[int, ...] = ()
    dilation: tuple[int, ...] = ()
    groups: int = 1
    gemm_bound: bool = False  # held to the >= 70 % of GEMM rate target

    def __post_init__(self) -> None:
        nd = len(self.size)
        if not self.output_padding:
            object.__setattr__(self, "output_padding", (0,) * nd)
        if not self.dilation:
            object.__setattr__(self, "dilation", (1,) * nd)

    @property
    def ndim(self) -> int:
        return len(self.size)

    @property
    def x_shape(self) -> tuple[int, ...]:
        return (self.batch, self.c_in) + self.size

    @property
    def w_shape(self) -> tuple[int, ...]:
        return (self.c_in, self.c_out // self.groups) + self.kernel

    @property
    def out_size(self) -> tuple[int, ...]:
        return tuple(
            (n - 1) * s - 2 * p + d * (k - 1) + op + 1
            for n, k, s, p, op, d in zip(
                self.size, self.kernel, self.stride, self.padding, self.output_padding, self.dilation
            )
        )

    @property
    def y_shape(self) -> tuple[int, ...]:
        return (self.batch, self.c_out) + self.out_size

    @property
    def flops(self) -> int:
        """``2 * N * C_in * (C_out/g) * prod(n) * prod(k)``: every multiply of the definition."""
        return 2 * self.batch * self.c_in * (self.c_out // self.groups) * math.prod(self.size) * math.prod(self.kernel)

    def kwargs(self) -> dict:
        """Keyword arguments of ``tconv.conv_transpose`` (and PyTorch's functional form)."""
        return dict(
            stride=self.stride,
            padding=self.padding,
            output_padding=self.output_padding,
            dilation=self.dilation,
            groups=self.groups,
        )

    def describe(self) -> str:
        def axes(v: tuple[int, ...]) -> str:
            return "x".join(map(str, v)) if len(set(v)) > 1 else f"{v[0]}" + (f"^{len(v)}" if len(v) > 2 else "")

        parts = [f"N={self.batch} {self.c_in}->{self.c_out} {'x'.join(map(str, self.size))}",
                 f"k{axes(self.kernel)} s{axes(self.stride)} p{axes(self.padding)}"]
        if any(self.output_padding):
            parts.append(f"op{axes(self.output_padding)}")
        if any(d > 1 for d in self.dilation):
            parts.append(f"d{axes(self.dilation)}")
        if self.groups > 1:
            parts.append(f"g{self.groups}")
        return " ".join(parts)

    def tiny(self) -> "Case":
        """The same layer structure at a size that runs in milliseconds."""
        shrink = max(1, min(self.c_in, self.c_out) // 4)
        if self.groups > 1:
            groups = max(1, self.groups // shrink)
            c_in = groups * (self.c_in // self.groups)
            c_out = groups * (self.c_out // self.groups)
        else:
            groups, c_in, c_out = 1, max(1, self.c_in // shrink), max(1, self.c_out // shrink)
        size = tuple(min(n, 6) for n in self.size)
        kernel = tuple(min(k, 8) for k in self.kernel)
        stride = tuple(min(s, 4) for s in self.stride)
        padding = tuple(min(p, (k - 1) * d // 2) for p, k, d in zip(self.padding, kernel, self.dilation))
        output_padding = tuple(min(op, max(s, d) - 1) for op, s, d in zip(self.output_padding, stride, self.dilation))
        return replace(
            self, batch=1, c_in=c_in, c_out=c_out, groups=groups, size=size, kernel=kernel,
            stride=stride, padding=padding, output_padding=output_padding,
        )


CASES: tuple[Case, ...] = (
    Case("dcgan_1024_512", "DCGAN 64x64 generator (Radford et al. 2016), 2nd layer", 64, 1024, 512,
         (4, 4), (4, 4), (2, 2), (1, 1), gemm_bound=True),
    Case("dcgan_256_128", "DCGAN 64x64 generator, 4th layer", 64, 256, 128,
         (16, 16), (4, 4), (2, 2), (1, 1), gemm_bound=True),
    Case("dcgan_128_3", "DCGAN 64x64 generator, output layer", 64, 128, 3,
         (32, 32), (4, 4), (2, 2), (1, 1)),
    Case("keras_mnist_dcgan", "Keras MNIST DCGAN generator, Conv2DTranspose(64, 5, 2, 'same')", 256, 128, 64,
         (7, 7), (5, 5), (2, 2), (2, 2), output_padding=(1, 1)),
    Case("unet_up", "U-Net (Ronneberger et al. 2015) up-convolution", 4, 512, 256,
         (64, 64), (2, 2), (2, 2), (0, 0), gemm_bound=True),
    Case("fcn32s_score", "FCN-32s (Long et al. 2015) score upsampling, PASCAL VOC", 1, 21, 21,
         (16, 16), (64, 64), (32, 32), (16, 16)),
    Case("fcn8s_score", "FCN-8s final score upsampling, PASCAL VOC", 1, 21, 21,
         (64, 64), (16, 16), (8, 8), (4, 4)),
    Case("unet3d_k2", "3-D U-Net (Cicek et al. 2016) up-convolution", 2, 128, 64,
         (16, 16, 16), (2, 2, 2), (2, 2, 2), (0, 0, 0)),
    Case("unet3d_k4", "3-D U-Net variant with k4 s2 p1 up-convolution", 1, 64, 32,
         (16, 16, 16), (4, 4, 4), (2, 2, 2), (1, 1, 1)),
    Case("hifigan_up1", "HiFi-GAN V1 (Kong et al. 2020) first upsampler", 8, 512, 256,
         (256,), (16,), (8,), (4,), gemm_bound=True),
    Case("wavegan_l4", "WaveGAN generator (Donahue et al. 2019) 4th layer", 16, 128, 64,
         (1024,), (25,), (4,), (11,), output_padding=(1,), gemm_bound=True),
    Case("depthwise_up2", "depthwise 2x upsampler (MobileNet-style decoders)", 8, 256, 256,
         (64, 64), (4, 4), (2, 2), (1, 1), groups=256),
    Case("dilated_k3_d2", "dilated transposed conv (dilated decoders)", 8, 64, 64,
         (32, 32), (3, 3), (2, 2), (2, 2), output_padding=(1, 1), dilation=(2, 2)),
    Case("fsrcnn_x3", "FSRCNN (Dong et al. 2016) x3 deconvolution output layer", 1, 56, 1,
         (64, 64), (9, 9), (3, 3), (4, 4), output_padding=(2, 2)),
    Case("pix2pix_dec", "pix2pix U-Net generator (Isola et al. 2017) decoder layer", 1, 1024, 512,
         (16, 16), (4, 4), (2, 2), (1, 1)),
)


def select(names: str | None) -> tuple[Case, ...]:
    """The cases whose names contain any of the comma-separated substrings (all if ``None``)."""
    if not names:
        return CASES
    wanted = [w.strip() for w in names.split(",") if w.strip()]
    chosen = tuple(c for c in CASES if any(w in c.name for w in wanted))
    if not chosen:
        raise SystemExit(f"no case matches {names!r}; cases: {', '.join(c.name for c in CASES)}")
    return chosen
