"""Evidence behind a score: the sentence alignment SE-F1 is built from (`alignment`), and a report people read
(`report`, one self-contained HTML file)."""
