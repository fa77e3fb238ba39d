"""The Gradio web UI: thin tabs over ftdemo.services (see app.py)."""
