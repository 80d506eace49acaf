"""Exchange: what travels between nodes, both ways.

The outbox (``outbox``: every envelope is sealed in ``outbox.queue``), its delivery
(``delivery``), the inbox (``inbox``), and one module per message kind with its sending and its
receiving side (``kinds``), found by a registry (``registry``). The referrals this node sent
(``referrals``) and the deletion requests it sent (``revocations``) live here with their tables.
"""
