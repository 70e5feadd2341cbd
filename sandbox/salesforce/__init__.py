"""A faithful Salesforce org for tests and the demo: see :mod:`sandbox.salesforce.simulator`.

The package splits the simulator into its schema (:mod:`.schema`), a SOQL parser (:mod:`.soql`) and
query engine (:mod:`.engine`), write validation (:mod:`.records`), authentication (:mod:`.auth`) and the
HTTP server itself (:mod:`.simulator`).
"""

from __future__ import annotations

from sandbox.salesforce.auth import INVALID_SESSION
from sandbox.salesforce.simulator import DEFAULT_INSTANCE, DEFAULT_TOKEN, SalesforceSimulator
from sandbox.salesforce.soql import SoqlError, parse

__all__ = ["DEFAULT_INSTANCE", "DEFAULT_TOKEN", "INVALID_SESSION", "SalesforceSimulator", "SoqlError", "parse"]
