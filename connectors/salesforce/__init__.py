"""Salesforce through simple-salesforce: the bridge's CRM (see :mod:`connectors.salesforce.crm`).

Modules: :mod:`.crm` (:class:`SalesforceCrm`, the public surface), :mod:`.client` (authentication,
the one re-login, timeouts, limits, the error table), :mod:`.queries` (the SOQL and phone numbers),
:mod:`.models` (the returned dataclasses and :class:`FeatureUnavailable`).
"""

from __future__ import annotations

from connectors.salesforce.crm import SalesforceCrm
from connectors.salesforce.models import ContactRow, CustomerRecord, FeatureUnavailable, FieldConfig

__all__ = ["ContactRow", "CustomerRecord", "FeatureUnavailable", "FieldConfig", "SalesforceCrm"]
