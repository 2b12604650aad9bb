"""Pages people use in a browser: the buyer portal (``portal``), its templates,
message catalogs and vendored static assets."""
