"""Evaluate a model: `python scripts/eval.py` (base model), `ckpt_path=…`, or `model_dir=…` (an export)."""

from parasim.evaluate import cli

if __name__ == "__main__":
    cli()
