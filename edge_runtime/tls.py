"""Which TLS certificates edge-connector trusts, in one place: the runtime's WebSocket and HTTP client and
the CLI's client to the platform all use `tls_context()`, so a CA that works for `start` works for `upload`.

The operating system's trust store (`truststore`: the Keychain on macOS, the distribution's CA bundle on
Linux), plus `SSL_CERT_FILE` / `SSL_CERT_DIR` when set: in addition to the system store, never instead of it.
"""

from __future__ import annotations

import os
import ssl
import sys
from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path

import truststore

# Distribution CA bundles, first existing one wins. OpenSSL's defaults are *replaced* by SSL_CERT_FILE,
# so it is loaded explicitly: adding a private CA must not drop the public ones.
_LINUX_SYSTEM_BUNDLES = (
    "/etc/ssl/certs/ca-certificates.crt",  # Debian, Ubuntu, Alpine
    "/etc/pki/tls/certs/ca-bundle.crt",  # Fedora, RHEL
    "/etc/ssl/ca-bundle.pem",  # SUSE
    "/etc/ssl/cert.pem",  # Arch, BSD
)


class ExplainedConnectError(OSError):
    """A connection problem with a one-line explanation naming the fix (`strerror` and `str()` are that line).

    An OSError, so callers that already treat OSError as "platform unreachable, retry" handle it too.
    """

    def __init__(self, message: str) -> None:
        super().__init__(None, message)

    def __str__(self) -> str:
        return self.strerror or ""


class TlsSetupError(ExplainedConnectError):
    """SSL_CERT_FILE / SSL_CERT_DIR point at something unusable; the message says which and what to do."""


class CertificateNotTrusted(ExplainedConnectError):
    """The platform's TLS certificate failed verification; the message says how to trust it."""

    HINT = "Set SSL_CERT_FILE to a PEM file holding its CA certificate, or add that CA to the system trust store"

    def __init__(self, url: str, reason: str) -> None:
        self.problem = f"TLS certificate verify failed for {url} ({reason}): the platform's certificate is not trusted"
        super().__init__(f"{self.problem}. {self.HINT}")


def certificate_problem(exc: BaseException) -> ssl.SSLCertVerificationError | None:
    """The certificate verification failure behind `exc` (HTTP clients wrap it in their own errors), if any."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, ssl.SSLCertVerificationError):
            return seen
        seen = seen.__cause__ or seen.__context__
    return None


def tls_context(environ: Mapping[str, str] | None = None) -> ssl.SSLContext:
    """A client TLS context trusting the OS store plus `SSL_CERT_FILE` / `SSL_CERT_DIR` (shared, cached)."""
    env = os.environ if environ is None else environ
    return _tls_context(env.get("SSL_CERT_FILE") or None, env.get("SSL_CERT_DIR") or None)


@lru_cache(maxsize=4)
def _tls_context(cafile: str | None, capath: str | None) -> ssl.SSLContext:
    # Built once per setting: loading a CA bundle takes tens of milliseconds.
    context = truststore.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    if sys.platform.startswith("linux"):
        system_bundle = next((p for p in _LINUX_SYSTEM_BUNDLES if os.path.isfile(p)), None)
        if system_bundle and system_bundle != cafile:
            context.load_verify_locations(cafile=system_bundle)
    if cafile:
        if not Path(cafile).is_file():
            raise TlsSetupError(
                f"SSL_CERT_FILE={cafile} does not exist; point it at a PEM file of CA certificates or unset it"
            )
        try:
            context.load_verify_locations(cafile=cafile)
        except (ssl.SSLError, ValueError) as exc:
            raise TlsSetupError(
                f"SSL_CERT_FILE={cafile} holds no usable PEM certificate ({exc}); point it at a PEM file of CA certificates"
            ) from None
    if capath:
        if not Path(capath).is_dir():
            raise TlsSetupError(
                f"SSL_CERT_DIR={capath} is not a directory; point it at a hashed certificate directory or unset it"
            )
        context.load_verify_locations(capath=capath)
    return context
