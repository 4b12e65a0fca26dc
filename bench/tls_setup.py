"""A self-signed certificate for the HTTPS benchmark server, made at run time, and a connection counter.

``certificate(directory)`` writes ``cert.pem`` and ``key.pem`` for ``127.0.0.1`` (an IP subject alternative
name, so clients verify it like any other certificate once told to trust it), with the ``cryptography``
package when it is installed, else the ``openssl`` command. ``opened(url, cafile)`` asks ``bench/server.py``
how many connections it has accepted (stdlib only, so a worker imports nothing it measures).
"""

from __future__ import annotations

import datetime
import ipaddress
import json
import shutil
import ssl
import subprocess
import urllib.request
from pathlib import Path

__all__ = ["certificate", "opened"]


def certificate(directory: Path) -> tuple[Path, Path]:
    """``(cert.pem, key.pem)`` in ``directory``: a fresh self-signed certificate for 127.0.0.1. Raises
    ``RuntimeError`` when neither ``cryptography`` nor ``openssl`` is there to make one."""
    cert, key = directory / "cert.pem", directory / "key.pem"
    try:
        _with_cryptography(cert, key)
    except ImportError:
        if shutil.which("openssl") is None:
            raise RuntimeError("the TLS benchmark needs the cryptography package or the openssl command") from None
        subprocess.run(
            [
                "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                "-keyout", str(key), "-out", str(cert),
            ],
            check=True,
            capture_output=True,
        )  # fmt: skip
    return cert, key


def _with_cryptography(cert_path: Path, key_path: Path) -> None:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=2))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))


def opened(url: str, cafile: str) -> int:
    """The connections ``bench/server.py`` at ``url`` has accepted, this request's own included."""
    context = ssl.create_default_context(cafile=cafile)
    with urllib.request.urlopen(url + "/connections", context=context, timeout=30) as answer:
        return int(json.loads(answer.read())["connections"])
