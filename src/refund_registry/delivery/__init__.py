"""Outbound messages to people: one-time codes by e-mail and SMS.

Adapters only: what to say is decided by the services, how it travels is
decided here. Each adapter sends one message or raises
:class:`~refund_registry.errors.Unavailable`; none of them logs the address
or the text, which carry a raw identifier and a secret code.
"""
