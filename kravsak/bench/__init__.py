"""`make bench`: the main job measured next to its baselines (`python -m kravsak.bench`)."""
