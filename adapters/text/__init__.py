"""Text processing: the Kiwi search tokenizer."""

from adapters.text.tokenizer import Tokenizer, tokenizer_for

__all__ = ["Tokenizer", "tokenizer_for"]
