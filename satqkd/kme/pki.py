"""The certificates of the key-delivery server: a test PKI, or the user's own.

ETSI GS QKD 014 V1.1.1 (section 5) leaves authentication to TLS: the KME
and every SAE hold certificates, and the SAE is known by its certificate.
:func:`ensure_pki` looks in a folder for

* ``ca.pem`` -- the CA that signs the SAEs' certificates (and, in the test
  PKI, the server's);
* ``server.pem``, ``server.key`` -- the server's certificate and key;
* ``sae/<SAE_ID>.pem``, ``sae/<SAE_ID>.key`` -- one per SAE (the clients'
  files; the server reads none of them).

With none of ``ca.pem``, ``server.pem``, ``server.key`` there it writes a
test PKI (the ``cryptography`` package): a CA, a server certificate whose
subject alternative names are ``localhost`` and ``127.0.0.1`` (so clients
verify it as they normally do), and a certificate per SAE whose common
name and DNS name are the SAE ID.  With all three there it uses them (a
real deployment brings its own CA); with only some, it is an error.  Keys
are EC P-256; private keys are written readable by their owner only.
"""

from __future__ import annotations

import datetime as _dt
import ipaddress
import os
from dataclasses import dataclass
from pathlib import Path

from ..errors import SatqkdError

__all__ = ["PkiFiles", "ensure_pki", "existing_pki", "write_test_pki", "sae_identities"]

_FILES = ("ca.pem", "server.pem", "server.key")


@dataclass(frozen=True)
class PkiFiles:
    """Paths of the server's TLS files and whether they were written just now."""

    ca: Path
    cert: Path
    key: Path
    created: bool


def _write_private(path: Path, data: bytes) -> None:
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    os.replace(tmp, path)


def _write_public(path: Path, data: bytes) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def write_test_pki(folder: str | Path, sae_ids: list[str], *, days: int = 365) -> PkiFiles:
    """Write a CA, a server certificate for localhost / 127.0.0.1 and one certificate per SAE."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    folder = Path(folder)
    (folder / "sae").mkdir(parents=True, exist_ok=True)
    now = _dt.datetime.now(_dt.timezone.utc) - _dt.timedelta(minutes=5)
    until = now + _dt.timedelta(days=days)

    def pem_key(k) -> bytes:
        return k.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())

    def name(cn: str):
        return x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "satqkd test PKI"),
                          x509.NameAttribute(NameOID.COMMON_NAME, cn)])

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = name("satqkd test CA")
    ca_ski = x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key())
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name).public_key(ca_key.public_key())
          .serial_number(x509.random_serial_number()).not_valid_before(now).not_valid_after(until)
          .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
          .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True)
          .add_extension(ca_ski, critical=False)
          .sign(ca_key, hashes.SHA256()))
    aki = x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ca_ski)

    def leaf(cn: str, sans: list, usage):
        key = ec.generate_private_key(ec.SECP256R1())
        cert = (x509.CertificateBuilder().subject_name(name(cn)).issuer_name(ca_name).public_key(key.public_key())
                .serial_number(x509.random_serial_number()).not_valid_before(now).not_valid_after(until)
                .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
                .add_extension(x509.KeyUsage(True, False, False, False, True, False, False, False, False), critical=True)
                .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
                .add_extension(x509.SubjectAlternativeName(sans), critical=False)
                .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
                .add_extension(aki, critical=False)
                .sign(ca_key, hashes.SHA256()))
        return key, cert

    for sae in sae_ids:
        key, cert = leaf(sae, [x509.DNSName(sae)], ExtendedKeyUsageOID.CLIENT_AUTH)
        _write_private(folder / "sae" / f"{sae}.key", pem_key(key))
        _write_public(folder / "sae" / f"{sae}.pem", cert.public_bytes(serialization.Encoding.PEM))
    key, cert = leaf("localhost", [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))],
                     ExtendedKeyUsageOID.SERVER_AUTH)
    _write_private(folder / "server.key", pem_key(key))
    _write_public(folder / "server.pem", cert.public_bytes(serialization.Encoding.PEM))
    # ca.pem last: its presence marks a complete PKI.
    _write_public(folder / "ca.pem", ca.public_bytes(serialization.Encoding.PEM))
    return PkiFiles(folder / "ca.pem", folder / "server.pem", folder / "server.key", True)


def existing_pki(folder: str | Path, option: str = "--pki") -> PkiFiles | None:
    """The PKI in ``folder`` if complete, None if it has none of its files; an error if partial."""
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise SatqkdError(f"{option} {folder}: is a file; expected a folder")
    present = [f for f in _FILES if (folder / f).is_file()]
    if len(present) == len(_FILES):
        return PkiFiles(folder / "ca.pem", folder / "server.pem", folder / "server.key", False)
    if present:
        missing = ", ".join(f for f in _FILES if f not in present)
        raise SatqkdError(f"{option} {folder}: has {', '.join(present)} but not {missing}; "
                          f"expected all of {', '.join(_FILES)} (or none, for a test PKI)")
    return None


def ensure_pki(folder: str | Path, sae_ids: list[str], option: str = "--pki") -> PkiFiles:
    """The PKI in ``folder``: used as it is if complete, written if absent, an error if partial."""
    found = existing_pki(folder, option)
    if found is not None:
        return found
    folder = Path(folder)
    try:
        return write_test_pki(folder, sae_ids)
    except OSError as exc:
        raise SatqkdError(f"{option} {folder}: cannot write the test PKI ({exc.strerror})") from None


def sae_identities(environ: dict) -> set[str]:
    """The names a verified client certificate gives (its CN and its DNS SANs), from the WSGI environ.

    The TLS layer has already checked the certificate against the CA; cheroot
    puts its subject and alternative names in the environ (mod_ssl's names).
    """
    if environ.get("SSL_CLIENT_VERIFY") != "SUCCESS":
        return set()
    names = {environ.get("SSL_CLIENT_S_DN_CN")}
    names.update(v for k, v in environ.items() if k.startswith("SSL_CLIENT_SAN_DNS_"))
    return {n for n in names if n}
