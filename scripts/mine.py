"""Mine paraphrased paragraphs: `python scripts/mine.py model_dir=EXPORT queries=A sources=B`."""

from parasim.mine import cli

if __name__ == "__main__":
    cli()
