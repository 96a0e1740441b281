"""One module per resource: what the API shows of it and what its writes accept."""
