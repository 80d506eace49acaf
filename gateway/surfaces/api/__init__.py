"""The JSON API: thin routes over the services below, with deps for the unit of work and the caller."""
