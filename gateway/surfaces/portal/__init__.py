"""The person's portal and the DPO's pages: server-rendered, no JavaScript, in five languages."""
