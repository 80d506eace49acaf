"""Cases: one person each, their details sealed at rest, and the events of their return."""
