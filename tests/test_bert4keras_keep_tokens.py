"""bert4keras.py vocabulary slimming: a model loaded with `keep_tokens` gives, at each kept
id, the MLM logits the full model gives at that token's original id."""

import json

import numpy as np
import pytest

keras = pytest.importorskip("keras")
bk = pytest.importorskip("bert4keras")

TINY = dict(vocab_size=60, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
            intermediate_size=64, max_position_embeddings=32, type_vocab_size=2)
SPECIAL = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]


def _full_model(seed=5, scale=0.3):
    """A tiny BERT with an MLM head (logits) and random weights everywhere."""
    model = bk.build_bert(bk.BertConfig(**TINY), with_mlm=True, mask="unilm",
                          outputs=["mlm"], mlm_activation=None)
    rng = np.random.default_rng(seed)
    for variable in model.weights:
        shift = 1.0 if variable.path.endswith("gamma") else 0.0
        variable.assign(shift + scale * rng.standard_normal(variable.shape).astype("float32"))
    return model


def _write_vocab(folder, size):
    """[PAD] [UNK] [CLS] [SEP] [MASK], then a mix of CJK ("中k", "文k") and Latin ("wk") tokens."""
    tokens = SPECIAL + [("中文"[k % 2] if k % 3 else "w") + str(k) for k in range(size - 5)]
    (folder / "vocab.txt").write_text("\n".join(tokens) + "\n", encoding="utf-8")


@pytest.mark.parametrize("layout", ["google", "safetensors"])
def test_keep_tokens_slices_embeddings_and_bias(layout, tmp_path):
    full = _full_model()
    config = {**TINY, "hidden_act": "gelu"}
    if layout == "google":
        bk.save_google_checkpoint(full, tmp_path / "bert_model.ckpt")
        (tmp_path / "bert_config.json").write_text(json.dumps(config))
    else:
        save_file = pytest.importorskip("safetensors.numpy").save_file
        arrays = {name: np.ascontiguousarray(np.asarray(var).T if transposed else np.asarray(var))
                  for var, name, transposed in bk._model_weights(full, bk.HF_NAMES, 2).values()}
        save_file(arrays, tmp_path / "model.safetensors")
        (tmp_path / "config.json").write_text(json.dumps(config))
    _write_vocab(tmp_path, TINY["vocab_size"])

    tokens, ids = bk.slim_vocab(tmp_path / "vocab.txt", lambda token: token.startswith("中"))
    assert tokens[:5] == SPECIAL and ids[:5] == list(range(5))
    assert all(token.startswith("中") for token in tokens[5:])
    assert 5 < len(tokens) < TINY["vocab_size"]
    bk.save_vocab(tokens, tmp_path / "slim.txt")
    assert list(bk.Tokenizer.from_file(tmp_path / "slim.txt").vocab) == tokens

    slim = bk.load_bert(tmp_path, keep_tokens=ids, with_mlm=True, mask="unilm",
                        outputs=["mlm"], mlm_activation=None)
    slim_ids = np.random.default_rng(0).integers(0, len(ids), (2, 7)).astype("int32")
    segment_ids = np.zeros_like(slim_ids)
    ours = slim.predict([slim_ids, segment_ids], verbose=0)
    # the full model, fed the same tokens by their original ids, read at the kept ids
    theirs = full.predict([np.array(ids, "int32")[slim_ids], segment_ids], verbose=0)
    np.testing.assert_allclose(ours, theirs[..., ids], rtol=1e-5, atol=1e-5)

    with pytest.raises(ValueError, match="keep_tokens"):
        bk.load_bert(tmp_path, keep_tokens=[0, 1, 999], with_mlm=True)
