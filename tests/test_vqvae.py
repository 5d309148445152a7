"""Tests for vqvae.py: every number is recomputed independently (numpy, scikit-learn, pillow)."""

import gzip
import importlib.util
import json
import os
import pickle
import sys
import zipfile

import keras
import numpy as np
import pytest
import tensorflow as tf
from _data import vqvae_animal_mnist, vqvae_digits, vqvae_twemoji
from _reference import vqvae_pca_quantised_mse
from conftest import BACKENDS, run_copied
from PIL import Image
from sklearn.cluster import KMeans

import vqvae

RNG = np.random.default_rng(0)


def _numpy_nearest(z, codebook):
    """Brute-force nearest code in float64: the full (N, K, D) difference tensor."""
    flat = z.reshape(-1, z.shape[-1]).astype(np.float64)
    dist = ((flat[:, None, :] - codebook[None].astype(np.float64)) ** 2).sum(-1)
    return dist.argmin(1).reshape(z.shape[:-1])


def _quantizer(codebook, **kwargs):
    layer = vqvae.VectorQuantizer(len(codebook), **kwargs)
    layer.build((None, codebook.shape[1]))
    layer.initialize_codebook(codebook)
    return layer


# ----------------------------------------------------------------------------- quantiser

def test_quantizer_equals_brute_force_nearest_neighbour():
    codebook = RNG.normal(size=(13, 5)).astype("float32")
    z = RNG.normal(size=(3, 4, 6, 5)).astype("float32")
    layer = _quantizer(codebook)
    out, codes = layer(z, return_codes=True)
    expected = _numpy_nearest(z, codebook)
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(codes), expected)
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(layer.nearest_codes(z)), expected)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(out), codebook[expected],
                               rtol=1e-5, atol=1e-6)


def test_straight_through_gradient_is_identity():
    layer = _quantizer(RNG.normal(size=(8, 3)).astype("float32"))
    z = tf.Variable(RNG.normal(size=(2, 5, 5, 3)).astype("float32"))
    upstream = RNG.normal(size=(2, 5, 5, 3)).astype("float32")
    with tf.GradientTape() as tape:
        out = layer(z)
        objective = tf.reduce_sum(out * upstream)
    np.testing.assert_allclose(tape.gradient(objective, z).numpy(), upstream, rtol=1e-6)


@pytest.mark.parametrize("ema", [False, True])
def test_losses_equal_the_paper_formulas(ema):
    codebook = RNG.normal(size=(6, 4)).astype("float32")
    z = RNG.normal(size=(2, 3, 3, 4)).astype("float32")
    layer = _quantizer(codebook, beta=0.3, ema=ema)
    layer(z)
    q = codebook[_numpy_nearest(z, codebook)].astype(np.float64)
    squared = np.mean((z - q) ** 2)
    losses = [float(keras.ops.convert_to_numpy(v)) for v in layer.losses]
    # commitment beta * ||z - sg(e)||^2, then codebook ||sg(z) - e||^2 (absent with EMA)
    expected = [0.3 * squared] if ema else [0.3 * squared, squared]
    np.testing.assert_allclose(losses, expected, rtol=1e-5)


def test_codebook_loss_gradient_moves_codes_towards_inputs():
    codebook = RNG.normal(size=(5, 3)).astype("float32")
    z = RNG.normal(size=(40, 3)).astype("float32")
    layer = _quantizer(codebook, beta=0.0)
    with tf.GradientTape() as tape:
        layer(z)
        loss = tf.add_n(layer.losses)
    grad = tape.gradient(loss, layer.codebook.value).numpy()
    codes = _numpy_nearest(z, codebook)
    expected = np.zeros_like(codebook, dtype=np.float64)
    for k in range(5):   # d/de_k mean((z - e_k)^2) over the N * D entries
        expected[k] = 2 * (codebook[k] - z[codes == k]).sum(0) / z.size
    np.testing.assert_allclose(grad, expected, rtol=1e-4, atol=1e-6)


def test_one_ema_step_equals_numpy():
    codebook = RNG.normal(size=(6, 3)).astype("float32")
    z = RNG.normal(size=(50, 3)).astype("float32")
    decay, eps = 0.9, 1e-5
    layer = _quantizer(codebook, ema=True, decay=decay, epsilon=eps, restart_after=0)
    assert not layer.codebook.trainable
    layer(z, training=True)
    onehot = np.eye(6)[_numpy_nearest(z, codebook)]
    counts = decay * 1.0 + (1 - decay) * onehot.sum(0)       # each code starts as one observation
    sums = decay * codebook + (1 - decay) * onehot.T @ z
    smoothed = (counts + eps) / (counts.sum() + 6 * eps) * counts.sum()
    np.testing.assert_allclose(layer.ema_counts.numpy(), counts, rtol=1e-5)
    np.testing.assert_allclose(layer.ema_sums.numpy(), sums, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(layer.embeddings),
                               sums / smoothed[:, None], rtol=1e-4, atol=1e-5)


def test_first_training_batch_sets_codes_by_kmeans():
    z = RNG.normal(size=(300, 2)).astype("float32")
    layer = vqvae.VectorQuantizer(8, kmeans_iters=60, restart_after=0, seed=0)
    layer(z, training=True)
    codes = keras.ops.convert_to_numpy(layer.embeddings)
    # a converged Lloyd iteration: every code is the mean of the batch vectors nearest to it
    nearest = _numpy_nearest(z, codes)
    assert len(np.unique(nearest)) == 8
    np.testing.assert_allclose(codes, [z[nearest == k].mean(0) for k in range(8)],
                               rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("ema", [False, True])
def test_dead_code_restart_revives_codes_never_chosen(ema):
    z = RNG.normal(size=(200, 2)).astype("float32")
    codebook = np.concatenate([RNG.normal(size=(4, 2)), 100 + RNG.normal(size=(4, 2))])
    layer = _quantizer(codebook.astype("float32"), ema=ema, restart_after=3, seed=1)
    assert len(np.unique(_numpy_nearest(z, codebook))) == 4       # the far codes are dead
    for _ in range(3):
        layer(z, training=True)
    revived = keras.ops.convert_to_numpy(layer.embeddings)[4:]
    # each revived code is a vector of the batch, so it now wins at least its own input
    assert all(np.min(np.abs(z - code).sum(1)) < 1e-5 for code in revived)
    assert len(np.unique(_numpy_nearest(z, keras.ops.convert_to_numpy(layer.embeddings)))) > 4


def test_without_restart_dead_codes_stay_dead():
    z = RNG.normal(size=(200, 2)).astype("float32")
    codebook = np.concatenate([RNG.normal(size=(4, 2)), 100 + RNG.normal(size=(4, 2))])
    layer = _quantizer(codebook.astype("float32"), restart_after=0)
    for _ in range(5):
        layer(z, training=True)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(layer.embeddings)[4:], codebook[4:],
                               rtol=1e-6)


# ----------------------------------------------------------------------------- data

@pytest.fixture(scope="module")
def digits():
    images = vqvae_digits()
    order = np.random.default_rng(0).permutation(len(images))
    return images[order[300:]], images[order[:300]]                 # train 1497, test 300


def test_no_dead_start_encoder_gradients_nonzero_at_step_zero(digits):
    model = vqvae.VQVAE((8, 8, 1), num_codes=32, seed=0)
    batch = digits[0][:64]
    with tf.GradientTape() as tape:
        out = model(batch, training=True)
        loss = tf.reduce_mean((out - batch) ** 2) + tf.add_n(model.losses)
    grads = tape.gradient(loss, model.encoder.trainable_variables)
    assert all(g is not None and float(tf.norm(g)) > 0 for g in grads)
    # the first-batch k-means spreads the codes over the data: many codes in use at once
    assert len(np.unique(model.encode(batch))) >= 16


def test_colour_images_train_and_codes_round_trip():
    images = vqvae_twemoji(24)                                       # uint8 (24, 32, 32, 3)
    model = vqvae.VQVAE((32, 32, 3), num_codes=16, width=16, num_downsamples=2, seed=0)
    model.compile(keras.optimizers.Adam(1e-3), loss="mse")
    model.fit(images / np.float32(255), images / np.float32(255), epochs=1, batch_size=8,
              verbose=0)
    codes = model.encode(images)                                    # uint8 is scaled by 1/255
    assert codes.shape == (24, 8, 8) and codes.dtype == np.int32
    recon = model.decode(codes)
    assert recon.shape == (24, 32, 32, 3) and 0 <= recon.min() and recon.max() <= 1
    np.testing.assert_allclose(recon, keras.ops.convert_to_numpy(model(images / np.float32(255))),
                               rtol=1e-4, atol=1e-5)
    assert vqvae.VQVAE((28, 28, 1), num_downsamples=2).grid_shape == (7, 7)


def test_animal_mnist_file_read_by_path():
    spec = importlib.util.find_spec("animal_mnist")
    path = os.path.join(spec.submodule_search_locations[0], "data", "Animal_MNIST",
                        "animal_data_version_3.gz")
    with gzip.open(path) as f:
        raw = pickle.load(f)
    images = vqvae_animal_mnist()
    assert images.shape == (10000, 28, 28, 1)
    np.testing.assert_allclose(images[..., 0] * 255, raw, atol=1e-3)


# ----------------------------------------------------------------------------- prior

def test_prior_sees_exactly_the_earlier_codes():
    grid, k = (5, 6), 10
    cells = grid[0] * grid[1]
    prior = vqvae.build_prior(grid, k, width=16, depth=3)
    codes = RNG.integers(0, k, size=cells).astype("int32")
    # row 0: the codes; row 1 + j: the codes with position j changed
    batch = np.tile(codes, (cells + 1, 1))
    batch[1 + np.arange(cells), np.arange(cells)] += 1 + RNG.integers(0, k - 1, cells)
    logits = prior(batch.reshape(-1, *grid) % k).numpy().reshape(cells + 1, cells, k)
    moved = np.abs(logits[1:] - logits[:1]).max(-1)          # moved[j, i]: does j reach i?
    reaches = moved > 1e-6
    # causal: position i never sees j >= i; no blind spot: it sees every j < i
    np.testing.assert_array_equal(reaches, np.triu(np.ones((cells, cells), bool), 1))
    assert moved[~reaches].max() < 1e-5


# ----------------------------------------------------------------------------- training

def _patch_kmeans_mse(train, test, k):
    """k-means on 2x2 patches: 16 patches x log2(k) bits for an 8x8 image."""
    def patches(images):
        return images[..., 0].reshape(-1, 4, 2, 4, 2).transpose(0, 1, 3, 2, 4).reshape(-1, 4)
    km = KMeans(k, n_init=4, random_state=0).fit(patches(train))
    y = patches(test)
    return float(np.mean((km.cluster_centers_[km.predict(y)] - y) ** 2))


@pytest.fixture(scope="module")
def trained(digits):
    keras.utils.set_random_seed(0)
    train, test = digits
    model = vqvae.VQVAE((8, 8, 1), num_codes=32, seed=0)
    model.compile(keras.optimizers.Adam(2e-3), loss="mse")
    model.fit(train, train, epochs=40, batch_size=64, verbose=0)    # 960 optimiser steps
    return model


def test_trained_digits_beat_same_bit_baselines_and_use_the_codebook(trained, digits):
    train, test = digits
    assert trained.bits_per_image == 80.0                              # 4 x 4 cells x 5 bits
    mse = float(np.mean((trained.decode(trained.encode(test)) - test) ** 2))
    pca, patch = vqvae_pca_quantised_mse(train, test, 80), _patch_kmeans_mse(train, test, 32)
    assert mse <= 0.70 * patch and mse <= 0.88 * pca, (mse, patch, pca)
    assert len(np.unique(trained.encode(test))) >= 24


@pytest.mark.slow
def test_animal_mnist_beats_same_bit_baselines():
    images = vqvae_animal_mnist()
    order = np.random.default_rng(0).permutation(len(images))
    train, test = images[order[1000:4000]], images[order[:1000]]
    keras.utils.set_random_seed(0)
    model = vqvae.VQVAE((28, 28, 1), num_codes=64, num_downsamples=2, seed=0)
    model.compile(keras.optimizers.Adam(1e-3), loss="mse")
    model.fit(train, train, epochs=20, batch_size=64, verbose=0)
    mse = float(np.mean((model.decode(model.encode(test)) - test) ** 2))
    bits = model.bits_per_image                                        # 7 x 7 cells x 6 bits

    def patches(x):      # 4x4 patches, one per grid cell: the same 49 x 6 bits
        return x[..., 0].reshape(-1, 7, 4, 7, 4).transpose(0, 1, 3, 2, 4).reshape(-1, 16)
    km = KMeans(64, n_init=2, random_state=0).fit(patches(train))
    patch = float(np.mean((km.cluster_centers_[km.predict(patches(test))] - patches(test)) ** 2))
    pca = vqvae_pca_quantised_mse(train, test, bits)
    assert mse <= 0.8 * min(patch, pca), (mse, patch, pca)
    assert len(np.unique(model.encode(test))) >= 56


def test_usage_metrics_over_whole_set_are_batch_size_independent(trained, digits):
    test = digits[1]
    counts = np.bincount(trained.encode(test).ravel(), minlength=32)
    p = counts[counts > 0] / counts.sum()
    for batch_size in (7, 300):
        logs = trained.evaluate(test, test, batch_size=batch_size, verbose=0, return_dict=True)
        np.testing.assert_allclose(logs["perplexity"], np.exp(-(p * np.log(p)).sum()), rtol=1e-4)
        np.testing.assert_allclose(logs["codes_used"], (counts > 0).mean(), rtol=1e-6)


def test_prior_beats_per_position_code_frequencies_and_samples_decode(trained, digits):
    train, test = digits
    trained.fit_prior(train, epochs=10)
    codes, train_codes = trained.encode(test), trained.encode(train)
    logits = trained.prior(codes).numpy().astype(np.float64)              # (300, 4, 4, 32)
    log_p = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
    prior_bits = -np.take_along_axis(log_p, codes[..., None], -1).mean() / np.log(2)
    # baseline: each grid cell's own code frequencies on the training set (add-one smoothed)
    freq = np.stack([np.bincount(train_codes[:, i, j], minlength=32) + 1.0
                     for i in range(4) for j in range(4)]).reshape(4, 4, 32)
    freq /= freq.sum(-1, keepdims=True)
    cell_bits = -np.log2(np.take_along_axis(freq[None], codes[..., None], -1)).mean()
    assert prior_bits < 0.95 * cell_bits, (prior_bits, cell_bits)
    images, samples = trained.sample(6, seed=3)
    assert samples.shape == (6, 4, 4) and 0 <= samples.min() and samples.max() < 32
    np.testing.assert_allclose(images, trained.decode(samples), atol=1e-6)


def test_model_saves_and_reloads(trained, digits, tmp_path):
    path = str(tmp_path / "vq.keras")
    trained.save(path)
    loaded = keras.saving.load_model(path)
    np.testing.assert_array_equal(loaded.encode(digits[1]), trained.encode(digits[1]))
    np.testing.assert_allclose(loaded.decode(trained.encode(digits[1][:5])),
                               trained.decode(trained.encode(digits[1][:5])), atol=1e-6)


# ----------------------------------------------------------------------------- errors

@pytest.mark.parametrize("kwargs, error, words", [
    (dict(num_codes=1), ValueError, "num_codes"),
    (dict(num_codes=2.5), TypeError, "num_codes"),
    (dict(num_codes=8, beta=-0.1), ValueError, "beta"),
    (dict(num_codes=8, decay=1.0), ValueError, "decay"),
    (dict(num_codes=8, restart_after=-1), ValueError, "restart_after"),
])
def test_quantizer_argument_errors(kwargs, error, words):
    with pytest.raises(error, match=words):
        vqvae.VectorQuantizer(**kwargs)


def test_model_input_errors():
    with pytest.raises(ValueError, match="divisible"):
        vqvae.VQVAE((10, 10, 1), num_downsamples=2)
    with pytest.raises(ValueError, match="image_shape"):
        vqvae.VQVAE((8, 8))
    with pytest.raises(ValueError, match="mask_type"):
        vqvae.MaskedConv2D(8, 3, "C")
    with pytest.raises(ValueError, match="kernel_size"):
        vqvae.MaskedConv2D(8, 4, "A")
    model = vqvae.VQVAE((8, 8, 1), num_codes=16, width=8)
    for bad in (np.zeros((4, 8, 8)), np.zeros((4, 8, 16, 1)), np.zeros((2, 8, 8, 3))):
        with pytest.raises(ValueError, match="images"):
            model.encode(bad)
    with pytest.raises(ValueError, match="images"):
        model(np.zeros((2, 16, 16, 1), "float32"))
    with pytest.raises(ValueError, match=r"\[0, 16\)"):
        model.decode(np.full((1, 4, 4), 16))
    with pytest.raises(ValueError, match=r"\[0, 16\)"):
        model.decode(np.full((1, 4, 4), -1))
    with pytest.raises(ValueError, match="codes"):
        model.decode(np.zeros((1, 3, 4), int))
    with pytest.raises(TypeError, match="codes"):
        model.decode(np.zeros((1, 4, 4)))
    with pytest.raises(TypeError, match="images"):  # uint8 would train on 0..255
        model(np.zeros((2, 16, 16, 1), "uint8"))
    with pytest.raises(ValueError, match="n"):
        model.sample(0)
    for bad_batch in (0, -1):
        with pytest.raises(ValueError, match="batch_size"):
            model.encode(np.zeros((2, 8, 8, 1)), batch_size=bad_batch)
        with pytest.raises(ValueError, match="batch_size"):
            model.decode(np.zeros((2, 4, 4), int), batch_size=bad_batch)


# ----------------------------------------------------------------------------- CLI

def _tiny(image_shape=(8, 8, 1), **kwargs):
    sizes = dict(num_codes=8, code_dim=4, width=8, prior_width=8, prior_depth=1, seed=0)
    return vqvae.VQVAE(image_shape, **{**sizes, **kwargs})


def test_second_fit_on_images_of_another_size_is_refused():
    model = _tiny()
    model.compile(keras.optimizers.Adam(1e-3), loss="mse", jit_compile=False)
    small, large = RNG.random((16, 8, 8, 1), "float32"), RNG.random((16, 16, 16, 1), "float32")
    model.fit(small, small, epochs=1, batch_size=8, verbose=0)
    # a traced training step may relax its input shape to (None, None, None, 1) and accept these
    with pytest.raises(ValueError, match=r"\(batch, 8, 8, 1\).*received \(16, 16, 16, 1\)"):
        model.fit(large, large, epochs=1, batch_size=8, verbose=0)
    with pytest.raises(ValueError, match=r"validation_data.*\(batch, 8, 8, 1\)"):
        model.fit(small, small, validation_data=(large, large), verbose=0)
    model.evaluate(small, small, verbose=0)
    model.predict(small, verbose=0)
    # evaluate and predict: the retraced step's relaxed shape is refused inside `call`
    with pytest.raises(ValueError, match=r"\(batch, 8, 8, 1\)"):
        model.evaluate(large, large, verbose=0)
    with pytest.raises(ValueError, match=r"\(batch, 8, 8, 1\)"):
        model.predict(large, verbose=0)


def test_fit_refuses_integer_unscaled_or_non_finite_images():
    model = _tiny()
    model.compile(keras.optimizers.Adam(1e-3), loss="mse")
    good = RNG.random((8, 8, 8, 1), "float32")
    with pytest.raises(TypeError, match="`x` must be float in \\[0, 1\\]"):
        model.fit((good * 255).astype("uint8"), good, verbose=0)
    with pytest.raises(ValueError, match=r"`x` must be finite floats in \[0, 1\].* \[0\.\d+, 25"):
        model.fit(good * 255, good, verbose=0)
    with pytest.raises(ValueError, match="`y` must be finite"):
        model.fit(good, np.where(good > 0.5, np.nan, good), verbose=0)


def test_encode_accepts_unit_floats_and_uint8_and_refuses_the_rest():
    model = _tiny()
    pixels = RNG.integers(0, 256, size=(5, 8, 8, 1)).astype("uint8")
    unit = pixels / 255.0                                        # float64 in [0, 1]
    expected = model.encode(unit.astype("float32"))
    np.testing.assert_array_equal(model.encode(pixels), expected)
    np.testing.assert_array_equal(model.encode(unit), expected)
    np.testing.assert_array_equal(model.encode(np.clip(unit, 0, 1) * (1 + 5e-4)).shape,
                                  expected.shape)                 # rounding slack is accepted
    assert model.encode(np.zeros((0, 8, 8, 1), "float32")).shape == (0, 4, 4)
    for dtype in ("uint16", "int32", "int64", "bool"):
        with pytest.raises(TypeError, match=f"`images` must be float .* received dtype {dtype}"):
            model.encode(pixels.astype(dtype))
    with pytest.raises(ValueError, match=r"divide 0\.\.255 pixels by 255.*\[0, 25\d\]"):
        model.encode(pixels.astype("float32"))
    with pytest.raises(ValueError, match=r"received values in \[-0\.5"):
        model.encode(unit - 0.5)
    for bad in (np.nan, np.inf):
        with pytest.raises(ValueError, match="`images` must be finite"):
            model.encode(np.where(unit > 0.5, bad, unit))


@pytest.mark.parametrize("build, error, words", [
    (lambda: _tiny(code_dim=0), ValueError, "`code_dim` must be an integer >= 1, received 0"),
    (lambda: _tiny(width=2.5), TypeError, "`width` must be an integer"),
    (lambda: _tiny(num_residual=-1), ValueError, "`num_residual`"),
    (lambda: _tiny(prior_depth=0), ValueError, "`prior_depth`"),
    (lambda: _tiny(decay="0.9"), TypeError, "`decay` must be a number in \\(0, 1\\)"),
    (lambda: _tiny(beta=float("nan")), ValueError, "`beta` must be a finite number >= 0"),
    (lambda: _tiny(ema="no"), TypeError, "`ema` must be True or False"),
    (lambda: _tiny(seed=-1), ValueError, "`seed`"),
    (lambda: vqvae.VQVAE(8), ValueError, "`image_shape` must be \\(H, W, C\\)"),
    (lambda: vqvae.VQVAE((8, 8, 1.0)), TypeError, "`image_shape`"),
    (lambda: vqvae.VQVAE((8, 8, 1), num_codes=1), ValueError, "`num_codes`"),
    (lambda: vqvae.VectorQuantizer(8, epsilon=0), ValueError, "`epsilon` must be a finite"),
    (lambda: vqvae.MaskedConv2D(8, 3.0, "A"), TypeError, "`kernel_size`"),
    (lambda: vqvae.MaskedConv2D(0, 3, "A"), ValueError, "`filters`"),
    (lambda: vqvae.GatedMaskedBlock(4), ValueError, "`kernel_size` must be an odd integer"),
    (lambda: vqvae.build_prior((4, 4), 8, width=0), ValueError, "`width`"),
    (lambda: vqvae.build_encoder((8, 8, 1), num_downsamples=-1), ValueError, "num_downsamples"),
    (lambda: vqvae.build_decoder((4, 4), 0), ValueError, "`channels`"),
])
def test_constructor_argument_errors_name_the_argument(build, error, words):
    with pytest.raises(error, match=words):
        build()


def test_sampling_and_prior_fitting_argument_errors():
    model = _tiny()
    images = RNG.random((4, 8, 8, 1), "float32")
    for temperature, error in ((0.0, ValueError), (float("inf"), ValueError),
                               (float("nan"), ValueError), ("1", TypeError)):
        with pytest.raises(error, match="`temperature`"):
            model.sample(2, temperature=temperature)
    with pytest.raises(ValueError, match="`seed`"):
        model.sample(2, seed=-3)
    for kwargs, error in ((dict(learning_rate=-1e-3), ValueError), (dict(epochs=0), ValueError),
                          (dict(batch_size=2.0), TypeError)):
        with pytest.raises(error, match=next(iter(kwargs))):
            model.fit_prior(images, **kwargs)


def test_edited_saved_config_is_refused_not_loaded_half(tmp_path):
    model = _tiny()
    model.save(tmp_path / "vq.keras")
    with zipfile.ZipFile(tmp_path / "vq.keras") as z:
        files = {name: z.read(name) for name in z.namelist()}
    config = json.loads(files["config.json"])
    config["config"]["num_residual"] = 1      # one residual block fewer: its weights unused
    files["config.json"] = json.dumps(config).encode()
    with zipfile.ZipFile(tmp_path / "edited.keras", "w") as z:
        for name, data in files.items():
            z.writestr(name, data)
    with pytest.raises(ValueError, match="config must build the weights it was saved with"):
        keras.saving.load_model(tmp_path / "edited.keras")


COPIER_SCRIPT = """
import json, keras, numpy as np, vqvae
rng = np.random.default_rng(0)
images = rng.random((48, 8, 8, 1)).astype("float32")
model = vqvae.VQVAE((8, 8, 1), num_codes=8, code_dim=4, width=8, prior_width=8, prior_depth=1,
                    seed=0)
model.compile(keras.optimizers.Adam(1e-3), loss="mse")
history = model.fit(images, images, epochs=2, batch_size=16, verbose=0)
logs = model.evaluate(images, images, batch_size=16, verbose=0, return_dict=True)
codes = model.encode(images)
restored = model.decode(codes)
model.fit_prior(images, epochs=1, batch_size=16)
samples, sample_codes = model.sample(2, seed=0)
model.save("vq.keras")
loaded = keras.saving.load_model("vq.keras")
print(json.dumps({
    "initialized": float(keras.ops.convert_to_numpy(model.quantizer.initialized)),
    "history": sorted(history.history), "perplexity": float(logs["perplexity"]),
    "codes_used": float(logs["codes_used"]), "codes": codes.tolist(),
    "restored_shape": restored.shape, "samples_shape": samples.shape,
    "sample_codes_ok": bool(((sample_codes >= 0) & (sample_codes < 8)).all()),
    "reloaded_codes_equal": bool((loaded.encode(images) == codes).all()),
    "reloaded_max_diff": float(np.abs(loaded.decode(codes) - restored).max()),
    "reloaded_prior_diff": float(np.abs(
        keras.ops.convert_to_numpy(loaded.prior(codes)) -
        keras.ops.convert_to_numpy(model.prior(codes))).max()),
}))
"""


@pytest.mark.parametrize("backend", BACKENDS)
def test_copied_file_trains_samples_saves_and_reloads_on_each_backend(backend, tmp_path):
    result = json.loads(run_copied("vqvae", COPIER_SCRIPT, backend, tmp_path).splitlines()[-1])
    assert result["initialized"] == 1.0                     # k-means ran on the first batch
    assert {"loss", "perplexity", "codes_used"} <= set(result["history"])
    # the usage metric over the whole set equals the histogram of the codes, in numpy
    counts = np.bincount(np.ravel(result["codes"]), minlength=8)
    p = counts[counts > 0] / counts.sum()
    np.testing.assert_allclose(result["perplexity"], np.exp(-(p * np.log(p)).sum()), rtol=1e-4)
    np.testing.assert_allclose(result["codes_used"], (counts > 0).mean(), rtol=1e-6)
    assert result["restored_shape"] == [48, 8, 8, 1] and result["samples_shape"] == [2, 8, 8, 1]
    assert result["sample_codes_ok"] and result["reloaded_codes_equal"]
    assert result["reloaded_max_diff"] < 1e-6 and result["reloaded_prior_diff"] < 1e-5


# ----------------------------------------------------------------------------- CLI

def test_demo_prints_its_numbers_and_draws_a_readable_labelled_figure(tmp_path, capsys):
    vqvae.main(["--out", str(tmp_path / "out"), "--epochs", "2", "--prior-epochs", "1"])
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 5
    assert "1498 training and 299 test images" in lines[0] and "80 bits an image" in lines[1]
    mse, psnr = (float(w.rstrip(",")) for w in lines[2].split()[3:6:2])
    np.testing.assert_allclose(psnr, -10 * np.log10(mse), atol=0.06)
    path = tmp_path / "out" / "vqvae_digits.png"
    assert str(path) in lines[4]
    width, height = Image.open(path).size
    assert width >= 12 * 8 * 8 and height >= 3 * 8 * 8    # each 8x8 digit drawn >= 8x larger
    with pytest.raises(SystemExit):
        vqvae.main(["--help"])
    assert "--out" in capsys.readouterr().out


@pytest.mark.parametrize("package, module", [("scikit-learn", "sklearn.datasets"),
                                             ("matplotlib", "matplotlib.figure")])
def test_demo_names_the_missing_package_in_one_line(package, module, monkeypatch, capsys,
                                                     tmp_path):
    monkeypatch.setitem(sys.modules, module, None)
    with pytest.raises(SystemExit) as stop:
        vqvae.main(["--out", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert stop.value.code == 2
    assert err == f"error: the demo needs {package}: pip install {package}\n"   # one line
    assert not (tmp_path / "out").exists()


def test_demo_refuses_a_bad_out_folder_or_option_before_training(monkeypatch, capsys, tmp_path):
    monkeypatch.setattr(vqvae, "VQVAE", None)               # training would fail loudly
    afile = tmp_path / "a_file"
    afile.write_text("keep me")
    for out in (afile, afile / "sub"):
        with pytest.raises(SystemExit) as stop:
            vqvae.main(["--out", str(out)])
        assert stop.value.code == 2 and "must be a writable folder" in capsys.readouterr().err
    assert afile.read_text() == "keep me"
    monkeypatch.setattr(os, "access", lambda path, mode: False)   # a read-only destination
    with pytest.raises(SystemExit):
        vqvae.main(["--out", str(tmp_path / "new")])
    assert "must be a writable folder" in capsys.readouterr().err
    assert not (tmp_path / "new").exists()
    for option, value in (("--epochs", "0"), ("--num-codes", "1"), ("--seed", "-1"),
                          ("--prior-epochs", "x")):
        with pytest.raises(SystemExit) as stop:
            vqvae.main([option, value, "--out", str(tmp_path / "new")])
        assert stop.value.code == 2 and option in capsys.readouterr().err
