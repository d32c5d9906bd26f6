"""Gradio demo app: callbacks (pure functions), model loading, and the layout."""
