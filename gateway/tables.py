"""Imports every table module, so ``Base.metadata`` is complete (for migrations and their test)."""

from gateway.accesslog import models as accesslog_models
from gateway.cases import models as cases_models
from gateway.consents import models as consents_models
from gateway.db import Base
from gateway.idempotency import IdempotencyRow
from gateway.inbox import models as inbox_models
from gateway.keystore import SubjectKeyRow
from gateway.referrals import models as referrals_models

metadata = Base.metadata

__all__ = [
    "IdempotencyRow",
    "SubjectKeyRow",
    "accesslog_models",
    "cases_models",
    "consents_models",
    "inbox_models",
    "metadata",
    "referrals_models",
]
