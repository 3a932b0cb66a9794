"""Exports for records requests: subset WARCs, WACZ, post listings, manifests, custody."""
