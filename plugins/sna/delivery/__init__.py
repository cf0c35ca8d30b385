"""Delivery: the audience on Google or Meta made equal to the export, sending only what changed.

`base` defines what a platform client offers (add, remove, replace batches of hashed members);
`google` and `meta` implement it with each platform's own client library.
"""
