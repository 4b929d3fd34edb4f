"""AdaptiveLog routing: the small model first, the LLM for uncertain logs, with error-prone cases."""
