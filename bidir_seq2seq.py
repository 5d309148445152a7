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
"""Seq2seq with synchronous bidirectional decoding: L2R and R2L decoders that read each other.

A left-to-right (L2R) and a right-to-left (R2L) decoder share one encoder and run in lock step:
at target step i each attends to the source and to the other's hidden states of steps 0..i, so
each half knows a guess of the far end of the output. Fusions of that context: the Keras post's
("concat") or SB-NMT's ("sbnmt": h + lambda * tanh(cross-attention)). With
``shared_decoder=True`` (SB-NMT's sharing) one decoder serves both directions; R2L starts from EOS.

Leakage: trained on gold targets on both sides, a direction past the middle copies the tokens it
must predict from the other side. So by default each direction reads the other's *pseudo
outputs* (the model's own synchronous greedy decode of the training sources, refreshed every
epoch); ``pseudo="gold"`` keeps the leaky recipe, and fixed decoded id lists may be passed.
Reference: Zhou, Zhang & Zong, "Synchronous Bidirectional Neural Machine Translation", TACL 2019,
and the "seq2seq + bidirectional decoding" Keras post (kexue.fm, 2019) it extends.

Usage (``python bidir_seq2seq.py`` trains on the built-in `carry2` task and prints decodes)::

    (src, tgt), (test_src, test_tgt) = carry2(2000, 100, digits=2)
    src_vocab, tgt_vocab = Vocab.fit(src), Vocab.fit(tgt)
    model = compile_seq2seq(build_seq2seq(Seq2SeqConfig(len(src_vocab), len(tgt_vocab))))
    fit_seq2seq(model, src_vocab.encode_batch(src), tgt_vocab.encode_all(tgt), epochs=2)
    ids, scores = bidirectional_beam_search(model, src_vocab.encode_batch(test_src[:3]), 4, 8)
    print(["".join(tgt_vocab.decode(s)) for s in ids])

Unknown symbols map to ``UNK`` (id 1); ids 0, 2 and 3 are padding, begin and end.
Requirements: ``pip install keras numpy`` plus a backend: ``tensorflow-cpu``, ``jax`` or
``torch`` (all three tested). Copy this file into your project and keep this header. Licence: MIT.
"""

__version__ = "0.2.0"
__all__ = [
    "PAD", "UNK", "BOS", "EOS", "Vocab", "pad_batch", "MaskedAttention", "SourceEncoder",
    "DecoderRecurrence", "Readout", "Seq2SeqConfig", "build_seq2seq", "compile_seq2seq",
    "fit_seq2seq", "greedy_decode", "beam_search", "bidirectional_beam_search", "save_seq2seq",
    "load_seq2seq", "carry2",
]

import argparse
import dataclasses
import json
import math
import os
import time
from pathlib import Path

import keras
import numpy as np
from keras import ops

PAD, UNK, BOS, EOS = 0, 1, 2, 3
_SPECIALS = ["<pad>", "<unk>", "<s>", "</s>"]
_NEG = -1e9  # log-prob of a forbidden token
_R2L_START = EOS  # the R2L decoder's first input: it reads the output from its end
_WIDE = 2**14  # widest layer a config may ask for
_MAX_BEAM, _MAX_LEN = 64, 1000  # past these a search only burns memory and time

# ----------------------------------------------------------------------------- helpers


def _check_number(name: str, value, low=1, high=math.inf, integer: bool = True):
    kind = "an integer" if integer else "a number"
    if isinstance(value, bool) or not isinstance(
            value, (int, np.integer) if integer else (int, float, np.integer, np.floating)):
        raise TypeError(f"`{name}` must be {kind}, received {value!r}.")
    if not low <= value <= high:  # also refuses nan
        wanted = f">= {low}" if high == math.inf else f"in [{low}, {high}]"
        raise ValueError(f"`{name}` must be {kind} {wanted}, received {value}.")
    return int(value) if integer else float(value)


def _check_id_lists(name: str, seqs, vocab_size: int, n: int) -> list[list[int]]:
    """`n` lists of target ids in [UNK, vocab_size), without BOS/EOS (those are added here)."""
    if not isinstance(seqs, (list, tuple)):
        raise TypeError(f"`{name}` must be a list of id lists, received {type(seqs).__name__}.")
    if len(seqs) != n or n == 0:
        raise ValueError(f"`{name}` and `src_ids` must have equal lengths (>= 1), received "
                         f"{len(seqs)} and {n}.")
    for seq in seqs:
        if not isinstance(seq, (list, tuple, np.ndarray)) or any(
                isinstance(i, bool) or not isinstance(i, (int, np.integer)) for i in seq):
            raise TypeError(f"`{name}` must hold lists of integer ids (Vocab.encode_all makes "
                            f"them), received {seq!r:.80}.")
        if any(not UNK <= i < vocab_size or i in (BOS, EOS) for i in seq):
            raise ValueError(f"`{name}` must hold ids in [{UNK}, {vocab_size}) other than "
                             f"BOS/EOS (they are added here), received {list(seq)}.")
    return [[int(i) for i in seq] for seq in seqs]


class Vocab:
    """Symbol <-> id table with the four reserved ids PAD, UNK, BOS, EOS. A sequence is a
    string (one symbol per character) or a list of string tokens; unknown symbols become UNK."""

    def __init__(self, symbols: list[str]):
        if isinstance(symbols, str) or any(not isinstance(s, str) for s in symbols):
            raise TypeError(f"`symbols` must be a list of str, received {symbols!r:.80}.")
        reserved = [s for s in symbols if s in _SPECIALS]
        if reserved:
            raise ValueError(f"`symbols` must not contain the reserved {_SPECIALS}, received "
                             f"{reserved[:3]}.")
        # a repeated symbol keeps its first id, so ids and symbols stay one to one
        self.symbols = list(_SPECIALS) + list(dict.fromkeys(symbols))
        self.index = {s: i for i, s in enumerate(self.symbols)}

    @classmethod
    def fit(cls, sequences) -> "Vocab":
        """Collects every symbol of `sequences`, in first-seen order."""
        seen = {}
        for seq in sequences:
            seen.update(dict.fromkeys(seq))
        return cls(list(seen))

    def __len__(self) -> int:
        return len(self.symbols)

    def encode(self, seq) -> list[int]:
        if not isinstance(seq, (str, list, tuple)) or any(not isinstance(s, str) for s in seq):
            raise TypeError(f"`seq` must be a str or a list of str, received {seq!r:.80}.")
        if len(seq) == 0:
            raise ValueError("`seq` must hold at least one symbol, received an empty one.")
        return [self.index.get(s, UNK) for s in seq]

    def encode_all(self, seqs) -> list[list[int]]:
        return [self.encode(s) for s in seqs]

    def encode_batch(self, seqs) -> np.ndarray:
        """Encodes and right-pads with PAD into an int32 array (batch, longest)."""
        return pad_batch(self.encode_all(seqs))

    def decode(self, ids) -> list[str]:
        """Symbols of `ids` up to the first EOS, skipping PAD and BOS."""
        ids = [int(i) for i in ids]
        if any(not 0 <= i < len(self) for i in ids):
            raise ValueError(f"`ids` must be in [0, {len(self)}), received {ids}.")
        return [self.symbols[i] for i in ids[:ids.index(EOS) if EOS in ids else len(ids)]
                if i not in (PAD, BOS)]


def pad_batch(seqs, prefix: tuple = (), suffix: tuple = ()) -> np.ndarray:
    """Right-pads id lists (each wrapped in `prefix` and `suffix`) into an int32 array."""
    rows = [list(prefix) + list(s) + list(suffix) for s in seqs]
    if not rows:
        raise ValueError("`seqs` must hold at least one sequence, received none.")
    out = np.zeros((len(rows), max(len(r) for r in rows)), dtype="int32")
    for i, r in enumerate(rows):
        out[i, : len(r)] = r
    return out


# ----------------------------------------------------------------------------- layers


@keras.saving.register_keras_serializable(package="bidir_seq2seq")
class MaskedAttention(keras.layers.Layer):
    """Multi-head scaled dot-product attention with an explicit boolean mask. Call arguments:
    query (batch, t, d), memory (batch, s, e), attention_mask bool (batch, t or 1, s), True
    where attending is allowed; memory_kv: projected memory. Returns (batch, t, output_dim)."""

    def __init__(self, heads: int, key_dim: int, output_dim: int, **kwargs):
        super().__init__(**kwargs)
        self.heads, self.key_dim, self.output_dim = heads, key_dim, output_dim
        self.supports_masking = True  # the query's padding mask passes through

    def build(self, query_shape, memory_shape=None, attention_mask_shape=None):
        width = self.heads * self.key_dim
        self.query = keras.layers.Dense(width, use_bias=False, name="query")
        self.key = keras.layers.Dense(width, use_bias=False, name="key")
        self.value = keras.layers.Dense(width, use_bias=False, name="value")
        self.output_dense = keras.layers.Dense(self.output_dim, use_bias=False, name="output")

    def _split(self, x):  # (B, t, h * k) -> (B, h, t, k)
        x = ops.reshape(x, (ops.shape(x)[0], ops.shape(x)[1], self.heads, self.key_dim))
        return ops.transpose(x, (0, 2, 1, 3))

    def project_memory(self, memory):
        """Keys and values (batch, s, heads * key_dim): computed once per memory in decoding."""
        return self.key(memory), self.value(memory)

    def call(self, query, memory, attention_mask, memory_kv=None):
        keys, values = self.project_memory(memory) if memory_kv is None else memory_kv
        q, k, v = self._split(self.query(query)), self._split(keys), self._split(values)
        scores = ops.matmul(q, ops.transpose(k, (0, 1, 3, 2))) / math.sqrt(self.key_dim)
        allowed = ops.expand_dims(attention_mask, 1)  # (B, 1, t or 1, s)
        scores = ops.where(allowed, scores, _NEG)
        # Step 0 of a cached decode attends to one state: its softmax is 1 (Keras warns on it).
        one_key = scores.shape[-1] == 1
        weights = ops.ones_like(scores) if one_key else ops.softmax(scores, axis=-1)
        out = ops.transpose(ops.matmul(weights, v), (0, 2, 1, 3))  # (B, t, h, k)
        out = ops.reshape(out, (ops.shape(out)[0], ops.shape(out)[1], self.heads * self.key_dim))
        return self.output_dense(out)

    def get_config(self):
        return {**super().get_config(), "heads": self.heads, "key_dim": self.key_dim,
                "output_dim": self.output_dim}


class _TokenRNN(keras.layers.Layer):
    """Sizes and config shared by the encoder and the decoder recurrence."""

    def __init__(self, vocab_size: int, embed_dim: int, units: int, **kwargs):
        super().__init__(**kwargs)
        self.vocab_size, self.embed_dim, self.units = vocab_size, embed_dim, units

    def get_config(self):
        return {**super().get_config(), "vocab_size": self.vocab_size,
                "embed_dim": self.embed_dim, "units": self.units}


@keras.saving.register_keras_serializable(package="bidir_seq2seq")
class SourceEncoder(_TokenRNN):
    """Embedding (PAD masked) + bidirectional GRU; the padding mask is passed on.
    Call arguments: ids, int (batch, src_len). Returns (batch, src_len, 2 * units)."""

    def build(self, input_shape):
        self.embedding = keras.layers.Embedding(self.vocab_size, self.embed_dim, mask_zero=True)
        self.rnn = keras.layers.Bidirectional(keras.layers.GRU(self.units, return_sequences=True))

    def call(self, ids):
        return self.rnn(self.embedding(ids), mask=self.embedding.compute_mask(ids))

    def compute_mask(self, ids, mask=None):
        return self.embedding.compute_mask(ids)


@keras.saving.register_keras_serializable(package="bidir_seq2seq")
class DecoderRecurrence(_TokenRNN):
    """One direction's recurrence: token embedding + GRU started from the encoder. It reads only
    its own past tokens (directions meet in `Readout`), so a decoding step caches a GRU state.

    Call arguments: ``[ids (batch, tgt_len), encoder output (batch, src_len, d)]``, the
    encoder's padding mask carried along. Returns hidden states (batch, tgt_len, units).
    """

    def build(self, input_shape):
        self.embedding = keras.layers.Embedding(self.vocab_size, self.embed_dim, mask_zero=True)
        self.gru = keras.layers.GRU(self.units, return_sequences=True, return_state=True)
        self.bridge = keras.layers.Dense(self.units, activation="tanh", name="bridge")

    def initial_state(self, enc, enc_mask):
        """Masked mean of the encoder output through a tanh layer: (batch, units)."""
        m = ops.cast(ops.expand_dims(enc_mask, -1), enc.dtype)
        return self.bridge(ops.sum(enc * m, axis=1) / ops.maximum(ops.sum(m, axis=1), 1.0))

    def step(self, tokens, state):
        """Advances one step: tokens (batch,), state (batch, units) -> (h, new state)."""
        x = ops.take(self.embedding.embeddings, tokens, axis=0)  # (batch, embed_dim)
        h, _ = self.gru.cell(x, state)  # the GRU's own cell: one step, no scan
        return h, h

    def call(self, inputs, mask=None):
        ids, enc = inputs
        state = self.initial_state(enc, mask[1])
        seq, _ = self.gru(self.embedding(ids), initial_state=state,
                          mask=self.embedding.compute_mask(ids))
        return seq

    def compute_mask(self, inputs, mask=None):
        return self.embedding.compute_mask(inputs[0])


@keras.saving.register_keras_serializable(package="bidir_seq2seq")
class Readout(keras.layers.Layer):
    """Next-token logits from a decoder state, the source and (optionally) the other direction.

    Args:
        vocab_size: target vocabulary size. units: width of the tanh layer before the logits.
        heads, key_dim: shape of the two multi-head attentions.
        fusion: ``"none"`` (unidirectional), ``"concat"`` or ``"sbnmt"`` (``h + sb_lambda *
            tanh(cross context)``, sb_lambda being SB-NMT's interpolation weight).

    Call arguments: ``[h, enc]`` or ``[h, enc, other_h]``, masks carried along; step i attends
    to the other direction's steps 0..i only. Returns logits (batch, tgt_len, vocab_size).
    """

    def __init__(self, vocab_size: int, units: int, heads: int = 2, key_dim: int = 32,
                 fusion: str = "none", sb_lambda: float = 0.1, **kwargs):
        super().__init__(**kwargs)
        if fusion not in ("none", "concat", "sbnmt"):
            raise ValueError(f"`fusion` must be 'none', 'concat' or 'sbnmt', received {fusion!r}.")
        self.vocab_size, self.units, self.heads, self.key_dim = vocab_size, units, heads, key_dim
        self.fusion, self.sb_lambda = fusion, sb_lambda
        self.supports_masking = True

    def build(self, input_shape):
        shape = (self.heads, self.key_dim, input_shape[0][-1])
        self.source_attention = MaskedAttention(*shape, name="source_attention")
        if self.fusion != "none":
            self.cross_attention = MaskedAttention(*shape, name="cross_attention")
        self.hidden = keras.layers.Dense(self.units, activation="tanh", name="hidden")
        self.to_logits = keras.layers.Dense(self.vocab_size, name="logits")

    def logits(self, h, c_src, c_cross=None):
        if self.fusion == "sbnmt":
            h = h + self.sb_lambda * ops.tanh(c_cross)
        parts = [h, c_src, c_cross] if self.fusion == "concat" else [h, c_src]
        return self.to_logits(self.hidden(ops.concatenate(parts, axis=-1)))

    def call(self, inputs, mask=None):
        h, enc = inputs[:2]
        c_src = self.source_attention(h, enc, ops.expand_dims(mask[1], 1))
        c_cross = None
        if self.fusion != "none":
            other, other_mask = inputs[2], mask[2]
            t, t2 = ops.shape(h)[1], ops.shape(other)[1]
            # step i sees the other direction's steps 0..i, and none of its padding
            causal = ops.expand_dims(ops.arange(t), 1) >= ops.expand_dims(ops.arange(t2), 0)
            cross_mask = ops.logical_and(ops.expand_dims(causal, 0), ops.expand_dims(other_mask, 1))
            c_cross = self.cross_attention(h, other, cross_mask)
        return self.logits(h, c_src, c_cross)

    def compute_mask(self, inputs, mask=None):
        return mask[0]

    def get_config(self):
        return {**super().get_config(), "vocab_size": self.vocab_size, "units": self.units,
                "heads": self.heads, "key_dim": self.key_dim, "fusion": self.fusion,
                "sb_lambda": self.sb_lambda}


# ----------------------------------------------------------------------------- config, builder


@dataclasses.dataclass
class Seq2SeqConfig:
    """Sizes and switches of a model; `decoder_units` defaults to `units`. With
    ``shared_decoder=True`` (bidirectional only) one recurrence and one readout serve both
    directions, as in SB-NMT; the R2L direction is told apart by its start token (EOS)."""

    src_vocab_size: int
    tgt_vocab_size: int
    embed_dim: int = 32
    units: int = 64
    decoder_units: int | None = None
    heads: int = 2
    key_dim: int = 32
    bidirectional: bool = True
    fusion: str = "concat"
    sb_lambda: float = 0.1
    shared_decoder: bool = False


def _check_config(config) -> None:
    if not isinstance(config, Seq2SeqConfig):
        raise TypeError(f"`config` must be a Seq2SeqConfig, received {type(config).__name__}.")
    for name, low, high in (("src_vocab_size", 4, 2**24), ("tgt_vocab_size", 4, 2**24),
                            ("embed_dim", 1, _WIDE), ("units", 1, _WIDE), ("heads", 1, 256),
                            ("key_dim", 1, _WIDE), ("decoder_units", 1, _WIDE)):
        if getattr(config, name) is not None or name != "decoder_units":
            _check_number(name, getattr(config, name), low, high)
    for name in ("bidirectional", "shared_decoder"):
        if not isinstance(getattr(config, name), bool):
            raise TypeError(f"`{name}` must be True or False, received {getattr(config, name)!r}.")
    if config.fusion not in ("concat", "sbnmt"):
        raise ValueError(f"`fusion` must be 'concat' or 'sbnmt', received {config.fusion!r}.")
    _check_number("sb_lambda", config.sb_lambda, -10.0, 10.0, False)
    if config.shared_decoder and not config.bidirectional:
        raise ValueError("`shared_decoder=True` needs `bidirectional=True` (one decoder for the "
                         "two directions), received bidirectional=False.")


def build_seq2seq(config: Seq2SeqConfig) -> keras.Model:
    """Builds the training graph (teacher forcing) as a plain `keras.Model`.

    Unidirectional: ``[src, dec_in]`` -> logits. Bidirectional: ``[src, l2r_in, r2l_in,
    l2r_other_in, r2l_other_in]`` -> ``[l2r_logits, r2l_logits]``; each direction attends to
    the states the *other* direction computes from its `*_other_in` (gold or pseudo outputs).
    """
    _check_config(config)
    dec_units = config.decoder_units or config.units
    src = keras.Input((None,), dtype="int32", name="src")
    enc = SourceEncoder(config.src_vocab_size, config.embed_dim, config.units, name="encoder")(src)
    fusion = config.fusion if config.bidirectional else "none"

    def direction(name):
        rec = DecoderRecurrence(config.tgt_vocab_size, config.embed_dim, dec_units,
                                name=f"{name}_recurrence")
        out = Readout(config.tgt_vocab_size, dec_units, config.heads, config.key_dim, fusion,
                      config.sb_lambda, name=f"{name}_readout")
        return rec, out

    if not config.bidirectional:
        dec_in = keras.Input((None,), dtype="int32", name="dec_in")
        rec, out = direction("l2r")
        logits = out([rec([dec_in, enc]), enc])
        return keras.Model([src, dec_in], logits, name="seq2seq")
    names = ["l2r_in", "r2l_in", "l2r_other_in", "r2l_other_in"]
    l2r_in, r2l_in, l2r_other, r2l_other = [keras.Input((None,), dtype="int32", name=n)
                                            for n in names]
    rec_l, out_l = direction("shared" if config.shared_decoder else "l2r")
    rec_r, out_r = (rec_l, out_l) if config.shared_decoder else direction("r2l")
    l2r_logits = out_l([rec_l([l2r_in, enc]), enc, rec_r([r2l_other, enc])])
    r2l_logits = out_r([rec_r([r2l_in, enc]), enc, rec_l([l2r_other, enc])])
    return keras.Model([src, l2r_in, r2l_in, l2r_other, r2l_other],
                       [l2r_logits, r2l_logits], name="bidir_seq2seq")


def _is_bidirectional(model: keras.Model) -> bool:
    if not (isinstance(model, keras.Model) and any(la.name == "encoder" for la in model.layers)):
        raise TypeError(f"`model` must be a keras.Model made by build_seq2seq, received "
                        f"{type(model).__name__}.")
    return len(model.inputs) == 5


def _direction_layers(model: keras.Model, name: str):
    """(recurrence, readout) of direction `name`; a shared decoder serves both."""
    key = name if any(layer.name == f"{name}_readout" for layer in model.layers) else "shared"
    return model.get_layer(f"{key}_recurrence"), model.get_layer(f"{key}_readout")


def _check_src(model, src_ids) -> np.ndarray:
    """An int array (batch, src_len), both >= 1, of source ids with PAD only at row ends."""
    _is_bidirectional(model)  # refuses anything build_seq2seq did not make
    vocab = model.get_layer("encoder").vocab_size
    try:
        src_ids = np.asarray(src_ids)
    except ValueError:  # ragged nested lists
        src_ids = np.asarray(None)
    if src_ids.ndim != 2 or 0 in src_ids.shape or not np.issubdtype(src_ids.dtype, np.integer):
        raise ValueError(f"`src_ids` must be an int array (batch >= 1, src_len >= 1) as pad_batch "
                         f"makes, received dtype {src_ids.dtype} and shape {src_ids.shape}.")
    bad = ((src_ids < 0) | (src_ids >= vocab) | (src_ids[:, :1] == PAD)).any(axis=1) | (
        (src_ids[:, :-1] == PAD) & (src_ids[:, 1:] != PAD)).any(axis=1)
    if bad.any():
        raise ValueError(f"`src_ids` must hold ids in [0, {vocab}) with PAD only at the end of a "
                         f"row and no empty row (all PAD), received {src_ids[bad][0].tolist()}.")
    return src_ids


def compile_seq2seq(model: keras.Model, learning_rate: float = 3e-3) -> keras.Model:
    """Adam + token cross-entropy with PAD ignored; the two directions' losses are averaged."""
    _check_number("learning_rate", learning_rate, 1e-10, 10.0, False)
    loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True, ignore_class=PAD)
    n_out = 2 if _is_bidirectional(model) else 1
    model.compile(optimizer=keras.optimizers.Adam(learning_rate, clipnorm=1.0),
                  loss=[loss] * n_out, loss_weights=[1.0 / n_out] * n_out)
    return model


# ----------------------------------------------------------------------------- training


def _teacher_arrays(tgt_seqs, reverse: bool = False):
    """Decoder inputs ``start + y`` and targets ``y + EOS``, padded; R2L: y reversed, start EOS."""
    seqs = [list(s)[::-1] if reverse else list(s) for s in tgt_seqs]
    return pad_batch(seqs, prefix=(_R2L_START if reverse else BOS,)), pad_batch(seqs, suffix=(EOS,))


def _model_inputs(src_ids, tgt_seqs, bidirectional, other=None):
    l_in, l_out = _teacher_arrays(tgt_seqs)
    if not bidirectional:
        return [src_ids, l_in], l_out
    r_in, r_out = _teacher_arrays(tgt_seqs, reverse=True)
    if other is None:  # the leaky recipe: each side reads the other's gold inputs
        l_other, r_other = l_in, r_in
    else:  # other = (l2r pseudo outputs, r2l pseudo outputs), both in reading order
        l_other, r_other = _teacher_arrays(other[0])[0], _teacher_arrays(other[1], True)[0]
    return [src_ids, l_in, r_in, l_other, r_other], [l_out, r_out]


def _check_pairs(model, src_ids, tgt_seqs, pseudo):
    """Sources as `_check_src`, one target id list per source, `pseudo` as in fit_seq2seq."""
    src_ids = _check_src(model, src_ids)
    vocab = _direction_layers(model, "l2r")[1].vocab_size
    tgt_seqs = _check_id_lists("tgt_seqs", tgt_seqs, vocab, len(src_ids))
    if isinstance(pseudo, str) and pseudo in ("self", "gold"):
        return src_ids, tgt_seqs, pseudo
    if not (_is_bidirectional(model) and isinstance(pseudo, (tuple, list)) and len(pseudo) == 2):
        raise ValueError(f"`pseudo` must be 'self', 'gold' or (bidirectional models) a pair of "
                         f"id lists, received {pseudo!r:.80}.")
    return src_ids, tgt_seqs, [_check_id_lists("pseudo", o, vocab, len(src_ids)) for o in pseudo]


def fit_seq2seq(model: keras.Model, src_ids: np.ndarray, tgt_seqs, epochs: int = 1,
                batch_size: int = 64, pseudo="self", verbose: int = 0) -> list[dict]:
    """Trains with `model.fit`, one epoch at a time; returns each epoch's logged losses.

    Args:
        src_ids: int array (n, src_len), PAD-padded. tgt_seqs: n lists of target ids.
        pseudo: bidirectional models only. ``"self"`` (default): before every epoch the model
            decodes the training sources synchronously (greedy) and each direction attends to
            the other's decode, as at test time. ``"gold"``: the other's gold prefix (leaks).
            Or fixed ``(l2r_seqs, r2l_seqs)`` id lists (R2L in normal order), e.g. decoded by
            separately trained unidirectional models. Pseudo outputs stop at the longest
            target + 2 symbols.
    """
    _check_number("epochs", epochs)
    _check_number("batch_size", batch_size)
    src_ids, tgt_seqs, pseudo = _check_pairs(model, src_ids, tgt_seqs, pseudo)
    bidir, logs = _is_bidirectional(model), []
    max_len = max(len(s) for s in tgt_seqs) + 2
    for _ in range(epochs):
        other = None if pseudo == "gold" or not bidir else pseudo  # None: gold on both sides
        if bidir and pseudo == "self":  # re-decode with this epoch's weights
            other = _bidir_search(model, src_ids, 1, max_len, 0.0, "rank", 512)[2]
        x, y = _model_inputs(src_ids, tgt_seqs, bidir, other)
        hist = model.fit(x, y, batch_size=batch_size, epochs=1, shuffle=True, verbose=verbose)
        logs.append({k: float(v[-1]) for k, v in hist.history.items()})
    return logs


# ----------------------------------------------------------------------------- decoding


class _Direction:
    """Cached decoding state of one direction for `rows` = batch * beam hypotheses: GRU state,
    source keys/values and this direction's history as keys/values of the partner's
    (`reader`'s) cross-attention, grown by one step per `advance`."""

    def __init__(self, model, name, enc, enc_mask, beam, reader=None):
        self.rec, self.out = _direction_layers(model, name)
        self.enc, self.enc_mask = ops.repeat(enc, beam, axis=0), ops.repeat(enc_mask, beam, axis=0)
        self.enc_kv = self.out.source_attention.project_memory(self.enc)
        self.state = self.rec.initial_state(self.enc, self.enc_mask)
        self.reader = None if reader is None else _direction_layers(model, reader)[1]
        self.hist_k = self.hist_v = None

    def advance(self, tokens):
        """Feeds the last tokens (rows,); appends the new hidden state to the history."""
        h, self.state = self.rec.step(ops.convert_to_tensor(tokens, "int32"), self.state)
        self.h = ops.expand_dims(h, 1)  # (rows, 1, units)
        self.c_src = self.out.source_attention(self.h, self.enc, ops.expand_dims(self.enc_mask, 1),
                                               self.enc_kv)
        if self.reader is not None:
            kv = self.reader.cross_attention.project_memory(self.h)
            k, v = (ops.convert_to_numpy(t) for t in kv)  # (rows, 1, heads * key_dim)
            first = self.hist_k is None
            self.hist_k = k if first else np.concatenate([self.hist_k, k], axis=1)
            self.hist_v = v if first else np.concatenate([self.hist_v, v], axis=1)

    def log_probs(self, other=None, partners=None):
        """(rows, V) log-probs. With `partners` (rows, P) row indices into the `other`
        direction, averages the next-token distribution over the P partners (probabilities)."""
        if other is None:
            logits = self.out.logits(self.h, self.c_src)
            return ops.convert_to_numpy(ops.log_softmax(logits[:, 0], axis=-1)).copy()
        rows, p = partners.shape
        h, c_src = (ops.repeat(t, p, axis=0) for t in (self.h, self.c_src))  # (rows * P, 1, d)
        idx = partners.reshape(-1)
        kv = (other.hist_k[idx], other.hist_v[idx])  # (rows * P, t, heads * key_dim)
        full = np.ones((rows * p, 1, kv[0].shape[1]), bool)  # steps 0..t, all visible
        logits = self.out.logits(h, c_src, self.out.cross_attention(h, None, full, kv))
        probs = ops.convert_to_numpy(ops.softmax(logits[:, 0], axis=-1)).astype("float64")
        probs = probs.reshape(rows, p, -1)  # (rows, P, V)
        return np.log(np.maximum(probs.mean(axis=1), 1e-30)).astype("float32")

    def reorder(self, rows):
        self.state = ops.take(self.state, rows, axis=0)
        if self.hist_k is not None:
            self.hist_k, self.hist_v = self.hist_k[rows], self.hist_v[rows]


def _encode(model, src_ids):
    src_ids = _check_src(model, src_ids)
    return model.get_layer("encoder")(src_ids), ops.not_equal(src_ids, PAD), src_ids


def _length_penalty(length, alpha):
    return ((5.0 + length) / 6.0) ** alpha


def _restrict(logp, step, max_len):
    """Never emit PAD or BOS; at step `max_len` only EOS may follow."""
    logp[..., PAD] = logp[..., BOS] = _NEG
    if step == max_len:
        logp[..., :EOS] = logp[..., EOS + 1:] = _NEG
    return logp


class _Beam:
    """Alive hypotheses (batch, K) of one direction and a pool of finished ones."""

    def __init__(self, n, k, alpha):
        self.k, self.alpha = k, alpha
        self.scores = np.full((n, k), -np.inf)
        self.scores[:, 0] = 0.0
        self.seqs = [[[] for _ in range(k)] for _ in range(n)]
        self.pool = [[] for _ in range(n)]  # (normalised score, ids, raw score)

    def select(self, logp, step, done):
        """Grows every hypothesis by one token; returns the flat rows to keep (n * K)."""
        n, k, v = logp.shape
        # the 2K best extensions suffice: at most K of them end with EOS
        cand = (self.scores[:, :, None] + logp).reshape(n, k * v)
        order = np.argsort(-cand, axis=1, kind="stable")[:, : 2 * k]
        rows, tokens = np.zeros((n, k), int), np.full((n, k), EOS)
        new_scores, new_seqs = np.full((n, k), -np.inf), []
        for b in range(n):
            seqs, filled = [], 0
            for rank, c in enumerate(order[b]):
                parent, tok, s = c // v, c % v, cand[b, c]
                if tok == EOS:  # only EOS among the top K counts as finished (beam 1 = greedy)
                    if rank < k and s > _NEG / 2 and not done[b]:
                        lp = _length_penalty(step + 1, self.alpha)
                        self.pool[b].append((s / lp, self.seqs[b][parent], s))
                elif filled < k:
                    rows[b, filled], tokens[b, filled] = parent, tok
                    new_scores[b, filled] = s if s > _NEG / 2 else -np.inf
                    seqs.append(self.seqs[b][parent] + [int(tok)])
                    filled += 1
                if filled == k and rank >= k - 1:
                    break
            seqs += [[]] * (k - filled)
            self.pool[b] = sorted(self.pool[b], key=lambda t: -t[0])[: self.k]
            new_seqs.append(seqs)
        self.scores, self.seqs = new_scores, new_seqs
        self.tokens = tokens.reshape(-1)
        return (rows + np.arange(n)[:, None] * k).reshape(-1)

    def best_alive(self, step):
        return self.scores.max(axis=1) / _length_penalty(step + 1, self.alpha)

    def best(self, b):
        """(score, ids) of the best finished hypothesis, else (-inf, the best alive one)."""
        if self.pool[b]:
            return self.pool[b][0][:2]
        return -np.inf, self.seqs[b][int(np.argmax(self.scores[b]))]

    def best_finished(self):
        return np.array([p[0][0] if p else -np.inf for p in self.pool])


def _check_search(beam_size, max_len, length_penalty):
    _check_number("beam_size", beam_size, 1, _MAX_BEAM)
    _check_number("max_len", max_len, 1, _MAX_LEN)
    _check_number("length_penalty", length_penalty, 0.0, 10.0, False)


def beam_search(model: keras.Model, src_ids: np.ndarray, beam_size: int = 4, max_len: int = 50,
                length_penalty: float = 0.6):
    """Batched cached beam search of a unidirectional model: returns (id lists, scores).

    Scores are summed log-probs divided by the GNMT penalty ``((5 + len) / 6) ** alpha``
    (len counts EOS). A sentence is done when its pool holds `beam_size` finished hypotheses
    and the worst of them scores at least the best alive one's current normalised score.
    """
    _check_search(beam_size, max_len, length_penalty)
    if _is_bidirectional(model):
        raise ValueError("`model` must be unidirectional; use `bidirectional_beam_search`.")
    enc, enc_mask, src_ids = _encode(model, src_ids)
    n, k = len(src_ids), beam_size
    d, beam = _Direction(model, "l2r", enc, enc_mask, k), _Beam(n, k, length_penalty)
    tokens, done = np.full(n * k, BOS), np.zeros(n, bool)
    for step in range(max_len + 1):
        d.advance(tokens)
        logp = _restrict(d.log_probs(), step, max_len).reshape(n, k, -1)
        d.reorder(beam.select(logp, step, done))
        tokens = beam.tokens
        # done: K finished, and none worse than the best alive at its current length
        worst = np.array([p[-1][0] if len(p) == k else -np.inf for p in beam.pool])
        done |= worst >= beam.best_alive(step)
        if done.all():
            break
    best = [p[0] for p in beam.pool]
    return [b[1] for b in best], np.array([b[0] for b in best])


def greedy_decode(model: keras.Model, src_ids: np.ndarray, max_len: int = 50):
    """`beam_search` with one hypothesis and no length penalty: returns (id lists without EOS,
    ``log p(y + EOS | x)`` of each); at most `max_len` symbols come before the forced EOS."""
    return beam_search(model, src_ids, 1, max_len, 0.0)


def _bidir_search(model, src_ids, k, max_len, alpha, pairing, chunk):
    """Synchronous beam search of both directions; see `bidirectional_beam_search`."""
    outs = ([], [], ([], []))  # answers, scores, (best L2R, best R2L reversed)
    src_ids = _check_src(model, src_ids)
    for lo in range(0, len(src_ids), chunk):
        part = src_ids[lo:lo + chunk]
        part = part[:, : max(1, int((part != PAD).sum(axis=1).max()))]
        enc, enc_mask, part = _encode(model, part)
        n = len(part)
        dirs = [_Direction(model, "l2r", enc, enc_mask, k, "r2l"),
                _Direction(model, "r2l", enc, enc_mask, k, "l2r")]
        beams = [_Beam(n, k, alpha), _Beam(n, k, alpha)]
        tokens = [np.full(n * k, BOS), np.full(n * k, _R2L_START)]
        done = np.zeros(n, bool)
        for step in range(max_len + 1):
            # both recurrences first: step i of each side must see step i of the other
            for d, t in zip(dirs, tokens, strict=True):
                d.advance(t)
            logps = []
            if pairing == "all":  # every hypothesis with every partner of its sentence
                partners = np.repeat(np.arange(n)[:, None] * k, k, 0) + np.arange(k)  # (n*k, k)
            else:  # SB-NMT: slot j with slot j
                partners = np.arange(n * k)[:, None]  # (n*k, 1)
            for me, you in ((0, 1), (1, 0)):
                logp = dirs[me].log_probs(dirs[you], partners)
                logps.append(_restrict(logp, step, max_len).reshape(n, k, -1))
            for i in range(2):
                dirs[i].reorder(beams[i].select(logps[i], step, done))
                tokens[i] = beams[i].tokens
            # stop once a finished hypothesis of either side beats every alive one
            fin = np.maximum(beams[0].best_finished(), beams[1].best_finished())
            done |= fin >= np.maximum(beams[0].best_alive(step), beams[1].best_alive(step))
            if done.all():
                break
        for b in range(n):  # the answer: the better finished side, R2L read backwards
            (sl, yl), (sr, yr) = beams[0].best(b), beams[1].best(b)
            outs[0].append(yl if sl >= sr else yr[::-1])
            outs[1].append(max(sl, sr))
            outs[2][0].append(yl)
            outs[2][1].append(yr[::-1])
    return outs[0], np.array(outs[1]), outs[2]


def bidirectional_beam_search(model: keras.Model, src_ids: np.ndarray, beam_size: int = 4,
                              max_len: int = 50, length_penalty: float = 0.6,
                              pairing: str = "all", batch_size: int = 256):
    """Cached synchronous beam search of a bidirectional model.

    ``pairing="all"`` (the Keras post's): each direction keeps `beam_size` hypotheses, each
    paired with every one of the other direction for its sentence, its next-token distribution
    averaged over those partners. ``pairing="rank"`` (SB-NMT): the beam is split in half (at
    least one per side) and the j-th best L2R hypothesis reads only the j-th best R2L one. A
    sentence stops once a finished hypothesis of either side scores at least the best alive one
    of both. Returns (id lists in reading order, normalised scores), R2L answers reversed.
    """
    _check_search(beam_size, max_len, length_penalty)
    if not _is_bidirectional(model):
        raise ValueError("`model` must be bidirectional; use `beam_search`.")
    if pairing not in ("all", "rank"):
        raise ValueError(f"`pairing` must be 'all' or 'rank', received {pairing!r}.")
    k = beam_size if pairing == "all" else max(1, beam_size // 2)
    chunk = _check_number("batch_size", batch_size)
    return _bidir_search(model, src_ids, k, max_len, length_penalty, pairing, chunk)[:2]


# ----------------------------------------------------------------------------- save / load


def _check_saved(model, config, src_vocab, tgt_vocab, parameters):
    """The model, its config and the two vocabularies must describe the same network."""
    sizes = (len(src_vocab), len(tgt_vocab), model.count_params())
    want = (config.src_vocab_size, config.tgt_vocab_size, parameters or sizes[2])
    if sizes != want:
        raise ValueError(f"`model`, `config` and the vocabularies disagree: source vocabulary, "
                         f"target vocabulary and parameters are {sizes}, the config says {want}.")


def _check_out_dir(path) -> Path:
    if Path(path).exists() and not Path(path).is_dir():
        raise ValueError(f"`path` must be a directory or a new name, received the file {path!r}.")
    return Path(path)


def save_seq2seq(path, model: keras.Model, config: Seq2SeqConfig, src_vocab: Vocab,
                 tgt_vocab: Vocab) -> None:
    """Writes ``config.json`` (config, vocabularies) and ``model.weights.h5`` into `path`, each
    under a temporary name first: a failed save leaves `path` as it was."""
    _check_saved(model, config, src_vocab, tgt_vocab, build_seq2seq(config).count_params())
    path = _check_out_dir(path)
    meta = {"version": __version__, "config": dataclasses.asdict(config),
            "parameters": model.count_params(),
            "src_symbols": src_vocab.symbols, "tgt_symbols": tgt_vocab.symbols}
    path.mkdir(parents=True, exist_ok=True)
    tmp = {name: path / f".{os.getpid()}.{name}" for name in ("config.json", "model.weights.h5")}
    try:
        tmp["config.json"].write_text(json.dumps(meta, indent=1), encoding="utf-8")
        model.save_weights(str(tmp["model.weights.h5"]))
        for name, tmp_file in tmp.items():
            os.replace(tmp_file, path / name)
    finally:
        for tmp_file in tmp.values():
            tmp_file.unlink(missing_ok=True)


def load_seq2seq(path):
    """Returns (model, config, src_vocab, tgt_vocab) saved by `save_seq2seq`; a missing,
    corrupt or edited file is a ValueError naming it."""
    meta_file, weights = Path(path) / "config.json", Path(path) / "model.weights.h5"
    if not meta_file.is_file() or not weights.is_file():
        raise ValueError(f"`path` must be a directory written by save_seq2seq (config.json + "
                         f"model.weights.h5), received {str(path)!r}.")
    try:
        meta = json.loads(meta_file.read_text(encoding="utf-8"))
        config, n = Seq2SeqConfig(**meta["config"]), len(_SPECIALS)
        symbols = [meta["src_symbols"], meta["tgt_symbols"]]
        if any(s[:n] != _SPECIALS for s in symbols):
            raise ValueError(f"its symbol lists must start with {_SPECIALS}")
        src_vocab, tgt_vocab = (Vocab(s[n:]) for s in symbols)
        model = build_seq2seq(config)
        _check_saved(model, config, src_vocab, tgt_vocab, meta.get("parameters"))
    except (ValueError, TypeError, KeyError) as err:  # JSON and Unicode errors are ValueErrors
        raise ValueError(f"`path` must hold a config.json written by save_seq2seq, "
                         f"{str(meta_file)!r} is not one: {err}") from None
    try:
        model.load_weights(str(weights))
    except (ValueError, TypeError, KeyError, OSError) as err:
        raise ValueError(f"`path` must hold the saved model's weights, {str(weights)!r} does "
                         f"not: {err!r:.300}") from None
    return model, config, src_vocab, tgt_vocab


# ----------------------------------------------------------------------------- demo task, CLI

_LAYOUTS = {"converge": (-1, 1), "diverge": (1, -1), "lsb": (-1, -1), "msb": (1, 1)}


def carry2(n_train: int, n_test: int, digits: int = 2, p9: float = 0.5,
           layout: str = "converge", seed: int = 0):
    """Two additions per example, whose carries run towards (or away from) the output's middle:
    the source ``a1+b1;a2+b2`` holds four `digits`-digit operands with leading zeros, one token
    per character; each digit pair sums to 9 with probability `p9`, so carries run through
    several digits. The target is sum 1, ``|``, sum 2, each `digits` + 1 digits, ordered by
    `layout`: ``"converge"`` (sum 1 least significant digit first, sum 2 most significant
    first: each direction meets the carries it cannot see coming at its far end, where the
    other direction writes them in its easy order), ``"diverge"`` (the mirror), ``"lsb"`` or
    ``"msb"``. A fifth of the first-operand values (at least one) occur only in test examples,
    so no operand pair is shared. Returns ``((train sources, targets), (test sources, targets))``.
    """
    _check_number("n_train", n_train, 1, 10**6)
    _check_number("n_test", n_test, 1, 10**6)
    _check_number("digits", digits, 1, 9)
    _check_number("p9", p9, 0.0, 1.0, False)
    if layout not in _LAYOUTS:
        raise ValueError(f"`layout` must be one of {list(_LAYOUTS)}, received {layout!r}.")
    rng, place = np.random.default_rng(seed), 10 ** np.arange(digits - 1, -1, -1)
    values = rng.permutation(10**digits)
    held_out = max(1, len(values) // 5)

    def draw(first_operands, n):
        a = rng.choice(first_operands, (n, 2))  # (n, 2 additions)
        a_digits = a[..., None] // place % 10  # (n, 2, digits)
        b_digits = np.where(rng.random(a_digits.shape) < p9, 9 - a_digits,
                            rng.integers(0, 10, a_digits.shape))
        f, g = f"0{digits}", f"0{digits + 1}"
        o1, o2 = _LAYOUTS[layout]
        src, tgt = [], []
        for (a1, a2), (b1, b2) in zip(a.tolist(), (b_digits @ place).tolist(), strict=True):
            src.append(list(f"{a1:{f}}+{b1:{f}};{a2:{f}}+{b2:{f}}"))
            tgt.append([*f"{a1 + b1:{g}}"[::o1], "|", *f"{a2 + b2:{g}}"[::o2]])
        return src, tgt
    test = draw(values[:held_out], n_test)
    return draw(values[held_out:], n_train), test


def _demo(digits: int = 2, layout: str = "converge", p9: float = 0.5, train: int = 3000,
          test: int = 200, epochs: int = 8, beam: int = 4, out=None, seed: int = 0,
          batch: int = 32, show: int = 4, shared_decoder: bool = False, log=print) -> dict:
    """Trains a bidirectional model on `carry2`; reports losses and held-out exact match."""
    (src, tgt), (test_src, test_tgt) = carry2(train, test, digits, p9, layout, seed)
    _check_search(beam, 2 * digits + 3, 0.6)
    if out is not None:
        _check_out_dir(out)
    keras.utils.set_random_seed(seed)
    sv, tv = Vocab.fit(src), Vocab.fit(tgt)
    config = Seq2SeqConfig(len(sv), len(tv), embed_dim=16, units=48, key_dim=16,
                           shared_decoder=shared_decoder)
    model, t0 = compile_seq2seq(build_seq2seq(config)), time.time()
    logs = fit_seq2seq(model, sv.encode_batch(src), tv.encode_all(tgt), epochs, batch)
    log(f"carry2 ({digits}-digit sums, {layout}, p9 {p9}): {model.count_params()} parameters, "
        f"{time.time() - t0:.0f} s, loss by epoch " + " ".join(f"{r['loss']:.2f}" for r in logs))
    ids, _ = bidirectional_beam_search(model, sv.encode_batch(test_src), beam, 2 * digits + 3)
    hyps = [tv.decode(s) for s in ids]
    exact = float(np.mean([h == r for h, r in zip(hyps, test_tgt, strict=True)]))
    log(f"held-out exact match {100 * exact:.1f} % of {test}; first decodes:")
    for s, h, r in zip(test_src[:show], hyps, test_tgt, strict=False):
        log(f"  {''.join(s)} -> {''.join(h)} {'right' if h == r else 'wrong: ' + ''.join(r)}")
    if out is not None:
        save_seq2seq(out, model, config, sv, tv)
        log(f"model saved to {out}")
    return {"exact": exact, "losses": [r["loss"] for r in logs]}


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(
        description="Train a synchronous bidirectional seq2seq model on carry2 (two additions, "
                    "carries towards the output's middle); print held-out exact match, decodes.")
    parser.add_argument("--digits", type=int, default=2, help="operand digits, 1-9")
    parser.add_argument("--layout", choices=list(_LAYOUTS), default="converge")
    parser.add_argument("--p9", type=float, default=0.5,
                        help="probability that a digit pair sums to 9 (carry chains)")
    for name, default in (("train", 3000), ("test", 200), ("epochs", 8), ("beam", 4),
                          ("batch", 32), ("seed", 0)):
        parser.add_argument(f"--{name}", type=int, default=default)
    parser.add_argument("--shared-decoder", action="store_true",
                        help="one decoder for both directions (default: one per direction)")
    parser.add_argument("--out", default=None, help="save the model into this directory")
    args = parser.parse_args(argv)
    try:  # every value is checked before any training
        _demo(args.digits, args.layout, args.p9, args.train, args.test, args.epochs,
              args.beam, args.out, args.seed, args.batch, shared_decoder=args.shared_decoder)
    except (ValueError, TypeError) as err:
        parser.error(str(err))


if __name__ == "__main__":
    main()
