"""Readers for the real data that ships inside pip packages, shared by bench/ and tests/.

One copy of each reader: benchmarks import it directly (bench/ is their folder), tests through
tests/conftest.py, which puts bench/ on sys.path. Files are located with importlib and read in
place: nothing is copied into the repository.
"""

# ----------------------------------------------------------------------------- new_words

# ----------------------------------------------------------------------------- vqvae

# ----------------------------------------------------------------------------- bidir_seq2seq

# ----------------------------------------------------------------------------- bert4keras
