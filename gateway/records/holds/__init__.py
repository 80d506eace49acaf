"""Legal holds: a DPO pauses deletion of a person's or a packet's data until a date."""
