"""ftdemo: label texts, fine-tune a BERT-family classifier in one click, explain its predictions."""

__version__ = "0.1.0"
