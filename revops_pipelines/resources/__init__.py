"""One ConfigurableResource per outside system and the client behind it: the only code on the
network. No store access and no flow logic: the services hold those."""

from revops_pipelines.resources.attio import AttioResource
from revops_pipelines.resources.enrichment import EnrichmentResource
from revops_pipelines.resources.environment import RevopsEnvironment
from revops_pipelines.resources.frames import DailyFrameIOManager
from revops_pipelines.resources.outreach import OutreachResource
from revops_pipelines.resources.run_io import RunScopedPickleIOManager
from revops_pipelines.resources.salesforce import SalesforceResource
from revops_pipelines.resources.salesloft import SalesloftResource
from revops_pipelines.resources.slack import SlackResource

__all__ = [
    "AttioResource",
    "DailyFrameIOManager",
    "EnrichmentResource",
    "OutreachResource",
    "RevopsEnvironment",
    "RunScopedPickleIOManager",
    "SalesforceResource",
    "SalesloftResource",
    "SlackResource",
]
