"""Generate a per-deployment self-signed TLS certificate and key.

Reference clients trust exactly one PEM file and check the name `localhost` whatever address
they dial (wire contract §1.2), so the certificate carries CN=localhost and a subjectAltName of
DNS:localhost, plus any extra names given. Never commit the key: generate it on the host.

    python -m leoscope.orchestrator.certs OUT_DIR [extra-dns-name ...]
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import sys
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID


def generate_self_signed(
    out_dir: Path, names: tuple[str, ...] = (), days: int = 825
) -> tuple[Path, Path]:
    """Write `server.crt` and `server.key` (mode 0600) into `out_dir`; return their paths."""
    out_dir.mkdir(parents=True, exist_ok=True)
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    alt: list[x509.GeneralName] = [x509.DNSName("localhost")]
    for name in names:
        try:
            alt.append(x509.IPAddress(ipaddress.ip_address(name)))
        except ValueError:
            alt.append(x509.DNSName(name))
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=days))
        .add_extension(x509.SubjectAlternativeName(alt), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = out_dir / "server.crt", out_dir / "server.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.touch(mode=0o600)
    key_path.chmod(0o600)
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


if __name__ == "__main__":  # pragma: no cover
    if len(sys.argv) < 2:
        sys.exit("usage: python -m leoscope.orchestrator.certs OUT_DIR [extra-name ...]")
    crt, key = generate_self_signed(Path(sys.argv[1]), tuple(sys.argv[2:]))
    sys.stdout.write(f"wrote {crt} and {key}\n")
