"""Rate-distortion benchmark for vqvae.py on real images shipped inside pip packages.

For each data set: VQ-VAE variants (plain codebook loss or EMA, with or without dead-code
restarts) against PCA with uniformly quantised coefficients at the same bits per image.
Reports held-out PSNR, codebook usage (fraction of codes used, perplexity) on the test set and
training throughput. Writes a PNG of test originals, reconstructions and prior samples of the
colour emoji (graphics: Twemoji, CC-BY 4.0).

    python bench/vqvae.py            # ~18 min on 2 cores (47 min at load average 15)
    python bench/vqvae.py --quick    # a few epochs each, to check the script
"""

import argparse
import math
import os
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path[:0] = [REPO, os.path.join(REPO, "tests")]     # the library file before this script

import keras  # noqa: E402
import numpy as np  # noqa: E402
from _data import vqvae_animal_mnist, vqvae_digits, vqvae_twemoji  # noqa: E402
from _reference import vqvae_pca_quantised_mse  # noqa: E402

import vqvae  # noqa: E402

VARIANTS = {                      # name: (ema, restart_after)
    "plain": (False, 0),
    "plain+restart": (False, 100),
    "ema": (True, 0),
    "ema+restart": (True, 100),
}


def split(images, n_train, n_test, seed=0):
    order = np.random.default_rng(seed).permutation(len(images))
    return images[order[n_test:n_test + n_train]], images[order[:n_test]]


def image_grid(rows, scale=2, pad=2):
    """Tiles rows of (n, H, W, C) images in [0, 1] into one uint8 picture, upscaled."""
    n, h, w, c = rows[0].shape
    grid = np.ones((len(rows) * (h * scale + pad) + pad, n * (w * scale + pad) + pad, c))
    for r, images in enumerate(rows):
        for i, image in enumerate(images):
            y, x = pad + r * (h * scale + pad), pad + i * (w * scale + pad)
            grid[y:y + h * scale, x:x + w * scale] = image.repeat(scale, 0).repeat(scale, 1)
    grid = (np.clip(grid, 0, 1) * 255).round().astype("uint8")
    return grid[..., 0] if c == 1 else grid


def psnr(mse):
    return -10 * math.log10(mse)


def run(train, test, num_codes, downsamples, epochs, ema, restart_after, lr, seed=0):
    keras.utils.set_random_seed(seed)
    model = vqvae.VQVAE(train.shape[1:], num_codes=num_codes, num_downsamples=downsamples,
                        ema=ema, restart_after=restart_after, seed=seed)
    model.compile(keras.optimizers.Adam(lr), loss="mse")
    model.fit(train[:256], train[:256], epochs=1, batch_size=64, verbose=0)   # trace once
    start = time.perf_counter()
    model.fit(train, train, epochs=epochs, batch_size=64, verbose=0)
    seconds = time.perf_counter() - start
    logs = model.evaluate(test, test, batch_size=256, verbose=0, return_dict=True)
    mse = float(np.mean((model.decode(model.encode(test)) - test) ** 2))
    return model, {"psnr": psnr(mse), "mse": mse, "used": logs["codes_used"],
                   "perplexity": logs["perplexity"], "img_s": epochs * len(train) / seconds}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="few epochs, to check the script")
    parser.add_argument("--out", default="demo_out", help="where the sample PNG goes")
    parser.add_argument("--only", choices=["digits", "animal-mnist", "twemoji"], nargs="*",
                        help="run only these data sets")
    args = parser.parse_args()
    q = args.quick
    # name, loader, train, test, (num_codes, downsamples, epochs, lr) settings
    setups = [
        ("digits 8x8", vqvae_digits, 1497, 300,
         [(8, 1, 40, 2e-3), (32, 1, 40, 2e-3), (128, 1, 40, 2e-3)]),
        ("animal-mnist 28x28", vqvae_animal_mnist, 3000, 1000, [(64, 2, 12, 1e-3)]),
        ("twemoji 32x32 RGB", lambda: vqvae_twemoji() / np.float32(255), 3400, 600,
         [(64, 2, 12, 1e-3)]),
    ]
    print(f"keras {keras.__version__}, backend {keras.backend.backend()}")
    header = (f"| {'data':<19} | {'K':>4} | {'bits':>5} | {'variant':<13} | {'PSNR dB':>7} | "
              f"{'PCA dB':>6} | {'used':>5} | {'perpl.':>6} | {'img/s':>6} |")
    print(header)
    print("|" + "|".join("-" * (len(c)) for c in header.split("|")[1:-1]) + "|")
    for name, loader, n_train, n_test, configs in setups:
        if args.only and name.split()[0] not in args.only:
            continue
        train, test = split(loader(), n_train, n_test)
        for num_codes, down, epochs, lr in configs:
            epochs = 2 if q else epochs
            grid = (train.shape[1] // 2**down) * (train.shape[2] // 2**down)
            bits = grid * math.log2(num_codes)
            pca_db = psnr(vqvae_pca_quantised_mse(train, test, bits))
            variants = VARIANTS if num_codes in (32, 64) else {"ema+restart": (True, 100)}
            for variant, (ema, restart) in variants.items():
                model, r = run(train, test, num_codes, down, epochs, ema, restart, lr)
                print(f"| {name:<19} | {num_codes:>4} | {bits:>5.0f} | {variant:<13} | "
                      f"{r['psnr']:>7.2f} | {pca_db:>6.2f} | {r['used']:>5.2f} | "
                      f"{r['perplexity']:>6.1f} | {r['img_s']:>6.0f} |", flush=True)
        if name.startswith("twemoji"):
            from PIL import Image
            model.fit_prior(train, epochs=2 if q else 15)
            samples, _ = model.sample(10, seed=0)
            os.makedirs(args.out, exist_ok=True)
            path = os.path.join(args.out, "vqvae_twemoji_bench.png")
            recon = model.decode(model.encode(test[:10]))
            Image.fromarray(image_grid([test[:10], recon, samples])).save(path)
            print(f"sample grid (originals, reconstructions, prior samples): {path}")


if __name__ == "__main__":
    main()
