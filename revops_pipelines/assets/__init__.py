"""Software-defined assets, one module per flow, checks beside their assets.

Thin: each asset reads its inputs, calls the flow's service and returns metadata.
"""
