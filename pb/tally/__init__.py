"""Counting engine: Pabulib files in, funded projects out. Pure Python, no Flask."""
