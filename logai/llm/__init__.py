"""The LLM engine: one `Backend` interface, in-process (`LocalBackend`) or remote (`OpenAICompatBackend`)."""
