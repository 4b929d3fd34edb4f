"""Small models: MiniLM sentence embeddings now; the fine-tuned MiniLM classifier comes with routing."""
