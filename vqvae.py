# Copyright (c) 2026 the keras-single-files authors. MIT License:
# Permission is hereby granted, free of charge, to any person obtaining a copy of this software
# and associated documentation files (the "Software"), to deal in the Software without
# restriction, including without limitation the rights to use, copy, modify, merge, publish,
# distribute, sublicense, and/or sell copies of the Software, and to permit persons to whom the
# Software is furnished to do so, subject to the following conditions: The above copyright
# notice and this permission notice shall be included in all copies or substantial portions of
# the Software. THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR
# IMPLIED, INCLUDING BUT NOT LIMITED TO THE WARRANTIES OF MERCHANTABILITY, FITNESS FOR A
# PARTICULAR PURPOSE AND NONINFRINGEMENT. IN NO EVENT SHALL THE AUTHORS OR COPYRIGHT HOLDERS BE
# LIABLE FOR ANY CLAIM, DAMAGES OR OTHER LIABILITY, WHETHER IN AN ACTION OF CONTRACT, TORT OR
# OTHERWISE, ARISING FROM, OUT OF OR IN CONNECTION WITH THE SOFTWARE OR THE USE OR OTHER
# DEALINGS IN THE SOFTWARE.
"""VQ-VAE with a PixelCNN prior: discrete image codes, trained with plain `model.fit`.

A VQ-VAE (van den Oord, Vinyals and Kavukcuoglu, "Neural Discrete Representation Learning",
2017) encodes an image into a small grid of vectors, replaces each vector by its nearest entry
in a learned codebook of K codes, and decodes the grid back into an image. The lookup has no
gradient, so the decoder's gradient is copied to the encoder unchanged (straight-through:
z + sg(q - z)); the codebook learns from ||sg(z) - e||^2 (or from moving averages, `ema=True`)
and the encoder is held near its codes by beta * ||z - sg(e)||^2. An image costs grid cells x
log2(K) bits. New images come from an autoregressive PixelCNN fitted to the code grids. The
quantiser initialises its codes by k-means on the first training batch, restarts unused codes,
and reports perplexity and the fraction of codes used, which reveal codebook collapse.

Usage:

    import keras, vqvae
    from sklearn.datasets import load_digits
    images = load_digits().images[..., None] / 16.0        # (1797, 8, 8, 1) in [0, 1]
    model = vqvae.VQVAE((8, 8, 1), num_codes=32)             # 4 x 4 grid, 80 bits an image
    model.compile(keras.optimizers.Adam(2e-3), loss="mse")
    model.fit(images, images, epochs=40, batch_size=64)      # logs perplexity, codes_used
    codes = model.encode(images)                             # (1797, 4, 4) int32
    model.fit_prior(images, epochs=10)                       # PixelCNN over the code grids
    samples, _ = model.sample(16)                            # (16, 8, 8, 1)

Requirements: `pip install keras numpy` and one backend, `tensorflow-cpu`, `jax` or `torch`
(all three tested). The demo, `python vqvae.py`, also needs `pip install scikit-learn
matplotlib` (its digits, its figure). Copy this file, keep this header. Licence: MIT.
"""

__version__ = "0.2.0"
__all__ = [
    "CodebookUsage", "VectorQuantizer", "ResidualBlock", "MaskedConv2D", "GatedMaskedBlock",
    "build_encoder", "build_decoder", "build_prior", "sample_codes", "VQVAE",
]

import argparse
import math
import os

import keras
import numpy as np
from keras import ops

_register = keras.saving.register_keras_serializable(package="vqvae")


# ----------------------------------------------------------------------------- helpers

def _check_int(name: str, value, low: int, odd: bool = False) -> int:
    expected = f"an {'odd ' if odd else ''}integer >= {low}"
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"`{name}` must be {expected}, received {type(value).__name__} {value!r}.")
    if value < low or (odd and value % 2 != 1):
        raise ValueError(f"`{name}` must be {expected}, received {value}.")
    return int(value)


def _check_float(name: str, value, expected: str, holds) -> float:
    """`value` as a float if it is a finite real number for which `holds(value)` is true."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"`{name}` must be a number {expected}, received "
                        f"{type(value).__name__} {value!r}.")
    if not (math.isfinite(value) and holds(value)):
        raise ValueError(f"`{name}` must be a finite number {expected}, received {value!r}.")
    return float(value)


def _check_sizes(**sizes) -> None:
    """Layer sizes: integers >= 1 (>= 0 for counts of optional stages, >= 2 for `num_codes`)."""
    for name, value in sizes.items():
        _check_int(name, value, {"num_codes": 2, "num_downsamples": 0, "num_residual": 0}
                   .get(name, 1))


def _squared_distances(flat, codebook):
    """(N, K) squared distances as |z|^2 - 2 z.e + |e|^2: no (N, K, D) tensor is formed."""
    cross = ops.matmul(flat, ops.transpose(codebook))                      # (N, K)
    return ops.sum(flat**2, axis=1, keepdims=True) - 2.0 * cross + ops.sum(codebook**2, axis=1)


# ----------------------------------------------------------------------------- quantiser

@_register
class CodebookUsage(keras.metrics.Metric):
    """Perplexity and fraction of codes used, from a code histogram kept over a whole epoch.

    `update_state(counts)` adds one batch's (K,) code histogram; summed over the epoch, both
    numbers describe the whole evaluation set, whatever the batch size. `result()` returns
    `{"perplexity": exp(entropy of code frequencies), "codes_used": fraction with count > 0}`.
    """

    def __init__(self, num_codes: int, name: str = "codebook_usage", **kwargs):
        super().__init__(name=name, **kwargs)
        self.num_codes = _check_int("num_codes", num_codes, 2)
        self.counts = self.add_variable(shape=(self.num_codes,), initializer="zeros", name="counts")

    def update_state(self, counts, sample_weight=None):
        self.counts.assign_add(ops.cast(counts, self.counts.dtype))

    def result(self):
        p = self.counts / ops.maximum(ops.sum(self.counts), 1.0)
        entropy = -ops.sum(ops.where(p > 0, p * ops.log(ops.maximum(p, 1e-30)), 0.0))
        return {"perplexity": ops.exp(entropy),
                "codes_used": ops.mean(ops.cast(self.counts > 0, "float32"))}

    def reset_state(self):
        self.counts.assign(ops.zeros((self.num_codes,)))

    def get_config(self):
        return {**super().get_config(), "num_codes": self.num_codes}


@_register
class VectorQuantizer(keras.layers.Layer):
    """Replaces each input vector by its nearest codebook entry, with a straight-through gradient.

    The layer adds `beta * mean((z - sg(e))^2)` (commitment loss) and, unless `ema=True`,
    `mean((sg(z) - e)^2)` (codebook loss) with `add_loss`. On the first training call the codes
    are set by k-means on that batch, so no code starts far from the data. With `ema=True` the
    codebook is not trained by gradients: codes follow exponential moving averages of the
    vectors assigned to them (Laplace-smoothed counts). Codes unused for `restart_after`
    consecutive training steps are re-seeded from random vectors of the current batch.

    Args:
        num_codes: K, the codebook size (>= 2).
        beta: weight of the commitment loss (>= 0; the paper's 0.25).
        ema: update codes by moving averages instead of the codebook loss.
        decay: EMA decay in (0, 1).
        epsilon: Laplace smoothing of the EMA counts.
        restart_after: training steps a code may go unused before a restart; 0 disables.
        kmeans_iters: Lloyd iterations of the data initialisation.
        seed: seed of the initialisation and restart draws.

    Call arguments:
        inputs: float tensor (..., D), e.g. (B, H, W, D).
        training: whether to initialise, update EMA statistics and restart codes.
        return_codes: also return the int32 code indices, shape (...).

    Returns:
        The quantised tensor, same shape as `inputs` (and the codes if `return_codes`).
    """

    def __init__(self, num_codes: int, beta: float = 0.25, ema: bool = False,
                 decay: float = 0.99, epsilon: float = 1e-5, restart_after: int = 100,
                 kmeans_iters: int = 10, seed: int | None = None, **kwargs):
        super().__init__(**kwargs)
        self.num_codes = _check_int("num_codes", num_codes, 2)
        self.beta = _check_float("beta", beta, ">= 0", lambda v: v >= 0)
        self.decay = _check_float("decay", decay, "in (0, 1)", lambda v: 0 < v < 1)
        self.epsilon = _check_float("epsilon", epsilon, "> 0", lambda v: v > 0)
        if not isinstance(ema, (bool, np.bool_)):
            raise TypeError(f"`ema` must be True or False, received {ema!r}.")
        self.ema = bool(ema)
        self.restart_after = _check_int("restart_after", restart_after, 0)
        self.kmeans_iters = _check_int("kmeans_iters", kmeans_iters, 0)
        self.seed = None if seed is None else _check_int("seed", seed, 0)
        self.seed_generator = keras.random.SeedGenerator(seed)

    def build(self, input_shape):
        k, d = self.num_codes, input_shape[-1]
        # Keras writes only non-trainable variables portably from inside `call` (a stateless
        # training step keeps no writes to trainable ones), so data initialisation, restarts
        # and EMA updates all write into `codebook_shift`; the codes are codebook + shift.
        def state(name, shape, initializer="zeros"):
            return self.add_weight(shape=shape, initializer=initializer, trainable=False,
                                   name=name)
        self.codebook = self.add_weight(shape=(k, d), initializer="random_uniform",
                                        trainable=not self.ema, name="codebook")
        self.codebook_shift = state("codebook_shift", (k, d))
        self.ema_counts = state("ema_counts", (k,), "ones")
        self.ema_sums = state("ema_sums", (k, d))
        self.unused_steps, self.initialized = state("unused_steps", (k,)), state("initialized", ())
        # The latest call's code histogram: JAX's traced step keeps variable writes, not metric
        # updates, from `call`, so the model feeds its `CodebookUsage` from this variable.
        self.batch_counts = state("batch_counts", (k,))

    @property
    def embeddings(self):
        """The current codes, (K, D)."""
        return self.codebook + self.codebook_shift

    def nearest_codes(self, vectors):
        """Index of the nearest code for each vector of (..., D); no side effects."""
        flat = ops.reshape(vectors, (-1, ops.shape(vectors)[-1]))
        codes = ops.argmin(_squared_distances(flat, self.embeddings), axis=1)
        return ops.reshape(ops.cast(codes, "int32"), ops.shape(vectors)[:-1])

    def initialize_codebook(self, values) -> None:
        """Sets all codes to `values` (K, D) and marks the codebook initialised."""
        values = ops.convert_to_tensor(values, dtype=self.codebook.dtype)
        self._overwrite(ops.ones((self.num_codes,), dtype="bool"), values)
        self.initialized.assign(1.0)

    def _overwrite(self, mask, values):
        """Writes `values` into the codes where `mask` (K,) holds; their EMA restarts from them."""
        # `.value`: JAX's `where` takes arrays, not Keras variables
        self.codebook_shift.assign(ops.where(mask[:, None], values - self.codebook.value,
                                             self.codebook_shift.value))
        self.ema_sums.assign(ops.where(mask[:, None], values, self.ema_sums.value))
        self.ema_counts.assign(ops.where(mask, 1.0, self.ema_counts.value))
        self.unused_steps.assign(ops.where(mask, 0.0, self.unused_steps.value))

    def _kmeans(self, flat, order):
        """Lloyd's k-means on one batch, started from its vectors `order[:K]` (a permutation)."""
        centres = ops.take(flat, ops.take(order, ops.arange(self.num_codes) % ops.shape(flat)[0]),
                           axis=0)
        for _ in range(self.kmeans_iters):
            assign = ops.one_hot(ops.argmin(_squared_distances(flat, centres), axis=1),
                                 self.num_codes)                          # (N, K)
            counts = ops.sum(assign, axis=0)[:, None]                     # (K, 1)
            means = ops.matmul(ops.transpose(assign), flat) / ops.maximum(counts, 1.0)
            centres = ops.where(counts > 0, means, centres)
        return centres

    def _train_step_updates(self, flat, assign, counts):
        """EMA statistics and dead-code restarts after one training batch."""
        if self.ema:
            d = self.decay
            ema_counts = d * self.ema_counts + (1 - d) * counts
            ema_sums = d * self.ema_sums + (1 - d) * ops.matmul(ops.transpose(assign), flat)
            total = ops.sum(ema_counts)
            # Laplace smoothing keeps a code with a near-zero count from dividing by zero.
            smoothed = (ema_counts + self.epsilon) / (total + self.num_codes * self.epsilon)
            self.ema_counts.assign(ema_counts)
            self.ema_sums.assign(ema_sums)
            self.codebook_shift.assign(ema_sums / (smoothed * total)[:, None] - self.codebook)
        if self.restart_after:
            self.unused_steps.assign(ops.where(counts > 0, 0.0, self.unused_steps.value + 1))
            dead = self.unused_steps >= self.restart_after
            rows = keras.random.randint((self.num_codes,), 0, ops.shape(flat)[0],
                                        seed=self.seed_generator)
            self._overwrite(dead, ops.take(flat, rows, axis=0))

    def call(self, inputs, training=False, return_codes=False):
        flat = ops.reshape(inputs, (-1, ops.shape(inputs)[-1]))           # (N, D)
        if training:
            # k-means on the first training batch; later calls keep the codes as they are.
            # The random draw stays outside `cond`: JAX cannot update a seed inside a branch.
            fresh = self.initialized <= 0
            order = keras.random.shuffle(ops.arange(ops.shape(flat)[0]), seed=self.seed_generator)
            centres = ops.cond(fresh, lambda: self._kmeans(ops.stop_gradient(flat), order),
                               lambda: self.embeddings)
            self._overwrite(ops.broadcast_to(fresh, (self.num_codes,)), centres)
            self.initialized.assign(1.0)
        embeddings = self.embeddings
        codes = ops.argmin(_squared_distances(flat, embeddings), axis=1)  # (N,)
        assign = ops.one_hot(codes, self.num_codes)                        # (N, K)
        counts = ops.sum(assign, axis=0)                                   # (K,)
        self.batch_counts.assign(counts)
        quantized = ops.reshape(ops.take(embeddings, codes, axis=0), ops.shape(inputs))
        self.add_loss(self.beta * ops.mean((inputs - ops.stop_gradient(quantized)) ** 2))
        if not self.ema:
            self.add_loss(ops.mean((ops.stop_gradient(inputs) - quantized) ** 2))
        if training:
            self._train_step_updates(ops.stop_gradient(flat), assign, counts)
        outputs = inputs + ops.stop_gradient(quantized - inputs)          # straight-through
        if return_codes:
            return outputs, ops.reshape(ops.cast(codes, "int32"), ops.shape(inputs)[:-1])
        return outputs

    def get_config(self):
        return {**super().get_config(), "num_codes": self.num_codes, "beta": self.beta,
                "ema": self.ema, "decay": self.decay, "epsilon": self.epsilon,
                "restart_after": self.restart_after, "kmeans_iters": self.kmeans_iters,
                "seed": self.seed}


# ----------------------------------------------------------------------------- encoder / decoder

@_register
class ResidualBlock(keras.layers.Layer):
    """x + conv1x1(relu(conv3x3(relu(x)))), the paper's residual block."""

    def build(self, input_shape):
        self.conv3 = keras.layers.Conv2D(input_shape[-1], 3, padding="same")
        self.conv1 = keras.layers.Conv2D(input_shape[-1], 1)
        self.conv3.build(input_shape)
        self.conv1.build(input_shape)

    def call(self, x):
        return x + self.conv1(ops.relu(self.conv3(ops.relu(x))))


def build_encoder(image_shape: tuple, code_dim: int = 16, width: int = 64,
                  num_downsamples: int = 1, num_residual: int = 2) -> keras.Model:
    """Strided 4x4 convolutions (each halves H and W), residual blocks, 1x1 to D: a model
    from (B, H, W, C) images to (B, H / 2^s, W / 2^s, code_dim) vectors."""
    _check_sizes(code_dim=code_dim, width=width, num_downsamples=num_downsamples,
                 num_residual=num_residual)
    layers = [keras.Input(image_shape)]
    layers += [keras.layers.Conv2D(width, 4, strides=2, padding="same", activation="relu")
               for _ in range(num_downsamples)]
    layers += [keras.layers.Conv2D(width, 3, padding="same")]
    layers += [ResidualBlock() for _ in range(num_residual)]
    layers += [keras.layers.ReLU(), keras.layers.Conv2D(code_dim, 1)]
    return keras.Sequential(layers, name="encoder")


def build_decoder(grid_shape: tuple, channels: int, code_dim: int = 16, width: int = 64,
                  num_downsamples: int = 1, num_residual: int = 2) -> keras.Model:
    """Mirror of `build_encoder`: residual blocks, then transposed convolutions, sigmoid output."""
    _check_sizes(channels=channels, code_dim=code_dim, width=width,
                 num_downsamples=num_downsamples, num_residual=num_residual)
    layers = [keras.Input((*grid_shape, code_dim)),
              keras.layers.Conv2D(width, 3, padding="same")]
    layers += [ResidualBlock() for _ in range(num_residual)] + [keras.layers.ReLU()]
    layers += [keras.layers.Conv2DTranspose(width, 4, strides=2, padding="same",
                                            activation="relu") for _ in range(num_downsamples)]
    layers += [keras.layers.Conv2D(channels, 3, padding="same", activation="sigmoid")]
    return keras.Sequential(layers, name="decoder")


# ----------------------------------------------------------------------------- PixelCNN prior

# Kernel masks, centre at (c, c). Raster masks (PixelCNN): "A" sees the rows above and the
# positions left of the centre, "B" also the centre. Vertical masks (gated PixelCNN): "VA" sees
# only the rows above, "VB" also the centre row, whole kernel width in both cases.
_MASK_TYPES = ("A", "B", "VA", "VB")


@_register
class MaskedConv2D(keras.layers.Layer):
    """A 'same' convolution whose kernel is masked so outputs never see later positions.

    Args:
        filters: output channels.
        kernel_size: odd kernel height and width.
        mask_type: "A", "B", "VA" or "VB" (see `_MASK_TYPES` above).
    """

    def __init__(self, filters: int, kernel_size: int, mask_type: str, **kwargs):
        super().__init__(**kwargs)
        if mask_type not in _MASK_TYPES:
            raise ValueError(f"`mask_type` must be one of {_MASK_TYPES}, received {mask_type!r}.")
        self.filters, self.mask_type = _check_int("filters", filters, 1), mask_type
        self.kernel_size = _check_int("kernel_size", kernel_size, 1, odd=True)

    def build(self, input_shape):
        k, centre = self.kernel_size, self.kernel_size // 2
        self.kernel = self.add_weight(shape=(k, k, input_shape[-1], self.filters),
                                      initializer="glorot_uniform", name="kernel")
        self.bias = self.add_weight(shape=(self.filters,), initializer="zeros", name="bias")
        mask = np.zeros((k, k, 1, 1), "float32")
        mask[:centre] = 1.0                                             # the rows above
        if self.mask_type == "VB":
            mask[centre] = 1.0                                          # the whole centre row
        elif self.mask_type in ("A", "B"):
            mask[centre, :centre + (self.mask_type == "B")] = 1.0       # left of (and at) centre
        self.mask = mask

    def call(self, x):
        return ops.conv(x, self.kernel * self.mask, padding="same") + self.bias

    def get_config(self):
        return {**super().get_config(), "filters": self.filters,
                "kernel_size": self.kernel_size, "mask_type": self.mask_type}


def _gate(x):
    a, b = ops.split(x, 2, axis=-1)
    return ops.tanh(a) * ops.sigmoid(b)


@_register
class GatedMaskedBlock(keras.layers.Layer):
    """One gated PixelCNN layer on a (vertical, horizontal) pair of feature maps.

    The vertical stack sees only rows strictly above each position, over the full kernel
    width; the horizontal stack sees the rows above plus the left of its own row and receives
    the vertical stack. Two stacks remove the blind spot of stacked raster masks, so a deep
    enough prior sees every earlier code. Gates are tanh(a) * sigmoid(b). Called on
    [vertical, horizontal], each (B, H, W, C); returns the next pair, same shapes.
    """

    def __init__(self, kernel_size: int = 3, **kwargs):
        super().__init__(**kwargs)
        self.kernel_size = _check_int("kernel_size", kernel_size, 1, odd=True)

    def build(self, input_shape):
        shape, channels = input_shape[0], input_shape[0][-1]
        self.vertical = MaskedConv2D(2 * channels, self.kernel_size, "VB")
        self.horizontal = MaskedConv2D(2 * channels, self.kernel_size, "B")
        self.vertical_to_horizontal = keras.layers.Conv2D(2 * channels, 1)
        self.project = keras.layers.Conv2D(channels, 1)
        for layer in (self.vertical, self.horizontal, self.project):
            layer.build(shape)
        self.vertical_to_horizontal.build((*shape[:-1], 2 * channels))

    def call(self, inputs):
        vertical, horizontal = inputs
        # The vertical features at a position depend only on rows above it, so the
        # horizontal stack may read them at the same position.
        v = self.vertical(vertical)                                     # (B, H, W, 2C)
        h = self.horizontal(horizontal) + self.vertical_to_horizontal(v)
        return [_gate(v), horizontal + self.project(_gate(h))]

    def get_config(self):
        return {**super().get_config(), "kernel_size": self.kernel_size}


def build_prior(grid_shape: tuple, num_codes: int, width: int = 64, depth: int = 4) -> keras.Model:
    """Gated PixelCNN over a (H, W) code grid: int codes in, (B, H, W, K) next-code logits out.

    Logits at a position depend only on codes strictly before it in raster order; a 7x7 first
    layer and `depth` 3x3 blocks see every earlier code of grids up to depth + 4 cells a side.
    """
    _check_sizes(num_codes=num_codes, width=width, depth=depth)
    codes = keras.Input(grid_shape, dtype="int32")
    x = keras.layers.Embedding(num_codes, width)(codes)                 # (B, H, W, width)
    stacks = [MaskedConv2D(width, 7, "VA")(x), MaskedConv2D(width, 7, "A")(x)]
    for _ in range(depth):
        stacks = GatedMaskedBlock(3)(stacks)
    x = keras.layers.Conv2D(width, 1, activation="relu")(keras.layers.ReLU()(stacks[1]))
    return keras.Model(codes, keras.layers.Conv2D(num_codes, 1)(x), name="prior")


def sample_codes(prior: keras.Model, n: int, temperature: float = 1.0,
                 seed: int | None = None) -> np.ndarray:
    """Draws `n` code grids position by position from a `build_prior` model; (n, H, W) int32."""
    n = _check_int("n", n, 1)
    temperature = _check_float("temperature", temperature, "> 0", lambda v: v > 0)
    seed = None if seed is None else _check_int("seed", seed, 0)
    height, width = prior.input_shape[1:3]
    rng = np.random.default_rng(seed)
    codes = np.zeros((n, height, width), "int32")
    for i in range(height):
        for j in range(width):
            logits = ops.convert_to_numpy(prior(codes, training=False))[:, i, j] / temperature
            p = np.exp(logits - logits.max(axis=1, keepdims=True))
            cdf = np.cumsum(p / p.sum(axis=1, keepdims=True), axis=1)     # (n, K)
            codes[:, i, j] = np.minimum((rng.random((n, 1)) > cdf).sum(axis=1), cdf.shape[1] - 1)
    return codes


# ----------------------------------------------------------------------------- model

@_register
class VQVAE(keras.Model):
    """Encoder -> VectorQuantizer -> decoder, plus a PixelCNN prior over the code grid.

    Train with `compile(optimizer, loss="mse")` and `fit(images, images)`; the quantiser's
    losses join the reconstruction loss, its `perplexity` / `codes_used` appear in the logs.
    Images are float in [0, 1] (within 1e-3), shape (B, *image_shape); `encode` also takes
    uint8 (divided by 255). Other dtypes are a TypeError, other shapes a ValueError (so are NaN,
    inf and values outside [0, 1] in arrays given to `encode`, `fit_prior` or `fit`).

    Args:
        image_shape: (H, W, C); H and W divisible by 2**num_downsamples.
        num_codes: codebook size K.
        code_dim: D, the length of each code vector.
        width: channels of the convolutions.
        num_downsamples: stride-2 stages; the code grid is (H, W) / 2**num_downsamples.
        num_residual: residual blocks in the encoder and in the decoder.
        beta, ema, decay, restart_after, seed: passed to `VectorQuantizer`.
        prior_width, prior_depth: channels and gated blocks of the PixelCNN prior.
    """

    def __init__(self, image_shape, num_codes: int = 32, code_dim: int = 16, width: int = 64,
                 num_downsamples: int = 1, num_residual: int = 2, beta: float = 0.25,
                 ema: bool = False, decay: float = 0.99, restart_after: int = 100,
                 prior_width: int = 32, prior_depth: int = 4, seed: int | None = None, **kwargs):
        super().__init__(**kwargs)
        if not isinstance(image_shape, (tuple, list)) or len(image_shape) != 3:
            raise ValueError(f"`image_shape` must be (H, W, C), received {image_shape!r}.")
        _check_sizes(prior_width=prior_width, prior_depth=prior_depth)   # the rest: builders
        self.image_shape = tuple(_check_int("image_shape", v, 1) for v in image_shape)
        stride = 2 ** _check_int("num_downsamples", num_downsamples, 0)
        if self.image_shape[0] % stride or self.image_shape[1] % stride:
            raise ValueError(f"`image_shape` height and width must be divisible by "
                             f"2**num_downsamples = {stride}, received {self.image_shape}.")
        self.grid_shape = (self.image_shape[0] // stride, self.image_shape[1] // stride)
        self._config = dict(image_shape=self.image_shape, num_codes=num_codes, code_dim=code_dim,
                            width=width, num_downsamples=num_downsamples, num_residual=num_residual,
                            beta=beta, ema=ema, decay=decay, restart_after=restart_after,
                            prior_width=prior_width, prior_depth=prior_depth, seed=seed)
        self.quantizer = VectorQuantizer(num_codes, beta=beta, ema=ema, decay=decay,
                                         restart_after=restart_after, seed=seed, name="quantizer")
        self.encoder = build_encoder(self.image_shape, code_dim, width, num_downsamples,
                                     num_residual)
        self.decoder = build_decoder(self.grid_shape, self.image_shape[2], code_dim, width,
                                     num_downsamples, num_residual)
        self.prior = build_prior(self.grid_shape, num_codes, prior_width, prior_depth)
        self.prior.trainable = False      # trained only by `fit_prior`, never by `fit`
        self.quantizer.build((None, *self.grid_shape, code_dim))
        self.usage = CodebookUsage(num_codes, name="codebook_usage")
        self.built = True                 # every part is built above, for any batch size

    @property
    def num_codes(self) -> int:
        return self.quantizer.num_codes

    @property
    def bits_per_image(self) -> float:
        """Grid cells x log2(K): the size of one image's codes."""
        return self.grid_shape[0] * self.grid_shape[1] * math.log2(self.num_codes)

    def _check_images(self, shape, name: str = "images") -> None:
        # Only the batch size may be unknown: a step that Keras retraced for images of another
        # size (relaxed to (None, None, None, C)) is refused, not run.
        if len(shape) != 4 or tuple(shape[1:]) != self.image_shape:
            raise ValueError(f"`{name}` must have shape (batch, "
                             f"{', '.join(map(str, self.image_shape))}) (this model's "
                             f"`image_shape`), received {tuple(shape)}.")

    def _as_images(self, images, name: str = "images", uint8: bool = True) -> np.ndarray:
        """The input contract: float32 copy of float images in [0, 1] or uint8 / 255."""
        images = np.asarray(images)
        uint8 = uint8 and images.dtype == np.uint8
        if images.dtype.kind != "f" and not uint8:
            raise TypeError(f"`{name}` must be float in [0, 1] (divide 0..255 pixels by 255), "
                            f"received dtype {images.dtype}.")
        self._check_images(images.shape, name)
        images = images / np.float32(255) if uint8 else images.astype("float32")
        low, high = (images.min(), images.max()) if images.size else (0, 0)
        if not -1e-3 <= low <= high <= 1 + 1e-3:          # also false for NaN
            raise ValueError(f"`{name}` must be finite floats in [0, 1] (divide 0..255 pixels "
                             f"by 255), received values in [{low:g}, {high:g}].")
        return images

    def fit(self, x=None, y=None, *args, **kwargs):
        """`keras.Model.fit`; arrays (not datasets) are first checked as `encode` checks them."""
        validation = kwargs.get("validation_data")
        validation = validation[:2] if isinstance(validation, (tuple, list)) else ()
        for name, value in [("x", x), ("y", y)] + [("validation_data", v) for v in validation]:
            if hasattr(value, "shape") and hasattr(value, "dtype"):
                self._as_images(value, name, uint8=False)
        return super().fit(x, y, *args, **kwargs)

    def call(self, images, training=False):
        if "float" not in keras.backend.standardize_dtype(images.dtype):
            raise TypeError(f"`images` must be float in [0, 1] (divide uint8 by 255), received "
                            f"dtype {images.dtype}.")
        self._check_images(images.shape)
        return self.decoder(self.quantizer(self.encoder(images), training=training))

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        # after the forward pass, inside the step Keras traces: see `batch_counts`
        self.usage.update_state(self.quantizer.batch_counts.value)
        return super().compute_loss(x, y, y_pred, sample_weight, training=training)

    def encode(self, images, batch_size: int = 256) -> np.ndarray:
        """Images (B, H, W, C) -> codes (B, h, w) int32."""
        images = self._as_images(images)
        batch_size = _check_int("batch_size", batch_size, 1)
        codes = [np.zeros((0, *self.grid_shape), "int32")]
        for i in range(0, len(images), batch_size):
            vectors = self.encoder(images[i:i + batch_size])
            codes.append(ops.convert_to_numpy(self.quantizer.nearest_codes(vectors)))
        return np.concatenate(codes)

    def decode(self, codes, batch_size: int = 256) -> np.ndarray:
        """Codes (B, h, w), integers in [0, K) -> images (B, H, W, C) float32 in [0, 1]."""
        codes = np.asarray(codes)
        batch_size = _check_int("batch_size", batch_size, 1)
        if not np.issubdtype(codes.dtype, np.integer):
            raise TypeError(f"`codes` must be an integer array, received dtype {codes.dtype}.")
        if codes.ndim != 3 or codes.shape[1:] != self.grid_shape:
            raise ValueError(f"`codes` must have shape (batch, {self.grid_shape[0]}, "
                             f"{self.grid_shape[1]}), received {codes.shape}.")
        if codes.size and (codes.min() < 0 or codes.max() >= self.num_codes):
            raise ValueError(f"`codes` must lie in [0, {self.num_codes}), received values in "
                             f"[{codes.min()}, {codes.max()}].")
        images = [np.zeros((0, *self.image_shape), "float32")]
        for i in range(0, len(codes), batch_size):
            vectors = ops.take(self.quantizer.embeddings, codes[i:i + batch_size], axis=0)
            images.append(ops.convert_to_numpy(self.decoder(vectors)))
        return np.concatenate(images)

    def fit_prior(self, images, epochs: int = 10, batch_size: int = 64,
                  learning_rate: float = 3e-3, verbose: int = 0, **fit_kwargs):
        """Fits the PixelCNN prior to the codes of `images` by cross-entropy; returns the
        `History` of `prior.fit`. The prior overfits small code sets within a few tens of
        epochs: pass e.g. `validation_split` and an `EarlyStopping` callback in `fit_kwargs`."""
        _check_sizes(epochs=epochs, batch_size=batch_size)
        learning_rate = _check_float("learning_rate", learning_rate, "> 0", lambda v: v > 0)
        codes = self.encode(images)
        self.prior.trainable = True
        self.prior.compile(keras.optimizers.Adam(learning_rate),
                           keras.losses.SparseCategoricalCrossentropy(from_logits=True))
        try:
            return self.prior.fit(codes, codes, epochs=epochs, batch_size=batch_size,
                                  verbose=verbose, **fit_kwargs)
        finally:
            self.prior.trainable = False

    def sample(self, n: int, temperature: float = 1.0, seed: int | None = None):
        """Draws `n` code grids from the prior and decodes them; returns (images, codes)."""
        codes = sample_codes(self.prior, n, temperature, seed)
        return self.decode(codes), codes

    def get_config(self):
        # The weight shapes let `from_config` refuse an edited config that would otherwise
        # load with some saved weights silently ignored (e.g. fewer residual blocks).
        return {**super().get_config(), **self._config,
                "weight_shapes": [list(w.shape) for w in self.weights]}

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        saved = config.pop("weight_shapes", None)
        model = cls(**config)
        built = [list(w.shape) for w in model.weights]
        if saved is not None and saved != built:
            sizes = [f"{len(w)} arrays, {sum(map(math.prod, w))} numbers" for w in (saved, built)]
            raise ValueError(f"A saved VQVAE's config must build the weights it was saved with "
                             f"({sizes[0]}), received one that builds {sizes[1]}: edited?")
        return model


# ----------------------------------------------------------------------------- demo / CLI

def _check_out(out: str) -> None:
    """Refuses an output folder that cannot be made or written, before any training."""
    parent = os.path.abspath(out)
    while not os.path.exists(parent):
        parent = os.path.dirname(parent)
    if not os.path.isdir(parent) or not os.access(parent, os.W_OK | os.X_OK):
        raise PermissionError(f"`--out` must be a writable folder, received {out!r}.")


def _demo(out: str = "demo_out", epochs: int = 20, prior_epochs: int = 10, num_codes: int = 32,
          ema: bool = False, seed: int = 0, verbose: int = 0) -> list:
    """Trains on scikit-learn's 8x8 digits, draws `out/vqvae_digits.png`, returns report lines.
    Packages are imported and `out` checked first: a failure costs no time, leaves no folder."""
    from matplotlib.figure import Figure
    from sklearn.datasets import load_digits
    _check_out(out)
    keras.utils.set_random_seed(seed)
    images = (load_digits().images[..., None] / 16.0).astype("float32")   # (1797, 8, 8, 1)
    order = np.random.default_rng(seed).permutation(len(images))
    test, train = images[order[:len(images) // 6]], images[order[len(images) // 6:]]
    model = VQVAE(train.shape[1:], num_codes=num_codes, ema=ema, seed=seed)
    model.compile(keras.optimizers.Adam(2e-3), loss="mse")
    model.fit(train, train, epochs=epochs, batch_size=64, verbose=verbose)
    usage = model.evaluate(test, test, batch_size=256, verbose=0, return_dict=True)
    recon = model.decode(model.encode(test))
    mse = float(np.mean((recon - test) ** 2))
    psnr = -10 * math.log10(mse)
    model.fit_prior(train, epochs=prior_epochs, verbose=verbose)
    rows = {"original": test[:12], "reconstruction": recon[:12],
            "prior sample": model.sample(12, seed=seed)[0]}
    # one picture: 3 rows of 12 digits, each framed by a white pixel, (3 * 10, 12 * 10)
    framed = np.pad(np.stack(list(rows.values()))[..., 0], ((0, 0),) * 2 + ((1, 1),) * 2,
                    constant_values=1.0)                                # (3, 12, 10, 10)
    figure, bits, path = Figure(figsize=(12, 3.4)), model.bits_per_image, f"{out}/vqvae_digits.png"
    ax = figure.add_subplot()
    ax.imshow(framed.transpose(0, 2, 1, 3).reshape(30, 120), cmap="gray", vmin=0, vmax=1)
    ax.set(xticks=[], yticks=[4.5, 14.5, 24.5], yticklabels=list(rows),
           title=f"VQ-VAE on 8x8 digits: {bits:.0f} bits an image, test PSNR {psnr:.1f} dB")
    os.makedirs(out, exist_ok=True)
    figure.savefig(path, dpi=100, bbox_inches="tight")
    return [f"data: scikit-learn digits, {len(train)} training and {len(test)} test images, 8x8",
            f"code: a {'x'.join(map(str, model.grid_shape))} grid of {num_codes} codes, "
            f"{bits:.0f} bits an image", f"test reconstruction: MSE {mse:.4f}, PSNR {psnr:.1f} dB",
            f"codebook on the test set: {usage['codes_used']:.0%} of codes used, perplexity "
            f"{usage['perplexity']:.1f} of {num_codes}", f"figure: {path} (rows: test originals, "
            "reconstructions, prior samples)"]


def main(argv: list | None = None) -> None:
    parser = argparse.ArgumentParser(description="Train a VQ-VAE and its PixelCNN prior on "
                                     "scikit-learn's 8x8 digits and draw test originals, "
                                     "reconstructions and prior samples (needs matplotlib).")
    parser.add_argument("--out", default="demo_out", help="output folder (default demo_out)")
    parser.add_argument("--epochs", type=int, default=20, help="VQ-VAE epochs (default 20)")
    parser.add_argument("--prior-epochs", type=int, default=10, help="prior epochs (default 10)")
    parser.add_argument("--num-codes", type=int, default=32, help="codebook size K (default 32)")
    parser.add_argument("--ema", action="store_true", help="EMA codebook updates")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    for option, low in (("epochs", 1), ("prior_epochs", 1), ("num_codes", 2), ("seed", 0)):
        if getattr(args, option) < low:
            parser.error(f"argument --{option.replace('_', '-')}: must be an integer >= {low}, "
                         f"received {getattr(args, option)}")
    try:
        lines = _demo(**vars(args))
    except ModuleNotFoundError as err:
        module = (err.name or "").split(".")[0]
        package = {"sklearn": "scikit-learn"}.get(module, module)
        parser.exit(2, f"error: the demo needs {package}: pip install {package}\n")
    except OSError as err:
        parser.exit(2, f"error: {err}\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
