"""The model in the loop, pure logic and torch: no database, no UI.

embedder: sentence embeddings of examples (mean-pooled last hidden states) from the base checkpoint or
a fine-tuned version; cache: those embeddings on disk per (model, example content); instant: a linear
classifier on the embeddings, refit in well under a second, with honest cross-validated quality;
strategies: which unlabelled example to offer next (uncertain, diverse, default, random); similar:
nearest neighbours by cosine. services/assist.py ties them to the store.
"""
