"""The delivery worker: takes due rows from the outbox and posts them to their recipients."""
