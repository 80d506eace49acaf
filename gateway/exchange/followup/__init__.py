"""The follow-up of a referral, both ways: replies, reintegration plans, monitoring rounds, notes."""
