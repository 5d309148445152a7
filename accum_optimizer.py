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
"""Exact gradient accumulation for any Keras 3 optimizer: n small batches, one big-batch update.

With `steps=n` the wrapper adds up the gradients of n micro-batches, all taken at the same weights,
in one buffer per variable and calls the wrapped optimizer once per window with their average: it
sees exactly the gradient of the n-times-larger batch, and its iteration counter, learning-rate
schedule, EMA, weight decay and clipping advance once per big batch (Keras' own
`gradient_accumulation_steps` advances schedules and EMA per micro-step and always divides by n).
Exact also under tf.distribute (one or several machines) and keras.distribution.DataParallel.

Reference: the Keras-2 `AccumOptimizer` recipe (Su Jianlin, 2019), made exact: no one-step lag.

    opt = AccumOptimizer(keras.optimizers.Adam(1e-3), steps=4)  # batch 16 acts as batch 64
    model.compile(optimizer=opt, loss="mse")
    model.fit(x, y, batch_size=16, callbacks=[AccumCallback()])

A mean over varying item counts c_i (masked tokens) needs sum_i c_i g_i / sum_i c_i: add
`ids = MicroBatchCount(by="nonzero")(ids)` to the model, use `mode="weighted"`, the loss's
`reduction="mean_with_sample_weight"` and fit with `sample_weight=(ids != 0)` (0 = padding).

Requirements (keras >= 3.10): `pip install keras numpy` plus `tensorflow-cpu`, `jax` or `torch`.
Copy this file into your project and keep this header. Licence: MIT.
"""

__version__ = "0.1.0"
__all__ = ["AccumOptimizer", "AccumCallback", "MicroBatchCount"]

import argparse
import json
import numbers
import os
import warnings
from pathlib import Path

import keras
import numpy as np
from keras import ops

# ----------------------------------------------------------------------------- helpers

_MARKER = "_is_micro_batch_count"  # attribute set on the marker weight of MicroBatchCount


def _is_marker(variable) -> bool:
    return bool(getattr(variable, _MARKER, False))


def _check_steps(steps) -> int:
    if isinstance(steps, bool) or not isinstance(steps, numbers.Integral):
        raise TypeError(f"Argument `steps` must be an int >= 1. Received: steps={steps!r}")
    if not 1 <= steps < 2**31:  # the micro-step counter is an int32
        raise ValueError(f"Argument `steps` must be an int in [1, 2**31). Received: steps={steps}")
    return int(steps)


def _is_symbolic(value) -> bool:
    """True while a step is traced (tf.function, jax.jit): `value` is then not a number yet."""
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf
        return not tf.executing_eagerly()
    if keras.backend.backend() == "jax":
        import jax
        return isinstance(value, jax.core.Tracer)
    return False


def _replica_context():
    """The `tf.distribute` replica context `apply` runs in, or None (no strategy, JAX, torch)."""
    if keras.backend.backend() != "tensorflow":
        return None
    import tensorflow as tf
    return tf.distribute.get_replica_context() if tf.distribute.has_strategy() else None


def _chain(optimizer):  # the optimizer, then those it wraps (LossScaleOptimizer and the like)
    while optimizer is not None:
        yield optimizer
        optimizer = getattr(optimizer, "inner_optimizer", None)


# ----------------------------------------------------------------------------- model-side helper

@keras.saving.register_keras_serializable(package="accum_optimizer")
class MicroBatchCount(keras.layers.Layer):
    """Identity layer that reports the micro-batch's item count to `AccumOptimizer`.

    It adds `(m - stop_gradient(m)) * count` to the loss, `m` its scalar weight: the loss is
    unchanged and d loss / d m = count, which `AccumOptimizer(mode="weighted")` reads (never
    applies). Put it anywhere on the path from the inputs to the outputs.

    Args:
        by: `"nonzero"` counts non-zero entries (token ids with 0 as padding, a 0/1 mask),
            `"sum"` sums the entries (a weight tensor), `"rows"` counts the leading axis (examples).

    Call arguments:
        inputs: tensor of any shape `(batch, ...)`; returned unchanged (masks pass through).
    """

    def __init__(self, by: str = "nonzero", **kwargs):
        kwargs.setdefault("dtype", "float32")  # exact integer counts, also under mixed precision
        super().__init__(**kwargs)
        if self.variable_dtype not in ("float32", "float64"):  # float16 miscounts past 2048
            raise ValueError("Argument `dtype` must be float32 or float64 (exact counts). "
                             f"Received: dtype={self.variable_dtype}")
        if by not in ("nonzero", "sum", "rows"):
            raise ValueError(f"Argument `by` must be 'nonzero', 'sum' or 'rows'. Received: {by!r}")
        self.by = by
        self.supports_masking = True

    def build(self, input_shape):
        self.marker = self.add_weight(shape=(), initializer="zeros", name="count_marker")
        setattr(self.marker, _MARKER, True)

    def call(self, inputs):
        if self.by == "rows":
            count = ops.cast(ops.shape(inputs)[0], self.marker.dtype)
        elif self.by == "sum":
            count = ops.sum(ops.cast(inputs, self.marker.dtype))
        else:
            count = ops.sum(ops.cast(ops.not_equal(inputs, 0), self.marker.dtype))
        # value exactly 0 whatever the marker holds; gradient w.r.t. the marker = count
        marker = self.marker - ops.stop_gradient(self.marker)
        self.add_loss(marker * ops.stop_gradient(count))
        return inputs

    def get_config(self):
        return {**super().get_config(), "by": self.by}


# ----------------------------------------------------------------------------- optimizer

@keras.saving.register_keras_serializable(package="accum_optimizer")
class AccumOptimizer(keras.optimizers.Optimizer):
    """Wraps an optimizer so that it updates once per `steps` micro-batches, exactly.

    Args:
        optimizer: the `keras.optimizers.Optimizer` to wrap (lr, schedule, EMA, weight decay and
            clipping are set on it). Must not accumulate itself.
        steps: int >= 1, micro-batches per update. Lowered mid-window (on the object, or in an
            edited `.keras` file), the window closes at the next micro-step with all it holds;
            a traced step (`fit`, `tf.function`) keeps the value it was traced with.
        mode: how a window's gradients are combined: `"mean"` (default; equal-size micro-batches),
            `"sum"`, or `"weighted"` by the count each `MicroBatchCount` layer reports.
        leftover: what `finalize_variable_values` (end of `model.fit`) does with a partial
            window: `"apply"` it as a smaller batch (with a warning) or `"discard"` it.
        name: optional name.

    Raises:
        TypeError / ValueError: for a bad argument, naming it.

    Mixed precision: `compile`'s LossScaleOptimizer drops a non-finite micro-step before it
    reaches the window. BatchNormalization statistics move per micro-batch (no optimizer can help).

    Data parallel: build the model and both optimizers in a `tf.distribute.MirroredStrategy` or
    `MultiWorkerMirroredStrategy` scope. Replicas sum their own micro-batches; a window's sums are
    all-reduced once: the update is one device's on replicas x micro-batch x `steps` rows,
    `global_clipnorm` included (plain Keras clips per replica); counts are summed over replicas;
    a mid-window save resumes exactly. Keras 3's `fit` fails under MultiWorkerMirroredStrategy
    ("Attempt to convert a value (PerReplica...)", plain or wrapped): `strategy.run` a step that
    calls `apply` there, its loss scaled by 1 / replicas as `fit` does. `ema_overwrite_frequency`
    fails under tf.distribute, plain or wrapped ("merge_call called while defining a new graph").
    JAX's `keras.distribution.DataParallel` needs nothing more. torch.distributed is not
    supported and raises no error: nothing here all-reduces on torch, each process updates alone.
    """

    def __init__(self, optimizer: keras.optimizers.Optimizer, steps: int, mode: str = "mean",
                 leftover: str = "apply", name: str | None = None):
        if not isinstance(optimizer, keras.optimizers.Optimizer):
            raise TypeError("Argument `optimizer` must be a keras.optimizers.Optimizer instance. "
                            f"Received: {optimizer!r} of type {type(optimizer).__name__}")
        for node in _chain(optimizer):
            if isinstance(node, AccumOptimizer) or node.gradient_accumulation_steps:
                raise ValueError("Argument `optimizer` must not accumulate gradients itself "
                                 "(nested AccumOptimizer or `gradient_accumulation_steps` set). "
                                 f"Received: {node.name} of type {type(node).__name__}")
        if mode not in ("mean", "sum", "weighted"):
            raise ValueError(f"Argument `mode` must be mean, sum or weighted. Received: {mode!r}")
        if leftover not in ("apply", "discard"):
            raise ValueError("Argument `leftover` must be 'apply' or 'discard'. "
                             f"Received: {leftover!r}")
        super().__init__(learning_rate=0.0, name=name)
        self.inner_optimizer = optimizer
        self.steps, self.mode, self.leftover = steps, mode, leftover

    steps = property(lambda self: self._steps,  # checked also when set on the object
                     lambda self, n: setattr(self, "_steps", _check_steps(n)))

    def build(self, var_list):
        super().build(var_list)  # indexes var_list (as `_trainable_variables`, untracked)
        markers = len(var_list) - len(self._targets)
        if self.mode == "weighted" and markers != 1:
            raise ValueError("mode='weighted' needs exactly one MicroBatchCount layer in the "
                             f"model. Received: {markers} count markers among the variables")
        # the same on every tf.distribute replica, whose increments count once
        self.micro_step = self.add_variable((), dtype="int32", aggregation="only_first_replica",
                                            name="micro_step")
        self.weight_sum = self._local_buffer((), None, "weight_sum")
        self.accumulators = [None if _is_marker(v) else self._local_buffer(
            v.shape, v.dtype, f"{v.name}_accumulator") for v in var_list]
        self._got = set()  # indices that got a gradient in this window (see `_window_grads`)
        if not self.inner_optimizer.built:
            self.inner_optimizer.build(self._targets)
        self.inner_optimizer._check_variables_are_known(self._targets)  # not another model's

    def _local_buffer(self, shape, dtype, name):
        """Zeros that each tf.distribute replica fills alone; read across replicas: their sum."""
        variable = keras.Variable("zeros", shape, dtype, trainable=False, aggregation="sum",
                                  synchronization="on_read", name=name)
        self._track_variable(variable)
        return variable

    variables = property(lambda self: self._variables + self.inner_optimizer.variables)
    # the variables the inner optimizer updates: all but the count marker
    _targets = property(lambda self: [v for v in self._trainable_variables if not _is_marker(v)])
    # Keras reads these through the wrapper; they belong to the optimizer doing the updates.
    iterations = property(lambda self: self.inner_optimizer.iterations)
    learning_rate = property(lambda self: self.inner_optimizer.learning_rate,
                             lambda self, lr: setattr(self.inner_optimizer, "learning_rate", lr))

    def scale_loss(self, loss):
        return self.inner_optimizer.scale_loss(loss)

    def apply(self, grads, trainable_variables=None):
        """Adds one micro-batch's gradients; updates the variables after the last of a window."""
        if not self.built:
            if trainable_variables is None:
                raise ValueError("Argument `trainable_variables` is needed on the first call (it "
                                 "builds the optimizer). Received: trainable_variables=None")
            self.build(list(trainable_variables))
        tvars = self._trainable_variables if trainable_variables is None else trainable_variables
        grads, tvars = list(grads), list(tvars)
        if len(grads) != len(tvars):
            raise ValueError("Argument `grads` must have one entry per trainable variable. "
                             f"Received: {len(grads)} gradients for {len(tvars)} variables")
        self._check_variables_are_known(tvars)
        count = next((g for g, v in zip(grads, tvars, strict=True) if _is_marker(v)), None)
        pairs = [(g, v) for g, v in zip(grads, tvars, strict=True) if not _is_marker(v)]
        if all(g is None for g, _ in pairs):  # as plain Keras: else a window of zeros is applied
            raise ValueError("Argument `grads` must hold a gradient for at least one variable. "
                             f"Received: None for all {len(pairs)} variables")
        weighted = self.mode == "weighted"
        if weighted and count is None:
            raise ValueError("mode='weighted' needs the MicroBatchCount term in the loss. Received "
                             "no gradient for its marker (in a custom loop, add sum(model.losses))")
        context = _replica_context()
        for g, v in [(g, v) for g, v in pairs if g is not None]:
            index = self._get_variable_index(v)
            self._got.add(index)
            if weighted or context is not None:  # replica-local buffers take no sparse updates
                g = g * ops.cast(count if weighted else 1, g.dtype)  # (dense: tensor * slices)
            self.assign_add(self.accumulators[index], g)
        if weighted:
            self.weight_sum.assign_add(ops.cast(count, self.weight_sum.dtype))
        self.micro_step.assign_add(1)
        if context is None:
            self._apply_window_if(ops.greater_equal(self.micro_step, self.steps))
        else:  # tf.distribute: each replica holds its own sums; see `_distributed_window`
            context.merge_call(self._distributed_window)
        if not _is_symbolic(self.micro_step.value) and self.pending() == 0:
            self._got = set()  # eager, a window just closed: the next one records its own

    def _distributed_window(self, strategy):
        """Cross-replica: a merge_call (the inner all-reduce) fails in a cond taken per replica,
        so the cond is taken here, once, on the mirrored micro-step; its branch re-enters them."""
        ops.cond(ops.greater_equal(self.micro_step, self.steps),
                 lambda: strategy.extended.call_for_each_replica(self._apply_window), lambda: None)

    def _window_grads(self):
        """The window's combined gradient for each of `_targets` (None if it got none)."""
        # copies: the buffers are cleared after (and a copy is placed on this replica's device)
        sums = [ops.copy(a) for a in self.accumulators if a is not None]
        count = ops.copy(self.weight_sum)
        context = _replica_context()
        if context is not None:  # tf.distribute: all-reduced here, handed on by replica 0 alone
            # (the others add zeros in the inner all-reduce), so clipping sees the whole gradient
            first = ops.equal(context.replica_id_in_sync_group, 0)
            sums = [ops.where(first, t, ops.zeros_like(t)) for t in context.all_reduce("sum", sums)]
            # g and c both carry `fit`'s 1/R loss scale: sum c g / sum c needs a factor R
            count = context.all_reduce("sum", count) / context.num_replicas_in_sync
        divisor = {"sum": 1, "mean": self.micro_step, "weighted": count}[self.mode]
        got = self._got or range(len(self.accumulators))  # none known (a restored window): all
        targets = [i for i, acc in enumerate(self.accumulators) if acc is not None]
        # 0/0 -> 0 for a window without counted items, as Keras' own mean losses do
        return [ops.divide_no_nan(t, ops.cast(divisor, t.dtype)) if i in got else None
                for i, t in zip(targets, sums, strict=True)]

    def _apply_window(self):
        """Hands the window's combined gradient to the inner optimizer, then clears the window."""
        window = zip(self._window_grads(), self._targets, strict=True)
        pairs = [(g, v) for g, v in window if g is not None]
        self.inner_optimizer.apply([g for g, _ in pairs], [v for _, v in pairs])
        self._clear_window()

    def _clear_window(self, condition=None):
        buffers = [a for a in self.accumulators if a is not None]
        for v in buffers + [self.weight_sum, self.micro_step]:
            zeros = ops.zeros(v.shape, v.dtype)
            v.assign(zeros if condition is None else ops.where(condition, zeros, v.value))

    def _apply_window_if(self, condition):
        if not _is_symbolic(condition):  # eager: a plain `if`, so `_got` spans the whole window
            if condition:
                self._apply_window()
            return
        if keras.backend.backend() != "jax":
            ops.cond(condition, self._apply_window, lambda: None)
            return
        # JAX traces a cond's branches as pure functions: no assignments inside. So the update
        # is the inner optimizer's `stateless_apply` on values, and the results are assigned after.
        inner, targets = self.inner_optimizer, self._targets
        state = ([v.value for v in targets], [v.value for v in inner.variables])
        new_targets, new_inner = ops.cond(condition, lambda: inner.stateless_apply(
            state[1], self._window_grads(), state[0]), lambda: state)
        for v, value in zip(targets + inner.variables, new_targets + new_inner, strict=True):
            v.assign(value)
        self._clear_window(condition)

    def pending(self) -> int:
        """Number of micro-batches added since the last update (read eagerly)."""
        if self.built and _is_symbolic(self.micro_step.value):
            raise RuntimeError("`pending()` and `flush()` run eagerly between steps, not inside a "
                               "traced function (tf.function, jax.jit).")
        return int(ops.convert_to_numpy(self.micro_step.value)) if self.built else 0

    def flush(self, discard: bool = False) -> int:
        """Applies (`discard=True`: drops) a partial window, eagerly; returns its micro-steps."""
        if not isinstance(discard, bool):  # a string such as "no" would discard
            raise TypeError(f"Argument `discard` must be True or False. Received: {discard!r}")
        pending = self.pending()
        if pending:
            settle = self._clear_window if discard else self._apply_window
            strategy = getattr(self, "_distribution_strategy", None)  # TensorFlow's, at creation
            strategy.run(settle) if strategy else settle()
            self._got = set()
        return pending

    def finalize_variable_values(self, var_list):
        """End of `model.fit`: settle a partial window as `leftover` says, then the inner EMA."""
        pending = self.flush(discard=self.leftover == "discard")
        if pending:
            then = {"apply": "applied", "discard": "dropped"}[self.leftover]
            warnings.warn(f"Training ended {pending} micro-steps into a window of {self.steps}: "
                          f"leftover={self.leftover!r}, so they were {then}.", stacklevel=2)
        self.inner_optimizer.finalize_variable_values([v for v in var_list if not _is_marker(v)])

    def get_config(self):
        inner = keras.saving.serialize_keras_object(self.inner_optimizer)
        return {"name": self.name, "optimizer": inner, "steps": self.steps, "mode": self.mode,
                "leftover": self.leftover}

    @classmethod
    def from_config(cls, config, custom_objects=None):
        config = dict(config)  # an edited file without "optimizer" meets the type check
        inner = keras.saving.deserialize_keras_object(config.pop("optimizer", None), custom_objects)
        return cls(inner, **config)


# ----------------------------------------------------------------------------- fit callback

class AccumCallback(keras.callbacks.Callback):
    """Warns when an epoch is not a whole number of windows; optionally flushes at epoch end.

    Args:
        flush_every_epoch: True applies a partial window left at each epoch's end as a smaller
            batch; False carries it into the next epoch (`fit`'s end settles what is left).
    """

    def __init__(self, flush_every_epoch: bool = False):
        super().__init__()
        if not isinstance(flush_every_epoch, bool):
            raise TypeError("Argument `flush_every_epoch` must be True or False. "
                            f"Received: {flush_every_epoch!r}")
        self.flush_every_epoch = flush_every_epoch

    def on_train_begin(self, logs=None):
        found = [o for o in _chain(self.model.optimizer) if isinstance(o, AccumOptimizer)]
        if not found:
            raise ValueError("AccumCallback needs a model compiled with an AccumOptimizer.")
        self._accum = found[0]
        steps, n = self.params.get("steps"), self._accum.steps
        if steps and steps % n:
            then = "ends with a smaller update" if self.flush_every_epoch else "straddles epochs"
            warnings.warn(f"{steps} steps per epoch is not a multiple of steps={n}: "
                          f"the last window {then}.", stacklevel=2)

    def on_epoch_end(self, epoch, logs=None):
        if self.flush_every_epoch:
            self._accum.flush()


# ----------------------------------------------------------------------------- demo / CLI

def _demo(out: str | None = None, steps: int = 4, windows: int = 6) -> dict:
    """Adam, learning rate decaying per update: AccumOptimizer and Keras' own accumulation vs one
    big batch. Returns (and writes to out/accum_optimizer_demo.json) their weights' distance."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(8 * steps * windows, 6)).astype("float32")
    y = np.tanh(x @ rng.normal(size=(6, 2))).astype("float32")
    schedule = keras.optimizers.schedules.ExponentialDecay(0.05, 1, 0.8)
    runs = {"big": (keras.optimizers.Adam(schedule), 8 * steps),
            "accum": (AccumOptimizer(keras.optimizers.Adam(schedule), steps), 8),
            "builtin": (keras.optimizers.Adam(schedule, gradient_accumulation_steps=steps), 8)}
    init, weights = None, {}
    for key, (optimizer, batch_size) in runs.items():  # micro-batches of 8 rows
        model = keras.Sequential([keras.Input((6,)), keras.layers.Dense(16, activation="tanh"),
                                  keras.layers.Dense(2)])
        init = model.get_weights() if init is None else init  # the first model's, for all
        model.set_weights(init)
        model.compile(optimizer=optimizer, loss="mse")
        model.fit(x, y, batch_size=batch_size, shuffle=False, verbose=0)
        weights[key] = model.get_weights()
    result = {f"{key}_max_abs_diff": max(float(np.abs(a - b).max()) for a, b in zip(
        weights[key], weights["big"], strict=True)) for key in ("accum", "builtin")}
    if out is not None:
        (Path(out) / "accum_optimizer_demo.json").write_text(json.dumps(result, indent=2))
    return result


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=_demo.__doc__.splitlines()[0])
    parser.add_argument("--out", help="directory for accum_optimizer_demo.json")
    out = parser.parse_args(argv).out
    if out is not None:  # made and checked before the training, not found unusable after it
        try:
            Path(out).mkdir(parents=True, exist_ok=True)
        except OSError as error:
            parser.error(f"--out must be a directory, received {out!r} ({error.strerror})")
        if not os.access(out, os.W_OK):
            parser.error(f"--out must be a writable directory, received {out!r}")
    result = _demo(out)
    print("max |weights - big batch| after 6 updates of 4 micro-batches: AccumOptimizer "
          f"{result['accum_max_abs_diff']:.2e}, gradient_accumulation_steps "
          f"{result['builtin_max_abs_diff']:.2e}")


if __name__ == "__main__":
    main()
