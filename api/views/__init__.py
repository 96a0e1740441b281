"""One module per resource; `base.ApiView` is what every endpoint stands on."""
