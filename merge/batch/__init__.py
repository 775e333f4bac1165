"""A whole sheet's run: plan the rows, send them exactly once, reconcile, and journal every step."""
