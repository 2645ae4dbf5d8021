"""AWS adapters for the ports in ``image_pipeline.ports`` (the only modules that import boto3)."""
