"""Surfaces: how people and programs reach the gateway.

The HTTP API (``api``) and the app that serves it (``app``), the person's portal and the DPO's
pages (``portal``), the command line (``cli``) and the demo (``demo``). Routes are thin: parse,
authorise, call one service below, return.
"""
