"""The Attio client (async, over httpx) and its Dagster resource."""

from revops_pipelines.infra.retry import RetrySettings
from revops_pipelines.resources.attio.client import AttioClient
from revops_pipelines.resources.attio.errors import AttioConfigError, AttioError
from revops_pipelines.resources.attio.resource import AttioResource

__all__ = ["AttioClient", "AttioConfigError", "AttioError", "AttioResource", "RetrySettings"]
