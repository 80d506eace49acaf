"""The referrals this node sent: deciding, sealing and queuing them, and the host's copy of what went."""
