"""The outbox: where every envelope is sealed and queued (queue), its attempts and delivery receipts."""
