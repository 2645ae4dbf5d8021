"""Adapters that need no cloud service: they run on a laptop, on the local engine, and in AWS
regions or accounts without the managed service (their packages ship in their own layer)."""
