"""Imports every table module, so ``Base.metadata`` is complete (for migrations and their test)."""

from gateway.accesslog import models as accesslog_models
from gateway.cases import models as cases_models
from gateway.consents import models as consents_models
from gateway.db import Base
from gateway.idempotency import IdempotencyRow
from gateway.inbox import models as inbox_models
from gateway.portal import models as portal_models
from gateway.referrals import models as referrals_models
from gateway.retention.models import LegalHoldRow

metadata = Base.metadata

__all__ = [
    "IdempotencyRow",
    "LegalHoldRow",
    "accesslog_models",
    "cases_models",
    "consents_models",
    "inbox_models",
    "metadata",
    "portal_models",
    "referrals_models",
]
