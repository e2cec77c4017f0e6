"""Score paragraph pairs: `python scripts/score.py model_dir=DIR input=pairs.jsonl output=scores.csv`."""

from parasim.score import cli

if __name__ == "__main__":
    cli()
