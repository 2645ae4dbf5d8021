"""``make bench``: the image engine's speed and memory against the naive baseline."""
