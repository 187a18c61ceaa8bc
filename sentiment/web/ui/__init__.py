"""The Gradio UI: one module per tab, the Blocks that assemble them, and the API naming helpers."""
