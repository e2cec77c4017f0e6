"""Train → test → export. Example: `python scripts/train.py experiment=seed_card model=mpnet_tiny`."""

from parasim.train import cli

if __name__ == "__main__":
    cli()
