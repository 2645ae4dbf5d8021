"""Developer tooling: the local engine, the demo run, invoking deployed functions."""
