"""Imports every table module, so ``Base.metadata`` is complete (for migrations and their test).

It sits outside the layers because it names tables of every one of them; nothing in the layers
imports it.
"""

from gateway.exchange.bundles import models as bundles_models
from gateway.exchange.followup import models as followup_models
from gateway.exchange.inbox import models as inbox_models
from gateway.exchange.outbox import models as outbox_models
from gateway.exchange.referrals import models as referrals_models
from gateway.exchange.revocations import models as revocations_models
from gateway.kit.db import Base
from gateway.kit.idempotency import IdempotencyRow
from gateway.records.accesslog import models as accesslog_models
from gateway.records.cases import models as cases_models
from gateway.records.consents import models as consents_models
from gateway.records.holds.models import LegalHoldRow
from gateway.records.person_access import models as person_access_models

metadata = Base.metadata

__all__ = [
    "IdempotencyRow",
    "LegalHoldRow",
    "accesslog_models",
    "bundles_models",
    "cases_models",
    "consents_models",
    "followup_models",
    "inbox_models",
    "metadata",
    "outbox_models",
    "person_access_models",
    "referrals_models",
    "revocations_models",
]
