"""The person's own door to their data: access cards, the portal pages, and the DPO's pages."""
