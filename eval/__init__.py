"""Routing-quality evaluation: the labelled prompt set, ``make eval`` and the classifier trainer."""
