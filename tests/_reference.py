"""Independent reference implementations shared by tests/ and bench/ (one copy of each).

Each section belongs to one library file; the code here never imports that library file's
internals it checks. Benchmarks reach this module by putting tests/ on sys.path.
"""

# ----------------------------------------------------------------------------- new_words

# ----------------------------------------------------------------------------- vqvae

# ----------------------------------------------------------------------------- bidir_seq2seq

# ----------------------------------------------------------------------------- bert4keras
