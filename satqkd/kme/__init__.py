"""The key-delivery twin: the planned network serves keys over ETSI GS QKD 014, with mutual TLS.

A stage after the network (orbits -> passes -> link -> keyrate -> network
-> **kme**): ``satqkd serve SCENARIO`` puts one HTTPS server in front of
the network at an instant of the scenario, acting as the key management
entity (KME) of every node; each user site is a secure application entity
(SAE) named by its node name.

* :mod:`~satqkd.kme.pki` -- the TLS files: a test PKI written with
  ``cryptography``, or the user's own; the SAE a client certificate names;
* :mod:`~satqkd.kme.twin` -- :class:`NetworkTwin`: the network's pools,
  stores and router on a running clock, and the keys handed out;
* :mod:`~satqkd.kme.api` -- the ETSI GS QKD 014 V1.1.1 REST interface as a
  WSGI application;
* :mod:`~satqkd.kme.server` -- cheroot with TLS, the log, the session report.
"""

from .twin import KeyRefused, Limits, NetworkTwin

__all__ = ["NetworkTwin", "KeyRefused", "Limits"]
