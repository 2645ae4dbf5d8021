"""Shared code of the image pipeline: domain logic, the event envelope and the AWS adapters.

Ships as the shared-code Lambda layer (``layers/shared``); every function imports it as
``image_pipeline``. Domain modules never import boto3: AWS lives in ``image_pipeline.aws``.
"""
