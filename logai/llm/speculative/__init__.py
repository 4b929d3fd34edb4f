"""Lossless, draft-free speculative decoding: proposers guess the next tokens from text already seen
(suffix trees over prompts and earlier outputs; recycled top-k candidates), and the target model verifies
a whole chain or tree of guesses in one forward pass."""
