"""Telling the requester: live status over a WebSocket watch and signed webhooks (issue 20).

Pure domain code: Standard Webhooks signatures (``signing``), the callback URL policy
(``callbacks``), watch tokens and links (``watch``), the status changes the tracker announces
(``changes``), pushing them to watchers (``push``) and delivering webhooks (``delivery``). The
ports they use are in ``ports``; their AWS adapters in ``image_pipeline.aws``.
"""
