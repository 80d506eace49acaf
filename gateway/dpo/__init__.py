"""The data protection officer's views: registers and reports, never case content."""
