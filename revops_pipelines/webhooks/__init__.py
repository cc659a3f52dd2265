"""The webhook receiver: verifies, stores and acknowledges deliveries into `webhook_inbox`.

`create_app(ReceiverSettings)` builds the ASGI app; `revops webhooks serve` runs it under uvicorn.
"""
