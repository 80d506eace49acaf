"""The DPO's audit of the access log: searches, histories, verification, reconciliation and reports."""
