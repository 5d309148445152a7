"""Data-parallel worker for tests/test_accum_optimizer.py (runs in its own interpreter).

    python tests/_accum_optimizer_dist.py mirrored FOLDER  # MirroredStrategy, 2 logical CPUs
    python tests/_accum_optimizer_dist.py worker I CONFIG  # worker I of MultiWorkerMirrored
    python tests/_accum_optimizer_dist.py jax              # keras.distribution.DataParallel

Each trains the same tiny model from the same weights on the same data: AccumOptimizer under the
strategy over micro-batches of REPLICAS x B rows, and the plain inner optimizer on one device with
one batch of REPLICAS x B x N rows per window. It records the weights after every window of both
and prints one line `RESULT {json}` with the largest distances the test checks.
"""

import json
import os
import sys
from pathlib import Path

MODE = sys.argv[1]
REPLICAS, B, N, WINDOWS = 2, 4, 3, 3  # replicas, rows per replica, micro-steps per window, windows
if MODE == "jax":
    os.environ["XLA_FLAGS"] = "--xla_force_host_platform_device_count=2"
    os.environ["KERAS_BACKEND"] = "jax"
else:
    os.environ["KERAS_BACKEND"] = "tensorflow"
    if MODE == "worker":
        task = {"type": "worker", "index": int(sys.argv[2])}
        os.environ["TF_CONFIG"] = json.dumps({**json.loads(sys.argv[3]), "task": task})
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import keras  # noqa: E402
import numpy as np  # noqa: E402

from accum_optimizer import AccumOptimizer, MicroBatchCount  # noqa: E402

KO = keras.optimizers
ROWS = REPLICAS * B * N * WINDOWS


def data(dtype="float32"):
    rng = np.random.default_rng(0)
    return rng.normal(size=(ROWS, 4)).astype(dtype), rng.normal(size=(ROWS, 3)).astype(dtype)


def mlp(dtype="float32"):
    model = keras.Sequential([keras.Input((4,), dtype=dtype),
                              keras.layers.Dense(5, activation="tanh", dtype=dtype),
                              keras.layers.Dense(3, dtype=dtype)])
    rng = np.random.default_rng(7)
    model.set_weights([0.5 * rng.normal(size=w.shape) for w in model.get_weights()])
    return model


def tokens():
    """Sequences of very different lengths: replicas and micro-batches hold different counts."""
    rng = np.random.default_rng(5)
    lengths = np.where(np.arange(ROWS) % 3 == 0, 1, rng.integers(1, 7, size=ROWS))
    ids = (rng.integers(1, 11, size=(ROWS, 6)) * (np.arange(6) < lengths[:, None])).astype("int32")
    return ids, rng.integers(0, 11, size=(ROWS, 6)).astype("int32")


def token_model():
    ids = keras.Input((6,), dtype="int32")
    h = keras.layers.Embedding(11, 4)(MicroBatchCount(by="nonzero")(ids))
    model = keras.Model(ids, keras.layers.Dense(11)(h))
    rng = np.random.default_rng(3)
    model.set_weights([0.5 * rng.normal(size=w.shape) * (w.ndim > 0) for w in model.get_weights()])
    return model


class Record(keras.callbacks.Callback):
    """Weights after every `every` batches (every window), then the final ones."""

    def __init__(self, every):
        super().__init__()
        self.every, self.weights = every, []

    def on_train_batch_end(self, batch, logs=None):
        if (batch + 1) % self.every == 0:
            self.weights.append(self.model.get_weights())

    def on_train_end(self, logs=None):
        self.weights.append(self.model.get_weights())


def train(make_model, optimizer, batch, every, x, y, strategy=None, **fit_kwargs):
    """Compiles (inside `strategy.scope()` if given) and fits; returns the recorded weights."""
    scope = strategy.scope() if strategy else keras.name_scope("single")
    with scope:
        model = make_model()
        loss = fit_kwargs.pop("loss", "mse")
        model.compile(optimizer=optimizer() if callable(optimizer) else optimizer, loss=loss)
    record = Record(every)
    callbacks = [record] + fit_kwargs.pop("callbacks", [])
    model.fit(x, y, batch_size=batch, shuffle=False, verbose=0, callbacks=callbacks, **fit_kwargs)
    return record.weights, model


def distance(runs_a, runs_b, skip=0):
    """Largest |a - b| over every recorded window and weight (`skip` leading weights left out)."""
    assert len(runs_a) == len(runs_b), (len(runs_a), len(runs_b))
    return max(float(np.max(np.abs(np.asarray(u, "float64") - np.asarray(v, "float64"))))
               for wa, wb in zip(runs_a, runs_b, strict=True)
               for u, v in zip(wa[skip:], wb[skip:], strict=True))


def fit_outcome(optimizer, batch, x, y, strategy):
    """"ran", or the error `fit` raised (type and first line), which the test reads."""
    try:
        train(mlp, optimizer, batch, 1, x, y, strategy)
        return "ran"
    except Exception as error:  # noqa: BLE001 - any error is the outcome recorded
        return f"{type(error).__name__}: {str(error).splitlines()[0][:200]}"


def adam_ema():
    lr = KO.schedules.ExponentialDecay(0.05, 1, 0.7)
    return KO.Adam(lr, use_ema=True, ema_momentum=0.6)


def compare(strategy, dtype="float32"):
    """AccumOptimizer under `strategy` vs the plain optimizer on one device: distances, and
    AccumOptimizer's weights after every window."""
    x, y = data(dtype)
    micro, big = REPLICAS * B, REPLICAS * B * N
    loss = keras.losses.MeanSquaredError(dtype=dtype)  # a float32 loss would round float64 grads
    ours, model = train(lambda: mlp(dtype), lambda: AccumOptimizer(adam_ema(), N), micro, N, x, y,
                        strategy, loss=loss)
    ref, _ = train(lambda: mlp(dtype), adam_ema, big, 1, x, y, loss=loss)
    moved = distance(ref[-1:], [mlp(dtype).get_weights()])
    return {"adam_ema": distance(ours, ref), "moved": moved,
            "iterations": int(model.optimizer.iterations.numpy())}, ours


def token_fit(optimizer, batch, every, strategy=None):
    """A masked-token mean (`mean_with_sample_weight`) over `tokens()`: the recorded weights."""
    ids, tgt = tokens()
    loss = keras.losses.SparseCategoricalCrossentropy(True, reduction="mean_with_sample_weight")
    weights, _ = train(token_model, optimizer, batch, every, ids, tgt, strategy, loss=loss,
                       sample_weight=(ids != 0).astype("float32"))
    return weights


def sgd():
    return KO.SGD(0.5, momentum=0.9)


def weighted(strategy, ref=None):
    """Counts summed over replicas and micro-batches; SGD momentum (sparse embedding gradients).
    `ref`: one device's big-batch weights, trained here if not given."""
    ref = ref or token_fit(sgd, REPLICAS * B * N, 1)
    ours = token_fit(lambda: AccumOptimizer(sgd(), N, mode="weighted"), REPLICAS * B, N, strategy)
    by_mean = token_fit(lambda: AccumOptimizer(sgd(), N), REPLICAS * B, N, strategy)
    return {"weighted": distance(ours, ref, skip=1), "weighted_by_mean": distance(by_mean, ref,
                                                                                   skip=1)}


def clipping_and_ema_overwrite(strategy):
    """global_clipnorm under the strategy vs one device, wrapped and plain (which clips each
    replica's share); AdamW's EMA overwrite: does it run under the strategy, plain and wrapped?"""
    x, y = data()
    micro, big = REPLICAS * B, REPLICAS * B * N

    def clip():
        return KO.SGD(0.1, momentum=0.9, global_clipnorm=0.05)

    ours, _ = train(mlp, lambda: AccumOptimizer(clip(), N), micro, N, x, y, strategy)
    keras_dp, _ = train(mlp, clip, big, 1, x, y, strategy)
    single, _ = train(mlp, clip, big, 1, x, y)
    result = {"clip_accum": distance(ours, single), "clip_keras": distance(keras_dp, single)}

    def adamw():
        return KO.AdamW(0.05, use_ema=True, ema_momentum=0.5, ema_overwrite_frequency=2)

    result["ema_overwrite_plain"] = fit_outcome(adamw, big, x, y, strategy)
    result["ema_overwrite_accum"] = fit_outcome(lambda: AccumOptimizer(adamw(), N), micro, x, y,
                                                strategy)
    return result


def resume(strategy, folder, uninterrupted):
    """ModelCheckpoint 2 micro-steps into the second window (.keras, and weights-only), reloaded
    in the strategy's scope or on one device, trained on: the uninterrupted run's weights."""
    x, y = data()
    micro, done = REPLICAS * B, N + 2
    saves = [keras.callbacks.ModelCheckpoint(Path(folder) / "mid.keras", save_freq=done),
             keras.callbacks.ModelCheckpoint(Path(folder) / "mid.weights.h5", save_freq=done,
                                             save_weights_only=True)]
    train(mlp, lambda: AccumOptimizer(adam_ema(), N), micro, N, x, y, strategy, callbacks=saves)
    result = {}
    for label, scope in [("resume", strategy.scope()), ("resume_one_device", keras.name_scope("1")),
                         ("resume_weights_only", strategy.scope())]:
        with scope:
            if label == "resume_weights_only":
                model = mlp()
                model.compile(optimizer=AccumOptimizer(adam_ema(), N), loss="mse")
                model.optimizer.build(model.trainable_variables)
                model.load_weights(Path(folder) / "mid.weights.h5")
            else:
                model = keras.models.load_model(Path(folder) / "mid.keras")
        result[label + "_pending"] = model.optimizer.pending()
        model.fit(x[done * micro :], y[done * micro :], batch_size=micro, shuffle=False, verbose=0)
        result[label] = distance(uninterrupted[-1:], [model.get_weights()])
    return result


def eager_window_without_a_gradient(strategy):
    """An eager `strategy.run` loop, the second variable with gradients in the first window only:
    as plain Keras (a None gradient: no update) the second window leaves it alone, where a zero
    gradient would let SGD's momentum move it."""
    import tensorflow as tf

    g = np.random.default_rng(0).normal(size=(2 * N, 5)).astype("float32") / REPLICAS
    with strategy.scope():
        ours = [keras.Variable(np.zeros(n, "float32")) for n in (3, 2)]
        opt = AccumOptimizer(KO.SGD(0.1, momentum=0.9), N)
        opt.build(ours)
    for i in range(2 * N):  # every replica gets g / REPLICAS: their sum is g
        grads = [tf.constant(g[i, :3]), tf.constant(g[i, 3:]) if i < N else None]
        strategy.run(lambda grads=grads: opt.apply(grads, ours))
    ref, sgd = [keras.Variable(np.zeros(n, "float32")) for n in (3, 2)], KO.SGD(0.1, momentum=0.9)
    sgd.apply([REPLICAS * g[:N, :3].mean(0), REPLICAS * g[:N, 3:].mean(0)], ref)
    sgd.apply([REPLICAS * g[N:, :3].mean(0), None], ref)
    return {"eager_missing_window": max(float(np.max(np.abs(u.numpy() - v.numpy())))
                                        for u, v in zip(ours, ref, strict=True))}


def custom_loop(strategy, index):
    """Worker `index` of a MultiWorkerMirroredStrategy in a tf.function loop: rows B*index.. of
    every micro-batch of REPLICAS x B, the loss scaled as `fit` does. (Keras 3's fit fails under
    this strategy, plain or wrapped: its outcome is recorded too.)"""
    import tensorflow as tf

    x, y = data()
    with strategy.scope():
        model, opt = mlp(), AccumOptimizer(adam_ema(), N)
        opt.build(model.trainable_variables)

    @tf.function
    def step(xb, yb):
        def replica(xb, yb):
            with tf.GradientTape() as tape:
                loss = keras.ops.mean(keras.ops.square(model(xb) - yb))
                loss = loss / strategy.num_replicas_in_sync
            opt.apply(tape.gradient(loss, model.trainable_variables), model.trainable_variables)

        strategy.run(replica, args=(xb, yb))

    result = {"fit_plain": fit_outcome(adam_ema, REPLICAS * B, x, y, strategy),
              "fit_accum": fit_outcome(lambda: AccumOptimizer(adam_ema(), N), REPLICAS * B, x, y,
                                       strategy)}
    weights = []
    for i, start in enumerate(range(index * B, ROWS, REPLICAS * B)):
        step(x[start : start + B], y[start : start + B])
        if (i + 1) % N == 0:
            weights.append(model.get_weights())
    opt.finalize_variable_values(model.trainable_variables)
    ref, _ = train(mlp, adam_ema, REPLICAS * B * N, 1, x, y)
    return {**result, "adam_ema": distance(weights + [model.get_weights()], ref),
            "iterations": int(opt.iterations.numpy())}


def main():
    if MODE == "jax":
        import jax

        x, y = data()
        ref, _ = train(mlp, adam_ema, REPLICAS * B * N, 1, x, y)  # one device, before the mesh
        ref_tokens = token_fit(sgd, REPLICAS * B * N, 1)
        keras.distribution.set_distribution(keras.distribution.DataParallel(devices=jax.devices()))
        ours, model = train(mlp, lambda: AccumOptimizer(adam_ema(), N), REPLICAS * B, N, x, y)
        devices = len(model.trainable_variables[0].value.devices())  # replicated on both
        print("RESULT", json.dumps({"devices": devices, "adam_ema": distance(ours, ref),
                                    "iterations": int(model.optimizer.iterations.numpy()),
                                    **weighted(None, ref_tokens)}))
        return
    import tensorflow as tf

    if MODE == "worker":
        strategy = tf.distribute.MultiWorkerMirroredStrategy()
    else:
        cpu = tf.config.list_physical_devices("CPU")[0]
        two = [tf.config.LogicalDeviceConfiguration()] * 2
        tf.config.set_logical_device_configuration(cpu, two)
        strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
    result = {"replicas": strategy.num_replicas_in_sync}
    if MODE == "worker":
        result.update(custom_loop(strategy, int(sys.argv[2])))
    else:
        distances, uninterrupted = compare(strategy)
        result.update(distances)
        result.update(weighted(strategy))
        result.update(clipping_and_ema_overwrite(strategy))
        result.update(resume(strategy, sys.argv[2], uninterrupted))
        result["adam_ema_float64"] = compare(strategy, "float64")[0]["adam_ema"]
        result.update(eager_window_without_a_gradient(strategy))
    print("RESULT", json.dumps(result))


if __name__ == "__main__":
    main()
