"""The web edge: pages rendered from the read models' data (the HTTP API will join it here).

Imports inward only (``projections``, ``domain``); nothing inside imports ``web``.
"""
