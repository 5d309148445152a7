"""Benchmark: plain optimizer vs Keras' gradient_accumulation_steps vs AccumOptimizer.

A ~1M-parameter MLP, micro-batch 32, n = 4 micro-steps per update, TensorFlow backend. For SGD and
Adam, with XLA off and on, it times a compiled train step (tape + apply) for

- plain:    the bare optimizer, one update per micro-batch (the floor);
- builtin:  `gradient_accumulation_steps=n`;
- accum:    `AccumOptimizer(optimizer, n)`;
- big:      the bare optimizer on one batch of n * 32 (what a window replaces),

all interleaved round by round in one process (order rotated each round), and reports medians; the
accum/builtin ratio is taken per round (same machine load) and summarised by median and quartiles.
Per-micro-step time is a full window's time / n (it includes the one real update). It also reports
optimizer state in MB.

With `--mirrored` it instead runs `model.fit` under `tf.distribute.MirroredStrategy` over two
logical CPU devices (global micro-batch 2 x 32): plain Adam at the micro-batch, AccumOptimizer(Adam,
n) and Adam(gradient_accumulation_steps=n) (its error is recorded if it fails), each timed as one
`fit` epoch of 6 windows, interleaved round by round, medians; and after the first epoch (6
windows) each one's max |weights - big batch|, the big batch (2 x 32 x n rows) taken with plain
Adam on one device. Times are taken inside each `fit` epoch (from its first step to its last).

    python bench/accum_optimizer.py            # ~3 minutes on 2 CPU cores
    python bench/accum_optimizer.py --rounds 5 --quick
    python bench/accum_optimizer.py --mirrored --rounds 9
"""

import argparse
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from accum_optimizer import AccumOptimizer  # noqa: E402

MICRO, N = 32, 4


def make_model(width: int) -> keras.Model:
    model = keras.Sequential(
        [
            keras.Input((256,)),
            keras.layers.Dense(width, activation="relu"),
            keras.layers.Dense(width // 2, activation="relu"),
            keras.layers.Dense(256, activation="relu"),
            keras.layers.Dense(10),
        ]
    )
    model.set_weights([0.05 * np.random.default_rng(0).normal(size=w.shape).astype("float32")
                       for w in model.get_weights()])
    return model


def make_step(model, optimizer, xla: bool):
    loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True)

    @tf.function(jit_compile=xla)
    def step(x, y):
        with tf.GradientTape() as tape:
            loss = loss_fn(y, model(x, training=True))
        optimizer.apply(tape.gradient(loss, model.trainable_variables), model.trainable_variables)
        return loss

    optimizer.build(model.trainable_variables)
    return step


def state_mb(optimizer) -> float:
    """Bytes of every optimizer variable (for AccumOptimizer: its own plus the inner one's)."""
    return sum(int(np.prod(v.shape)) * np.dtype(v.dtype).itemsize
               for v in optimizer.variables) / 2**20


def run(args) -> list[dict]:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(N * MICRO, 256)).astype("float32")
    y = rng.integers(0, 10, size=(N * MICRO,)).astype("int32")
    cut = [slice(i * MICRO, (i + 1) * MICRO) for i in range(N)]
    micro = [(tf.constant(x[c]), tf.constant(y[c])) for c in cut]
    big = (tf.constant(x), tf.constant(y))
    rows = []
    for opt_name in args.optimizers.split(","):
        for xla in [x == "on" for x in args.xla.split(",")]:
            cls = getattr(keras.optimizers, opt_name)

            def new(cls=cls, **kw):
                return cls(1e-3, **kw)

            configs = {}
            for label, opt in [("plain", new()), ("builtin", new(gradient_accumulation_steps=N)),
                               ("accum", AccumOptimizer(new(), N)), ("big", new())]:
                model = make_model(args.width)
                configs[label] = (make_step(model, opt, xla), opt, model)
            params = configs["plain"][2].count_params()
            times = {k: [] for k in configs}
            labels = list(configs)
            for r in range(args.rounds + 1):  # round 0 compiles and warms up
                for label in labels[r % 4 :] + labels[: r % 4]:  # rotate the order each round
                    step = configs[label][0]
                    batches = [big] if label == "big" else micro
                    t0 = time.perf_counter()
                    for _ in range(args.windows):
                        for xb, yb in batches:
                            loss = step(xb, yb)
                    loss.numpy()
                    if r:
                        times[label].append((time.perf_counter() - t0) / args.windows)
            med = {k: float(np.median(v)) for k, v in times.items()}
            # paired per round (same load): accum / builtin, median and quartiles
            ratios = np.array(times["accum"]) / np.array(times["builtin"])
            q1, q2, q3 = np.percentile(ratios, [25, 50, 75])
            rows.append(dict(
                optimizer=opt_name, xla=xla, params=params,
                plain_ms=1e3 * med["plain"] / N, builtin_ms=1e3 * med["builtin"] / N,
                accum_ms=1e3 * med["accum"] / N, ratio=q2, ratio_iqr=(q1, q3),
                window_ms=1e3 * med["accum"], big_ms=1e3 * med["big"],
                model_mb=params * 4 / 2**20,
                plain_state_mb=state_mb(configs["plain"][1]),
                builtin_state_mb=state_mb(configs["builtin"][1]),
                accum_state_mb=state_mb(configs["accum"][1]),
            ))
            print(fmt_row(rows[-1]), flush=True)
    return rows


HEADER = ("| optimizer | XLA | plain ms/step | builtin ms/micro | accum ms/micro "
          "| accum/builtin per round: median (IQR) | accum window ms | big step ms "
          "| state MB plain / builtin / accum (model) |\n"
          "|---|---|---|---|---|---|---|---|---|")


def fmt_row(r: dict) -> str:
    return (f"| {r['optimizer']} | {'on' if r['xla'] else 'off'} | {r['plain_ms']:.2f} | "
            f"{r['builtin_ms']:.2f} | {r['accum_ms']:.2f} | {r['ratio']:.3f} "
            f"({r['ratio_iqr'][0]:.2f}-{r['ratio_iqr'][1]:.2f}) | "
            f"{r['window_ms']:.2f} | {r['big_ms']:.2f} | {r['plain_state_mb']:.2f} / "
            f"{r['builtin_state_mb']:.2f} / {r['accum_state_mb']:.2f} ({r['model_mb']:.2f}) |")


class EpochTimer(keras.callbacks.Callback):
    """Wall time of each epoch, from its first step to its last (fit's set-up left out)."""

    def __init__(self):
        super().__init__()
        self.seconds = []

    def on_epoch_begin(self, epoch, logs=None):
        self.t0 = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        self.seconds.append(time.perf_counter() - self.t0)


def run_mirrored(args) -> None:
    """Time per micro-step and distance from the big batch under MirroredStrategy (2 devices)."""
    strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
    windows, micro = 6, 2 * MICRO  # global micro-batch: 2 replicas x 32 rows
    rng = np.random.default_rng(0)
    x = rng.normal(size=(windows * N * micro, 256)).astype("float32")
    y = rng.integers(0, 10, size=(len(x),)).astype("int32")
    loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)

    def fitted(make, batch, scope=True):
        with strategy.scope() if scope else keras.name_scope("one_device"):
            model = make_model(args.width)
            model.compile(optimizer=make(), loss=loss)
        model.fit(x, y, batch_size=batch, shuffle=False, verbose=0)  # 6 windows; traces
        return model

    big = fitted(lambda: keras.optimizers.Adam(1e-3), N * micro, scope=False).get_weights()
    configs = {"plain": lambda: keras.optimizers.Adam(1e-3),
               "accum": lambda: AccumOptimizer(keras.optimizers.Adam(1e-3), N),
               "builtin": lambda: keras.optimizers.Adam(1e-3, gradient_accumulation_steps=N)}
    models, notes = {}, {}
    for label, make in configs.items():
        try:
            models[label] = fitted(make, micro)
        except Exception as error:  # noqa: BLE001 - recorded in the table
            lines = str(error).splitlines()  # the line saying why, if there is one
            why = next((t for t in lines if "merge_call" in t), lines[0] if lines else "")
            notes[label] = f"{type(error).__name__}: {why.strip()[:120]}"
            continue
        dist = max(float(np.abs(a - b).max())
                   for a, b in zip(models[label].get_weights(), big, strict=True))
        notes[label] = f"{dist:.1e}"
    timers = {label: EpochTimer() for label in models}
    labels = list(models)
    for r in range(args.rounds):  # interleaved, order rotated each round (same machine load)
        for label in labels[r % len(labels) :] + labels[: r % len(labels)]:
            models[label].fit(x, y, batch_size=micro, shuffle=False, verbose=0,
                              callbacks=[timers[label]])
    per_step = {k: np.array(t.seconds) / (windows * N) for k, t in timers.items()}
    print(f"| optimizer (Adam, 2 replicas x {MICRO} rows, n={N}) | ms per micro-step, median "
          "| / plain, per round: median (IQR) | max abs weight diff from big batch, 6 windows |")
    print("|---|---|---|---|")
    for label in configs:
        if label not in per_step:
            print(f"| {label} | failed | - | {notes[label]} |")
            continue
        q1, q2, q3 = np.percentile(per_step[label] / per_step["plain"], [25, 50, 75])
        print(f"| {label} | {1e3 * np.median(per_step[label]):.2f} | {q2:.3f} ({q1:.2f}-{q3:.2f}) "
              f"| {notes[label]} |")
    print(f"{args.rounds} rounds of one epoch ({windows * N} micro-steps) per optimizer")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15, help="timed rounds (medians)")
    parser.add_argument("--windows", type=int, default=10, help="windows per round and config")
    parser.add_argument("--width", type=int, default=1024, help="first hidden width (0.92M params)")
    parser.add_argument("--optimizers", default="SGD,Adam", help="comma-separated, e.g. Adam")
    parser.add_argument("--xla", default="off,on", help="comma-separated: off, on")
    parser.add_argument("--quick", action="store_true", help="tiny run to check the script")
    parser.add_argument("--mirrored", action="store_true", help="MirroredStrategy, 2 CPU devices")
    args = parser.parse_args()
    if args.mirrored:  # before TensorFlow starts its devices
        cpu = tf.config.list_physical_devices("CPU")[0]
        two = [tf.config.LogicalDeviceConfiguration()] * 2
        tf.config.set_logical_device_configuration(cpu, two)
    if args.quick:
        args.rounds, args.windows, args.width = 2, 2, 64
    print(f"keras {keras.__version__}, tensorflow {tf.__version__}, micro-batch {MICRO}, n={N}")
    if args.mirrored:
        run_mirrored(args)
        return
    print(HEADER)
    run(args)


if __name__ == "__main__":
    main()
