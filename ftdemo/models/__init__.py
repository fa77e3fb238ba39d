"""Model versions: on disk (registry, model cards), the activation guard, and one version in memory.

- `registry.py`: versions of a dataset's models on disk, written atomically, safetensors only;
- `card.py`: the README.md model card of a version;
- `guard.py`: whether a new version should replace the active one (pure);
- `inference.py`: load a version safely into memory, tokenise, logits → Prediction.
Nothing here knows about the database, training loops, explanations or the UI.
"""
